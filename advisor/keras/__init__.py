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

A multitask result's object is :class:`advisor.keras.composite.CompositeLoss`, a layer that
holds the weighting's variables and adds the combined loss with ``add_loss`` (its docstring
shows the model to build); the GradNorm weighting is PyTorch's only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..frameworks import LossSetting, SettingView, import_framework, loss_setting

import_framework("keras")  # missing: one FrameworkError line naming the pip extra
import keras  # noqa: E402  (imported once the check above has passed)

__all__ = ["AdvisorLoss", "CompositeLoss", "KerasOps", "load_loss", "make_loss"]


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


def make_loss(loss_id: str, params: dict[str, Any] | None, task: str, **options: Any) -> Any:
    """The Keras loss of ``loss_id`` on ``task`` with ``params`` (a candidate's ``params``);
    ``options``: ``name``, ``reduction``, ``dtype`` of ``keras.losses.Loss``. A multitask
    candidate's (``task="multitask"``) is a :class:`~advisor.keras.composite.CompositeLoss`
    layer (``options``: ``name``, ``dtype``), which adds the combined loss with ``add_loss``."""
    if task == "multitask":
        from .composite import CompositeLoss

        options.pop("reduction", None)  # the layer adds one scalar: nothing to reduce
        return CompositeLoss(dict(params or {}), **options)
    return AdvisorLoss(loss_id, params, task, **options)


def load_loss(path: str | Path, loss: str | None = None, **options: Any) -> Any:
    """The Keras loss of a saved JSON result (``advisor suggest ... --format json > rec.json``):
    the recommended candidate, or the one whose loss id is ``loss`` (a multitask result's:
    the :class:`~advisor.keras.composite.CompositeLoss` layer)."""
    from ..frameworks import saved_candidate

    chosen, task = saved_candidate(path, loss)
    return make_loss(chosen["loss"], chosen["params"], task, **options)


from .composite import CompositeLoss  # noqa: E402  (uses OPS and AdvisorLoss's setting above)
