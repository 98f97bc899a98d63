"""The user's options: allowed values, defaults, and their validation in one place.

Every option the CLI and the library accept is declared once, with its constraint, in
:class:`Options`; building the frozen object checks them all, so a wrong value always gets
the same message shape (the option, what is allowed, what was received) and the stages
behind the boundary trust what they are given (in the spirit of scikit-learn's
``_param_validation``). The user's hints among them reach the rules through
:meth:`Options.hint_facts`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Protocol

from .errors import OptionError
from .experiment.metrics import METRIC_SPECS, default_metrics, task_metrics

TASKS: tuple[str, ...] = (
    "binary", "multiclass", "multilabel", "ordinal", "regression", "count", "proportion",
    "survival",
)

#: Output activation of the user's network, i.e. what the last layer emits before the loss.
#: ``auto`` means "whatever the recommended loss expects"; ``linear`` and ``logits`` are the same.
ACTIVATIONS: tuple[str, ...] = (
    "auto", "linear", "logits", "sigmoid", "softmax", "tanh", "relu", "softplus", "exp",
)
ACTIVATION_ALIASES = {"logits": "linear", "identity": "linear", "none": "linear"}

FRAMEWORKS: tuple[str, ...] = ("pytorch", "keras")

#: What the experiment judges a candidate on: the user's metric over all rows, or, with a
#: sensitive column, its value in the worst-off group, fold by fold (the objective group DRO
#: minimises, Sagawa et al. 2020). The CLI spells them with a hyphen.
JUDGES: tuple[str, ...] = ("all_rows", "worst_group")
JUDGE_ALIASES = {"all-rows": "all_rows", "worst-group": "worst_group"}

#: Metrics the user can be judged on, from the metric table (advisor.experiment.metrics).
METRICS: tuple[str, ...] = tuple(name for name, spec in METRIC_SPECS.items() if spec.judges)

#: The metric each task is judged on when the user names none, with the reason shown to them.
DEFAULT_METRIC: dict[str, tuple[str, str]] = default_metrics(TASKS)

TASK_METRICS: dict[str, frozenset[str]] = task_metrics(TASKS)


def a_or_an(word: str) -> str:
    """``word`` with its indefinite article: "a binary", "an ordinal"."""
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"


# ---------------------------------------------------------------------------------------------
# constraints: each checks one value and returns it normalized, or raises OptionError


class Constraint(Protocol):
    """What an option allows: ``check`` returns the value normalized or raises OptionError
    naming the option as ``name``."""

    def check(self, name: str, value: Any) -> Any: ...


@dataclass(frozen=True)
class Choice:
    """One of ``choices`` (case and surrounding space ignored); ``aliases`` map to a choice."""

    choices: tuple[str, ...]
    aliases: Mapping[str, str] = field(default_factory=dict)

    def check(self, name: str, value: Any) -> str:
        normalized = str(value).strip().lower()
        allowed = self.choices + tuple(self.aliases)
        if normalized not in allowed:
            raise OptionError(name, value, allowed)
        return self.aliases.get(normalized, normalized)


@dataclass(frozen=True)
class Interval:
    """A number in the interval ``low``..``high`` (open ends unless ``closed`` says which
    end is included); ``integer`` wants an int (not a bool); ``excluded`` values are refused."""

    low: float
    high: float
    allowed: str                      # what the message says is allowed
    integer: bool = False
    closed: str = "neither"           # neither, left, right, both
    excluded: tuple[float, ...] = ()

    def check(self, name: str, value: Any) -> Any:
        if self.integer:
            if not isinstance(value, int) or isinstance(value, bool):
                raise OptionError(name, value, self.allowed)
            number: float = value
        else:
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise OptionError(name, value, self.allowed) from None
        above = number >= self.low if self.closed in ("left", "both") else number > self.low
        below = number <= self.high if self.closed in ("right", "both") else number < self.high
        if not (above and below) or number in self.excluded:
            raise OptionError(name, value, self.allowed)
        return number


@dataclass(frozen=True)
class Levels:
    """Several values of one ``level`` constraint: sorted, each once."""

    level: Constraint

    def check(self, name: str, values: Iterable[Any]) -> tuple[float, ...]:
        return tuple(sorted({self.level.check(name, value) for value in values}))


@dataclass(frozen=True)
class Text:
    """A string; ``non_empty`` refuses ""."""

    allowed: str
    non_empty: bool = False

    def check(self, name: str, value: Any) -> str:
        if not isinstance(value, str) or (self.non_empty and value == ""):
            raise OptionError(name, value, self.allowed)
        return value


@dataclass(frozen=True)
class Label:
    """A class label: any value, compared with the target's labels as text (and recorded
    as given)."""

    def check(self, name: str, value: Any) -> Any:
        return value


@dataclass(frozen=True)
class Switch:
    """On or off: any value, by its truth."""

    def check(self, name: str, value: Any) -> bool:
        return bool(value)


@dataclass(frozen=True)
class Directories:
    """None, one directory or several, as a tuple of paths."""

    def check(self, name: str, value: str | Path | Sequence[str | Path] | None) -> tuple[Path, ...]:
        if value is None:
            return ()
        if isinstance(value, (str, Path)):
            return (Path(value),)
        return tuple(Path(item) for item in value)


@dataclass(frozen=True)
class LossId:
    """An id of the loss catalog (imported on use: the catalog imports numpy)."""

    def check(self, name: str, value: Any) -> str:
        from .losses import get_loss

        return get_loss(value).id


@dataclass(frozen=True)
class OrNone:
    """None, or a value ``inner`` accepts."""

    inner: Constraint

    def check(self, name: str, value: Any) -> Any:
        return None if value is None else self.inner.check(name, value)


ACTIVATION = Choice(ACTIVATIONS, ACTIVATION_ALIASES)
QUANTILE = Interval(0.0, 1.0, "a number strictly between 0 and 1")
JOBS = Interval(-math.inf, math.inf, "a non-zero integer (-1 = all cores)", integer=True,
                excluded=(0,))
BUDGET = Interval(0.0, math.inf, "a positive number of seconds")
SEED = Interval(0, math.inf, "a non-negative integer", integer=True, closed="left")


def _option(check: Constraint, *, shown: str | None = None) -> Any:
    """A field of :class:`Options`: its constraint and the name its messages show."""
    return field(metadata={"check": check, "shown": shown})


@dataclass(frozen=True, init=False)
class Options:
    """Every option of a run, checked when the object is built (in the order of the fields);
    the stages read it and never check again.

    ``n_jobs`` None means the cores this process may use (:attr:`workers`); ``loss`` is the
    loss trained today, a catalog id; the hints (activation, framework, metric, loss,
    label noise, quantiles) reach the rules through :meth:`hint_facts`; ``event`` (1 = event)
    or ``censored`` (1 = censored) names the indicator of a survival target. ``sensitive`` names
    the column that defines the groups a fairness-aware run measures (not a feature unless
    ``sensitive_as_feature``).
    """

    activation: str = _option(ACTIVATION)
    framework: str = _option(Choice(FRAMEWORKS))
    task: str | None = _option(OrNone(Choice(TASKS)))
    metric: str | None = _option(OrNone(Choice(METRICS)))
    quantiles: tuple[float, ...] = _option(Levels(QUANTILE), shown="quantile")
    budget: float = _option(BUDGET)
    seed: int = _option(SEED)
    n_jobs: int | None = _option(OrNone(JOBS), shown="jobs")
    validate: bool = _option(Switch())
    rules: tuple[Path, ...] = _option(Directories())
    label_sep: str | None = _option(OrNone(Text("a non-empty string such as '|'", non_empty=True)))
    label_noise: bool = _option(Switch())
    positive: Any = _option(OrNone(Label()))
    backend: str | None = _option(OrNone(Text("a joblib backend name such as 'loky'")))
    loss: str | None = _option(OrNone(LossId()))
    event: str | None = _option(OrNone(Text("a column name", non_empty=True)))
    censored: str | None = _option(OrNone(Text("a column name", non_empty=True)))
    sensitive: str | None = _option(OrNone(Text("a column name", non_empty=True)))
    sensitive_as_feature: bool = _option(Switch())
    judge: str = _option(Choice(JUDGES, JUDGE_ALIASES))

    def __init__(self, *, activation: str = "auto", framework: str = "pytorch",
                 task: str | None = None, metric: str | None = None,
                 quantiles: Iterable[float] = (), budget: float = 60.0, seed: int = 0,
                 n_jobs: int | None = None, validate: bool = True,
                 rules: str | Path | Sequence[str | Path] | None = None,
                 label_sep: str | None = None, label_noise: bool = False, positive: Any = None,
                 backend: str | None = None, loss: str | None = None, event: str | None = None,
                 censored: str | None = None, sensitive: str | None = None,
                 sensitive_as_feature: bool = False, judge: str = "all_rows") -> None:
        given = locals()
        for spec in fields(self):
            checked = spec.metadata["check"].check(spec.metadata["shown"] or spec.name,
                                                   given[spec.name])
            object.__setattr__(self, spec.name, checked)
        if self.sensitive_as_feature and self.sensitive is None:
            raise OptionError("sensitive_as_feature", True, "used with a sensitive column",
                              hint="name the column with --sensitive COL")
        if self.judge == "worst_group" and self.sensitive is None:
            raise OptionError("judge", judge, "all_rows without a sensitive column",
                              hint="name the column of the groups with --sensitive COL")

    @property
    def workers(self) -> int:
        """``n_jobs`` as a number: the cores available when it is None (looked up on use:
        it imports joblib)."""
        return available_cores() if self.n_jobs is None else self.n_jobs

    def hint_facts(self, task: str) -> dict[str, Any]:
        """The user's hints as facts of the rules' vocabulary, for a target of ``task``."""
        return {
            "task_overridden": self.task is not None,
            "activation": self.activation,
            "framework": self.framework,
            "metric": metric_for_task(self.metric, task)[0],
            "metric_given": self.metric is not None,
            "current_loss": self.loss or "",
            "label_noise": self.label_noise,
            "has_quantiles": bool(self.quantiles),
            "judge": self.judge,
        }


def metric_for_task(metric: str | None, task: str) -> tuple[str, str]:
    """(metric, reason): the task's default when ``metric`` is None; an option error when
    the metric (already one of METRICS) does not judge a target of ``task``."""
    if metric is None:
        return DEFAULT_METRIC[task]
    if metric not in TASK_METRICS[task]:
        raise OptionError("metric", metric, sorted(TASK_METRICS[task]),
                          hint=f"that metric does not apply to {a_or_an(task)} target")
    return metric, f"chosen by the user (--metric {metric})"


# ---------------------------------------------------------------------------------------------
# single checks, for the catalog's own parameters


def check_choice(name: str, value: str, allowed: Iterable[str]) -> str:
    """Return ``value`` lower-cased if it is one of ``allowed``, else raise OptionError."""
    return Choice(tuple(allowed)).check(name, value)


def check_quantiles(values: Iterable[float]) -> tuple[float, ...]:
    """Quantile levels must lie strictly inside (0, 1); returned sorted and de-duplicated."""
    return Levels(QUANTILE).check("quantile", values)


@functools.cache
def available_cores() -> int:
    """The cores this process may use: joblib's count, which honours the CPU affinity and a
    container's CPU quota (looked up once: importing joblib takes a few hundredths of a
    second, which advisor.api spends in a background thread)."""
    from joblib import cpu_count

    return max(1, int(cpu_count()))
