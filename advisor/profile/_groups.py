"""The groups of a sensitive column (``--sensitive``): codes per row, sizes, base rates, facts.

A model judged on its worst-off group needs to know the groups: how big each is, how often
each sees each class (its base rate) and how imbalanced the classes are inside it. Those
numbers are the facts the fairness rules read (``rules/fairness.toml``) and the per-group
section of the profile (:class:`GroupSummary`).

Supported: binary and multiclass targets. Other tasks are refused with one line (a
numeric target would need worst-group errors, which the experiment does not compute yet).
A missing value of the sensitive column is a group of its own, ``(missing)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import SensitiveError

#: Tasks a sensitive column is supported for.
GROUP_TASKS = ("binary", "multiclass")
#: A group needs this many rows: fewer cannot be measured on a cross-validation fold.
MIN_GROUP_ROWS = 10
#: More distinct values than this are an identifier, not groups.
MAX_GROUPS = 20
MISSING_GROUP = "(missing)"

#: The facts of the groups without a sensitive column (neutral values, see advisor.facts).
NO_GROUP_FACTS: dict[str, Any] = {
    "has_sensitive": False, "n_groups": 0, "smallest_group_share": 1.0,
    "group_size_ratio": 1.0, "group_base_rate_gap": 0.0, "group_imbalance_max": 1.0,
}


@dataclass(frozen=True)
class Groups:
    """The groups of the kept rows: one code per row, the group names, and their summary."""

    column: str
    names: tuple[str, ...]
    codes: np.ndarray            # int group index per kept row
    as_feature: bool
    rows: tuple[int, ...]        # per group
    class_shares: tuple[tuple[float, ...], ...]  # per group, share of each class
    imbalance: tuple[float, ...]  # per group, largest / smallest class count (absent: 1 row)
    base_rate_gap: float         # largest gap between groups of a class's share

    def to_dict(self, classes: tuple[str, ...], task: str) -> dict[str, Any]:
        """The per-group section of the profile (JSON-safe, rounded)."""
        from ..schema import significant

        total = sum(self.rows)
        groups = []
        for index, name in enumerate(self.names):
            shares = self.class_shares[index]
            entry: dict[str, Any] = {"name": name, "rows": int(self.rows[index]),
                                     "share": significant(self.rows[index] / total),
                                     "class_shares": [significant(value) for value in shares],
                                     "imbalance_ratio": significant(self.imbalance[index])}
            if task == "binary":
                entry["base_rate"] = significant(shares[1])
            groups.append(entry)
        return {"column": self.column, "as_feature": self.as_feature, "classes": list(classes),
                "groups": groups, "largest_base_rate_gap": significant(self.base_rate_gap)}


def group_codes(values: pd.Series) -> tuple[np.ndarray, tuple[str, ...]]:
    """Integer codes of a sensitive column (groups sorted by their text, missing last)."""
    text = values.astype(object).where(values.notna(), None)
    labels = [MISSING_GROUP if value is None else str(value) for value in text]
    names = tuple(sorted(set(labels) - {MISSING_GROUP})) + (
        (MISSING_GROUP,) if MISSING_GROUP in labels else ())
    lookup = {name: index for index, name in enumerate(names)}
    return np.array([lookup[label] for label in labels], dtype=int), names


def build_groups(sensitive: pd.Series, row_mask: np.ndarray, task: str, y: np.ndarray,
                 n_classes: int, *, as_feature: bool) -> Groups:
    """The groups of the rows the profile kept, checked: a task with group support, at least
    two groups, at most :data:`MAX_GROUPS`, each of at least :data:`MIN_GROUP_ROWS` rows."""
    column = str(sensitive.name)
    if task not in GROUP_TASKS:
        raise SensitiveError(f"--sensitive supports binary and multiclass targets; this target "
                             f"is {task}", hint="drop --sensitive, or give a class target")
    codes, names = group_codes(sensitive[np.asarray(row_mask, dtype=bool)])
    if len(names) < 2:
        raise SensitiveError(f"the sensitive column {column!r} has a single group ({names[0]!r})",
                             hint="name a column with at least two groups")
    if len(names) > MAX_GROUPS:
        raise SensitiveError(f"the sensitive column {column!r} has {len(names)} distinct values",
                             hint=f"give a column of at most {MAX_GROUPS} groups (bin it first)")
    rows = np.bincount(codes, minlength=len(names))
    if rows.min() < MIN_GROUP_ROWS:
        small = names[int(np.argmin(rows))]
        raise SensitiveError(f"group {small!r} of the sensitive column {column!r} has only "
                             f"{int(rows.min())} rows", hint=f"each group needs at least "
                             f"{MIN_GROUP_ROWS} rows: merge it with another group")
    labels = np.asarray(y, dtype=int)
    counts = np.zeros((len(names), n_classes))
    np.add.at(counts, (codes, labels), 1.0)
    shares = counts / rows[:, None]
    imbalance = counts.max(axis=1) / np.maximum(counts.min(axis=1), 1.0)
    gap = float((shares.max(axis=0) - shares.min(axis=0)).max())
    return Groups(column, names, codes, as_feature, tuple(int(r) for r in rows),
                  tuple(tuple(float(v) for v in row) for row in shares),
                  tuple(float(v) for v in imbalance), gap)


def group_facts(groups: Groups | None) -> dict[str, Any]:
    """The facts of the groups (see advisor.facts); neutral without a sensitive column."""
    if groups is None:
        return dict(NO_GROUP_FACTS)
    rows = np.asarray(groups.rows, dtype=float)
    return {"has_sensitive": True, "n_groups": len(groups.names),
            "smallest_group_share": float(rows.min() / rows.sum()),
            "group_size_ratio": float(rows.max() / rows.min()),
            "group_base_rate_gap": groups.base_rate_gap,
            "group_imbalance_max": float(max(groups.imbalance))}
