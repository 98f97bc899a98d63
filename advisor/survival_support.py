"""The optional packages a survival target needs, imported on use with one clear error.

Survival analysis is an optional extra (``pip install 'loss-advisor[survival]'``): lifelines
(Kaplan-Meier, the Cox fit and its Schoenfeld-residual test of proportional hazards, in the
profile) and scikit-survival (the C-indexes, the integrated Brier score and the Breslow
baseline hazard). scikit-survival pins one scikit-learn minor release per version and
lifelines brings autograd and formulaic, so neither is forced on users of the other tasks.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from .errors import MissingDependencyError

#: The command that installs what a survival target needs.
SURVIVAL_INSTALL = "pip install 'loss-advisor[survival]'"
#: Top-level package -> its name on PyPI.
_DISTRIBUTIONS = {"lifelines": "lifelines", "sksurv": "scikit-survival"}


def require(module: str) -> ModuleType:
    """Import ``module`` (of lifelines or scikit-survival), or raise
    :class:`MissingDependencyError` naming the pip command."""
    top = module.split(".")[0]
    if importlib.util.find_spec(top) is None:
        raise MissingDependencyError(
            f"a survival target needs {_DISTRIBUTIONS.get(top, top)}, which is not installed",
            hint=f"install the survival extra: {SURVIVAL_INSTALL}")
    return importlib.import_module(module)


def check_survival_extra() -> None:
    """Raise :class:`MissingDependencyError` unless every package of the extra is importable."""
    for top in _DISTRIBUTIONS:
        require(top)
