"""Build the quality benchmark's ground truth: real PyTorch MLPs trained with every loss.

For each dataset of :mod:`datasets` and every catalog loss that applies to its task (and
whose target range holds the data), a PyTorch MLP (two hidden layers of 64 ReLU units,
Adam at 1e-3 with L2 1e-4, batches of 128 (smaller on small data: at least 16 steps an
epoch), early stopping on the loss over a 10 %
validation split of the training fold with patience 10, the best weights restored, at most
200 epochs) is trained on 5 folds x 3 repeats (15 paired splits, the same for every loss;
10 repeats, 50 splits, below 1,000 rows)
and scored on every metric of the task. The result is cached as
``truth/<dataset>.json``, so scoring the advisor (:mod:`score`) needs no training.

What is shared with the advisor, and why: the loss values and gradients are the catalog's
own (``LossMath.loss_gradient``, bridged into autograd), so the truth measures the losses the
advisor recommends with the settings it derives (``Loss.derive``), and the features go
through the advisor's preprocessing (fitted on each training fold). What differs from the
advisor's quick proxies is everything about the training: a deeper network, PyTorch's Adam,
mini-batches of 128, early stopping with restored weights, and up to 200 epochs.

A plan (a loss plus a decision rule, ``cross_entropy+threshold``,
``cross_entropy+logit_adjustment``) trains as the advisor's experiment trains it: on the
training fold less a stratified fifth, on which its rule is tuned for each
decision metric (``advisor.experiment.decision``, shared with the advisor); the test fold is scored
under the tuned rule, and the tuned values per split are kept beside the scores.

A dataset with a sensitive column (``Dataset.sensitive``) is read as the advisor reads it
with ``--sensitive COL`` (the column is no feature), its folds are stratified on group x
class, the group-aware losses train with each row's group packed in their target (as the
advisor's proxies train them; group DRO's weights take one step per batch), and every fold
is also scored in each group: ``group_scores`` holds, per loss and metric, each split's
score per group, and ``scores["worst_group:METRIC"]`` each split's worst group, which a case
judged on the worst group reads. Without a sensitive column the group-aware losses are
left out (``excluded``): every row would be in one group, and they are plain cross-entropy.

Run: ``pip install '.[bench]'`` then ``python benchmarks/quality/truth.py`` (about an hour
on 2 cores; ``--only NAME`` for one dataset, ``--force`` to rebuild a cached one).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1]))

from datasets import DATASETS, WORST_GROUP, Dataset, by_name, split_metric  # noqa: E402

TRUTH_DIR = HERE / "truth"
FOLDS, REPEATS = 5, 3
#: Below this many rows the fold scores are noisy (one over-confident fold sways a mean), so
#: the truth repeats the cross-validation more often, as often as the advisor at most does
#: (``advisor.experiment.plan``: up to 10 repeats). With 6 repeats the best of a dozen noisy
#: means came out low: breast_cancer's best log loss was 0.096 on 30 splits, 0.101 on 50.
SMALL_ROWS, SMALL_REPEATS = 1000, 10
CONFIG = {"hidden": [64, 64], "activation": "relu", "optimizer": "adam", "lr": 1e-3,
          "weight_decay": 1e-4, "batch_size": 128, "max_epochs": 200, "patience": 10,
          "validation_fraction": 0.1, "folds": FOLDS, "repeats": REPEATS}


class Predicted(NamedTuple):
    """What one trained network predicts: the test rows, its predictive distribution there
    (None for one-number losses), the training rows, and the epochs it ran."""

    test: np.ndarray
    distribution: Any
    train: np.ndarray
    epochs: int


def prepared(dataset: Dataset):
    """The advisor's reading of the dataset: loaded table, profile (true task), losses."""
    from advisor.load import load_data
    from advisor.losses import CATALOG, losses_for_task
    from advisor.profile import profile_data

    loaded = load_data(dataset.frame(), dataset.target_argument,
                       label_sep=dataset.options.get("label_sep"),
                       event=dataset.options.get("event"), sensitive=dataset.sensitive)
    profile = profile_data(loaded, task=dataset.task or dataset.options.get("task"),
                           metric=split_metric(dataset.metrics[0])[0])
    numeric = profile.task in ("regression", "count", "proportion")
    losses = [loss_id for loss_id in losses_for_task(profile.task)
              if (not numeric or CATALOG[loss_id].in_target_range(np.asarray(profile.y, dtype=float)))
              and (profile.groups is not None or not CATALOG[loss_id].math.needs_groups)]
    params = {loss_id: CATALOG[loss_id].derive(profile, {"quantiles": profile.quantiles})
              for loss_id in losses}
    return loaded, profile, losses, params


