"""The quality benchmark (benchmarks/quality/): its hit rule, and a ground truth that covers
every task and every applicable catalog loss, so a new loss cannot skip it."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from advisor.losses import CATALOG, losses_for_task
from advisor.options import TASKS

QUALITY = Path(__file__).resolve().parents[1] / "benchmarks" / "quality"
pytestmark = pytest.mark.skipif(not QUALITY.is_dir(), reason="run from a source checkout")


def _module(name: str):
    sys.path.insert(0, str(QUALITY))
    try:
        spec = importlib.util.spec_from_file_location(f"quality_{name}", QUALITY / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module        # dataclasses look their module up there
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(QUALITY))


@pytest.fixture(scope="module")
def score():
    return _module("score")


def _truth(scores: dict[str, list[float]], greater: bool = False) -> dict:
    return {"greater_is_better": {"rmse": greater},
            "losses": {loss: {"scores": {"rmse": values}} for loss, values in scores.items()}}


def test_a_pick_significantly_worse_on_both_tests_is_a_miss(score):
    best = [1.0, 1.1, 0.9, 1.0, 1.05] * 3
    worse = [value + 0.2 + 0.01 * index for index, value in enumerate(best)]
    verdict = score.judge(_truth({"mse": best, "poisson": worse}), "rmse", "poisson")
    assert verdict["best"] == "mse" and not verdict["hit"]
    assert verdict["regret"] == pytest.approx(100 * (np.mean(worse) - np.mean(best)) / np.mean(best))
    assert score.judge(_truth({"mse": best, "poisson": worse}), "rmse", "mse")["hit"]


def test_a_noisy_or_tiny_gap_is_a_hit(score):
    rng = np.random.default_rng(0)
    best = list(1 + rng.normal(0, 0.3, 15))
    noisy = [value + rng.normal(0.02, 0.3) for value in best]       # not significantly worse
    assert score.judge(_truth({"mse": best, "huber": noisy}), "rmse", "huber")["hit"]
    close = [value * 1.004 for value in best]                        # within 0.5 % of the best
    assert score.judge(_truth({"mse": best, "huber": close}), "rmse", "huber")["hit"]


def test_a_pick_that_failed_in_the_truth_or_is_unknown_is_a_miss(score):
    truth = _truth({"mse": [1.0] * 15, "gamma": [None] + [1.0] * 14})
    assert not score.judge(truth, "rmse", "gamma")["hit"]
    assert not score.judge(truth, "rmse", "coral")["hit"]


def test_the_truth_covers_every_task_and_every_applicable_loss():
    datasets = _module("datasets")
    tasks, grouped_tasks = set(), set()
    for dataset in datasets.DATASETS:
        path = QUALITY / "truth" / f"{dataset.name}.json"
        assert path.exists(), f"no ground truth for {dataset.name}: run truth.py --only {dataset.name}"
        truth = json.loads(path.read_text())
        tasks.add(truth["task"])
        assert truth["splits"] >= 15 and truth["config"]["folds"] >= 5
        # a loss may only be left out when its target range excludes the data (gamma: y > 0),
        # or, without a sensitive column, when it needs the groups of one (vetoed there, and
        # plain cross-entropy with every row in one group); a dataset with one trains them
        grouped = {loss_id for loss_id in losses_for_task(truth["task"])
                   if CATALOG[loss_id].math.needs_groups}
        if dataset.sensitive is not None:
            grouped_tasks.add(truth["task"])
            assert truth["sensitive"] == dataset.sensitive and len(truth["groups"]) >= 2
            for loss_id in grouped:
                assert loss_id in truth["losses"], (dataset.name, loss_id)
            for entry in truth["losses"].values():
                for table in entry["group_scores"].values():
                    assert len(table) == truth["splits"]
                    assert all(len(row) == len(truth["groups"]) for row in table)
            grouped = set()
        missing = set(losses_for_task(truth["task"])) - set(truth["losses"]) - grouped
        assert missing == set(truth["excluded"]) - grouped, dataset.name
        assert all(CATALOG[loss_id].target_interval.low > -np.inf for loss_id in missing)
        for metric in dataset.metrics:
            assert metric in truth["metrics"], (dataset.name, metric)
            for entry in truth["losses"].values():
                assert len(entry["scores"][metric]) == truth["splits"]
    assert tasks == set(TASKS)
    assert "binary" in grouped_tasks  # the group-aware losses are judged on real groups
    assert len(datasets.DATASETS) >= 20
    assert sum(len(dataset.metrics) > 1 for dataset in datasets.DATASETS) >= 5


def test_the_truth_searches_poly1_s_epsilon_as_the_experiment_does():
    """A searched parameter joins the ground truth the way the advisor runs it: the value
    searched for each judged metric on the fold's held-out fifth, refitted, then scored."""
    pytest.importorskip("torch", reason="the bench extra (pip install '.[bench]') is not installed")
    from conftest import binary_data

    from advisor.experiment.features import prepare_features
    from advisor.experiment.metrics import METRIC_SPECS
    from advisor.experiment.scoring import metrics_for, scoring_context
    from advisor.experiment.splits import make_splits, strata_of

    truth = _module("truth")
    loaded, profile = binary_data(n=400, metric="balanced_accuracy")
    y = np.asarray(profile.y)
    train, test = make_splits(strata_of(y, "binary")[0], 5, 1, seed=0)[0]
    params = CATALOG["poly1"].derive(profile, {})
    metrics = metrics_for(profile, "balanced_accuracy", y)
    result = truth._job("poly1", 0, train, test, prepare_features(loaded.features), y, profile,
                        params, scoring_context(profile, {"poly1": params}), metrics)
    assert result["error"] is None
    judged = [name for name in metrics if METRIC_SPECS[name].judges]
    assert set(result["search"]) == set(judged)
    assert set(result["search"].values()) <= set(CATALOG["poly1"].search.grid)
    assert all(np.isfinite(result["scores"][name]) for name in metrics)


