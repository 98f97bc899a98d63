"""The composite experiment: one shared proxy network per weighting, on the same folds,
each target scored on its own metric; the weighting with the best mean rank wins.

The per-target losses come from the rules (each target's own ranking); what is measured here
is how to combine them. Every weighting trains the same network (seed, epochs, folds), so
the differences are the weighting's alone. Between epochs the learned weightings are refitted
from the network as it stands: uncertainty's log variances in closed form, GradNorm's task
weights at the balance of the targets' gradient norms (:mod:`.gradnorm`).

The budget buys a number of epochs in all (:data:`EPOCHS_PER_SECOND`, over every fold and
weighting), shared by the fits: a third weighting shortens each fit rather than lengthening
the experiment, down to :data:`EPOCH_RANGE`'s floor.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from ..experiment.metrics import METRIC_SPECS
from ..experiment.scoring import ScoringContext
from ..proxy import LossMLP, LossProxy, standardization
from .gradnorm import GRADNORM_ROWS, gradnorm_task_weights, shared_gradients
from .math import TRAINED_WEIGHTINGS, CompositeMath, fixed_weights

#: Rows the experiment trains on at most (a stratified-by-nothing random sample above).
MAX_ROWS = 3000
FOLDS = 3
#: Epochs per second of budget over all the fits (folds x weightings), and the bounds of
#: one fit's epochs (each epoch is one pass of Adam over at most 2,000 training rows).
EPOCHS_PER_SECOND = 12
EPOCH_RANGE = (10, 60)


@dataclass(frozen=True)
class PartSetup:
    """One target's loss as the composite trains it: math, encoded width, standardisation."""

    column: str
    loss_id: str
    metric: str
    spec: Any
    params: dict[str, Any]
    profile: Any


@dataclass(frozen=True)
class WeightingResult:
    """Per-target mean fold scores of one weighting, its ranks and mean rank."""

    weighting: str
    scores: dict[str, float]
    ranks: dict[str, float]
    mean_rank: float
    final_weights: tuple[float, ...]
    initial_losses: tuple[float, ...] = ()   # each target's loss at the start, last fold


def epochs_for(budget: float, fits: int) -> int:
    """Epochs per fit from the budget (seconds) shared by ``fits`` fits, within
    :data:`EPOCH_RANGE`."""
    return int(np.clip(round(budget * EPOCHS_PER_SECOND / max(fits, 1)), *EPOCH_RANGE))


def run_experiment(features: pd.DataFrame, ys: list[np.ndarray], parts: list[PartSetup], *,
                   seed: int, budget: float, weightings: tuple[str, ...] = TRAINED_WEIGHTINGS,
                   ) -> tuple[list[WeightingResult], dict[str, Any]]:
    """Train every weighting on the same folds; per-target scores, ranks, and the protocol."""
    from sklearn.model_selection import KFold

    from ..experiment.features import build_preprocessor, prepare_features

    features = prepare_features(features)
    rng = np.random.default_rng(seed)
    rows = np.arange(len(features))
    if len(rows) > MAX_ROWS:
        rows = np.sort(rng.choice(rows, MAX_ROWS, replace=False))
    epochs = epochs_for(budget, FOLDS * len(weightings))
    folds = list(KFold(FOLDS, shuffle=True, random_state=seed).split(rows))
    fold_scores: dict[str, list[list[float]]] = {name: [] for name in weightings}
    last_weights: dict[str, tuple[float, ...]] = {}
    for train, test in folds:
        train_rows, test_rows = rows[train], rows[test]
        pre = build_preprocessor(features).fit(features.iloc[train_rows])
        X_train = pre.transform(features.iloc[train_rows])
        X_test = pre.transform(features.iloc[test_rows])
        for weighting in weightings:
            model = CompositeProxy(parts, weighting, seed=seed, epochs=epochs)
            model.fit(X_train, [y[train_rows] for y in ys])
            predictions = model.predict_parts(X_test)
            fold_scores[weighting].append([
                _score(part, y[test_rows], prediction)
                for part, y, prediction in zip(parts, ys, predictions)])
            last_weights[weighting] = tuple(float(w) for w in model.math_.weights)
            initial = tuple(float(value) for value in model.start_)
    results = [replace(result, initial_losses=initial)
               for result in _rank(parts, fold_scores, last_weights)]
    protocol = {"folds": FOLDS, "rows": int(len(rows)), "epochs": epochs, "seed": seed,
                "weightings": list(weightings)}
    return results, protocol