def excluded(profile, losses: list[str]) -> dict[str, str]:
    """The task's losses left out of the truth, with why (the target is outside their range,
    or they need the groups of a sensitive column the dataset does not have)."""
    from advisor.losses import CATALOG, losses_for_task
    grouped = profile.groups is None
    return {loss_id: ("it needs the groups of a sensitive column"
                      if grouped and CATALOG[loss_id].math.needs_groups
                      else f"the target is outside its range ({CATALOG[loss_id].target_interval})")
            for loss_id in losses_for_task(profile.task) if loss_id not in losses}


def _bridge():
    import torch

    class CatalogLoss(torch.autograd.Function):
        """Mean of the catalog's per-sample loss; its gradient is the catalog's own."""

        @staticmethod
        def forward(ctx, raw, target, loss_math):
            values, gradient = loss_math.loss_gradient(raw.detach().double().numpy(), target)
            ctx.save_for_backward(torch.from_numpy(gradient / len(values)).to(raw.dtype))
            return raw.new_tensor(float(np.mean(values)))

        @staticmethod
        def backward(ctx, grad_output):
            (gradient,) = ctx.saved_tensors
            return grad_output * gradient, None, None

    return CatalogLoss


def train_and_predict(loss, params: dict[str, Any], profile, x_train: np.ndarray,
                      y_train: np.ndarray, x_test: np.ndarray, seed: int,
                      groups: np.ndarray | None = None) -> Predicted:
    """Train one PyTorch MLP with ``loss``: task-space test predictions, the loss's
    predictive distribution on them (None for one-number losses), the training rows'
    predictions (for the residual spread of distribution metrics) and the epochs run.
    ``groups``: each training row's group, for a group-aware loss."""
    import torch
    from torch import nn

    from advisor.proxy import standardization

    torch.set_num_threads(1)
    catalog_loss = _bridge()
    math_ = loss.bind(params, profile.task)
    extra = {"groups": groups} if math_.needs_groups and groups is not None else {}
    target = encoded = np.asarray(math_.encode_target(np.asarray(y_train), profile, **extra),
                                  dtype=np.float64)
    fit_math = math_
    center, scale = np.zeros(target.shape[1]), np.ones(target.shape[1])
    if math_.standardize_target:
        center, scale = standardization(target)
        target = (target - center) / scale
        fit_math = math_.for_standardized(center, scale)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(target))
    n_valid = max(1, int(round(CONFIG["validation_fraction"] * len(target))))
    valid, train = order[:n_valid], order[n_valid:]
    torch.manual_seed(seed)
    width = [x_train.shape[1], *CONFIG["hidden"]]
    layers: list[nn.Module] = []
    for fan_in, fan_out in zip(width[:-1], width[1:]):
        layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
    output = nn.Linear(width[-1], target.shape[1])
    bias = fit_math.init_bias(target[train])
    if bias is not None:
        with torch.no_grad():
            output.bias.copy_(torch.as_tensor(np.broadcast_to(bias, output.bias.shape).copy()))
    net = nn.Sequential(*layers, output).double()
    optimizer = torch.optim.Adam(net.parameters(), lr=CONFIG["lr"],
                                 weight_decay=CONFIG["weight_decay"])
    features = torch.as_tensor(np.asarray(x_train, dtype=np.float64))
    # at least 16 steps per epoch, so early stopping on small data still sees a trained net
    batch = min(CONFIG["batch_size"], max(16, len(train) // 16))
    best, best_state, waited, epochs = math.inf, None, 0, 0
    for epoch in range(CONFIG["max_epochs"]):
        epochs = epoch + 1
        net.train()
        shuffled = train[rng.permutation(len(train))]
        for start in range(0, len(shuffled), batch):
            rows = shuffled[start:start + batch]
            optimizer.zero_grad()
            raw_batch = net(features[rows])
            advance = getattr(fit_math, "advance", None)
            if advance is not None:  # group DRO's weights: one step per batch, before the gradient
                advance(raw_batch.detach().numpy(), target[rows])
            value = catalog_loss.apply(raw_batch, target[rows], fit_math)
            if not torch.isfinite(value):
                raise FloatingPointError(f"non-finite training loss at epoch {epochs}")
            value.backward()
            optimizer.step()
        net.eval()
        with torch.no_grad():
            raw_valid = net(features[valid]).numpy()
        current = float(np.mean(fit_math.loss_gradient(raw_valid, target[valid])[0]))
        if not math.isfinite(current):
            break
        if current < best:
            best, waited = current, 0
            best_state = {key: item.clone() for key, item in net.state_dict().items()}
        else:
            waited += 1
            if waited >= CONFIG["patience"]:
                break
    if best_state is not None:
        net.load_state_dict(best_state)
    with torch.no_grad():
        raw = net(torch.as_tensor(np.asarray(x_test, dtype=np.float64))).numpy()
        raw_train = net(torch.as_tensor(np.asarray(x_train, dtype=np.float64))).numpy()
    raw = math_.unstandardize(raw, center, scale)
    raw_train = math_.unstandardize(raw_train, center, scale)
    math_ = math_.after_training(raw_train, encoded)  # cox: the Breslow baseline of the fold
    return Predicted(np.asarray(math_.predict(raw), dtype=float), math_.predictive(raw),
                     np.asarray(math_.predict(raw_train), dtype=float), epochs)


def _job(loss_id: str, split: int, train: np.ndarray, test: np.ndarray, features, y, profile,
         params: dict[str, Any], context, metrics: tuple[str, ...],
         groups: np.ndarray | None = None, n_groups: int = 0) -> dict[str, Any]:
    from advisor.experiment.features import build_preprocessor
    from advisor.experiment.scoring import (
        fold_distribution,
        prediction_levels,
        prediction_times,
        score_predictions,
    )
    from advisor.losses import CATALOG

    loss = CATALOG[loss_id]
    preprocessor = build_preprocessor(features.iloc[train])
    x_train = preprocessor.fit_transform(features.iloc[train])
    x_test = preprocessor.transform(features.iloc[test])
    tuned = None
    if loss.search is not None:
        return _searched_job(loss, split, x_train, x_test, y, train, test, profile, params,
                             context, metrics, groups, n_groups)
    try:
        if loss.decision is None:
            predicted = train_and_predict(loss, params, profile, x_train, y[train], x_test,
                                          seed=1000 + split,
                                          groups=None if groups is None else groups[train])
        else:
            predicted, tuned = _plan(loss, params, profile, x_train, y[train], x_test,
                                     metrics, seed=1000 + split)
        prediction, epochs = predicted.test, predicted.epochs
    except (FloatingPointError, ValueError, RuntimeError) as error:
        return _result(loss_id, split, metrics, error=str(error)[:200])
    if not np.all(np.isfinite(prediction)):
        return _result(loss_id, split, metrics, error="non-finite predictions", epochs=epochs)
    context = replace(context, prediction_levels=prediction_levels(params),
                      prediction_times=prediction_times(params))
    distribution = fold_distribution(predicted.distribution, prediction, y[train],
                                     lambda: predicted.train, context)
    scores: dict[str, float] = {}
    by_group: dict[str, list[float | None]] = {}
    for name in metrics:  # a plan's decision metric under the rule tuned for it
        rule = (tuned or {}).get(name)
        scored = context if rule is None else replace(context, decision_offsets=rule.offsets)
        scores.update(score_predictions(y[test], prediction, (name,), scored, distribution)[0])
        if groups is not None:
            by_group[name] = _per_group(name, y[test], prediction, groups[test], n_groups, scored)
    return _result(loss_id, split, metrics, epochs=epochs, scores=scores,
                   **({"decision": {name: list(rule.values) for name, rule in tuned.items()}}
                      if tuned is not None else {}),
                   **({"group_scores": by_group} if groups is not None else {}))


def _per_group(name: str, y_true: np.ndarray, prediction: np.ndarray, groups: np.ndarray,
               n_groups: int, context) -> list[float | None]:
    """The metric in each group of the test fold, as the advisor's experiment scores it
    (the metric's own scorer on the group's rows); None where it cannot be computed (a
    group absent from the fold, one class only for a ranking metric, a distribution
    metric, which the groups do not judge)."""
    from advisor.experiment.metrics import METRIC_SPECS
    from advisor.experiment.scoring import score_predictions

    if METRIC_SPECS[name].reads_distribution:
        return [None] * n_groups
    values: list[float | None] = []
    for group in range(n_groups):
        rows = np.asarray(groups) == group
        value = (score_predictions(y_true[rows], prediction[rows], (name,), context)[0][name]
                 if rows.any() else math.nan)
        values.append(float(value) if math.isfinite(value) else None)
    return values


def _result(loss_id: str, split: int, metrics: tuple[str, ...], *, error: str | None = None,
            epochs: int | None = None, scores: dict[str, float] | None = None,
            **extra: Any) -> dict[str, Any]:
    """One job's record: its scores (None where not finite, all None when it failed)."""
    values = {name: None for name in metrics} if scores is None else {
        name: (float(value) if math.isfinite(value) else None) for name, value in scores.items()}
    return {"loss": loss_id, "split": split, "error": error, "epochs": epochs, "scores": values,
            **extra}


def _searched_job(loss, split: int, x_train: np.ndarray, x_test: np.ndarray, y: np.ndarray,
                  train: np.ndarray, test: np.ndarray, profile, params: dict[str, Any], context,
                  metrics: tuple[str, ...], groups: np.ndarray | None = None,
                  n_groups: int = 0) -> dict[str, Any]:
    """A loss with a searched parameter (poly1's epsilon) as the advisor's experiment runs it
    (advisor.experiment.search): one network per grid value on the training fold less a
    stratified, seeded fifth, the best value there for each metric refitted on the whole fold
    and scored on the test fold, so a case judged on a metric gets the value searched for it."""
    from advisor.experiment.metrics import METRIC_SPECS
    from advisor.experiment.scoring import score_predictions
    from advisor.experiment.search import search_value

    seed = 1000 + split
    held: dict[float, np.ndarray] = {}  # one network per grid value, shared by the metrics

    def predict_tuning_rows(values: dict[str, Any], fit: np.ndarray, tune: np.ndarray) -> np.ndarray:
        value = values[loss.search.name]
        if value not in held:
            held[value] = train_and_predict(loss, values, profile, x_train[fit], y[train][fit],
                                            x_train[tune], seed).test
        return held[value]

    chosen, refits, scores, epochs = {}, {}, {}, None
    by_group: dict[str, list[float | None]] = {}
    try:
        for name in metrics:
            if not METRIC_SPECS[name].judges:
                continue
            chosen[name] = search_value(loss, params, y[train], task=profile.task, metric=name,
                                        seed=seed, predict_tuning_rows=predict_tuning_rows,
                                        context=context).value
        for value in sorted(set(chosen.values())):
            refits[value] = train_and_predict(loss, {**params, loss.search.name: value}, profile,
                                              x_train, y[train], x_test, seed)
        for name in metrics:  # a diagnostic metric is read from the primary metric's refit
            predicted = refits[chosen.get(name, chosen[metrics[0]])]
            epochs = predicted.epochs if name == metrics[0] else epochs
            if not np.all(np.isfinite(predicted.test)):
                raise FloatingPointError("non-finite predictions")
            scores.update(score_predictions(y[test], predicted.test, (name,), context, None)[0])
            if groups is not None:
                by_group[name] = _per_group(name, y[test], predicted.test, groups[test], n_groups,
                                            context)
    except (FloatingPointError, ValueError, RuntimeError) as error:
        return _result(loss.id, split, metrics, error=str(error)[:200])
    return _result(loss.id, split, metrics, epochs=epochs, scores=scores, search=chosen,
                   **({"group_scores": by_group} if groups is not None else {}))


def _plan(loss, params: dict[str, Any], profile, x_train: np.ndarray, y_train: np.ndarray,
          x_test: np.ndarray, metrics: tuple[str, ...], seed: int):
    """A plan as the advisor's experiment runs it (advisor.experiment.decision): the network
    trains on the training fold less a stratified, seeded fifth, on which the plan's rule is
    tuned for each decision metric of ``metrics`` (a case judged on macro-F1 gets the rule
    tuned for macro-F1). Returns the test fold's prediction and metric -> tuned rule."""
    from advisor.experiment.decision import tune_rule, tuning_split
    from advisor.experiment.metrics import DECISION_METRICS

    fit, tune = tuning_split(y_train, profile.task, seed)
    predicted = train_and_predict(loss, params, profile, x_train[fit], y_train[fit],
                                  np.vstack([x_test, x_train[tune]]), seed)
    held = predicted.test[len(x_test):]
    tuned = {metric: tune_rule(loss.decision.rule, held, y_train[tune], metric=metric,
                               task=profile.task, priors=params.get("priors"))
             for metric in metrics if metric in DECISION_METRICS}
    return predicted._replace(test=predicted.test[:len(x_test)]), tuned


def build(dataset: Dataset, n_jobs: int, only: Sequence[str] = ()) -> dict[str, Any]:
    """Train every applicable loss (or the ``only`` ones) on the shared splits of ``dataset``."""
    from joblib import Parallel, delayed

    from advisor.experiment.features import prepare_features
    from advisor.experiment.scoring import metrics_for, scoring_context
    from advisor.experiment.splits import make_splits, strata_of
    from advisor.losses import CATALOG

    loaded, profile, losses, params = prepared(dataset)
    if only:
        losses = [loss_id for loss_id in losses if loss_id in only]
    y = np.asarray(profile.y)
    kept = np.flatnonzero(profile.row_mask) if profile.row_mask is not None else np.arange(len(y))
    features = prepare_features(loaded.features.iloc[kept])
    strata, _ = strata_of(y, profile.task)
    groups = None if profile.groups is None else np.asarray(profile.groups.codes)
    names = () if profile.groups is None else tuple(profile.groups.names)
    if groups is not None:  # every fold holds every (group, class) cell, as in the advisor
        strata = strata * len(names) + groups
    repeats = SMALL_REPEATS if len(y) < SMALL_ROWS else REPEATS
    splits = make_splits(strata, FOLDS, repeats, seed=0)
    metrics = metrics_for(profile, split_metric(dataset.metrics[0])[0], y)
    context = scoring_context(profile, params)
    started = time.perf_counter()
    results = Parallel(n_jobs=n_jobs)(
        delayed(_job)(loss_id, index, train, test, features, y, profile, params[loss_id],
                      context, metrics, groups, len(names))
        for index, (train, test) in enumerate(splits) for loss_id in losses)
    by_loss: dict[str, Any] = {}
    for loss_id in losses:
        mine = sorted((item for item in results if item["loss"] == loss_id),
                      key=lambda item: item["split"])
        by_loss[loss_id] = {
            "params": params[loss_id],
            "scores": {name: [item["scores"][name] for item in mine] for name in metrics},
            "epochs": [item["epochs"] for item in mine],
            "errors": sorted({item["error"] for item in mine if item["error"]}),
            **({"decision": [item.get("decision") for item in mine]}
               if CATALOG[loss_id].decision is not None else {}),
            **({"search": [item.get("search") for item in mine]}
               if CATALOG[loss_id].search is not None else {}),
        }
        if groups is not None:
            _add_worst_group(by_loss[loss_id], mine, metrics, len(names))
    greater = {name: _greater(name) for name in metrics}
    scored = list(metrics)
    if groups is not None:
        worst = [f"{WORST_GROUP}{name}" for name in metrics if not _reads_distribution(name)]
        scored += worst
        greater.update({name: greater[split_metric(name)[0]] for name in worst})
    return {"dataset": dataset.name, "source": dataset.source, "task": profile.task,
            "rows": int(len(y)), "metrics": scored,
            "excluded": excluded(profile, losses), "greater_is_better": greater,
            **({"sensitive": dataset.sensitive, "groups": list(names)} if groups is not None else {}),
            "splits": len(splits), "config": {**CONFIG, "repeats": repeats}, "losses": by_loss,
            "seconds": round(time.perf_counter() - started, 1)}


def _add_worst_group(entry: dict[str, Any], runs: list[dict[str, Any]], metrics: tuple[str, ...],
                     n_groups: int) -> None:
    """A loss's per-group scores per split (``group_scores``) and, as a metric of its own,
    each split's worst group (``scores["worst_group:M"]``: the lowest value where greater is
    better; None when the split failed or no group could be scored)."""
    entry["group_scores"] = {}
    for name in metrics:
        if _reads_distribution(name):
            continue
        table = [(run.get("group_scores") or {}).get(name) or [None] * n_groups for run in runs]
        entry["group_scores"][name] = table
        pick = min if _greater(name) else max
        entry["scores"][f"{WORST_GROUP}{name}"] = [
            pick(finite) if (finite := [value for value in row if value is not None])
            and run["error"] is None else None
            for row, run in zip(table, runs, strict=True)]


def _reads_distribution(metric: str) -> bool:
    from advisor.experiment.metrics import METRIC_SPECS
    return METRIC_SPECS[metric].reads_distribution


def _greater(metric: str) -> bool:
    from advisor.experiment.metrics import METRIC_SPECS
    return METRIC_SPECS[metric].greater_is_better


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", default=[], help="dataset name (repeatable)")
    parser.add_argument("--force", action="store_true", help="rebuild cached truth files")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--loss", action="append", default=[],
                        help="retrain only this loss (repeatable) in the cached truth files, "
                             "e.g. after its math or its search changed")
    args = parser.parse_args(argv)
    TRUTH_DIR.mkdir(exist_ok=True)
    chosen = [by_name(name) for name in args.only] if args.only else list(DATASETS)
    for dataset in chosen:
        path = TRUTH_DIR / f"{dataset.name}.json"
        if args.loss and path.exists():
            truth = json.loads(path.read_text())
            update = build(dataset, args.jobs, only=args.loss)
            truth["losses"].update(update["losses"])
            path.write_text(json.dumps(truth, indent=1, sort_keys=True) + "\n")
            print(f"{dataset.name}: {', '.join(update['losses']) or 'no such loss here'} "
                  f"retrained, {update['seconds']} s", file=sys.stderr, flush=True)
            continue
        if path.exists() and not args.force:
            print(f"{dataset.name}: cached", file=sys.stderr)
            continue
        truth = build(dataset, args.jobs)
        path.write_text(json.dumps(truth, indent=1, sort_keys=True) + "\n")
        print(f"{dataset.name}: {truth['task']}, {len(truth['losses'])} losses, "
              f"{truth['seconds']} s", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
