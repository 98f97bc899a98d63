"""Ready-to-train PyTorch losses: ``rec.best.to_torch()`` and :func:`load_loss`.

``pip install 'loss-advisor[torch]'``. Importing this module imports torch (``import advisor``
never does). The object is an ``nn.Module`` whose ``forward(outputs, target)`` returns the
catalog's loss averaged over the batch (``reduction="sum"`` or ``"none"`` as in torch's own
losses), from the network's raw outputs (a linear last layer: logits, log-means, [means, log
variances]...) and the target as you have it: class indices (or one-hot rows) for exclusive
classes, 0/1 labels or fractions for the sigmoid tasks, values for numeric targets, the
(duration, event) pair ``(batch, 2)`` for survival. Its formula is
:data:`advisor.frameworks.FORMULAS`, shared with :mod:`advisor.keras`; this module only gives
it torch's operations (:class:`TorchOps`).

One loss has state: ``group_dro`` is a :class:`GroupDROLoss`, whose group weights ``q`` (a
buffer, saved in ``state_dict``) take Sagawa et al.'s exponentiated-gradient step at every
call in training mode, as the catalog's ``GroupDROMath.advance`` does in the experiment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..frameworks import LossSetting, SettingView, import_framework, loss_setting, saved_candidate
from ..frameworks._classification import (
    group_dro_losses,
    group_dro_start,
    group_dro_step,
    group_dro_value,
)

import_framework("torch")  # missing: one FrameworkError line naming the pip extra
import torch  # noqa: E402  (imported once the check above has passed)

__all__ = ["AdvisorLoss", "GroupDROLoss", "TorchOps", "load_loss", "make_loss"]


def _tensor(value: Any, like: Any) -> Any:
    return value if isinstance(value, torch.Tensor) else torch.as_tensor(
        value, dtype=like.dtype, device=like.device)


class TorchOps:
    """The ``keras.ops`` names the formulas use, over torch (same arguments, same meaning)."""

    # ----- the two helpers beyond keras.ops (see advisor.frameworks._registry) -----
    @staticmethod
    def constant(value: Any, like: Any) -> Any:
        return torch.as_tensor(value, dtype=like.dtype, device=like.device)

    @staticmethod
    def one_hot(indices: Any, n: int, like: Any) -> Any:
        return torch.nn.functional.one_hot(indices.long(), n).to(like.dtype)

    # ----- shapes and types -----
    @staticmethod
    def ndim(x: Any) -> int:
        return int(x.dim())

    @staticmethod
    def cast(x: Any, dtype: Any) -> Any:
        x = torch.as_tensor(x)
        return x.to(getattr(torch, dtype) if isinstance(dtype, str) else dtype)

    @staticmethod
    def reshape(x: Any, shape: tuple[int, ...]) -> Any:
        return torch.reshape(x, shape)

    @staticmethod
    def transpose(x: Any) -> Any:
        return x.t()

    @staticmethod
    def diagonal(x: Any) -> Any:
        return torch.diagonal(x)

    @staticmethod
    def split(x: Any, sections: int, axis: int) -> tuple[Any, ...]:
        return torch.chunk(x, sections, dim=axis)

    @staticmethod
    def repeat(x: Any, repeats: int, axis: int) -> Any:
        return torch.repeat_interleave(x, repeats, dim=axis)

    @staticmethod
    def stack(xs: list[Any], axis: int = 0) -> Any:
        return torch.stack(xs, dim=axis)

    @staticmethod
    def ones_like(x: Any) -> Any:
        return torch.ones_like(x)

    @staticmethod
    def take(x: Any, indices: Any, axis: int | None = None) -> Any:
        if axis is None:
            return torch.reshape(x, (-1,))[indices]
        if isinstance(indices, int):
            return torch.select(x, axis, indices)
        return torch.index_select(x, axis, indices.long())

    @staticmethod
    def tril(x: Any, k: int = 0) -> Any:
        return torch.tril(x, diagonal=k)

    @staticmethod
    def searchsorted(sorted_sequence: Any, values: Any, side: str = "left") -> Any:
        return torch.searchsorted(sorted_sequence.contiguous(), values.contiguous(), side=side)

    @staticmethod
    def digitize(x: Any, bins: list[float]) -> Any:
        """numpy.digitize: i such that bins[i - 1] <= x < bins[i]."""
        return torch.bucketize(x.contiguous(), _tensor(bins, x).contiguous(), right=True)

    @staticmethod
    def where(condition: Any, x: Any, y: Any) -> Any:
        return torch.where(condition, x, y)

    @staticmethod
    def stop_gradient(x: Any) -> Any:
        return x.detach()

    # ----- reductions -----
    @staticmethod
    def sum(x: Any, axis: int | None = None, keepdims: bool = False) -> Any:
        return torch.sum(x) if axis is None else torch.sum(x, dim=axis, keepdim=keepdims)

    @staticmethod
    def mean(x: Any, axis: int | None = None) -> Any:
        return torch.mean(x) if axis is None else torch.mean(x, dim=axis)

    @staticmethod
    def logsumexp(x: Any, axis: int | None = None, keepdims: bool = False) -> Any:
        dims = tuple(range(x.dim())) if axis is None else axis
        return torch.logsumexp(x, dim=dims, keepdim=keepdims)

    @staticmethod
    def cumsum(x: Any, axis: int | None = None) -> Any:
        return torch.cumsum(torch.reshape(x, (-1,)), dim=0) if axis is None else torch.cumsum(x, dim=axis)

    # ----- element-wise -----
    exp = staticmethod(torch.exp)
    log = staticmethod(torch.log)
    log1p = staticmethod(torch.log1p)
    abs = staticmethod(torch.abs)
    square = staticmethod(torch.square)
    sigmoid = staticmethod(torch.sigmoid)
    log_sigmoid = staticmethod(torch.nn.functional.logsigmoid)
    softplus = staticmethod(torch.nn.functional.softplus)

    @staticmethod
    def log_softmax(x: Any, axis: int = -1) -> Any:
        return torch.log_softmax(x, dim=axis)

    @staticmethod
    def softmax(x: Any, axis: int = -1) -> Any:
        return torch.softmax(x, dim=axis)

    @staticmethod
    def clip(x: Any, low: float, high: float) -> Any:
        return torch.clamp(x, low, high)

    @staticmethod
    def maximum(x: Any, y: Any) -> Any:
        return torch.maximum(x, _tensor(y, x))

    @staticmethod
    def minimum(x: Any, y: Any) -> Any:
        return torch.minimum(x, _tensor(y, x))


OPS = TorchOps()


class AdvisorLoss(torch.nn.Module, SettingView):
    """A catalog loss with its derived parameters, as a PyTorch loss module.

    ``loss(outputs, target)``: ``outputs`` the network's raw outputs ``(batch, n_outputs)``,
    ``target`` as the module docstring says; the value is the catalog's per-row loss, averaged
    (``reduction="mean"``), summed (``"sum"``) or per row (``"none"``).
    """

    def __init__(self, setting: LossSetting, reduction: str = "mean") -> None:
        super().__init__()
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"reduction must be mean, sum or none; got {reduction!r}")
        self.setting = setting
        self.reduction = reduction

    def forward(self, outputs: Any, target: Any) -> Any:
        values = self.setting.formula(OPS, outputs, _tensor(target, outputs), self.setting.params,
                                      self.setting.task)
        return self._reduce(values)

    def _reduce(self, values: Any) -> Any:
        if self.reduction == "none":
            return values
        return values.sum() if self.reduction == "sum" else values.mean()

    def extra_repr(self) -> str:
        return self.setting.describe() + ("" if self.reduction == "mean" else f", reduction={self.reduction}")


class GroupDROLoss(AdvisorLoss):
    """Group DRO (Sagawa, Koh, Hashimoto & Liang, ICLR 2020, Algorithm 1) with its online
    group weights: the loss ``sum_g q_g L_g`` (``L_g`` the batch's mean cross-entropy in group
    ``g``; the target is ``[label, group index]`` per row).

    In training mode (``module.train()``, the default) each call first steps the weights on the
    batch's group losses, detached and under ``torch.no_grad``: ``q_g <- q_g exp(eta L_g)``,
    renormalised, then returns the loss at the new ``q``; this is the order of the paper's code
    and of the catalog's ``GroupDROMath`` (``advance``, then ``loss_gradient``), so the object
    trains the loss the experiment measured. In eval mode (``module.eval()``) ``q`` does not
    move. ``q`` is a float64 buffer: it follows ``.to(device)`` and is saved in ``state_dict``
    (``load_state_dict`` resumes it); a new object, e.g. from :func:`load_loss`, starts again
    from the candidate's starting weights (uniform unless ``group_weights`` is given), and
    :meth:`reset` goes back to them. Batches should hold rows of every group: an absent group
    has loss 0 in that batch, so its weight shrinks (as in the paper's code).
    """

    q: Any

    def __init__(self, setting: LossSetting, reduction: str = "mean") -> None:
        super().__init__(setting, reduction)
        self.eta = float(setting.params["eta"])
        self.register_buffer("q", torch.tensor(group_dro_start(setting.params), dtype=torch.float64))

    def forward(self, outputs: Any, target: Any) -> Any:
        params, task = self.setting.params, self.setting.task
        group_loss, per_row = group_dro_losses(OPS, outputs, _tensor(target, outputs), params, task)
        if self.training:
            with torch.no_grad():
                self.q.copy_(group_dro_step(OPS, self.q, group_loss.detach().to(self.q), self.eta))
        return self._reduce(group_dro_value(OPS, self.q.to(outputs), group_loss, per_row))

    def reset(self) -> None:
        """Back to the starting group weights."""
        with torch.no_grad():
            self.q.copy_(torch.tensor(group_dro_start(self.setting.params), dtype=torch.float64))

    def extra_repr(self) -> str:
        weights = ", ".join(f"{value:.4g}" for value in self.q.tolist())
        return f"{super().extra_repr()}, q=[{weights}]"


#: The loss ids whose object has state (the others are :class:`AdvisorLoss`).
STATEFUL = {"group_dro": GroupDROLoss}


def _build(setting: LossSetting, reduction: str) -> AdvisorLoss:
    return STATEFUL.get(setting.loss_id, AdvisorLoss)(setting, reduction=reduction)


def make_loss(loss_id: str, params: dict[str, Any] | None, task: str, *,
              reduction: str = "mean") -> AdvisorLoss:
    """The PyTorch loss of ``loss_id`` on ``task`` with ``params`` (a candidate's ``params``);
    a multitask candidate's (``task="multitask"``) is a :class:`~advisor.torch.composite.CompositeLoss`."""
    if task == "multitask":
        from .composite import CompositeLoss

        return CompositeLoss(dict(params or {}))  # type: ignore[return-value]
    return _build(loss_setting(loss_id, params, task), reduction)


def load_loss(path: str | Path, loss: str | None = None, *, reduction: str = "mean") -> AdvisorLoss:
    """The PyTorch loss of a saved JSON result (``advisor suggest ... --format json > rec.json``):
    the recommended candidate, or the one whose loss id is ``loss`` (a multitask result's:
    the :class:`~advisor.torch.composite.CompositeLoss`). A group DRO object starts from its
    starting weights: the saved result holds the candidate, not a training's ``q`` (resume
    one with ``load_state_dict``)."""
    chosen, task = saved_candidate(path, loss)
    return make_loss(chosen["loss"], chosen["params"], task, reduction=reduction)
