"""The catalog and the rule base agree on output activations, because the rules are made
from the catalog: each loss's vetoes become the activation rules of the rule base."""

from __future__ import annotations

import pytest

from advisor.facts import FACTS
from advisor.losses import CATALOG, GENERATED_RULES_FILE, activation_veto_tables
from advisor.losses._activation import SITUATIONS, applicable_vetoes
from advisor.options import ACTIVATION_ALIASES, ACTIVATIONS, TASKS
from advisor.rules import load_rulebase

OUTPUTS = [name for name in ACTIVATIONS if name != "auto" and name not in ACTIVATION_ALIASES]


def coverage(loss_id: str, task: str, activation: str) -> str | None:
    """``always`` / ``depends`` (on the data) / None: how the loss's vetoes rule the pair out."""
    found = {veto.situation.covers(task, activation) for veto in applicable_vetoes(CATALOG[loss_id])}
    return "always" if "always" in found else "depends" if "depends" in found else None


@pytest.mark.parametrize("loss_id", list(CATALOG))
def test_the_vetoes_cover_exactly_the_activations_a_loss_cannot_sit_on(loss_id):
    """Every activation a loss cannot sit on has a veto with its reason, and no veto rules out,
    whatever the data, an activation the loss sits on (a veto that depends on the data, e.g. a
    sigmoid output under a target beyond 1, checks the target's range)."""
    loss = CATALOG[loss_id]
    for task in sorted(loss.tasks):
        for activation in OUTPUTS:
            covered = coverage(loss_id, task, activation)
            if not loss.accepts_activation(task, activation):
                assert covered is not None, f"{loss_id} cannot sit on {activation} ({task}), but no veto says so"
            if covered == "always":
                assert not loss.accepts_activation(task, activation), (
                    f"{loss_id} sits on {activation} ({task}), but a veto always rules it out")


def test_every_veto_concerns_an_activation_and_a_task_of_its_loss():
    for loss in CATALOG.values():
        assert len(applicable_vetoes(loss)) >= 1, loss.id
        for veto in applicable_vetoes(loss):
            assert any(veto.situation.covers(task, activation)
                       for task in loss.tasks for activation in OUTPUTS), (loss.id, veto.situation.id)
            assert veto.reason.strip(), (loss.id, veto.situation.id)


def test_each_situation_is_one_rule_of_the_rule_base_with_the_catalogs_vetoes():
    rulebase = load_rulebase()
    ids = [rule.id for rule in rulebase.rules]
    tables = activation_veto_tables()
    assert [table["id"] for _, table in tables] == [situation.id for situation in SITUATIONS]
    for (before, _), situation in zip(tables, SITUATIONS, strict=True):
        rule = rulebase.get(situation.id)
        assert rule.builtin and rule.file == GENERATED_RULES_FILE and rule.when == situation.when
        assert rule.warn == situation.warn and rule.cite == situation.cite
        expected = {loss.id: veto.reason for loss in CATALOG.values()
                    for veto in applicable_vetoes(loss) if veto.situation == situation}
        assert {effect.loss: effect.veto for effect in rule.effects} == expected
        assert before is None or ids.index(situation.id) < ids.index(before)
    assert sum(rule.file == GENERATED_RULES_FILE for rule in rulebase.rules) == len(SITUATIONS)


def facts_for(task: str, activation: str, *, awkward: bool) -> dict:
    """A complete fact dict; ``awkward`` data leave every activation's range (negative values,
    beyond 1, many levels), the others fit every range."""
    neutral = {str: "", float: 0.0, bool: False}
    values = {spec.name: neutral[spec.type] for spec in FACTS}
    values.update(task=task, activation=activation, framework="pytorch", metric="log_loss")
    if awkward:
        values.update(target_min=-5.0, target_max=5.0, has_negative=True, in_unit_interval=False,
                      n_classes=5.0)
    else:
        values.update(target_min=0.0, target_max=0.5, nonnegative=True, in_unit_interval=True,
                      n_classes=2.0)
    return values


@pytest.mark.parametrize("situation", SITUATIONS, ids=lambda situation: situation.id)
def test_each_generated_condition_holds_exactly_where_its_situation_says(situation):
    rule = load_rulebase().get(situation.id)
    for task in TASKS:
        for activation in OUTPUTS:
            covered = situation.covers(task, activation)
            assert rule.matches(facts_for(task, activation, awkward=True)) == (covered is not None), (
                task, activation)
            assert rule.matches(facts_for(task, activation, awkward=False)) == (covered == "always"), (
                task, activation)
