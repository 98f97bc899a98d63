"""The user's options: allowed values, defaults, and their validation in one place.

Every option the CLI and the library accept is checked here, so a wrong value always gets
the same message shape: the option, what is allowed, what was received.
"""

from __future__ import annotations

from collections.abc import Iterable

from .errors import OptionError
from .experiment.metrics import METRIC_SPECS, default_metrics, task_metrics

TASKS: tuple[str, ...] = (
    "binary", "multiclass", "multilabel", "ordinal", "regression", "count", "proportion",
)
CLASSIFICATION_TASKS = frozenset({"binary", "multiclass", "multilabel", "ordinal"})

#: Output activation of the user's network, i.e. what the last layer emits before the loss.
#: ``auto`` means "whatever the recommended loss expects"; ``linear`` and ``logits`` are the same.
ACTIVATIONS: tuple[str, ...] = (
    "auto", "linear", "logits", "sigmoid", "softmax", "tanh", "relu", "softplus", "exp",
)
ACTIVATION_ALIASES = {"logits": "linear", "identity": "linear", "none": "linear"}

FRAMEWORKS: tuple[str, ...] = ("pytorch", "keras")

#: Metrics the user can be judged on, from the metric table (advisor.experiment.metrics).
METRICS: tuple[str, ...] = tuple(METRIC_SPECS)
CLASSIFICATION_METRICS = frozenset({
    "accuracy", "balanced_accuracy", "f1_macro", "roc_auc", "average_precision", "log_loss",
    "brier", "mae", "rmse",  # mae/rmse also judge ordinal targets by rank distance
})
REGRESSION_METRICS = frozenset({
    "rmse", "mae", "r2", "poisson_deviance", "gamma_deviance", "tweedie_deviance", "pinball",
})

#: The metric each task is judged on when the user names none, with the reason shown to them.
DEFAULT_METRIC: dict[str, tuple[str, str]] = default_metrics(TASKS)

TASK_METRICS: dict[str, frozenset[str]] = task_metrics(TASKS)


def a_or_an(word: str) -> str:
    """``word`` with its indefinite article: "a binary", "an ordinal"."""
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"


def check_choice(name: str, value: str, allowed: Iterable[str]) -> str:
    """Return ``value`` lower-cased if it is one of ``allowed``, else raise OptionError."""
    allowed = tuple(allowed)
    normalized = str(value).strip().lower()
    if normalized not in allowed:
        raise OptionError(name, value, allowed)
    return normalized


def check_activation(value: str) -> str:
    """Normalize an activation name (``logits`` -> ``linear``)."""
    normalized = check_choice("activation", value, ACTIVATIONS + tuple(ACTIVATION_ALIASES))
    return ACTIVATION_ALIASES.get(normalized, normalized)


def check_metric_for_task(metric: str | None, task: str) -> tuple[str, str]:
    """Return (metric, reason); the task's default when ``metric`` is None."""
    if metric is None:
        return DEFAULT_METRIC[task]
    metric = check_choice("metric", metric, METRICS)
    if metric not in TASK_METRICS[task]:
        raise OptionError("metric", metric, sorted(TASK_METRICS[task]),
                          hint=f"that metric does not apply to {a_or_an(task)} target")
    return metric, f"chosen by the user (--metric {metric})"


def check_quantiles(values: Iterable[float]) -> tuple[float, ...]:
    """Quantile levels must lie strictly inside (0, 1); returned sorted and de-duplicated."""
    levels = []
    for value in values:
        try:
            level = float(value)
        except (TypeError, ValueError):
            raise OptionError("quantile", value, "a number strictly between 0 and 1") from None
        if not 0.0 < level < 1.0:
            raise OptionError("quantile", value, "a number strictly between 0 and 1")
        levels.append(level)
    return tuple(sorted(set(levels)))


def check_jobs(value: int | None) -> int:
    """Parallel workers: a non-zero integer, -1 meaning every core (joblib's convention);
    None is the cores this process may use, as a number, so the output can record it."""
    if value is None:
        return available_cores()
    if not isinstance(value, int) or isinstance(value, bool) or value == 0:
        raise OptionError("jobs", value, "a non-zero integer (-1 = all cores)")
    return value


def available_cores() -> int:
    """The cores this process may use: joblib's count, which honours the CPU affinity and a
    container's CPU quota."""
    from joblib import cpu_count

    return max(1, int(cpu_count()))


def check_budget(value: float) -> float:
    """The validator's time budget in seconds: positive and finite."""
    try:
        budget = float(value)
    except (TypeError, ValueError):
        raise OptionError("budget", value, "a positive number of seconds") from None
    if not budget > 0 or budget == float("inf"):
        raise OptionError("budget", value, "a positive number of seconds")
    return budget
