"""Judged on the worst group (``--judge worst-group``): with a sensitive column the decision
reads each candidate's worst-group metric fold by fold in place of the all-rows scores."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import run_cli

import advisor
from advisor.errors import OptionError
from advisor.report import render_html, render_markdown


def _frame(n: int = 600, small_share: float = 0.15, seed: int = 0) -> pd.DataFrame:
    """A small group 'b' (15 %) whose label follows the opposite relation to x1 from the large
    group's, with the opposite base rate; the group is not a feature. A model of the average
    fits group a and fails b; group DRO trades the average for a far better worst group."""
    rng = np.random.default_rng(seed)
    group = np.where(rng.random(n) < small_share, "b", "a")
    x = rng.normal(size=(n, 3))
    logit = np.where(group == "a", 3.0 * x[:, 0] - 2.0, -3.0 * x[:, 0] + 2.0)
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(int)
    frame = pd.DataFrame(x, columns=["x1", "x2", "x3"])
    frame["grp"], frame["y"] = group, y
    return frame



def test_judged_on_the_worst_group_the_group_aware_loss_wins(pinned_group_protocol):
    """Over all rows plain cross-entropy measures best; on the worst group, group DRO."""
    frame = _frame()
    plain = advisor.suggest(frame, target="y", sensitive="grp", n_jobs=1, budget=30)
    worst = advisor.suggest(frame, target="y", sensitive="grp", n_jobs=1, budget=30,
                            judge="worst_group")
    assert plain.best.loss == "cross_entropy", plain.summary
    assert (plain.decision.judge, plain.decision.worst_group) == ("all_rows", None)
    assert plain.validation.protocol.judge == "all_rows"
    assert worst.best.loss == "group_dro", worst.summary
    assert worst.decision.judge == "worst_group" and worst.decision.basis == "evidence"
    assert worst.validation.protocol.judge == "worst_group"
    # the decision read the worst group's fold scores: the pick's mean of them is the best
    evidence = {c.loss: c.evidence for c in worst.candidates if c.evidence is not None}
    means = {loss_id: np.mean(item.fairness.worst_group_folds) for loss_id, item in evidence.items()}
    assert min(means, key=means.__getitem__) == "group_dro"
    assert evidence["cross_entropy"].mean < evidence["group_dro"].mean  # all rows: CE better
    name = worst.decision.worst_group
    assert name == evidence["group_dro"].fairness.worst_group_name
    assert f"judged on the worst group ({name}) of log_loss" in worst.summary
    assert "over all rows cross_entropy scores best" in worst.summary
    assert "fairness.judged_on_worst_group" in worst.rulebase.fired
    assert "fairness.judged_on_worst_group" not in plain.rulebase.fired
    assert "--judge worst-group" in worst.reproducibility.command
    markdown = render_markdown(worst)
    assert f"**Judged on:** the worst group ({name}) of log\\_loss" in markdown
    assert "its mean worst-group log\\_loss was" in markdown
    assert f"<dd>the worst group ({name}) of log_loss:" in render_html(worst)


def test_judging_the_worst_group_needs_a_sensitive_column(tmp_path):
    with pytest.raises(OptionError, match="judge must be all_rows without a sensitive column"):
        advisor.suggest(_frame(200), target="y", judge="worst_group", validate=False)
    path = tmp_path / "data.csv"
    _frame(200).to_csv(path, index=False)
    result = run_cli("suggest", str(path), "--target", "y", "--judge", "worst-group",
                  "--no-validate")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "--sensitive COL" in lines[0], result.stderr


def test_worst_group_json_is_byte_identical_and_says_what_decided(pinned_group_protocol, tmp_path):
    path = tmp_path / "data.csv"
    _frame().to_csv(path, index=False)
    args = ("suggest", str(path), "--target", "y", "--sensitive", "grp", "--judge",
            "worst-group", "--format", "json", "--jobs", "1", "--quiet", "--budget", "30")
    first, second = run_cli(*args), run_cli(*args)
    assert first.exit_code == 0, first.stderr
    assert first.stdout == second.stdout
    payload = json.loads(first.stdout)
    assert payload["decision"]["judge"] == "worst_group"
    assert payload["decision"]["worst_group"] in ("a", "b")
    assert payload["validation"]["protocol"]["judge"] == "worst_group"
    assert payload["settings"]["judge"] == "worst_group"
    assert payload["candidates"][0]["loss"] == "group_dro"
