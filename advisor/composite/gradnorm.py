"""GradNorm in the proxy experiment: per-target gradients at the last shared layer, and
GradNorm's balance of them, applied between epochs.

GradNorm (Chen, Badrinarayanan, Lee & Rabinovich, ICML 2018) weighs the targets' losses,
``sum_t w_t L_t``, so that each target's gradient norm at the last shared layer ``W``,
``G_t = ||grad_W w_t L_t||``, follows its training rate: the target norm is
``G_bar * r_t ** alpha``, with ``G_bar`` the mean norm, ``r_t`` the relative inverse training
rate ``(L_t(t) / L_t(0)) / mean_s (L_s(t) / L_s(0))`` (a target whose loss has fallen less is
pushed harder) and ``alpha`` the asymmetry (:data:`~advisor.composite.math.GRADNORM_ALPHA`,
the constant :mod:`advisor.torch.composite` uses too). The weights are renormalised to sum
to the number of targets.

**Per-target gradients without autograd.** scikit-learn's backward pass sums the targets'
gradients, but the fitted :class:`~advisor.proxy.LossMLP` holds everything needed to take
them apart: :func:`shared_gradients` runs the network's own forward pass (``_forward_pass``,
the one its ``_backprop`` uses, with its hidden activation), takes each target's raw-output
gradient from its own loss (``loss_gradient`` on its output columns), back-propagates it
through that target's columns of the output weights and the hidden activation's derivative
(scikit-learn's ``DERIVATIVES``, as ``_backprop`` does), and multiplies by the previous
layer's activations (the inputs for one hidden layer). ``tests/test_composite.py`` checks it
against finite differences.

**The fixed point, once per epoch, not a gradient step per batch.** The paper takes one
gradient step on the weights per training step (the L1 distance of the norms from their
targets, with its own learning rate). The proxy trains a few dozen epochs with
``partial_fit``, so a step per epoch with any such learning rate would barely move the
weights, and the result would measure the learning rate, not GradNorm. The proxy instead
sets the weights, after each epoch, to where those steps are heading for the current
network: every ``G_t`` on its target up to the common scale the renormalisation fixes, i.e.
``w_t ∝ r_t ** alpha / ||grad_W L_t||`` (the unweighted gradient norm does not depend on the
weights, so this point is unique). This is an approximation of the real algorithm, honestly
so: the real weights lag behind and average over batches, the proxy's jump to the balance
of the last epoch; the experiment measures whether *balancing the gradient norms by the
training rates* helps these targets, not the paper's exact trajectory. The uncertainty
weighting is treated the same way (its closed-form optimum once per epoch).

The task weights multiply the loss-normalised losses ``L_t / L_t(0)`` (as in
:class:`advisor.torch.composite.CompositeLoss`, whose ``weights()`` are
``task_weights / L_t(0)``), and start at 1: the fixed weighting's start.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.neural_network._base import DERIVATIVES
from sklearn.utils.extmath import safe_sparse_dot

from .math import GRADNORM_ALPHA, LOSS_FLOOR

__all__ = ["shared_gradients", "gradnorm_task_weights", "GRADNORM_ROWS"]

#: Rows the gradients and losses are computed on at most (an evenly strided subset of the
#: training rows above; the experiment trains on at most 2,000, so all of them). Not fewer:
#: the norm of a mean gradient estimated on a subsample is biased upwards by the rows' noise,
#: most where the true gradient is small (on the bundled doctor visits, 500 rows read one
#: target's norm 4 times too high by the tenth epoch); one pass costs about one epoch.
GRADNORM_ROWS = 2000


def shared_gradients(model: Any, X: np.ndarray, target: np.ndarray, math: Any,
                     ) -> tuple[list[np.ndarray], np.ndarray]:
    """Each target's gradient of its own mean (unweighted) loss with respect to the last
    shared layer's weights ``model.coefs_[-2]``, and each target's mean loss.

    ``model`` is a fitted :class:`~advisor.proxy.LossMLP` with at least one hidden layer,
    ``math`` its :class:`~advisor.composite.math.CompositeMath`, ``target`` the encoded target.
    """
    if model.n_layers_ < 3:
        raise ValueError("GradNorm needs a shared hidden layer (hidden_layer_sizes non-empty)")
    activations = model._forward_pass([X] + [None] * (model.n_layers_ - 1))
    last = model.n_layers_ - 2  # coefs_[last]: last hidden layer -> outputs
    derivative = DERIVATIVES[model.activation]
    gradients, means = [], []
    for index, part in enumerate(math.parts):
        columns = math.columns(index)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            values, raw_grad = part.loss_gradient(activations[-1][:, columns], target[:, columns])
        delta = safe_sparse_dot(raw_grad, model.coefs_[last][:, columns].T)
        derivative(activations[last], delta)  # in place, from the layer's output, as _backprop
        gradients.append(safe_sparse_dot(activations[last - 1].T, delta) / len(X))
        means.append(float(np.mean(values)))
    return gradients, np.asarray(means)


def gradnorm_task_weights(norms: np.ndarray, losses: np.ndarray, initial: np.ndarray,
                          alpha: float = GRADNORM_ALPHA) -> np.ndarray:
    """GradNorm's balance: task weights (summing to the number of targets) that put each
    target's gradient norm of ``task_weight * L_t / L_t(0)`` at ``G_bar * r_t ** alpha``.

    ``norms``: each target's ``||grad_W L_t||`` (unweighted), ``losses`` its ``L_t(t)``,
    ``initial`` its ``L_t(0)``. None of them usable (non-finite or zero): equal weights.
    """
    norms, losses, initial = (np.asarray(value, dtype=np.float64) for value in (norms, losses, initial))
    count = len(norms)
    initial = np.where(np.isfinite(initial) & (initial > LOSS_FLOOR), initial, 1.0)
    ratio = losses / initial
    scaled = norms / initial  # ||grad_W L_t / L_t(0)||
    if not (np.all(np.isfinite(ratio)) and np.all(ratio > 0) and np.all(np.isfinite(scaled))
            and np.all(scaled > 0)):
        return np.ones(count)
    rate = ratio / ratio.mean()
    raw = rate ** alpha / scaled
    return count * raw / raw.sum()
