"""The registry of the loss objects' formulas: one function per loss id, for both frameworks.

A formula computes a loss's per-row value from the network's raw outputs and the target, in
the vocabulary of ``keras.ops`` (``ops.log_sigmoid``, ``ops.sum(x, axis=-1)``...). Keras gets
``keras.ops`` itself; PyTorch gets :mod:`advisor.torch`'s adapter, which gives the same names
over ``torch``. So each formula is written once for both frameworks, and
``tests/test_loss_objects.py`` checks it against the catalog's own math (``LossMath``).

Signature: ``formula(ops, outputs, target, params, task) -> per-row values (batch,)``, where
``outputs`` are the raw outputs the catalog's math takes (logits, log-means, ...; a linear last
layer), ``target`` is the target as the user has it (class indices or one-hot, 0/1 labels,
values) and ``params`` the candidate's parameters with the declared defaults filled in. Two
helpers go beyond ``keras.ops``: ``ops.constant(value, like)`` (a parameter as a tensor of
``like``'s dtype and device) and ``ops.one_hot(indices, n, like)`` (float rows of ``like``'s
dtype).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: ``formula(ops, outputs, target, params, task) -> per-row loss``.
Formula = Callable[[Any, Any, Any, dict[str, Any], str], Any]

FORMULAS: dict[str, Formula] = {}


def formula(*loss_ids: str) -> Callable[[Formula], Formula]:
    """Register the decorated function as the loss object of ``loss_ids`` (one or more ids:
    a decision plan keyed like ``"cross_entropy+threshold"`` can share its loss's formula)."""

    def register(function: Formula) -> Formula:
        for loss_id in loss_ids:
            if loss_id in FORMULAS:
                raise RuntimeError(f"two loss-object formulas for {loss_id}")
            FORMULAS[loss_id] = function
        return function

    return register
