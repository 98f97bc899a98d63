"""Do no harm: find the candidates whose experiment shows a blow-up on some split.

A mean and a 5-fold t-test cannot see one exploding fold: a log-link loss whose RMSE was
814, 768, 309,203,000, 1,000 and 705 on five folds (mse: 711, 743, 2,404, 765, 714) had no
significant difference from mse, and the old decision called it ``confirmed``. The user
meets that risk on their own data (extrapolation through ``exp``), so a candidate that blew
up on any split is *unstable* and is never recommended, whatever its mean.

Two signs of a blow-up, both on numeric targets (classification outputs are probabilities,
bounded by construction; a non-finite output is a failure, found by the validator):

- **a spike**: on some split the candidate's error (RMSE, MAE, a deviance, pinball) is at
  least :data:`BLOWUP_RATIO` times the best candidate's error on that split, *and* at least
  :data:`BLOWUP_RATIO` times its own typical (median) ratio. The second condition separates
  a blow-up from a loss that is simply worse everywhere (that one is judged by its mean);
- **extrapolation**: a prediction more than :data:`EXTRAPOLATION_SPANS` times the training
  targets' range beyond that range, and :data:`BLOWUP_RATIO` times further out than the
  least extrapolating other candidate went on that split (a far-out feature row makes every
  loss extrapolate; only ``exp`` turns it into 1e13).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["BLOWUP_RATIO", "EXTRAPOLATION_SPANS", "ERROR_METRICS", "overshoot",
           "unstable_candidates"]

#: How many times worse than the split's best (and than its own typical ratio) is a blow-up.
BLOWUP_RATIO = 10.0
#: Predictions this many target ranges beyond the training targets are a blow-up.
EXTRAPOLATION_SPANS = 10.0
#: Non-negative error metrics, where "x times worse" is meaningful.
ERROR_METRICS = frozenset({"rmse", "mae", "poisson_deviance", "gamma_deviance",
                           "tweedie_deviance", "pinball"})


def number(value: float) -> str:
    """Compact number for a one-line reason: 2,404 / 0.0123 / 3.09e+08."""
    if abs(value) >= 1e6:
        return f"{value:.3g}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def overshoot(prediction: np.ndarray, y_train: np.ndarray) -> tuple[float, str | None]:
    """How far ``prediction`` leaves the training targets' range, in ranges, and why in words
    when that is more than :data:`EXTRAPOLATION_SPANS` ranges (else None)."""
    values = np.asarray(prediction, dtype=float)
    targets = np.asarray(y_train, dtype=float)
    targets = targets[np.isfinite(targets)]
    if values.size == 0 or targets.size == 0:
        return 0.0, None
    low, high = float(targets.min()), float(targets.max())
    span = max(high - low, 1e-12 * max(1.0, abs(high)))
    top, bottom = float(np.max(values)), float(np.min(values))
    above, below = (top - high) / span, (low - bottom) / span
    distance = max(0.0, above, below)
    if distance <= EXTRAPOLATION_SPANS:
        return distance, None
    if above >= below:
        return distance, (f"predictions up to {number(top)}, far above the training targets "
                          f"{number(low)}..{number(high)}")
    return distance, (f"predictions down to {number(bottom)}, far below the training targets "
                      f"{number(low)}..{number(high)}")


def unstable_candidates(fold_scores: Mapping[str, Mapping[str, Sequence[float]]],
                        metrics: Sequence[str], splits: Sequence[int],
                        overshoots: Mapping[str, Sequence[tuple[float, str | None]]] | None = None,
                        ) -> dict[str, str]:
    """Loss -> one-line reason, for every candidate that blew up on some split.

    ``fold_scores[loss][metric]`` holds one score per compared split; ``splits`` are those
    splits' 0-based numbers (for the message). Only :data:`ERROR_METRICS` are checked for
    spikes. ``overshoots[loss]`` holds :func:`overshoot` per split: an overshoot counts when
    it is also :data:`BLOWUP_RATIO` times the smallest overshoot of the other candidates on
    that split, so a far-out row that every loss extrapolates to (linearly) blames none.
    """
    reasons: dict[str, str] = {}
    losses = list(fold_scores)
    if len(losses) < 2:
        return reasons
    overshoots = overshoots or {}
    for loss in losses:
        for column, (distance, message) in enumerate(overshoots.get(loss, ())):
            other_distances = [overshoots[other][column][0] for other in losses if other != loss]
            if message and distance >= BLOWUP_RATIO * max(1.0, min(other_distances)):
                reasons[loss] = f"split {splits[column] + 1}: {message}"
                break
    for metric in (name for name in metrics if name in ERROR_METRICS):
        table = np.array([[float(value) for value in fold_scores[loss].get(metric, ())]
                          for loss in losses], dtype=float)
        if table.ndim != 2 or table.shape[1] == 0:
            continue
        for row, loss in enumerate(losses):
            if loss in reasons:
                continue
            names = [other for other in losses if other != loss]
            others = np.where(np.isfinite(np.delete(table, row, axis=0)),
                              np.delete(table, row, axis=0), np.inf)
            best_other = others.min(axis=0)
            with np.errstate(invalid="ignore", divide="ignore"):
                ratios = table[row] / best_other
            usable = np.isfinite(ratios) & np.isfinite(best_other) & (best_other > 0)
            if not usable.any():
                continue
            typical = max(1.0, float(np.median(ratios[usable])))
            spikes = np.flatnonzero(usable & (ratios >= BLOWUP_RATIO)
                                    & (ratios >= BLOWUP_RATIO * typical))
            if spikes.size == 0:
                continue
            worst = int(spikes[np.argmax(ratios[spikes])])
            reference = names[int(np.argmin(others[:, worst]))]
            reasons[loss] = (f"split {splits[worst] + 1} {metric} {number(table[row, worst])} "
                             f"against {number(best_other[worst])} for {reference}")
    return reasons