def _score(part: PartSetup, y_true: np.ndarray, prediction: np.ndarray) -> float:
    context = ScoringContext(part.profile.task, n_classes=len(part.profile.classes))
    return float(METRIC_SPECS[part.metric].score(y_true, prediction, context))


def _rank(parts: list[PartSetup], fold_scores: dict[str, list[list[float]]],
          last_weights: dict[str, tuple[float, ...]]) -> list[WeightingResult]:
    """Mean score per target; ranks per target (1 = best by the target's metric, ties
    averaged); the mean rank over targets."""
    names = list(fold_scores)
    means = np.array([np.nanmean(np.asarray(fold_scores[name], dtype=float), axis=0)
                      for name in names])  # (weightings, targets)
    ranks = np.zeros_like(means)
    for index, part in enumerate(parts):
        sign = -1.0 if METRIC_SPECS[part.metric].greater_is_better else 1.0
        column = np.where(np.isfinite(means[:, index]), sign * means[:, index], np.inf)
        ranks[:, index] = rankdata(column)
    return [WeightingResult(name, {part.column: float(means[row, index]) for index, part in enumerate(parts)},
                            {part.column: float(ranks[row, index]) for index, part in enumerate(parts)},
                            float(ranks[row].mean()), last_weights[name])
            for row, name in enumerate(names)]


class CompositeProxy:
    """One shared MLP, one output block per target, trained on :class:`CompositeMath` one
    epoch at a time (``partial_fit``) so the uncertainty and GradNorm weights can be refitted
    between."""

    def __init__(self, parts: list[PartSetup], weighting: str, *, seed: int, epochs: int,
                 hidden: tuple[int, ...] = (64,), learning_rate_init: float = 1e-3) -> None:
        self.parts, self.weighting, self.seed, self.epochs = parts, weighting, seed, epochs
        self.hidden, self.learning_rate_init = hidden, learning_rate_init

    def fit(self, X: np.ndarray, ys: list[np.ndarray]) -> CompositeProxy:
        self.proxies_, maths, blocks = [], [], []
        self.centers_, self.scales_ = [], []
        for part, y in zip(self.parts, ys):
            proxy = LossProxy(part.spec, part.params, part.profile)
            math = proxy._bind()
            proxy.math_ = math
            target = proxy.encode(y)
            if math.standardize_target:
                center, scale = standardization(target)
                target = (target - center) / scale
                fit_math = math.for_standardized(center.copy(), scale.copy())
            else:
                center, scale, fit_math = np.zeros(target.shape[1]), np.ones(target.shape[1]), math
            self.proxies_.append(proxy)
            self.centers_.append(center)
            self.scales_.append(scale)
            maths.append(fit_math)
            blocks.append(target)
        target = np.hstack(blocks)
        self.math_ = CompositeMath(maths, [block.shape[1] for block in blocks])
        start = self.start_ = self.math_.part_means(self.math_.constant_raw(target), target)
        self.math_.weights = fixed_weights(start)
        if self.weighting == "uncertainty":
            self.math_.set_uncertainty(start)
        self.model_ = LossMLP(loss=self.math_, hidden_layer_sizes=self.hidden, max_iter=1,
                              learning_rate_init=self.learning_rate_init, random_state=self.seed)
        if self.weighting == "gradnorm":
            self.math_.set_gradnorm(np.ones(len(self.parts)), start)
        # GradNorm's gradients on an evenly strided subset of the training rows
        sample = np.linspace(0, len(X) - 1, min(len(X), GRADNORM_ROWS)).astype(int)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for _ in range(self.epochs):
                self.model_.partial_fit(X, target)
                if self.weighting == "uncertainty":
                    self.math_.set_uncertainty(
                        self.math_.part_means(self.model_.decision_function(X), target))
                elif self.weighting == "gradnorm":
                    gradients, losses = shared_gradients(self.model_, X[sample], target[sample],
                                                         self.math_)
                    norms = np.array([np.linalg.norm(gradient) for gradient in gradients])
                    self.math_.set_gradnorm(gradnorm_task_weights(norms, losses, start), start)
        return self

    def predict_parts(self, X: np.ndarray) -> list[np.ndarray]:
        """Each target's task-space prediction (probabilities, values)."""
        raw = self.model_.decision_function(X)
        predictions = []
        for index, proxy in enumerate(self.proxies_):
            block = raw[:, self.math_.columns(index)]
            if proxy.math_.standardize_target:
                block = proxy.math_.unstandardize(block, self.centers_[index], self.scales_[index])
            predictions.append(proxy.math_.predict(block))
        return predictions
