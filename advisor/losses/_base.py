"""The contract every catalog loss fulfils.

One base class holds what all losses share (as scikit-learn's ``_loss`` module does); each
loss only declares its tasks, the output activations it can sit on, its link, its
parameters with bounds, how to derive them from the data, its formula and citation, its
PyTorch and Keras snippets, and, for the empirical validator, its per-sample value and
gradient with respect to the raw output of the network (the pre-activation of the last
layer).

Shapes used by the proxy side: ``raw`` and ``target`` are 2-D float arrays of shape
``(n_samples, n_outputs)``; ``target`` is what :meth:`Loss.encode_target` returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from ..profile import Profile


@dataclass(frozen=True)
class ParamSpec:
    """One hyper-parameter of a loss: default, closed bounds, and what it means."""

    name: str
    default: Any
    low: float | None = None
    high: float | None = None
    description: str = ""


class Loss:
    """Base class of the catalog. Subclasses set the class attributes and override methods."""

    #: Canonical, task-generic id (``cross_entropy`` is BCE on binary, CE on multiclass).
    id: ClassVar[str] = ""
    #: One-line human name.
    title: ClassVar[str] = ""
    #: Task families the loss applies to (see ``advisor.options.TASKS``).
    tasks: ClassVar[frozenset[str]] = frozenset()
    #: Output activations of the user's network the loss can be paired with (``linear`` = logits).
    activations: ClassVar[frozenset[str]] = frozenset({"linear"})
    #: Inverse link used to turn raw outputs into predictions: identity, log, logit, softmax, ordinal.
    link: ClassVar[str] = "identity"
    #: Formula reference (plain text, LaTeX-free) and the paper or documentation it comes from.
    formula: ClassVar[str] = ""
    citation: ClassVar[str] = ""
    params: ClassVar[tuple[ParamSpec, ...]] = ()

    # ----- advice side -------------------------------------------------------------------
    def derive(self, profile: "Profile", options: dict[str, Any]) -> dict[str, Any]:
        """Hyper-parameters derived from the data; JSON-safe values, rounded for stable output.

        ``options`` holds the user's loss-related options (e.g. ``quantiles``).
        """
        return {spec.name: spec.default for spec in self.params}

    def snippet(self, framework: str, params: dict[str, Any], profile: "Profile") -> str:
        """Ready-to-paste code for ``framework`` (``pytorch`` or ``keras``) with ``params`` filled in."""
        raise NotImplementedError

    # ----- proxy side (empirical validator) ----------------------------------------------
    def n_outputs(self, profile: "Profile") -> int:
        """Width of the network's last layer for this loss on this task."""
        raise NotImplementedError

    def encode_target(self, y: np.ndarray, profile: "Profile") -> np.ndarray:
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

    def init_bias(self, target: np.ndarray, params: dict[str, Any]) -> np.ndarray | None:
        """A good starting value of the output bias (e.g. log of the mean for log links), or None."""
        return None