def test_the_truth_trains_the_group_losses_with_the_groups_and_scores_each_group():
    """With a sensitive column a group-aware loss trains on [label, group] targets and every
    fold is scored per group; the worst group is the lowest balanced accuracy of the fold."""
    pytest.importorskip("torch", reason="the bench extra (pip install '.[bench]') is not installed")
    import pandas as pd

    from advisor.experiment.features import prepare_features
    from advisor.experiment.scoring import metrics_for, scoring_context
    from advisor.experiment.splits import make_splits, strata_of
    from advisor.load import load_data
    from advisor.profile import profile_data

    truth = _module("truth")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 3))
    group = np.where(rng.random(300) < 0.2, "b", "a")
    y = (x[:, 0] * np.where(group == "a", 1.0, -1.0) + rng.normal(0, 0.5, 300) > 0).astype(int)
    frame = pd.DataFrame(x, columns=["x1", "x2", "x3"]).assign(grp=group, y=y)
    loaded = load_data(frame, "y", sensitive="grp")
    profile = profile_data(loaded, metric="balanced_accuracy")
    labels, codes = np.asarray(profile.y), np.asarray(profile.groups.codes)
    train, test = make_splits(strata_of(labels, "binary")[0] * 2 + codes, 5, 1, seed=0)[0]
    params = CATALOG["group_dro"].derive(profile, {})
    metrics = metrics_for(profile, "balanced_accuracy", labels)
    result = truth._job("group_dro", 0, train, test, prepare_features(loaded.features), labels,
                        profile, params, scoring_context(profile, {"group_dro": params}),
                        metrics, codes, 2)
    assert result["error"] is None
    per_group = result["group_scores"]["balanced_accuracy"]
    assert len(per_group) == 2 and all(value is not None for value in per_group)
    entry = {"scores": {name: [result["scores"][name]] for name in metrics}}
    truth._add_worst_group(entry, [result], metrics, 2)
    assert entry["scores"]["worst_group:balanced_accuracy"] == [min(per_group)]
