"""Several target columns that are several tasks: a numeric and a 0/1 column, or numbers on
scales orders of magnitude apart.

Without this step such columns are read as one task: a count next to a 0/1 flag is a
"multi-output regression" trained with one loss on both, and a price in thousands next to a
rate in fractions shares one loss whose value the price dominates. Here each column is
profiled alone (its own task, facts and reason, by :func:`advisor.profile.profile_data`),
and the columns form a ``multitask`` problem when their tasks differ or when their robust
scales differ by :data:`SCALE_RATIO` or more. Columns of one kind on comparable scales keep
today's reading (multi-label, multi-output regression).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..errors import AdvisorError
from ..load import LoadedData

#: Numeric targets whose robust scales differ by this factor or more are separate tasks:
#: two orders of magnitude, where an unweighted sum of their losses is dominated by one.
SCALE_RATIO = 100.0
#: The task of several target columns that are several tasks (not a --task choice).
MULTITASK = "multitask"
#: Tasks this composite handles per target (survival has its own two-column target).
PART_TASKS = frozenset({"binary", "multiclass", "ordinal", "regression", "count", "proportion"})


#: The targets with a numeric scale (their robust scales are compared).
NUMERIC_TASKS = ("regression", "count", "proportion")


@dataclass(frozen=True, eq=False)
class TargetPart:
    """One target column of a multitask problem: its own data view and profile."""

    column: str
    loaded: LoadedData
    profile: Any


def split_multitask(loaded: LoadedData, options: Any) -> tuple[tuple[TargetPart, ...], str] | None:
    """The parts and the reason when the target columns are several tasks, else None (the
    columns are then read as one task, as before)."""
    if (len(loaded.target_columns) < 2 or loaded.event is not None or loaded.label_sep is not None
            or options.task is not None or options.positive is not None):
        return None
    from . import profile_data

    parts = []
    for index, column in enumerate(loaded.target_columns):
        view = replace(loaded, target=loaded.target.iloc[:, [index]], target_columns=(column,),
                       target_reason=loaded.target_reason)
        try:
            profile = profile_data(view, options)
        except AdvisorError:
            return None  # the joint reading reports the problem in its own words
        if profile.task not in PART_TASKS:
            return None
        parts.append(TargetPart(column, view, profile))
    reason = multitask_reason(parts)
    return None if reason is None else (tuple(parts), reason)


def multitask_reason(parts: list[TargetPart]) -> str | None:
    """Why these columns are several tasks, or None when they are one."""
    kinds = ", ".join(f"{part.column!r} {part.profile.task}" for part in parts)
    if len({part.profile.task for part in parts}) > 1:
        return f"target columns of different kinds ({kinds}): multitask, one loss per target"
    if parts[0].profile.task in NUMERIC_TASKS:
        ratio = numeric_scale_ratio(parts)
        if ratio >= SCALE_RATIO:
            return (f"numeric target columns on scales {ratio:.3g} times apart ({kinds}): "
                    "multitask, one loss per target")
    return None


def numeric_scale_ratio(parts: Sequence[TargetPart]) -> float:
    """Largest over smallest robust scale (1.4826 MAD, the standard deviation when it is 0) of
    the numeric targets; 1 with fewer than two of them or a zero scale."""
    scales = [part.profile.robust_scale or float(np.std(part.profile.y))
              for part in parts if part.profile.task in NUMERIC_TASKS]
    if len(scales) < 2 or min(scales) <= 0:
        return 1.0
    return max(scales) / min(scales)
