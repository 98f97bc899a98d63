"""Stage 2, profile: detect the task and compute the facts the rules reason over.

Public function: :func:`profile_data`. Output: :class:`Profile`. The facts and their
meaning are listed once, in :mod:`advisor.facts`. Each job has its module: reading a target
column (:mod:`._column`), detecting the task (:mod:`._task`, with amounts against counts in
:mod:`._amount`), the facts of the target (:mod:`._target_facts`) and of the features
(:mod:`._feature_facts`). The facts computed from the data meet the user's hints (from the
checked :class:`~advisor.options.Options`) only in :func:`advisor.facts.rule_facts`.

Every decision comes with the sentence that justifies it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..facts import DATA_FACT_NAMES, HINT_FACT_NAMES, fact_number, rule_facts
from ..load import LoadedData
from ..options import Options
from ._amount import amount_clue
from ._column import MIN_ROWS, read_column, split_stray_text, usable_rows
from ._feature_facts import feature_facts
from ._groups import GROUP_TASKS, MIN_GROUP_ROWS, Groups, build_groups, group_facts
from ._survival_facts import NEUTRAL_SURVIVAL_FACTS, survival_facts
from ._target_facts import class_facts, numeric_target_facts
from ._task import detect_target


@dataclass(frozen=True, eq=False)
class Profile:
    """What the target is and how it is distributed, plus the user's hints, as facts."""

    task: str
    task_reason: str
    facts: dict[str, Any]                 # exactly advisor.facts.FACT_NAMES, JSON-safe scalars
    classes: tuple[str, ...]              # class labels (ordinal: ascending order; multi-label: label names); () for numeric tasks
    class_counts: tuple[int, ...]         # rows per class, aligned with classes (positives per label for multi-label)
    y: np.ndarray = field(repr=False)     # encoded target: int class index (n,) for binary/multiclass/ordinal,
                                          # 0/1 float (n, L) for multi-label, float (n,) or (n, k) for numeric tasks,
                                          # float (n, 2) (duration, 0/1 event) for survival
    robust_scale: float = 0.0             # 1.4826 * MAD of the target around its median (numeric tasks and ordinal levels), else 0
    quantiles: tuple[float, ...] = ()     # quantile levels asked for with --quantile
    row_mask: np.ndarray | None = field(default=None, repr=False)  # rows of LoadedData kept (target present)
    stray_text: tuple[tuple[str, str, int], ...] = ()  # (column, text, rows) dropped from a numeric target
    groups: Groups | None = field(default=None, repr=False)  # the --sensitive column's groups of the kept rows

    @property
    def data_facts(self) -> dict[str, Any]:
        """The facts computed from the data."""
        return {name: value for name, value in self.facts.items() if name in DATA_FACT_NAMES}

    @property
    def hints(self) -> dict[str, Any]:
        """The user's hints, as facts."""
        return {name: value for name, value in self.facts.items() if name in HINT_FACT_NAMES}

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
            **({"groups": self.groups.to_dict(self.classes, self.task)}
               if self.groups is not None else {}),
        }


def profile_data(loaded: LoadedData, options: Options | None = None, **values: Any) -> Profile:
    """Detect the task (or check the one given) and compute every fact of the vocabulary.

    ``options`` are the run's checked options (task, positive class, hints); callers
    outside :func:`advisor.suggest` may give their values as keywords instead, which builds
    them. ``positive`` names the positive class of a binary target (default: the larger
    value, True, the higher level, or the label sorted last).
    """
    if options is None:
        options = Options(**values)
    columns = [read_column(str(name), loaded.target.iloc[:, index])
               for index, name in enumerate(loaded.target.columns)]
    row_mask = usable_rows(columns, loaded.target_columns)
    n_rows = int(row_mask.sum())
    columns = [column.subset(row_mask) for column in columns]
    target = detect_target(columns, loaded, options.task, options.positive)
    if target.task == "survival":
        from ..survival_support import check_survival_extra

        check_survival_extra()
        survival = survival_facts(target.y, loaded.features, row_mask)
    else:
        survival = dict(NEUTRAL_SURVIVAL_FACTS)
    numeric, robust_scale = numeric_target_facts(target, columns, loaded.features, row_mask)
    groups = (None if loaded.sensitive is None else
              build_groups(loaded.sensitive, row_mask, target.task, target.y,
                           len(target.classes), as_feature=loaded.sensitive_as_feature))
    data_facts = {
        "task": target.task,
        "n_rows": n_rows,
        "n_targets": target.n_targets,
        "target_missing_fraction": 1.0 - n_rows / len(row_mask),
        "n_distinct": target.n_distinct,
        **feature_facts(loaded.features, row_mask),
        **class_facts(target),
        **numeric,
        **survival,
        **group_facts(groups),
    }
    return Profile(
        task=target.task,
        task_reason=target.reason,
        facts=rule_facts(data_facts, options.hint_facts(target.task)),
        classes=target.classes,
        class_counts=target.class_counts,
        y=target.y,
        robust_scale=fact_number(robust_scale),
        quantiles=options.quantiles,
        row_mask=row_mask,
        stray_text=tuple((column.name, text, rows) for column in columns
                         for text, rows in column.stray_text),
        groups=groups,
    )


__all__ = ["Profile", "profile_data", "amount_clue", "split_stray_text", "MIN_ROWS", "Groups",
           "GROUP_TASKS", "MIN_GROUP_ROWS"]
