"""loss-advisor: which loss to train a neural network with, with which settings, and how sure.

The public surface is small and imported lazily, so ``advisor --help`` stays instant:
``suggest`` runs the whole pipeline, ``Recommendation`` is what it returns, and every
deliberate failure is an ``AdvisorError``.
"""

from __future__ import annotations

from .errors import (
    AdvisorError,
    DataLoadError,
    DataShapeError,
    OptionError,
    ReportError,
    RuleError,
    TargetError,
)

__version__ = "0.1.0"

__all__ = [
    "suggest", "Recommendation", "Candidate",
    "AdvisorError", "DataLoadError", "TargetError", "DataShapeError", "OptionError",
    "RuleError", "ReportError", "__version__",
]


def __getattr__(name: str):
    """Import the heavy pipeline only when it is first used."""
    if name == "suggest":
        from .api import suggest
        return suggest
    if name in ("Recommendation", "Candidate"):
        from . import result
        return getattr(result, name)
    raise AttributeError(f"module 'advisor' has no attribute {name!r}")
