"""Fairness across the groups of a sensitive column (--sensitive): input checks, the groups'
facts, the group-aware losses, the rules, and the experiment's per-group scores by fairlearn."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import run_cli

import advisor
from advisor.errors import OptionError, SensitiveError
from advisor.load import load_data
from advisor.losses import CATALOG
from advisor.profile import profile_data
from advisor.rules import load_rulebase


def _frame(n: int = 900, small_share: float = 0.12, seed: int = 0) -> pd.DataFrame:
    """Four features and a binary target; group 'b' is small, has a higher base rate and a
    different relation between the features and the label than group 'a'."""
    rng = np.random.default_rng(seed)
    group = np.where(rng.random(n) < small_share, "b", "a")
    x = rng.normal(size=(n, 4))
    logit = np.where(group == "a", 1.5 * x[:, 0] - 1.0, -1.5 * x[:, 0] + 1.0 + x[:, 1])
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(int)
    frame = pd.DataFrame(x, columns=["x1", "x2", "x3", "x4"])
    frame["grp"], frame["y"] = group, y
    return frame



# ----- input ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("change", "column", "message"), [
    (None, "gruop", "no column named 'gruop' for --sensitive"),
    (None, "y", "the sensitive column 'y' is the target"),
    ("single", "grp", "has a single group ('a')"),
    ("tiny", "grp", "group 'b' of the sensitive column 'grp' has only 5 rows"),
    ("numeric", "grp", "--sensitive supports binary and multiclass targets; this target is regression"),
])
def test_bad_sensitive_column_is_one_line_and_exit_2(tmp_path, change, column, message):
    frame = _frame(200)
    if change == "single":
        frame["grp"] = "a"
    elif change == "tiny":
        frame["grp"] = np.where(np.arange(len(frame)) < 5, "b", "a")
    elif change == "numeric":
        frame["y"] = np.random.default_rng(1).normal(size=len(frame))
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    result = run_cli("suggest", str(path), "--target", "y", "--sensitive", column, "--no-validate")
    assert result.exit_code == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    with pytest.raises(SensitiveError, match="sensitive|supports"):
        advisor.suggest(frame, target="y", sensitive=column, validate=False)


def test_sensitive_feature_needs_a_sensitive_column():
    with pytest.raises(OptionError, match="sensitive_as_feature"):
        advisor.suggest(_frame(200), target="y", sensitive_as_feature=True, validate=False)


def test_missing_fairlearn_is_one_line_naming_the_extra(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name == "fairlearn" else real(name, *args))
    with pytest.raises(SensitiveError, match=r"pip install 'loss-advisor\[fairness\]'"):
        advisor.suggest(_frame(200), target="y", sensitive="grp", validate=False)


def test_the_sensitive_column_is_no_feature_unless_asked():
    frame = _frame(200)
    loaded = load_data(frame, "y", sensitive="grp")
    assert "grp" not in loaded.features.columns and list(loaded.sensitive) == list(frame["grp"])
    assert "grp" in load_data(frame, "y", sensitive="grp", sensitive_as_feature=True).features
    plain = advisor.suggest(frame, target="y", sensitive="grp", validate=False)
    both = advisor.suggest(frame, target="y", sensitive="grp", sensitive_as_feature=True,
                           validate=False)
    assert (plain.profile.n_features_used, both.profile.n_features_used) == (4, 5)
    assert "--sensitive grp --sensitive-feature" in both.reproducibility.command


# ----- facts and rules ---------------------------------------------------------------------------
def test_group_facts_are_the_groups_sizes_and_base_rates():
    frame = _frame()
    profile = profile_data(load_data(frame, "y", sensitive="grp"))
    rates = frame.groupby("grp")["y"].mean()
    sizes = frame["grp"].value_counts()
    facts = profile.facts
    assert facts["has_sensitive"] and facts["n_groups"] == 2
    assert facts["smallest_group_share"] == pytest.approx(sizes["b"] / len(frame), rel=1e-5)
    assert facts["group_size_ratio"] == pytest.approx(sizes["a"] / sizes["b"], rel=1e-5)
    assert facts["group_base_rate_gap"] == pytest.approx(abs(rates["b"] - rates["a"]), rel=1e-5)
    section = profile.to_dict()["groups"]
    assert [group["name"] for group in section["groups"]] == ["a", "b"]
    assert section["groups"][1]["base_rate"] == pytest.approx(rates["b"], rel=1e-5)
    plain = profile_data(load_data(frame.drop(columns="grp"), "y")).facts
    assert not plain["has_sensitive"] and plain["group_base_rate_gap"] == 0.0


def test_rules_favour_the_group_losses_only_with_a_sensitive_column():
    rulebase = load_rulebase()
    frame = _frame()
    grouped = profile_data(load_data(frame, "y", sensitive="grp"))
    plain = profile_data(load_data(frame.drop(columns="grp"), "y"))
    losses = tuple(loss_id for loss_id, loss in CATALOG.items() if loss.supports("binary"))
    with_groups = rulebase.evaluate(grouped.facts, losses)
    without = rulebase.evaluate(plain.facts, losses)
    assert {"group_reweighted_cross_entropy", "group_dro"} <= set(without.vetoes)
    assert not {"group_reweighted_cross_entropy", "group_dro"} & set(with_groups.vetoes)
    for loss_id in ("group_reweighted_cross_entropy", "group_dro"):
        assert with_groups.scores[loss_id] > with_groups.scores["cross_entropy"]


# ----- the losses ----------------------------------------------------------------------------------
def test_reweighting_makes_group_and_label_independent():
    """Kamiran & Calders: the weighted (group, class) shares are P(g) P(y)."""
    frame = _frame()
    profile = profile_data(load_data(frame, "y", sensitive="grp"))
    weights = np.asarray(CATALOG["group_reweighted_cross_entropy"].derive(profile)["group_weights"])
    codes, y = profile.groups.codes, np.asarray(profile.y)
    cells = np.zeros((2, 2))
    np.add.at(cells, (codes, y), weights[codes, y])
    joint = cells / cells.sum()
    np.testing.assert_allclose(joint, np.outer(joint.sum(axis=1), joint.sum(axis=0)), rtol=1e-3)


def test_group_dro_weights_move_to_the_group_with_the_larger_loss():
    frame = _frame(200)
    profile = profile_data(load_data(frame, "y", sensitive="grp"))
    spec = CATALOG["group_dro"]
    math = spec.bind(spec.derive(profile, {"eta": 0.5}), "binary")
    codes = profile.groups.codes
    target = math.encode_target(np.asarray(profile.y), profile, groups=codes)
    # group a is predicted right, group b wrong: b's loss is the larger
    raw = np.where(codes == 1, -3.0, 3.0)[:, None] * (2.0 * np.asarray(profile.y)[:, None] - 1.0)
    start = math.q.copy()
    math.advance(raw, target)
    assert math.q[1] > start[1] and math.q.sum() == pytest.approx(1.0)


# ----- the experiment --------------------------------------------------------------------------
def test_group_aware_candidates_improve_the_worst_group(pinned_group_protocol):
    """Measured: on a small group with another base rate and another relation, group DRO
    or re-weighting lowers the worst group's log loss below plain cross-entropy's."""
    rec = advisor.suggest(_frame(), target="y", sensitive="grp", n_jobs=1, budget=30)
    evidence = {c.loss: c.evidence for c in rec.candidates if c.evidence is not None}
    assert {"cross_entropy", "group_reweighted_cross_entropy", "group_dro"} <= set(evidence)
    worst = {loss_id: evidence[loss_id].fairness.worst_group for loss_id in evidence
             if evidence[loss_id].fairness is not None}
    assert all(item.fairness.worst_group_name == "b" for item in evidence.values()
               if item.fairness is not None and item.loss == "cross_entropy")
    best_group_aware = min(worst["group_dro"], worst["group_reweighted_cross_entropy"])
    assert best_group_aware < worst["cross_entropy"] - 0.05, worst
    assert "worst group" in rec.summary


def test_cli_json_on_the_mortgage_example_reports_groups_and_a_group_aware_candidate(pinned_group_protocol):
    result = run_cli("suggest", "example:mortgage_denial", "--sensitive", "afam", "--format",
                  "json", "--jobs", "1", "--quiet")
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    groups = payload["profile"]["groups"]
    assert groups["column"] == "afam" and [g["name"] for g in groups["groups"]] == ["no", "yes"]
    assert groups["groups"][1]["base_rate"] > groups["groups"][0]["base_rate"]
    assert "group of 'afam'" in payload["validation"]["protocol"]["stratified_on"]
    trained = {c["loss"]: c["evidence"] for c in payload["candidates"] if c.get("evidence")}
    aware = [loss_id for loss_id in ("group_reweighted_cross_entropy", "group_dro")
             if loss_id in trained]
    assert aware, sorted(trained)
    for loss_id in ("cross_entropy", *aware):
        fairness = trained[loss_id]["fairness"]
        assert set(fairness["per_group"]) == {"no", "yes"}
        assert 0.0 <= fairness["demographic_parity_difference"] <= 1.0
        assert 0.0 <= fairness["equalized_odds_difference"] <= 1.0
