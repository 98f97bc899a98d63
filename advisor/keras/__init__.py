"""Ready-to-train Keras 3 losses: ``rec.best.to_keras()`` and :func:`load_loss`.

``pip install 'loss-advisor[keras]'`` (Keras 3 and one of its backends). Importing this module
imports keras (``import advisor`` never does). The object is a ``keras.losses.Loss``: pass it to
``model.compile(loss=...)``. ``y_pred`` is the network's raw output (a linear last layer:
logits, log-means, [means, log variances]...), ``y_true`` the target as you have it: class
indices (or one-hot rows) for exclusive classes, 0/1 labels or fractions for the sigmoid
tasks, values for numeric targets, the (duration, event) pair ``(batch, 2)`` for survival.
Its per-row values are the catalog's per-row loss; Keras averages them and applies
``sample_weight`` / ``class_weight`` (to a batch loss's value, carried by every row: the
weights scale it, they do not reweight the risk sets or pairs). The formula is
:data:`advisor.frameworks.FORMULAS`, the same as :mod:`advisor.torch`'s, on ``keras.ops``.
The loss serialises with the model (``get_config``; registered as ``advisor>AdvisorLoss``).

One loss has state: ``group_dro`` is a :class:`GroupDROLoss`, whose group weights ``q`` (a
non-trainable ``keras.Variable``) take Sagawa et al.'s exponentiated-gradient step at every
training call, as the catalog's ``GroupDROMath.advance`` does in the experiment.

A multitask result's object is :class:`advisor.keras.composite.CompositeLoss`, a layer that
holds the weighting's variables and adds the combined loss with ``add_loss`` (its docstring
shows the model to build); the GradNorm weighting is PyTorch's only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import FrameworkError
from ..frameworks import LossSetting, SettingView, import_framework, loss_setting
from ..frameworks._classification import (
    group_dro_losses,
    group_dro_start,
    group_dro_step,
    group_dro_value,
)

import_framework("keras")  # missing: one FrameworkError line naming the pip extra
import keras  # noqa: E402  (imported once the check above has passed)

__all__ = ["AdvisorLoss", "CompositeLoss", "GroupDROLoss", "KerasOps", "load_loss", "make_loss"]


class KerasOps:
    """``keras.ops``, plus the two helpers the formulas use beyond it."""

    def __getattr__(self, name: str) -> Any:
        return getattr(keras.ops, name)

    @staticmethod
    def constant(value: Any, like: Any) -> Any:
        return keras.ops.convert_to_tensor(value, dtype=keras.backend.standardize_dtype(like.dtype))

    @staticmethod
    def one_hot(indices: Any, n: int, like: Any) -> Any:
        rows = keras.ops.one_hot(keras.ops.cast(indices, "int32"), n)
        return keras.ops.cast(rows, keras.backend.standardize_dtype(like.dtype))

    @staticmethod
    def cast(x: Any, dtype: Any) -> Any:
        return keras.ops.cast(x, keras.backend.standardize_dtype(dtype))


OPS = KerasOps()


@keras.saving.register_keras_serializable(package="advisor")
class AdvisorLoss(keras.losses.Loss, SettingView):
    """A catalog loss with its derived parameters, as a Keras 3 loss."""

    def __init__(self, loss_id: str, params: dict[str, Any] | None, task: str, *,
                 name: str | None = None, reduction: str | None = "sum_over_batch_size",
                 dtype: Any = None) -> None:
        self.setting: LossSetting = loss_setting(loss_id, params, task)
        super().__init__(name=name or f"advisor_{loss_id}", reduction=reduction, dtype=dtype)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        return self.setting.formula(OPS, y_pred, y_true, self.setting.params, self.setting.task)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "loss_id": self.loss_id, "params": self.params,
                "task": self.task}

    def __repr__(self) -> str:
        return f"<advisor.keras.AdvisorLoss {self.setting.describe()}>"


@keras.saving.register_keras_serializable(package="advisor")
class GroupDROLoss(AdvisorLoss):
    """Group DRO (Sagawa, Koh, Hashimoto & Liang, ICLR 2020, Algorithm 1) with its online
    group weights: the loss ``sum_g q_g L_g`` (``L_g`` the batch's mean cross-entropy in group
    ``g``; ``y_true`` is ``[label, group index]`` per row), every row carrying it.

    Each training call first steps ``q`` (a non-trainable float64 ``keras.Variable``, updated
    with ``assign`` in ``keras.ops``) on the batch's group losses, held fixed:
    ``q_g <- q_g exp(eta L_g)``, renormalised; then it returns the loss at the new ``q``, the
    order of the paper's code and of the catalog's ``GroupDROMath`` (``advance``, then
    ``loss_gradient``). Keras gives a loss no ``training`` flag, so:

    * ``loss.eval()`` freezes ``q`` and ``loss.train()`` lets it move again (the attribute
      ``training``, as a torch module's); it is read when Keras traces its step functions;
    * on the torch backend ``q`` never moves under ``torch.no_grad``, which is how Keras runs
      ``evaluate``, ``predict`` and ``fit``'s validation steps there; on TensorFlow those steps
      do move ``q`` unless ``loss.eval()`` is called before them;
    * the JAX backend computes a loss in a stateless scope that keeps no loss variable, so
      ``q`` could not move: building this loss there raises :class:`FrameworkError` rather
      than train a fixed-weight loss under group DRO's name.

    ``sample_weight`` scales the batch's value (Keras applies it to the rows), not ``L_g``.
    ``q`` is not in ``get_config``: a loaded model's loss, or :func:`load_loss`'s, starts from
    the starting weights (uniform unless ``group_weights`` is given); :meth:`reset` goes back.
    """

    def __init__(self, loss_id: str, params: dict[str, Any] | None, task: str, *,
                 name: str | None = None, reduction: str | None = "sum_over_batch_size",
                 dtype: Any = None) -> None:
        super().__init__(loss_id, params, task, name=name, reduction=reduction, dtype=dtype)
        if keras.backend.backend() == "jax":
            raise FrameworkError("group_dro's Keras loss needs a backend that keeps a loss's "
                                 "state (torch or tensorflow): under JAX its group weights "
                                 "could not move; use KERAS_BACKEND=torch or advisor.torch")
        self.eta = float(self.setting.params["eta"])
        self.training = True
        self.q = keras.Variable(group_dro_start(self.setting.params), trainable=False,
                                dtype="float64", name="group_dro_q")

    def call(self, y_true: Any, y_pred: Any) -> Any:
        params, task = self.setting.params, self.setting.task
        group_loss, per_row = group_dro_losses(OPS, y_pred, y_true, params, task)
        if self._moves():
            self.q.assign(group_dro_step(OPS, self.q, keras.ops.cast(group_loss, "float64"),
                                         self.eta))
        return group_dro_value(OPS, keras.ops.cast(self.q, y_pred.dtype), group_loss, per_row)

    def _moves(self) -> bool:
        """Whether this call steps q: in training, and not under torch's no_grad (Keras's
        evaluation steps on the torch backend)."""
        if not self.training:
            return False
        if keras.backend.backend() == "torch":
            import torch

            return bool(torch.is_grad_enabled())
        return True

    def train(self) -> GroupDROLoss:
        """Let ``q`` move at each call (the default)."""
        self.training = True
        return self

    def eval(self) -> GroupDROLoss:
        """Freeze ``q``."""
        self.training = False
        return self

    def reset(self) -> None:
        """Back to the starting group weights."""
        self.q.assign(group_dro_start(self.setting.params))


#: The loss ids whose object has state (the others are :class:`AdvisorLoss`).
STATEFUL = {"group_dro": GroupDROLoss}


def make_loss(loss_id: str, params: dict[str, Any] | None, task: str, **options: Any) -> Any:
    """The Keras loss of ``loss_id`` on ``task`` with ``params`` (a candidate's ``params``);
    ``options``: ``name``, ``reduction``, ``dtype`` of ``keras.losses.Loss``. A multitask
    candidate's (``task="multitask"``) is a :class:`~advisor.keras.composite.CompositeLoss`
    layer (``options``: ``name``, ``dtype``), which adds the combined loss with ``add_loss``."""
    if task == "multitask":
        from .composite import CompositeLoss

        options.pop("reduction", None)  # the layer adds one scalar: nothing to reduce
        return CompositeLoss(dict(params or {}), **options)
    return STATEFUL.get(loss_id, AdvisorLoss)(loss_id, params, task, **options)


def load_loss(path: str | Path, loss: str | None = None, **options: Any) -> Any:
    """The Keras loss of a saved JSON result (``advisor suggest ... --format json > rec.json``):
    the recommended candidate, or the one whose loss id is ``loss`` (a multitask result's:
    the :class:`~advisor.keras.composite.CompositeLoss` layer). A group DRO loss starts from
    its starting weights: the saved result holds the candidate, not a training's ``q``."""
    from ..frameworks import saved_candidate

    chosen, task = saved_candidate(path, loss)
    return make_loss(chosen["loss"], chosen["params"], task, **options)


from .composite import CompositeLoss  # noqa: E402  (uses OPS and AdvisorLoss's setting above)
