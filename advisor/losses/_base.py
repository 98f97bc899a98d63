"""The contract of a loss's math: value, gradient, prediction, bound to parameters and task.

As in scikit-learn's ``_loss`` module, one base class holds what every loss's math shares;
each loss's :class:`LossMath` subclass gives its per-sample value and its gradient with
respect to the raw output of the network (the pre-activation of the last layer), how the
target is encoded, and how raw outputs become predictions, through the :class:`~._link.Link`
it holds. A math object is bound once to the derived parameters and the task
(:meth:`advisor.losses.LossSpec.bind`), so nothing guesses the task from an array's width.

Shapes: ``raw`` and ``target`` are 2-D float arrays of shape ``(n_samples, n_outputs)``;
``target`` is what :meth:`LossMath.encode_target` returns. A loss with several outputs sums
its per-output terms into one per-sample value, and its gradient is the gradient of that sum.
When :attr:`LossMath.standardize_target` is true the proxy trains on
``(target - center) / scale`` with the math of :meth:`LossMath.for_standardized` (by default
:meth:`LossMath.for_scale`), and maps raw outputs back with :meth:`LossMath.unstandardize`
(``raw * scale + center``) before predicting with the original math.

Also here: :class:`ParamSpec` (a parameter with its bounds) and :class:`TargetInterval` (the
targets a loss is defined for).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ..errors import TargetError
from . import _math
from ._link import IDENTITY, Link

if TYPE_CHECKING:  # pragma: no cover
    from ..profile import Profile
    from ._predictive import Predictive

_CLOSED_BRACKETS = {"both": ("[", "]"), "left": ("[", ")"), "right": ("(", "]"), "neither": ("(", ")")}


@dataclass(frozen=True)
class ParamSpec:
    """One hyper-parameter of a loss: default, bounds, and what it means.

    ``closed`` says which bounds are inclusive (``both``, ``left``, ``right``, ``neither``),
    as in scikit-learn's ``Interval``. Vector-valued parameters (class weights, quantile
    levels) are checked element by element; ``None`` means "not applicable here".
    """

    name: str
    default: Any
    low: float | None = None
    high: float | None = None
    description: str = ""
    closed: str = "both"

    def allowed_text(self) -> str:
        """Human form of the allowed range, e.g. ``a number in (0, 0.5)``."""
        if self.low is None and self.high is None:
            return "a number"
        left, right = _CLOSED_BRACKETS[self.closed]
        low = "-inf" if self.low is None else f"{self.low:g}"
        high = "inf" if self.high is None else f"{self.high:g}"
        return f"a number in {left}{low}, {high}{right}"

    def contains(self, value: float) -> bool:
        """Whether one scalar lies inside the bounds."""
        if not isinstance(value, (int, float, np.integer, np.floating)) or isinstance(value, bool):
            return False
        value = float(value)
        if not math.isfinite(value):
            return False
        low_ok = self.low is None or (value >= self.low if self.closed in ("both", "left") else value > self.low)
        high_ok = self.high is None or (value <= self.high if self.closed in ("both", "right") else value < self.high)
        return low_ok and high_ok

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description for documentation and reports."""
        return {"name": self.name, "default": _math.json_safe(self.default), "low": self.low,
                "high": self.high, "closed": self.closed, "description": self.description}


@dataclass(frozen=True)
class TargetInterval:
    """The targets a loss is defined for (like scikit-learn's ``Interval`` on ``y_true``)."""

    low: float = -math.inf
    high: float = math.inf
    low_inclusive: bool = True
    high_inclusive: bool = True

    def contains(self, y: np.ndarray) -> bool:
        """True when every finite value of ``y`` lies inside the interval."""
        y = np.asarray(y, dtype=np.float64)
        low_ok = np.all(y >= self.low) if self.low_inclusive else np.all(y > self.low)
        high_ok = np.all(y <= self.high) if self.high_inclusive else np.all(y < self.high)
        return bool(low_ok and high_ok)

    def __str__(self) -> str:
        parts = []
        if math.isfinite(self.low):
            parts.append(f"{self.low:g} {'<=' if self.low_inclusive else '<'} ")
        parts.append("y")
        if math.isfinite(self.high):
            parts.append(f" {'<=' if self.high_inclusive else '<'} {self.high:g}")
        text = "".join(parts)
        return "any real y" if text == "y" else text


