"""The side process that compiles the rule base beside a big file's parse gives the same
answers as the rule base compiled in process, and reports broken rule files the same way."""

from __future__ import annotations

from pathlib import Path

import pytest

import advisor.api as api
from advisor.errors import RuleError
from advisor.load import load_data
from advisor.losses import losses_for_task
from advisor.options import Options
from advisor.profile import profile_data
from advisor.rules import load_rulebase
from advisor.runtime.side_process import RuleProcess

DATA = Path(__file__).resolve().parent.parent / "data"


@pytest.mark.parametrize("name,options", [("poor_health", {"metric": "balanced_accuracy"}),
                                          ("tbill_rate_change", {"activation": "relu"}),
                                          ("doctor_visits", {})])
def test_side_process_outcome_equals_the_local_one(name, options):
    profile = profile_data(load_data(DATA / f"{name}.csv"), **options)
    applicable = losses_for_task(profile.task)
    local = load_rulebase().evaluate(profile.facts, applicable)
    with RuleProcess(()) as process:
        remote_base = process.rulebase()
        remote = remote_base.evaluate(profile.facts, applicable)
    assert remote == local
    assert remote_base.digest == load_rulebase().digest


def test_side_process_reports_a_broken_rule_file(tmp_path):
    (tmp_path / "bad.toml").write_text(
        '[[rule]]\nid = "x.bad"\nwhen = "imbalance_ratoi > 3"\nbecause = "b"\ncite = ["c"]\n'
        'effects = [{ loss = "focal", score = 1.0 }]\n')
    with RuleProcess((tmp_path,)) as process, pytest.raises(RuleError) as caught:
        process.rulebase()
    assert "bad.toml" in str(caught.value) and "x.bad" in str(caught.value)


def _spy_on_side_processes(monkeypatch) -> list:
    used = []
    original = RuleProcess.__init__

    def spy(self, extra_dirs):
        used.append(extra_dirs)
        original(self, extra_dirs)

    monkeypatch.setattr(RuleProcess, "__init__", spy)
    monkeypatch.setattr(api, "SIDE_PROCESS_BYTES", 1)
    monkeypatch.delitem(__import__("sys").modules, "rule_engine")
    return used


def test_the_cli_path_asks_for_the_side_process_for_big_files(monkeypatch):
    """With a tiny threshold the side process serves the CLI's call; the answer is the same."""
    path = DATA / "poor_health.csv"
    expected = api.suggest(str(path), metric="balanced_accuracy", validate=False).to_json()
    used = _spy_on_side_processes(monkeypatch)
    options = Options(metric="balanced_accuracy", validate=False)
    got = api.run(str(path), None, options, side_process=True).to_json()
    assert used == [()]
    assert got == expected


def test_the_library_compiles_in_process_unless_asked(monkeypatch):
    used = _spy_on_side_processes(monkeypatch)
    api.suggest(str(DATA / "poor_health.csv"), metric="balanced_accuracy", validate=False)
    assert used == []


def test_without_a_child_the_rule_base_compiles_here(monkeypatch):
    import advisor.runtime.side_process as side_process

    def refuse(*args, **kwargs):
        raise OSError("no fork for you")

    monkeypatch.setattr(side_process.subprocess, "Popen", refuse)
    profile = profile_data(load_data(DATA / "poor_health.csv"), metric="balanced_accuracy")
    applicable = losses_for_task(profile.task)
    with RuleProcess(()) as process:
        outcome = process.rulebase().evaluate(profile.facts, applicable)
    assert outcome == load_rulebase().evaluate(profile.facts, applicable)
    assert outcome.ranking[0] == "weighted_cross_entropy"
