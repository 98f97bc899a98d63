"""Stage 2, profile: detect the task and compute the facts the rules reason over.

Public function: :func:`profile_data`. Output: :class:`Profile`. The facts and their
meaning are listed once, in :mod:`advisor.facts`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True, eq=False)
class Profile:
    """What the target is and how it is distributed, plus the user's hints, as facts."""

    task: str
    task_reason: str
    facts: dict[str, Any]                 # exactly advisor.facts.FACT_NAMES, JSON-safe scalars
    classes: tuple[str, ...]              # class labels (ordinal: ascending order; multi-label: label names); () for numeric tasks
    class_counts: tuple[int, ...]         # rows per class, aligned with classes (positives per label for multi-label)
    y: np.ndarray = field(repr=False)     # encoded target: int class index (n,) for binary/multiclass/ordinal,
                                          # 0/1 float (n, L) for multi-label, float (n,) or (n, k) for numeric tasks
    robust_scale: float = 0.0             # 1.4826 * MAD of the target around its median (numeric tasks), else 0
    quantiles: tuple[float, ...] = ()     # quantile levels asked for with --quantile
    row_mask: np.ndarray | None = field(default=None, repr=False)  # rows of LoadedData kept (target present)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe view used by the JSON output and the reports."""
        return {
            "task": self.task,
            "task_reason": self.task_reason,
            "facts": dict(sorted(self.facts.items())),
            "classes": list(self.classes),
            "class_counts": list(self.class_counts),
            "robust_scale": self.robust_scale,
            "quantiles": list(self.quantiles),
        }