class LossMath:
    """A loss bound to its parameters and its task: what the proxy trains and predicts with.

    Subclasses set :attr:`LINK` (or override :meth:`link_for` when the link depends on the
    task) and implement :meth:`n_outputs`, :meth:`encode_target`, :meth:`loss_gradient` and,
    where the default does not fit, :meth:`predict`, :meth:`predict_class`,
    :meth:`init_bias` and :meth:`for_scale`. ``params`` holds the derived parameters with
    every declared default filled in.
    """

    #: The link of the loss (on every task, unless :meth:`link_for` says otherwise).
    LINK: ClassVar[Link] = IDENTITY
    #: Targets the loss is defined for (numeric tasks; classification targets are class indices).
    target_interval: ClassVar[TargetInterval] = TargetInterval()
    #: The proxy may train on a standardised target (identity-link numeric losses only).
    standardize_target: ClassVar[bool] = False
    #: The loss of a row depends on the other rows of its batch (an F1 over the batch): then
    #: :meth:`loss_gradient` also takes ``sample_weight`` (weights inside the batch's sums),
    #: every row carries the batch's loss, and the gradient is ``S`` times the gradient of
    #: that loss (``S`` the batch's total weight), which the proxy does not weigh again.
    batch_loss: ClassVar[bool] = False
    #: The loss needs each row's group of a sensitive column: :meth:`encode_target` then also
    #: takes ``groups`` (one index per row) and packs them into the target (``_fairness``).
    needs_groups: ClassVar[bool] = False

    def __init__(self, params: Mapping[str, Any], task: str, *, loss_id: str = "") -> None:
        self.params = dict(params)
        self.task = task
        self.id = loss_id or type(self).__name__
        self.link = self.link_for(task)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id} on {self.task}>"

    @classmethod
    def link_for(cls, task: str) -> Link:
        """The link on ``task``."""
        return cls.LINK

    def n_outputs(self, profile: Profile) -> int:
        """Width of the network's last layer for this loss on this task."""
        raise NotImplementedError

    def encode_target(self, y: np.ndarray, profile: Profile) -> np.ndarray:
        """The training target as a 2-D float array the loss consumes."""
        raise NotImplementedError

    def loss_gradient(self, raw: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-sample loss ``(n,)`` and its gradient w.r.t. ``raw`` ``(n, n_outputs)``."""
        raise NotImplementedError

    def predict(self, raw: np.ndarray) -> np.ndarray:
        """Predictions in the task's space: class probabilities ``(n, K)`` for classification
        (``(n, L)`` label probabilities for multi-label), values ``(n,)`` for numeric tasks."""
        raise NotImplementedError

    def predictive(self, raw: np.ndarray) -> Predictive | None:
        """The predictive distribution of a numeric target (``_predictive``), or None for a
        loss that predicts one number per row (the experiment then scores a Gaussian around
        it with the spread of its training residuals)."""
        return None

    def predict_class(self, raw: np.ndarray) -> np.ndarray:
        """Predicted class indices ``(n,)`` for binary, multiclass and ordinal tasks.

        The default is the most probable class of :meth:`predict`; losses whose decision
        rule differs (CORAL counts thresholds, regression losses on ordinal targets round)
        override it.
        """
        return np.argmax(self.predict(raw), axis=1)

    def after_training(self, raw: np.ndarray, target: np.ndarray) -> LossMath:
        """The math to predict with once trained, given the training rows' raw outputs (on the
        encoded target's scale) and their encoded target: ``self``, unless the prediction needs
        a statistic of the training rows (cox's Breslow baseline hazard)."""
        return self

    def init_bias(self, target: np.ndarray) -> np.ndarray | None:
        """A good starting value of the output bias (e.g. log of the mean for log links), or None."""
        return None

    def for_scale(self, scale: float | np.ndarray) -> LossMath:
        """The math for a target divided by ``scale`` (with :attr:`standardize_target`).

        Scale-free parameters (quantile levels, most of them) stay as they are.
        """
        return self

    def for_standardized(self, center: np.ndarray, scale: np.ndarray) -> LossMath:
        """The math for the target ``(y - center) / scale``, per encoded column.

        The default is :meth:`for_scale` (most parameters are offsets-free); a loss whose
        parameters live at target values (bin edges of density weights) shifts them too.
        """
        return self.for_scale(float(scale[0]) if np.size(scale) == 1 else np.asarray(scale))

    def unstandardize(self, raw: np.ndarray, center: np.ndarray, scale: np.ndarray) -> np.ndarray:
        """Raw outputs of a network trained on the standardised target, on the original scale.

        Each output column is mapped back with its encoded column's ``center`` and ``scale``;
        a loss whose outputs are not all in target units (a log-variance) overrides it.
        """
        return np.asarray(raw, dtype=np.float64) * scale + center

    def in_target_range(self, y: np.ndarray) -> bool:
        """Whether every target value lies in the loss's domain (:attr:`target_interval`)."""
        return self.target_interval.contains(y)

    def check_target_range(self, y: np.ndarray) -> None:
        """Raise :class:`TargetError` when a target value lies outside the loss's domain."""
        if not self.in_target_range(y):
            raise TargetError(
                f"loss {self.id} needs {self.target_interval} but the target has values from "
                f"{np.nanmin(y):g} to {np.nanmax(y):g}; pick a loss whose range fits the target")
