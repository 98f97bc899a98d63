"""The contract every catalog loss fulfils.

One base class holds what all losses share (as scikit-learn's ``_loss`` module does); each
loss only declares its tasks, the output activations it can sit on, its link, its valid
target range, its parameters with bounds, how to derive them from the data, its formula and
citation, its PyTorch and Keras snippets, and, for the empirical validator, its per-sample
value and gradient with respect to the raw output of the network (the pre-activation of the
last layer).

Shapes used by the proxy side: ``raw`` and ``target`` are 2-D float arrays of shape
``(n_samples, n_outputs)``; ``target`` is what :meth:`Loss.encode_target` returns. A loss with
several outputs sums its per-output terms into one per-sample value, and its gradient is the
gradient of that sum. When :attr:`Loss.standardize_target` is true the proxy trains on
``(target - center) / scale`` with :meth:`Loss.params_for_scale` applied to the parameters,
and maps raw outputs back (``raw * scale + center``) before calling :meth:`Loss.predict`
with the original parameters.

Subclasses implement ``_derive`` (data -> parameters); the snippet body is the loss's Jinja
template (``templates/<id>.torch.py.j2`` and ``<id>.keras.py.j2``). :meth:`Loss.derive` and
:meth:`Loss.snippet` add the checks and formatting every loss shares (task applicability,
rounding, the header stating the expected output layer).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ..errors import OptionError
from ..options import FRAMEWORKS, check_choice
from . import _math, _snippets

if TYPE_CHECKING:  # pragma: no cover
    from ..profile import Profile
    from ._activation import Veto

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


class Loss:
    """Base class of the catalog. Subclasses set the class attributes and override methods.

    Losses hold no state: the catalog keeps one instance per id, and everything that depends
    on the data travels in the ``params`` dict that :meth:`derive` returns.
    """

    #: Canonical, task-generic id (``cross_entropy`` is BCE on binary, CE on multiclass).
    id: ClassVar[str] = ""
    #: One-line human name.
    title: ClassVar[str] = ""
    #: Task families the loss applies to (see ``advisor.options.TASKS``).
    tasks: ClassVar[frozenset[str]] = frozenset()
    #: Output activations of the user's network the loss can be paired with as it is (``linear``
    #: = logits / raw values), possibly with a framework flag such as ``from_logits=False``;
    #: :meth:`accepts_activation` narrows this per task.
    activations: ClassVar[frozenset[str]] = frozenset({"linear"})
    #: The output activations that rule the loss out, each with the reason (``_activation``):
    #: the rule base's activation vetoes are made from these.
    vetoes: ClassVar[tuple[Veto, ...]] = ()
    #: Inverse link used to turn raw outputs into predictions: identity, log, logit, softmax,
    #: ordinal (task-generic losses name the link of their main task and say so in the docstring).
    link: ClassVar[str] = "identity"
    #: Targets the loss is defined for (numeric tasks; classification targets are class indices).
    target_interval: ClassVar[TargetInterval] = TargetInterval()
    #: The proxy may train on a standardised target (identity-link numeric losses only).
    standardize_target: ClassVar[bool] = False
    #: Formula reference (plain text, LaTeX-free) and the paper or documentation it comes from.
    formula: ClassVar[str] = ""
    citation: ClassVar[str] = ""
    params: ClassVar[tuple[ParamSpec, ...]] = ()

    # ----- metadata ----------------------------------------------------------------------
    def __repr__(self) -> str:
        return f"<Loss {self.id}>"

    def supports(self, task: str) -> bool:
        """Whether the loss applies to ``task``."""
        return task in self.tasks

    def accepts_activation(self, task: str, activation: str) -> bool:
        """Whether a network ending in ``activation`` can feed this loss on ``task`` unchanged.

        ``auto`` always fits (the snippet then sets the output layer itself).
        """
        return activation == "auto" or activation in self.activations

    def output_activation(self, task: str, framework: str) -> str:
        """The activation of the last layer the snippet for ``framework`` expects."""
        return "linear"

    def in_target_range(self, y: np.ndarray) -> bool:
        """Whether every target value lies in the loss's domain (:attr:`target_interval`)."""
        return self.target_interval.contains(y)

    def param_spec(self, name: str) -> ParamSpec:
        """The :class:`ParamSpec` called ``name``."""
        for spec in self.params:
            if spec.name == name:
                return spec
        raise OptionError(f"{self.id} parameter", name, [spec.name for spec in self.params])

    def param(self, params: dict[str, Any], name: str) -> Any:
        """``params[name]``, else the declared default: one place holds each default."""
        return params[name] if params.get(name) is not None else self.param_spec(name).default

    def check_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """Check every declared numeric parameter in ``params`` against its bounds.

        Returns ``params`` unchanged; raises :class:`OptionError` naming the loss, the
        parameter, the allowed range and the value received.
        """
        for spec in self.params:
            value = params.get(spec.name)
            if value is None or spec.low is None and spec.high is None:
                continue
            values = value if isinstance(value, (list, tuple, np.ndarray)) else [value]
            if not all(spec.contains(item) for item in values):
                raise OptionError(f"{self.id}.{spec.name}", value, spec.allowed_text())
        return params

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe metadata of the loss (for documentation and reports)."""
        return {
            "id": self.id, "title": self.title, "tasks": sorted(self.tasks),
            "activations": sorted(self.activations), "link": self.link,
            "target_range": str(self.target_interval), "formula": self.formula,
            "citation": self.citation, "params": [spec.to_dict() for spec in self.params],
        }

    # ----- advice side -------------------------------------------------------------------
    def check_task(self, task: str) -> str:
        """Return ``task`` if the loss applies to it, else raise :class:`OptionError`."""
        if task not in self.tasks:
            raise OptionError(f"task for loss {self.id}", task, sorted(self.tasks),
                              hint="pick a loss listed for this task (losses_for_task)")
        return task

    def derive(self, profile: Profile, options: dict[str, Any] | None = None) -> dict[str, Any]:
        """Hyper-parameters derived from the data; JSON-safe values, rounded for stable output.

        ``options`` holds the user's loss-related options (e.g. ``quantiles``). Floats are
        rounded to 4 significant digits, vectors are lists, and the result only depends on
        ``profile`` and ``options``.
        """
        self.check_task(profile.task)
        derived = self._derive(profile, dict(options or {}))
        return self.check_params(_math.json_safe(derived))

    def _derive(self, profile: Profile, options: dict[str, Any]) -> dict[str, Any]:
        """Subclass hook of :meth:`derive`: the defaults unless overridden."""
        return self.defaults()

    def defaults(self) -> dict[str, Any]:
        """Every declared parameter at its default."""
        return {spec.name: spec.default for spec in self.params}

    def snippet(self, framework: str, params: dict[str, Any], profile: Profile) -> str:
        """Ready-to-paste code for ``framework`` (``pytorch`` or ``keras``) with ``params`` filled in.

        The first lines are comments: what the snippet is, the output layer it expects
        (``# Output layer: ...``), and, when the user's network ends in another activation,
        what to change.
        """
        framework = check_choice("framework", framework, FRAMEWORKS)
        task = self.check_task(profile.task)
        expected = self.output_activation(task, framework)
        width = self._snippet_width(params, profile)
        header = _snippets.header(
            loss_id=self.id, title=self.title, task=task, framework=framework,
            output_layer=self._output_layer(framework, task, width, params),
            expected_activation=expected,
            user_activation=str(profile.facts.get("activation", "auto")),
            link=self._snippet_link(task),
        )
        context = {"task": task, "classes": profile.classes,
                   **self._snippet_values(framework, task, params, profile), **params}
        return header + _snippets.render(self.id, framework, context) + "\n"

    def _snippet_width(self, params: dict[str, Any], profile: Profile) -> int:
        """Width of the output layer named in the snippet."""
        return self.n_outputs(profile)

    def _snippet_link(self, task: str) -> str:
        """What the raw output means (``logit``, ``softmax``, ``log``, ``identity``...)."""
        return self.link

    def _output_layer(self, framework: str, task: str, width: int, params: dict[str, Any]) -> str:
        """The ``# Output layer:`` line for ``framework``."""
        return _snippets.output_layer(framework, width, self.output_activation(task, framework),
                                      self._snippet_link(task))

    def _snippet_values(self, framework: str, task: str, params: dict[str, Any],
                        profile: Profile) -> dict[str, Any]:
        """Values the snippet's template needs besides the task, the classes and ``params``."""
        return {}

    # ----- proxy side (empirical validator) ----------------------------------------------
    def n_outputs(self, profile: Profile) -> int:
        """Width of the network's last layer for this loss on this task."""
        raise NotImplementedError

    def encode_target(self, y: np.ndarray, profile: Profile) -> np.ndarray:
        """The training target as a 2-D float array the loss consumes."""
        raise NotImplementedError

    def loss_gradient(self, raw: np.ndarray, target: np.ndarray,
                      params: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        """Per-sample loss ``(n,)`` and its gradient w.r.t. ``raw`` ``(n, n_outputs)``."""
        raise NotImplementedError

    def predict(self, raw: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        """Predictions in the task's space: class probabilities ``(n, K)`` for classification
        (``(n, L)`` label probabilities for multi-label), values ``(n,)`` for numeric tasks."""
        raise NotImplementedError

    def predict_class(self, raw: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        """Predicted class indices ``(n,)`` for binary, multiclass and ordinal tasks.

        The default is the most probable class of :meth:`predict`; losses whose decision
        rule differs (CORAL counts thresholds, regression losses on ordinal targets round)
        override it.
        """
        return np.argmax(self.predict(raw, params), axis=1)

    def init_bias(self, target: np.ndarray, params: dict[str, Any]) -> np.ndarray | None:
        """A good starting value of the output bias (e.g. log of the mean for log links), or None."""
        return None

    def params_for_scale(self, params: dict[str, Any], scale: float | np.ndarray) -> dict[str, Any]:
        """Parameters for a target divided by ``scale`` (used with :attr:`standardize_target`).

        Scale-free parameters (quantile levels, most of them) are returned unchanged.
        """
        return dict(params)
