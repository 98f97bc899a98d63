"""The pilot: measure what a fit costs on this machine with these features.

The first candidate that trains is fitted on one batch of rows for PILOT_EPOCHS and twice
as many epochs (fixed cost and cost of an epoch), then on a larger sample of several
batches (cost per batch); every other candidate once on the larger sample, which scales the
costs by its relative speed. Failures are ignored here: the real run records them. The
plan uses the measurement only to notice a clearly slower machine (:func:`.plan.plan_run`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from ..runtime.parallel import quiet_single_thread
from .features import build_preprocessor, prepare_features
from .plan import PILOT_EPOCHS, PILOT_ROWS, PILOT_SMALL_ROWS, Cost, batches
from .run import epochs_run
from .splits import stratified_sample

__all__ = ["Pilot", "run_pilot"]


@dataclass(frozen=True)
class Pilot:
    """What the pilot measured, and the shape of the features it trained on."""

    cost: Cost
    bytes_per_row: float
    solver: str
    n_inputs: int
    raw_columns: int
    seconds: float


class _TimedFit:
    """Fit one candidate on the pilot sample (or some of its rows) and time it."""

    def __init__(self, factory: Callable[..., Any], catalog: Mapping[str, Any],
                 loss_params: Mapping[str, Any], profile: Any, y: np.ndarray,
                 matrix: np.ndarray, seed: int, hidden: tuple[int, ...]) -> None:
        self.factory, self.catalog, self.loss_params = factory, catalog, loss_params
        self.profile, self.y, self.matrix = profile, y, matrix
        self.seed, self.hidden = seed, tuple(hidden)
        self.solver = "adam"

    def __call__(self, loss_id: str, rows: np.ndarray | None, epochs: int) -> tuple[float, int]:
        target = self.y if rows is None else self.y[rows]
        inputs = self.matrix if rows is None else self.matrix[rows]
        proxy = self.factory(self.catalog[loss_id], self.loss_params[loss_id],
                             replace(self.profile, y=target), seed=self.seed, max_iter=epochs,
                             hidden=self.hidden)
        started = time.perf_counter()
        proxy.fit(inputs, target)
        seconds = time.perf_counter() - started
        self.solver = str(getattr(proxy, "solver", self.solver))
        return seconds, max(1, epochs_run(proxy) or epochs)


def _preparation_costs(sample: pd.DataFrame, small: np.ndarray) -> tuple[np.ndarray, float, float, float]:
    """The pilot's feature matrix, the per-row and fixed preparation costs, bytes per row."""
    prepared = prepare_features(sample)
    build_preprocessor(prepared).fit_transform(prepared)  # warm-up (imports, caches)

    def timed(rows: np.ndarray | None) -> tuple[float, np.ndarray]:
        started = time.perf_counter()
        part = prepare_features(sample if rows is None else sample.iloc[rows])
        matrix = build_preprocessor(part).fit_transform(part)
        return time.perf_counter() - started, matrix

    large = len(sample)
    small_prepare, _ = timed(small)
    large_prepare, matrix = timed(None)
    # fit + transform + scoring: about twice the preparation; a fixed part and a per-row part
    per_row = 2.0 * max((large_prepare - small_prepare) / max(1, large - small.size),
                        0.1 * large_prepare / max(1, large))
    per_prepare = max(0.0, 2.0 * large_prepare - per_row * large)
    bytes_per_row = float(prepared.memory_usage(deep=True).sum()) / max(1, large)
    return matrix, per_row, per_prepare, bytes_per_row


def _reference_costs(fit: _TimedFit, loss_id: str, small: np.ndarray,
                     large_batches: int) -> tuple[float, float, float, float]:
    """(per fit, per epoch, per batch, seconds of an epoch on the larger sample)."""
    fit(loss_id, small, 2)  # warm-up
    first, first_epochs = fit(loss_id, small, PILOT_EPOCHS)
    second, second_epochs = fit(loss_id, small, 2 * PILOT_EPOCHS)
    if second_epochs > first_epochs and second > first:
        epoch_small = (second - first) / (second_epochs - first_epochs)
    else:
        epoch_small = second / second_epochs
    per_fit = max(0.0, first - first_epochs * epoch_small)
    if large_batches <= 1:  # every fit of the run has one batch
        return per_fit, 0.0, epoch_small, epoch_small
    # one batch against several: per-epoch vs per-batch
    third, third_epochs = fit(loss_id, None, 2 * PILOT_EPOCHS)
    epoch_large = max((third - per_fit) / third_epochs, epoch_small)
    # the slope between the two, but never below the larger epoch's average per batch:
    # timing noise must not make batches look free
    per_batch = max((epoch_large - epoch_small) / (large_batches - 1), epoch_large / large_batches)
    return per_fit, max(0.0, epoch_small - per_batch), per_batch, epoch_large


def _fit_costs(fit: _TimedFit, chosen: Sequence[str], small: np.ndarray,
               large_batches: int) -> tuple[tuple[float, float, float, float] | None, list[float]]:
    """The reference costs (of the first candidate that trains) and every candidate's speed
    relative to it."""
    reference = None
    ratios: list[float] = []
    for loss_id in chosen:
        try:
            if reference is None:
                reference = _reference_costs(fit, loss_id, small, large_batches)
                ratios.append(1.0)
            else:
                seconds, ran = fit(loss_id, None if large_batches > 1 else small, PILOT_EPOCHS)
                ratios.append(max(0.1, (seconds - reference[0]) / ran / reference[3]))
        except Exception:  # noqa: BLE001 - the real run records the failure
            continue
    return reference, ratios


def run_pilot(features: pd.DataFrame, kept: np.ndarray, y_all: np.ndarray, strata: np.ndarray,
              profile: Any, chosen: Sequence[str], loss_params: Mapping[str, Any],
              factory: Callable[..., Any], catalog: Mapping[str, Any], seed: int,
              hidden: tuple[int, ...]) -> Pilot:
    """Measure what a fit costs here: fixed, per epoch, per batch, per candidate."""
    started = time.perf_counter()
    large = min(len(y_all), PILOT_ROWS)
    positions = stratified_sample(strata, large, seed)
    small = stratified_sample(strata[positions], min(large, PILOT_SMALL_ROWS), seed)
    sample = features.iloc[kept[positions]]
    y = y_all[positions]
    with quiet_single_thread():
        matrix, per_row, per_prepare, bytes_per_row = _preparation_costs(sample, small)
        fit = _TimedFit(factory, catalog, loss_params, replace(profile, y=y, row_mask=None), y,
                        matrix, seed, hidden)
        reference, ratios = _fit_costs(fit, chosen, small, batches(large))
    if reference is None:  # every pilot fit failed: assume a slow machine
        reference = (0.05, 2e-3, 2e-3, 0.0)
    scale = float(np.mean(ratios)) if ratios else 1.0
    cost = Cost(per_fit=reference[0], per_epoch=reference[1] * scale,
                per_batch=reference[2] * scale, per_row=per_row, per_prepare=per_prepare)
    return Pilot(cost=cost, bytes_per_row=bytes_per_row, solver=fit.solver,
                 n_inputs=int(matrix.shape[1]), raw_columns=int(sample.shape[1]),
                 seconds=time.perf_counter() - started)
