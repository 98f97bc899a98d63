"""The rule engine and the built-in rule base: loading, validation, overrides, evaluation."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import numpy as np
import pytest

from advisor import rules as rules_module
from advisor.errors import RuleError
from advisor.facts import FACT_NAMES
from advisor.losses import GENERATED_RULES_FILE
from advisor.options import DEFAULT_METRIC, TASK_METRICS, TASKS
from advisor.rules import RuleBase, RuleOutcome, check_rule_dir, load_rulebase

# The catalog's ids and tasks, given explicitly so the tests state what the rules see (the rule
# base still reads the catalog for its activation vetoes).
LOSSES: dict[str, tuple[str, ...]] = {
    "cross_entropy": ("binary", "multiclass", "multilabel", "ordinal", "proportion"),
    "weighted_cross_entropy": ("binary", "multiclass", "multilabel", "ordinal"),
    "focal": ("binary", "multiclass", "multilabel"),
    "label_smoothing": ("binary", "multiclass", "ordinal"),
    "generalized_cross_entropy": ("binary", "multiclass"),
    "hinge": ("binary", "multiclass"),
    "asymmetric": ("multilabel",),
    "logit_adjusted": ("binary", "multiclass", "multilabel"),
    "ldam": ("binary", "multiclass"),
    "poly1": ("binary", "multiclass", "multilabel"),
    "soft_f1": ("binary", "multilabel"),
    "cross_entropy+threshold": ("binary", "multilabel"),
    "cross_entropy+logit_adjustment": ("multiclass",),
    "group_reweighted_cross_entropy": ("binary", "multiclass"),
    "group_dro": ("binary", "multiclass"),
    "coral": ("ordinal",),
    "mse": ("regression", "count", "proportion", "ordinal"),
    "mae": ("regression", "count", "ordinal"),
    "huber": ("regression", "count"),
    "log_cosh": ("regression",),
    "quantile": ("regression", "count"),
    "msle": ("regression", "count"),
    "poisson": ("count", "regression"),
    "gamma": ("regression",),
    "tweedie": ("count", "regression"),
    "balanced_mse": ("regression", "count"),
    "lds_mse": ("regression", "count"),
    "lds_mae": ("regression", "count"),
    "gaussian_nll": ("regression", "count"),
    "ziln": ("regression", "count"),
    "cox": ("survival",),
    "logistic_hazard": ("survival",),
    "deephit": ("survival",),
}
CONCERNS = ("task_defaults", "imbalance", "label_noise", "regression_shape", "imbalanced_regression",
            "counts", "ordinal", "multilabel", "uncertainty", "survival", "metric_alignment",
            "plans", "activation", "fairness")
ACTIVATION_VALUES = ("auto", "linear", "sigmoid", "softmax", "tanh", "relu", "softplus", "exp")


@pytest.fixture(scope="module")
def rulebase() -> RuleBase:
    return load_rulebase(loss_ids=LOSSES)


def applicable(task: str) -> tuple[str, ...]:
    return tuple(loss for loss, tasks in LOSSES.items() if task in tasks)


def facts(task: str, **overrides) -> dict:
    """A complete fact dict with neutral values for ``task``; then the few that matter."""
    values = dict(
        task=task, task_overridden=False, n_rows=5000.0, n_features=10.0, n_numeric_features=10.0,
        n_categorical_features=0.0, missing_fraction=0.0, n_targets=1.0,
        target_missing_fraction=0.0, n_distinct=2.0, n_classes=0.0, imbalance_ratio=1.0,
        minority_fraction=0.5, minority_count=0.0, label_entropy=1.0, effective_number_ratio=1.0,
        label_cardinality=1.0, label_density=1.0, skewness=0.0, kurtosis=0.0, outlier_fraction=0.0,
        zero_fraction=0.0, excess_zero_ratio=1.0, integer_valued=True, nonnegative=True,
        strictly_positive=False, has_negative=False, target_min=0.0, target_max=1.0,
        target_mean=0.0, target_std=0.0, target_scale=1.0, looks_like_amount=False,
        in_unit_interval=True,
        dispersion_index=1.0, tweedie_power=0.0, target_density_ratio=1.0, target_rare_share=0.0,
        nonzero_skewness=0.0, heteroscedasticity=0.0, orders_of_magnitude=0.0,
        censored_fraction=0.0, n_events=0.0, events_per_feature=0.0, tied_event_share=0.0,
        km_final_survival=0.0, km_plateau_length=0.0, cured_fraction=False, ph_min_p=1.0,
        ph_violated=False,
        has_sensitive=False, n_groups=0.0, smallest_group_share=1.0, group_size_ratio=1.0,
        group_base_rate_gap=0.0, group_imbalance_max=1.0,
        activation="auto", framework="pytorch",
        metric=DEFAULT_METRIC[task][0], metric_given=False, current_loss="", label_noise=False,
        has_quantiles=False, judge="all_rows",
    )
    if task in ("binary", "multiclass", "ordinal"):
        values.update(n_classes=2.0 if task == "binary" else 5.0, n_distinct=values["n_classes"]
                      if task == "binary" else 5.0, minority_count=1000.0)
    elif task == "multilabel":
        values.update(n_targets=5.0, n_classes=5.0, label_cardinality=1.5, label_density=0.3,
                      imbalance_ratio=3.0, minority_fraction=0.25, minority_count=1250.0)
    elif task == "regression":
        values.update(n_distinct=5000.0, skewness=0.1, kurtosis=0.2, integer_valued=False,
                      nonnegative=False, has_negative=True, target_min=-3.0, target_max=3.0,
                      target_std=1.0, target_scale=3.0, in_unit_interval=False)
    elif task == "count":
        values.update(n_distinct=12.0, skewness=0.6, kurtosis=0.4, zero_fraction=0.05,
                      target_max=12.0, target_mean=3.0, target_std=1.7, target_scale=12.0,
                      in_unit_interval=False)
    elif task == "proportion":
        values.update(n_distinct=800.0, integer_valued=False, target_mean=0.4, target_std=0.2)
    elif task == "survival":  # proportional hazards hold, half censored, 250 events per feature
        values.update(n_distinct=400.0, target_min=1.0, target_max=100.0, target_mean=30.0,
                      target_std=20.0, target_scale=100.0, in_unit_interval=False,
                      censored_fraction=0.5, n_events=2500.0, events_per_feature=250.0,
                      km_final_survival=0.1, km_plateau_length=0.02, ph_min_p=0.4)
    unknown = set(overrides) - set(values)
    assert not unknown, f"not facts: {unknown}"
    values.update(overrides)
    assert set(values) == FACT_NAMES
    return values


def run(rulebase: RuleBase, task: str, **overrides) -> RuleOutcome:
    return rulebase.evaluate(facts(task, **overrides), applicable(task))


def top(outcome: RuleOutcome) -> str:
    assert outcome.ranking[0] not in outcome.vetoes, "every candidate is vetoed"
    return outcome.ranking[0]


def warning_text(outcome: RuleOutcome, rule_id: str) -> str:
    messages = [w.message for w in outcome.warnings if w.rule_id == rule_id]
    assert messages, f"{rule_id} did not warn; warnings: {[w.rule_id for w in outcome.warnings]}"
    return messages[0]


# ------------------------------------------------------------------------------------------
# the built-in rule base
# ------------------------------------------------------------------------------------------
def test_builtin_base_loads_with_enough_unique_rules(rulebase):
    assert len(rulebase.rules) >= 35
    ids = [rule.id for rule in rulebase.rules]
    assert len(ids) == len(set(ids))
    assert len(rulebase.digest) == 64
    assert all(rule.builtin for rule in rulebase.rules)


def concern(rule) -> str:
    """The concern a rule belongs to: its file's, or activation for the catalog's vetoes."""
    return "activation" if rule.file == GENERATED_RULES_FILE else Path(rule.file).stem


def test_every_concern_has_its_own_file_and_ids_carry_its_prefix(rulebase):
    files = {Path(rule.file).stem for rule in rulebase.rules if rule.file != GENERATED_RULES_FILE}
    assert set(CONCERNS) <= files
    assert [Path(name).stem for name in rulebase.sources] == list(CONCERNS)  # reading order
    for rule in rulebase.rules:
        assert rule.id.split(".")[0] == concern(rule), rule.id
    concerns = [concern(rule) for rule in rulebase.rules]
    assert concerns == sorted(concerns, key=CONCERNS.index)  # the catalog's vetoes sit with their concern


def test_the_catalogs_activation_vetoes_sit_among_the_activation_warnings(rulebase):
    activation = [rule for rule in rulebase.rules if concern(rule) == "activation"]
    generated = [rule.id for rule in activation if rule.file == GENERATED_RULES_FILE]
    assert generated[0] == "activation.softmax_reads_class_probabilities"
    assert [rule.id for rule in activation].index("activation.softmax_before_torch_cross_entropy") == 3
    assert all(effect.veto for rule in activation if rule.file == GENERATED_RULES_FILE
               for effect in rule.effects)
    toml = [rule for rule in activation if rule.file == "rules/activation.toml"]
    assert toml and not any(effect.veto for rule in toml for effect in rule.effects)


def test_a_generated_rule_goes_before_a_rule_that_exists(tmp_path):
    from advisor.rule_files import parse_source

    table = {"id": "activation.somewhere", "when": "activation == 'relu'",
             "because": "A rule made in Python and placed before another rule.",
             "cite": ["Someone, Paper, Venue 2020"], "warn": "a warning"}
    with pytest.raises(RuleError, match="goes before 'activation.missing'") as info:
        parse_source([], frozenset(LOSSES), builtin=True, generated=[("activation.missing", table)],
                     generated_file="generated")
    assert info.value.rule_id == "activation.somewhere"
    placed = parse_source([], frozenset(LOSSES), builtin=True, generated=[(None, table)],
                          generated_file="generated")
    assert [(rule.id, rule.file) for rule in placed] == [("activation.somewhere", "generated")]


def test_every_rule_has_a_sentence_a_citation_and_known_losses(rulebase):
    for rule in rulebase.rules:
        assert len(rule.because.split()) >= 8, rule.id
        assert rule.cite, rule.id
        for citation in rule.cite:
            assert re.search(r"(19|20)\d\d|documentation", citation), (rule.id, citation)
        assert rule.effects or rule.warn, rule.id
        for effect in rule.effects:
            assert effect.loss in LOSSES, (rule.id, effect.loss)
        assert rule.facts_used, rule.id


def test_every_task_has_a_default_and_no_flat_tie(rulebase):
    for task in TASKS:
        outcome = run(rulebase, task)
        assert set(outcome.scores) == set(applicable(task))
        assert len(set(outcome.scores.values())) > 1, task
        default_rule = "classification" if task in ("binary", "multiclass") else task
        assert "task_defaults." + default_rule in outcome.fired


def test_builtin_load_is_cached():
    assert load_rulebase(loss_ids=LOSSES) is load_rulebase(loss_ids=LOSSES)


def test_default_loss_table_comes_from_the_catalog():
    catalog = pytest.importorskip("advisor.losses").CATALOG
    rulebase = load_rulebase()
    assert set(rulebase.loss_tasks) == set(catalog)
    assert rulebase.applicable_losses("ordinal") == tuple(
        loss_id for loss_id, loss in catalog.items() if "ordinal" in loss.tasks)


def test_get_finds_a_rule_and_suggests_on_a_typo(rulebase):
    assert rulebase.get("imbalance.reweight_for_decision_metric").file == "rules/imbalance.toml"
    with pytest.raises(RuleError, match="did you mean 'imbalance.reweight_for_decision_metric'"):
        rulebase.get("imbalance.reweight_for_decision_metrics")


# ------------------------------------------------------------------------------------------
# validation of rule files: each error names the file and the rule
# ------------------------------------------------------------------------------------------
GOOD = """
[[rule]]
id = "custom.good"
when = "label_noise"
because = "A well-formed rule used as the base of the broken ones."
cite = ["Someone, Some Paper, Some Venue 2020"]
effects = [{ loss = "mse", score = 1.0 }]
"""


def write_rule(directory: Path, *, name: str = "custom.toml", **fields) -> Path:
    """One rule file whose fields default to GOOD's; a value of None drops the field."""
    base = {"id": '"custom.bad"', "when": '"label_noise"',
            "because": '"A sentence a reviewer reads."', "cite": '["Someone, Paper, Venue 2020"]',
            "effects": '[{ loss = "mse", score = 1.0 }]'}
    base.update(fields)
    lines = ["[[rule]]"] + [f"{key} = {value}" for key, value in base.items() if value is not None]
    path = directory / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


BAD_RULES = {
    "bad_expression": ({"when": '"task == "'}, r"bad condition"),
    "unknown_fact": ({"when": '"imbalance_ration >= 3"'},
                     r"unknown fact 'imbalance_ration'.*did you mean 'imbalance_ratio'"),
    "ordered_type_mismatch": ({"when": '"task >= 3"'}, r"type mismatch.*task is a string"),
    "equality_type_mismatch": ({"when": """ "imbalance_ratio == 'high'" """},
                               r"'==' compares a number with a string"),
    "list_type_mismatch": ({"when": '"task in [1, 2]"'}, r"'in' looks for a string in a list holding a number"),
    "not_boolean": ({"when": '"imbalance_ratio"'}, r"gives a number, not a boolean"),
    "logic_on_number": ({"when": '"imbalance_ratio and label_noise"'}, r"'and' applied to a number"),
    "misspelled_metric": ({"when": """ "metric == 'balanced_acuracy'" """},
                          r"metric is never 'balanced_acuracy'.*did you mean 'balanced_accuracy'"),
    "misspelled_task_in_list": ({"when": """ "task in ['binary', 'multiclas']" """},
                                r"task is never 'multiclas'.*did you mean 'multiclass'"),
    "nondeterministic": ({"when": '"$random() > 0.5"'}, r"changes from run to run"),
    "unknown_loss": ({"effects": '[{ loss = "focall", score = 1.0 }]'},
                     r"unknown loss 'focall'.*did you mean 'focal'"),
    "unknown_rule_key": ({"becuase": '"typo"'}, r"unknown key 'becuase'.*did you mean 'because'"),
    "unknown_effect_key": ({"effects": '[{ loss = "mse", scroe = 1.0 }]'},
                           r"unknown key 'scroe'.*did you mean 'score'"),
    "missing_when": ({"when": None}, r"missing required key 'when'"),
    "missing_because": ({"because": None}, r"missing required key 'because'"),
    "missing_cite": ({"cite": None}, r"missing required key 'cite'"),
    "empty_cite": ({"cite": "[]"}, r"'cite' must be a non-empty list"),
    "score_not_a_number": ({"effects": '[{ loss = "mse", score = "high" }]'},
                           r"score must be a finite number"),
    "score_is_a_boolean": ({"effects": '[{ loss = "mse", score = true }]'},
                           r"score must be a finite number"),
    "score_and_veto": ({"effects": '[{ loss = "mse", score = 1.0, veto = "no" }]'},
                       r"exactly one of 'score' or 'veto'"),
    "empty_veto": ({"effects": '[{ loss = "mse", veto = "" }]'}, r"'veto' must be the reason"),
    "same_loss_twice": ({"effects": '[{ loss = "mse", score = 1.0 }, { loss = "mse", score = 2.0 }]'},
                        r"appears twice"),
    "no_effects_no_warn": ({"effects": "[]"}, r"no effects and no warn"),
    "bad_placeholder": ({"warn": '"target up to {target_mx:g}"'},
                        r"unknown placeholder \{target_mx\}.*did you mean 'target_max'"),
    "placeholder_format_vs_type": ({"warn": '"{task:.2f}"'}, r"does not fit the fact's type"),
    "bad_id": ({"id": '"Has Spaces"'}, r"bad id"),
}


@pytest.mark.parametrize("case", sorted(BAD_RULES))
def test_each_bad_rule_fails_at_load_naming_file_and_rule(tmp_path, case):
    fields, pattern = BAD_RULES[case]
    path = write_rule(tmp_path, **fields)
    with pytest.raises(RuleError) as info:
        check_rule_dir(tmp_path, loss_ids=LOSSES)
    message = str(info.value)
    assert str(path) in message
    assert info.value.file == str(path)
    rule_id = fields.get("id", '"custom.bad"').strip('"')
    assert f"rule {rule_id}" in message
    assert re.search(pattern, message), message
    assert "\n" not in message


def test_toml_syntax_error_names_file_and_line(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text('[[rule]]\nid = "custom.x"\nwhen = "label_noise\n', encoding="utf-8")
    with pytest.raises(RuleError, match=r"invalid TOML.*line 3") as info:
        check_rule_dir(tmp_path, loss_ids=LOSSES)
    assert str(path) in str(info.value)


def test_single_bracket_table_is_explained(tmp_path):
    (tmp_path / "x.toml").write_text(GOOD.replace("[[rule]]", "[rule]"), encoding="utf-8")
    with pytest.raises(RuleError, match=r"\[\[rule\]\]"):
        check_rule_dir(tmp_path, loss_ids=LOSSES)


def test_rule_without_id_is_named_by_position(tmp_path):
    write_rule(tmp_path, id=None)
    with pytest.raises(RuleError, match=r"rule #1 \(no id\): missing required key 'id'"):
        check_rule_dir(tmp_path, loss_ids=LOSSES)


def test_duplicate_id_across_files_of_one_dir_names_both_files(tmp_path):
    first = write_rule(tmp_path, name="a.toml", id='"custom.same"')
    second = write_rule(tmp_path, name="b.toml", id='"custom.same"')
    with pytest.raises(RuleError, match="duplicate rule id") as info:
        check_rule_dir(tmp_path, loss_ids=LOSSES)
    assert str(first) in str(info.value) and str(second) in str(info.value)
    assert "rule custom.same" in str(info.value)


def test_duplicate_id_within_one_file(tmp_path):
    (tmp_path / "x.toml").write_text(GOOD + GOOD, encoding="utf-8")
    with pytest.raises(RuleError, match=r"rule custom.good: duplicate rule id \(twice in this file\)"):
        check_rule_dir(tmp_path, loss_ids=LOSSES)


def test_missing_or_empty_rule_directory(tmp_path):
    with pytest.raises(RuleError, match="does not exist"):
        check_rule_dir(tmp_path / "nope", loss_ids=LOSSES)
    with pytest.raises(RuleError, match=r"no \*\.toml"):
        check_rule_dir(tmp_path, loss_ids=LOSSES)


# ------------------------------------------------------------------------------------------
# --rules directories: added rules and overrides
# ------------------------------------------------------------------------------------------
def test_check_dir_validates_with_the_builtins(tmp_path, rulebase):
    (tmp_path / "custom.toml").write_text(GOOD, encoding="utf-8")
    checked = check_rule_dir(tmp_path, loss_ids=LOSSES)
    own = [rule for rule in checked.rules if not rule.builtin]
    assert [rule.id for rule in own] == ["custom.good"]
    assert len(checked.rules) == len(rulebase.rules) + 1
    assert checked.digest != rulebase.digest
    assert str(tmp_path / "custom.toml") in checked.sources


def test_extra_rule_adds_its_effect(tmp_path, rulebase):
    (tmp_path / "custom.toml").write_text(GOOD, encoding="utf-8")
    extended = load_rulebase([tmp_path], loss_ids=LOSSES)
    noisy = facts("regression", label_noise=True)
    before = rulebase.evaluate(noisy, applicable("regression"))
    after = extended.evaluate(noisy, applicable("regression"))
    assert after.scores["mse"] == pytest.approx(before.scores["mse"] + 1.0)
    assert after.fired[-1] == "custom.good"
    assert after.trace["mse"][-1].rule_id == "custom.good"


def test_override_replaces_the_builtin_rule_in_place(tmp_path, rulebase):
    rule_id = "imbalance.reweight_for_decision_metric"
    write_rule(tmp_path, id=f'"{rule_id}"',
               when="\"task == 'binary' and imbalance_ratio >= 3\"",
               effects='[{ loss = "focal", score = 10.0 }]')
    overridden = load_rulebase([tmp_path], loss_ids=LOSSES)
    assert len(overridden.rules) == len(rulebase.rules)
    index = [rule.id for rule in rulebase.rules].index(rule_id)
    assert overridden.rules[index].id == rule_id
    assert overridden.rules[index].file == str(tmp_path / "custom.toml")
    assert not overridden.rules[index].builtin
    (record,) = overridden.overrides
    assert (record.rule_id, record.replaced_file, record.by_file) == (
        rule_id, "rules/imbalance.toml", str(tmp_path / "custom.toml"))
    assert overridden.digest != rulebase.digest

    scenario = facts("binary", imbalance_ratio=5.0, metric="balanced_accuracy")
    assert top(rulebase.evaluate(scenario, applicable("binary"))) == "weighted_cross_entropy"
    assert top(overridden.evaluate(scenario, applicable("binary"))) == "focal"


def test_later_directory_overrides_earlier_one(tmp_path):
    first, second = tmp_path / "one", tmp_path / "two"
    first.mkdir()
    second.mkdir()
    write_rule(first, id='"custom.shared"', effects='[{ loss = "mse", score = 1.0 }]')
    write_rule(second, id='"custom.shared"', effects='[{ loss = "mse", score = 2.0 }]')
    merged = load_rulebase([first, second], loss_ids=LOSSES)
    assert merged.get("custom.shared").effects[0].score == 2.0
    assert [o.rule_id for o in merged.overrides] == ["custom.shared"]


# ------------------------------------------------------------------------------------------
# evaluation: the key scenarios
# ------------------------------------------------------------------------------------------
def test_imbalanced_binary_with_decision_metric_prefers_weights(rulebase):
    for ratio in (4.0, 30.0):
        outcome = run(rulebase, "binary", imbalance_ratio=ratio, minority_fraction=1 / (1 + ratio),
                      metric="balanced_accuracy", metric_given=True)
        assert top(outcome) == "weighted_cross_entropy"
        assert outcome.ranking.index("weighted_cross_entropy") < outcome.ranking.index("cross_entropy")
    severe = run(rulebase, "multiclass", imbalance_ratio=30.0, metric="f1_macro")
    assert severe.scores["focal"] > severe.scores["cross_entropy"]


def test_calibrated_metric_on_imbalanced_binary_keeps_plain_ce(rulebase):
    for metric in ("log_loss", "brier"):
        outcome = run(rulebase, "binary", imbalance_ratio=20.0, metric=metric)
        assert top(outcome) == "cross_entropy"
        assert outcome.scores["weighted_cross_entropy"] < outcome.scores["cross_entropy"] - 3
        assert "hinge" in outcome.vetoes


def test_ranking_metric_brings_no_reweighting_gain(rulebase):
    outcome = run(rulebase, "binary", imbalance_ratio=8.0, metric="roc_auc")
    assert top(outcome) == "cross_entropy"
    assert "imbalance.ranking_metric_no_reweighting_gain" in outcome.fired


def test_ordinal_with_mae_does_not_pick_cross_entropy(rulebase):
    outcome = run(rulebase, "ordinal", metric="mae", metric_given=True)
    assert top(outcome) != "cross_entropy"
    assert top(outcome) in ("coral", "mae", "mse")
    assert "cross_entropy" not in outcome.vetoes  # kept in the race


@pytest.mark.parametrize("levels", [5.0, 12.0])
@pytest.mark.parametrize("noise", [False, True])
def test_ordinal_with_mae_ranks_plain_mae_first(rulebase, levels, noise):
    outcome = run(rulebase, "ordinal", metric="mae", n_classes=levels, n_distinct=levels,
                  label_noise=noise)
    assert top(outcome) == "mae"
    assert outcome.ranking.index("coral") < outcome.ranking.index("cross_entropy")


def test_ordinal_with_accuracy_keeps_cross_entropy_first(rulebase):
    assert top(run(rulebase, "ordinal", metric="accuracy")) == "cross_entropy"


def test_overdispersed_counts_with_poisson_deviance_pick_a_log_link(rulebase):
    outcome = run(rulebase, "count", dispersion_index=6.0, metric="poisson_deviance")
    assert top(outcome) in ("poisson", "tweedie")
    assert outcome.scores["mse"] < outcome.scores["poisson"]
    zeros = run(rulebase, "count", dispersion_index=6.0, zero_fraction=0.4,
                excess_zero_ratio=3.0, tweedie_power=1.5)
    assert top(zeros) == "tweedie"


def test_heavy_tailed_regression_judged_on_mae_picks_a_robust_loss(rulebase):
    outcome = run(rulebase, "regression", kurtosis=8.0, outlier_fraction=0.03, metric="mae")
    assert top(outcome) in ("mae", "huber")
    assert outcome.scores["mse"] < outcome.scores["huber"]


def test_plain_regression_keeps_mse(rulebase):
    assert top(run(rulebase, "regression")) == "mse"


def test_quantiles_asked_pick_the_quantile_loss(rulebase):
    assert top(run(rulebase, "regression", has_quantiles=True)) == "quantile"
    assert top(run(rulebase, "regression", metric="pinball")) == "quantile"
    assert top(run(rulebase, "count", has_quantiles=True)) == "quantile"


SKEWED_POSITIVE = dict(strictly_positive=True, nonnegative=True, has_negative=False, skewness=2.5,
                       kurtosis=9.0, outlier_fraction=0.02, target_min=1.0, target_max=900.0)
LOG_LINK_LOSSES = ("poisson", "gamma", "tweedie", "msle")


def test_positive_right_skewed_target_favours_gamma_for_a_relative_error_metric(rulebase):
    assert top(run(rulebase, "regression", metric="gamma_deviance", **SKEWED_POSITIVE)) == "gamma"
    # judged on RMSE in the target's units, the log link's extrapolation risk keeps it behind
    # (gamma used to rank first here); heavy tails make Huber the leader
    assert top(run(rulebase, "regression", **SKEWED_POSITIVE)) == "huber"


@pytest.mark.parametrize("tails", [False, True])
@pytest.mark.parametrize("metric", ["rmse", "r2", "mae"])
@pytest.mark.parametrize("power", [0.0, 1.5, 2.0])
def test_positive_target_spanning_orders_of_magnitude_judged_in_units_gets_no_log_link_first(
        rulebase, tails, metric, power):
    shape = {**SKEWED_POSITIVE, "target_max": 20000.0, "tweedie_power": power}
    if not tails:
        shape.update(kurtosis=1.5, outlier_fraction=0.0)
    outcome = run(rulebase, "regression", metric=metric, metric_given=True, **shape)
    assert "metric_alignment.log_link_extrapolates_on_amounts" in outcome.fired
    assert top(outcome) not in LOG_LINK_LOSSES
    own = "mae" if metric == "mae" else "mse"
    if not tails:  # nothing in the data calls for a robust loss: the metric's own loss leads
        assert top(outcome) == own
    else:
        assert top(outcome) in (own, "huber")


@pytest.mark.parametrize("task", ["regression", "count"])
@pytest.mark.parametrize("metric", ["rmse", "mae"])
def test_an_amount_of_money_judged_in_units_gets_the_metrics_own_loss(rulebase, task, metric):
    amount = dict(looks_like_amount=True, strictly_positive=True, nonnegative=True,
                  has_negative=False, integer_valued=True, skewness=1.6, kurtosis=2.2,
                  target_min=326.0, target_max=18823.0, target_mean=3900.0, target_std=4000.0,
                  target_scale=18823.0, in_unit_interval=False, n_distinct=2400.0,
                  dispersion_index=4000.0, tweedie_power=1.6, zero_fraction=0.0)
    outcome = run(rulebase, task, metric=metric, metric_given=True, **amount)
    assert top(outcome) == ("mae" if metric == "mae" else "mse")
    best_log_link = max(outcome.scores[loss] for loss in LOG_LINK_LOSSES if loss in outcome.scores)
    assert best_log_link < outcome.scores[top(outcome)] - 1


def test_counts_and_deviances_keep_their_log_links(rulebase):
    # a count without amount clues, and an amount judged on Poisson deviance
    assert top(run(rulebase, "count", dispersion_index=6.0, metric="rmse")) in ("poisson", "tweedie")
    outcome = run(rulebase, "count", dispersion_index=6.0, metric="poisson_deviance",
                  looks_like_amount=True)
    assert top(outcome) in ("poisson", "tweedie")
    assert "metric_alignment.log_link_extrapolates_on_amounts" not in outcome.fired


def test_multilabel_rare_labels_pick_weighting_or_asymmetric_for_macro_f1(rulebase):
    outcome = run(rulebase, "multilabel", imbalance_ratio=40.0, label_density=0.08,
                  minority_fraction=0.02, metric="f1_macro", metric_given=True)
    assert top(outcome) == "asymmetric"
    assert outcome.scores["cross_entropy"] < outcome.scores["weighted_cross_entropy"]


MULTILABEL_SHAPES = {  # every combination the multi-label rules tell apart
    "sparse, rare labels": dict(imbalance_ratio=40.0, label_density=0.08, minority_fraction=0.02),
    "dense, one rare label": dict(imbalance_ratio=15.0, label_density=0.35, minority_fraction=0.06),
    "dense, balanced": dict(imbalance_ratio=1.5, label_density=0.5, minority_fraction=0.4),
    "in between": dict(imbalance_ratio=4.0, label_density=0.3, minority_fraction=0.2),
}


@pytest.mark.parametrize("shape", sorted(MULTILABEL_SHAPES))
@pytest.mark.parametrize("noise", [False, True])
def test_multilabel_macro_f1_ranks_the_f1_surrogate_then_the_asymmetric_loss_first(
        rulebase, shape, noise):
    """The F1 surrogate leads on macro-F1; on sparse label sets or with missing labels (the
    asymmetric loss's own cases) the asymmetric loss does; either way it ranks ahead of BCE."""
    outcome = run(rulebase, "multilabel", metric="f1_macro", metric_given=True, label_noise=noise,
                  **MULTILABEL_SHAPES[shape])
    sparse = MULTILABEL_SHAPES[shape]["label_density"] <= 0.2
    if noise:
        assert top(outcome) in ("asymmetric", "soft_f1")
        clean = run(rulebase, "multilabel", metric="f1_macro", metric_given=True,
                    **MULTILABEL_SHAPES[shape])
        assert outcome.scores["asymmetric"] > clean.scores["asymmetric"]
    else:
        assert top(outcome) == ("asymmetric" if sparse else "soft_f1")
    assert outcome.ranking.index("asymmetric") < outcome.ranking.index("cross_entropy")
    assert "multilabel.macro_f1_asymmetric" in outcome.fired


@pytest.mark.parametrize("shape", sorted(MULTILABEL_SHAPES))
@pytest.mark.parametrize("metric", ["average_precision", "roc_auc", "log_loss"])
@pytest.mark.parametrize("noise", [False, True])
def test_multilabel_ranking_and_probability_metrics_keep_plain_bce_first(rulebase, shape, metric,
                                                                         noise):
    outcome = run(rulebase, "multilabel", metric=metric, label_noise=noise,
                  **MULTILABEL_SHAPES[shape])
    assert top(outcome) == "cross_entropy"


def test_label_noise_raises_robust_losses_and_many_classes_lower_gce(rulebase):
    outcome = run(rulebase, "binary", label_noise=True)
    assert top(outcome) in ("generalized_cross_entropy", "label_smoothing")
    many = run(rulebase, "multiclass", label_noise=True, n_classes=50.0, metric="accuracy")
    assert top(many) == "label_smoothing"
    assert many.scores["generalized_cross_entropy"] < outcome.scores["generalized_cross_entropy"]


# ------------------------------------------------------------------------------------------
# vetoes for impossible pairs
# ------------------------------------------------------------------------------------------
def test_negative_targets_veto_log_link_losses_with_a_reason(rulebase):
    outcome = run(rulebase, "regression", target_min=-7.5)
    for loss in ("poisson", "gamma", "tweedie", "msle"):
        assert loss in outcome.vetoes
    assert "-7.5" in outcome.vetoes["poisson"][0].message
    assert outcome.ranking[-4:] and set(outcome.ranking[-4:]) == {"poisson", "gamma", "tweedie", "msle"}


def test_zeros_veto_gamma_only(rulebase):
    outcome = run(rulebase, "regression", nonnegative=True, has_negative=False, target_min=0.0,
                  zero_fraction=0.25, skewness=2.0)
    assert set(outcome.vetoes) == {"gamma"}
    assert "25.0%" in outcome.vetoes["gamma"][0].message


def test_hinge_is_vetoed_for_probability_metrics(rulebase):
    outcome = run(rulebase, "multiclass", metric="log_loss")
    assert "hinge" in outcome.vetoes
    assert "probabilities" in outcome.vetoes["hinge"][0].message
    assert "hinge" not in run(rulebase, "multiclass", metric="accuracy").vetoes


def test_softmax_output_vetoes_every_numeric_loss(rulebase):
    for task in ("regression", "count"):
        outcome = run(rulebase, task, activation="softmax")
        assert set(outcome.vetoes) == set(applicable(task))


def test_sigmoid_output_on_exclusive_classes_keeps_only_coral(rulebase):
    outcome = run(rulebase, "ordinal", activation="sigmoid")
    assert [loss for loss in outcome.ranking if loss not in outcome.vetoes] == ["coral"]


def test_exp_output_pairs_with_log_link_deviances(rulebase):
    plain = run(rulebase, "count", activation="linear", framework="keras", metric="rmse")
    logged = run(rulebase, "count", activation="exp", framework="keras", metric="rmse")
    for loss in ("poisson", "tweedie"):
        assert logged.scores[loss] > plain.scores[loss]
    # only the distribution heads go: their log variance / logit outputs must be linear
    assert set(logged.vetoes) == {"gaussian_nll", "ziln"}
    assert not plain.vetoes


@pytest.mark.parametrize("task", ["regression", "count"])
@pytest.mark.parametrize("metric", ["gaussian_nll", "crps"])
def test_a_distribution_metric_puts_the_gaussian_nll_first(rulebase, task, metric):
    outcome = run(rulebase, task, metric=metric, metric_given=True)
    assert top(outcome) == "gaussian_nll"
    assert "uncertainty.distribution_metric" in outcome.fired
    # with zero inflation and a growing spread it stays first, the ZILN close behind
    shaped = run(rulebase, task, metric=metric, metric_given=True, nonnegative=True,
                 has_negative=False, target_min=0.0, zero_fraction=0.5, nonzero_skewness=3.0,
                 heteroscedasticity=0.5)
    assert shaped.ranking[:2] == ("gaussian_nll", "ziln")
    assert "uncertainty.heteroscedastic_distribution" in shaped.fired
    # a point metric does not call for a distribution
    assert "gaussian_nll" not in run(rulebase, task).ranking[:3]


def test_a_distribution_metric_on_a_target_with_zeros_makes_ziln_a_candidate(rulebase):
    """A quarter zeros, too few for the zero-inflation rule, but a Gaussian still misplaces
    them: judged on a distribution, the ZILN must outrank the robust point losses."""
    with_zeros = dict(nonnegative=True, has_negative=False, target_min=0.0, zero_fraction=0.25,
                      nonzero_skewness=3.5, kurtosis=12.0, outlier_fraction=0.05)
    shaped = run(rulebase, "regression", metric="crps", metric_given=True, **with_zeros)
    assert "uncertainty.point_mass_at_zero" in shaped.fired
    assert shaped.ranking[0] == "gaussian_nll"
    assert shaped.ranking.index("ziln") < min(shaped.ranking.index(loss) for loss in ("mae", "mse"))
    positive = run(rulebase, "regression", metric="crps", metric_given=True,
                   **{**with_zeros, "zero_fraction": 0.0})
    assert "uncertainty.point_mass_at_zero" not in positive.fired
    assert "uncertainty.point_mass_at_zero" not in run(rulebase, "regression", **with_zeros).fired


def test_zero_inflated_heavy_tail_favours_ziln_and_keeps_tweedie(rulebase):
    zero_inflated = dict(nonnegative=True, has_negative=False, target_min=0.0, zero_fraction=0.6,
                         nonzero_skewness=4.0, orders_of_magnitude=2.5, skewness=6.0, kurtosis=40.0,
                         outlier_fraction=0.05)
    shaped = run(rulebase, "regression", **zero_inflated)
    plain = run(rulebase, "regression", **{**zero_inflated, "zero_fraction": 0.1})
    assert "uncertainty.zero_inflated_heavy_tail" in shaped.fired
    assert "uncertainty.zero_inflated_heavy_tail" not in plain.fired
    assert shaped.scores["ziln"] >= plain.scores["ziln"] + 5.0
    assert shaped.scores["tweedie"] > plain.scores["tweedie"]
    assert shaped.scores["mse"] < plain.scores["mse"]
    assert shaped.ranking.index("ziln") < shaped.ranking.index("mse")


def test_tanh_output_keeps_hinge_for_binary(rulebase):
    outcome = run(rulebase, "binary", activation="tanh", metric="accuracy")
    assert [loss for loss in outcome.ranking if loss not in outcome.vetoes] == ["hinge"]


# ------------------------------------------------------------------------------------------
# the classic wiring bugs: each lint fires with its fix
# ------------------------------------------------------------------------------------------
def test_softmax_before_torch_cross_entropy(rulebase):
    outcome = run(rulebase, "multiclass", activation="softmax", framework="pytorch")
    text = warning_text(outcome, "activation.softmax_before_torch_cross_entropy")
    assert "logits" in text and "CrossEntropyLoss" in text
    assert "cross_entropy" not in outcome.vetoes
    keras = run(rulebase, "multiclass", activation="softmax", framework="keras")
    assert "activation.softmax_before_torch_cross_entropy" not in keras.fired


def test_sigmoid_into_bce_with_logits(rulebase):
    for task in ("binary", "multilabel"):
        outcome = run(rulebase, task, activation="sigmoid", framework="pytorch")
        text = warning_text(outcome, "activation.sigmoid_into_bce_with_logits")
        assert "BCEWithLogitsLoss" in text and "BCELoss" in text
    keras = run(rulebase, "binary", activation="sigmoid", framework="keras")
    assert "from_logits=False" in warning_text(keras, "activation.sigmoid_with_keras_from_logits")


def test_softmax_on_multilabel_is_vetoed_and_explained(rulebase):
    outcome = run(rulebase, "multilabel", activation="softmax")
    assert set(outcome.vetoes) == set(applicable("multilabel"))
    assert "sigmoid" in warning_text(outcome, "activation.softmax_on_multilabel")


def test_softmax_on_a_single_binary_unit(rulebase):
    outcome = run(rulebase, "binary", activation="softmax")
    assert set(outcome.vetoes) == set(applicable("binary"))
    assert "--task multiclass" in warning_text(outcome, "activation.softmax_on_a_single_output")


def test_linear_output_into_torch_poisson(rulebase):
    outcome = run(rulebase, "count", activation="linear", framework="pytorch",
                  current_loss="poisson", metric="rmse")
    assert "log_input=True" in warning_text(outcome, "activation.linear_output_into_torch_poisson")
    keras = run(rulebase, "count", activation="linear", framework="keras")
    assert "exponential" in warning_text(keras, "activation.linear_output_into_keras_poisson")


@pytest.mark.parametrize("activation", ["relu", "softplus", "exp"])
def test_nonnegative_output_on_negative_target(rulebase, activation):
    outcome = run(rulebase, "regression", activation=activation, target_min=-4.0)
    assert set(outcome.vetoes) == set(applicable("regression"))
    text = warning_text(outcome, "activation.nonnegative_output_negative_target")
    assert "linear output" in text and "-4" in text and activation in text


def test_sigmoid_output_on_target_outside_unit_interval(rulebase):
    outcome = run(rulebase, "regression", activation="sigmoid", target_min=-2.0, target_max=40.0)
    assert set(outcome.vetoes) == set(applicable("regression"))
    text = warning_text(outcome, "activation.sigmoid_target_outside_unit_interval")
    assert "[-2, 40]" in text and "linear output" in text
    inside = run(rulebase, "regression", activation="sigmoid", target_min=0.0, target_max=1.0,
                 nonnegative=True, has_negative=False, in_unit_interval=True)
    assert "mse" not in inside.vetoes


def test_tanh_output_with_target_outside_minus_one_one(rulebase):
    outcome = run(rulebase, "regression", activation="tanh", target_min=-5.0, target_max=5.0)
    assert "mse" in outcome.vetoes
    assert "[-1, 1]" in warning_text(outcome, "activation.tanh_target_outside_range")
    inside = run(rulebase, "regression", activation="tanh", target_min=-0.9, target_max=0.9)
    assert "mse" not in inside.vetoes


def test_unscaled_large_regression_target(rulebase):
    outcome = run(rulebase, "regression", target_scale=2.5e5, target_max=2.5e5, current_loss="mse")
    assert "standardise" in warning_text(outcome, "activation.unscaled_large_regression_target")
    assert "activation.unscaled_large_regression_target" not in run(rulebase, "regression").fired


def test_current_focal_loss_audited_against_a_probability_metric(rulebase):
    outcome = run(rulebase, "binary", current_loss="focal", metric="brier")
    assert "cross-entropy" in warning_text(outcome, "metric_alignment.current_focal_for_probabilities")


# ------------------------------------------------------------------------------------------
# outcome mechanics
# ------------------------------------------------------------------------------------------
def test_effects_on_losses_outside_the_task_are_ignored(rulebase):
    outcome = run(rulebase, "count", activation="softmax")  # also vetoes gamma, log_cosh...
    assert set(outcome.scores) == set(outcome.trace) == set(applicable("count"))
    assert set(outcome.ranking) == set(applicable("count"))
    assert "gamma" not in outcome.vetoes and "log_cosh" not in outcome.scores


def test_trace_lists_every_effect_in_rule_order(rulebase):
    outcome = run(rulebase, "binary", imbalance_ratio=5.0, metric="balanced_accuracy")
    order = [rule.id for rule in rulebase.rules]
    for loss, reasons in outcome.trace.items():
        assert sum(r.delta for r in reasons if r.kind == "score") == pytest.approx(outcome.scores[loss])
        positions = [order.index(r.rule_id) for r in reasons]
        assert positions == sorted(positions)
        assert all(r.because and r.cite for r in reasons)
    ids = [r.rule_id for r in outcome.trace["weighted_cross_entropy"]]
    assert ids == ["task_defaults.classification", "imbalance.reweight_for_decision_metric"]


def test_ties_follow_the_order_of_applicable(rulebase):
    neutral = facts("binary")
    assert rulebase.evaluate(neutral, ("gamma", "msle")).ranking == ("gamma", "msle")
    assert rulebase.evaluate(neutral, ("msle", "gamma")).ranking == ("msle", "gamma")


def test_applicable_defaults_to_the_task_losses(rulebase):
    assert rulebase.evaluate(facts("ordinal")).scores.keys() == set(applicable("ordinal"))


def test_evaluation_is_deterministic_and_json_safe(rulebase):
    scenario = facts("binary", imbalance_ratio=12.0, metric="f1_macro", activation="sigmoid")
    first = rulebase.evaluate(scenario, applicable("binary"))
    second = rulebase.evaluate(dict(reversed(list(scenario.items()))), applicable("binary"))
    assert first == second
    assert json.dumps(first.to_dict(), sort_keys=True) == json.dumps(second.to_dict(), sort_keys=True)
    fresh = rules_module._builtin_rulebase.__wrapped__(rules_module._loss_key(LOSSES))  # uncached
    assert fresh is not rulebase and fresh.digest == rulebase.digest
    assert fresh.evaluate(scenario, applicable("binary")) == first


def test_numpy_fact_values_are_accepted(rulebase):
    scenario = facts("regression")
    numpy_scenario = {key: (np.float64(value) if isinstance(value, float) else
                            np.bool_(value) if isinstance(value, bool) else value)
                      for key, value in scenario.items()}
    assert rulebase.evaluate(numpy_scenario).ranking == rulebase.evaluate(scenario).ranking


def test_bad_fact_dicts_are_refused(rulebase):
    scenario = facts("binary")
    del scenario["kurtosis"]
    with pytest.raises(ValueError, match="kurtosis"):
        rulebase.evaluate(scenario)
    with pytest.raises(ValueError, match="unknown facts: kurtosys"):
        rulebase.evaluate({**facts("binary"), "kurtosys": 1.0})
    with pytest.raises(ValueError, match="NaN"):
        rulebase.evaluate(facts("binary", skewness=float("nan")))
    with pytest.raises(ValueError, match="must be a boolean"):
        rulebase.evaluate(facts("binary", label_noise="yes"))
    with pytest.raises(ValueError, match="not in the catalog"):
        rulebase.evaluate(facts("binary"), ("cross_entropy", "xgboost"))


def test_sweep_of_options_never_crashes_and_keeps_a_candidate_for_logits(rulebase):
    """Every task x activation x metric (frameworks alternating): the invariants hold."""
    for task in TASKS:
        combinations = itertools.product(ACTIVATION_VALUES, sorted(TASK_METRICS[task]))
        for index, (activation, metric) in enumerate(combinations):
            framework = ("pytorch", "keras")[index % 2]
            outcome = run(rulebase, task, activation=activation, framework=framework, metric=metric)
            assert sorted(outcome.ranking) == sorted(applicable(task))
            vetoed = [loss for loss in outcome.ranking if loss in outcome.vetoes]
            assert outcome.ranking[len(outcome.ranking) - len(vetoed):] == tuple(vetoed)
            if activation in ("auto", "linear"):
                assert top(outcome) not in outcome.vetoes, (task, activation, metric)
            for warning in outcome.warnings:
                assert warning.kind == "warn" and warning.loss is None and "{" not in warning.message


def test_a_generated_veto_rule_is_overridden_in_place(tmp_path, rulebase):
    rule_id = "activation.sigmoid_is_not_a_margin"
    write_rule(tmp_path, id=f'"{rule_id}"', when='"false"',
               effects='[{ loss = "hinge", veto = "never" }]')
    overridden = load_rulebase([tmp_path], loss_ids=LOSSES)
    index = [rule.id for rule in rulebase.rules].index(rule_id)
    assert overridden.rules[index].id == rule_id and not overridden.rules[index].builtin
    assert overridden.overrides[0].replaced_file == GENERATED_RULES_FILE
    assert overridden.digest != rulebase.digest
    def veto_rules(base):
        outcome = run(base, "binary", activation="sigmoid", metric="accuracy")
        return [reason.rule_id for reason in outcome.vetoes.get("hinge", ())]

    assert veto_rules(rulebase) == [rule_id] and veto_rules(overridden) == []


def test_a_builtin_rule_is_switched_off_by_overriding_its_condition(tmp_path, rulebase):
    rule_id = "imbalance.reweight_for_decision_metric"
    original = rulebase.get(rule_id)
    effects = ", ".join(
        f'{{ loss = "{e.loss}", score = {e.score} }}' for e in original.effects)
    write_rule(tmp_path, id=f'"{rule_id}"', when='"false"', effects=f"[{effects}]")
    switched_off = load_rulebase([tmp_path], loss_ids=LOSSES)
    outcome = switched_off.evaluate(facts("binary", imbalance_ratio=5.0, metric="balanced_accuracy"),
                                    applicable("binary"))
    assert rule_id not in outcome.fired
    assert top(outcome) == "cross_entropy"


def test_multiline_condition_and_literal_braces_in_messages(tmp_path, rulebase):
    (tmp_path / "custom.toml").write_text(
        '[[rule]]\nid = "custom.multi"\nwhen = """\ntask == \'regression\'\n  and label_noise\n"""\n'
        'because = "A rule written over several lines."\ncite = ["Someone, Paper, Venue 2020"]\n'
        'warn = "set {{ delta }} near {target_max:g}"\n', encoding="utf-8")
    extended = load_rulebase([tmp_path], loss_ids=LOSSES)
    outcome = extended.evaluate(facts("regression", label_noise=True, target_max=12.5))
    assert warning_text(outcome, "custom.multi") == "set { delta } near 12.5"
    assert "custom.multi" not in extended.evaluate(facts("regression")).fired


def test_relu_output_rules_out_log_link_deviances(rulebase):
    outcome = run(rulebase, "count", activation="relu")
    assert {"poisson", "tweedie"} <= set(outcome.vetoes)
    assert "softplus" in outcome.vetoes["poisson"][0].message
    assert top(outcome) in ("mse", "huber", "mae", "msle", "quantile")


# ----- imbalanced regression -------------------------------------------------------------------------
def test_an_unevenly_spread_target_makes_the_balanced_losses_candidates(rulebase):
    even = rulebase.evaluate(facts("regression", target_density_ratio=5.0, target_rare_share=0.0),
                             applicable("regression"))
    uneven = rulebase.evaluate(facts("regression", target_density_ratio=300.0, target_rare_share=0.08),
                               applicable("regression"))
    gaussian_tail = rulebase.evaluate(facts("regression", target_density_ratio=300.0,
                                            target_rare_share=0.03), applicable("regression"))
    for loss_id in ("balanced_mse", "lds_mse", "lds_mae"):
        assert uneven.scores[loss_id] > even.scores[loss_id] == gaussian_tail.scores[loss_id]
    assert "imbalanced_regression.uneven_target" in uneven.fired
    assert "imbalanced_regression.uneven_target" not in gaussian_tail.fired


def test_judged_on_balanced_mae_the_balanced_losses_lead(rulebase):
    for task in ("regression", "count"):
        outcome = rulebase.evaluate(facts(task, metric="balanced_mae", metric_given=True,
                                          target_density_ratio=300.0, target_rare_share=0.08),
                                    applicable(task))
        # the LDS-weighted absolute error aligns with the metric; Balanced MSE, with its noise
        # scale fixed rather than learned, comes after both LDS losses
        assert outcome.ranking[0] == "lds_mae"
        assert outcome.ranking.index("lds_mse") < outcome.ranking.index("balanced_mse") < 4
        assert outcome.scores["lds_mae"] > outcome.scores["mae"]
        assert outcome.scores["balanced_mse"] > outcome.scores["mse"]


# ------------------------------------------------------------------------------------------
# long-tail and F1 losses
# ------------------------------------------------------------------------------------------
def test_a_long_tail_of_classes_makes_logit_adjustment_and_ldam_candidates(rulebase):
    tail = run(rulebase, "multiclass", n_classes=8.0, imbalance_ratio=40.0, metric="balanced_accuracy")
    # LDAM's gains are with its deferred re-weighting, which the quick experiment does not
    # train: it scores, below logit adjustment
    assert tail.ranking.index("logit_adjusted") < 4 and tail.scores["ldam"] > 0
    assert tail.scores["logit_adjusted"] > tail.scores["ldam"] > tail.scores["poly1"]
    assert tail.ranking.index("logit_adjusted") < tail.ranking.index("cross_entropy")
    mild = run(rulebase, "multiclass", n_classes=8.0, imbalance_ratio=2.0, metric="balanced_accuracy")
    assert mild.scores["logit_adjusted"] < tail.scores["logit_adjusted"]
    assert mild.scores["ldam"] == 0.0
    few = run(rulebase, "multiclass", n_classes=3.0, imbalance_ratio=40.0, metric="accuracy")
    assert few.scores["ldam"] == 0.0  # three classes are not a long tail


def test_balanced_metrics_favour_logit_adjustment_and_probability_metrics_do_not(rulebase):
    balanced = run(rulebase, "binary", imbalance_ratio=20.0, metric="balanced_accuracy")
    assert balanced.ranking.index("logit_adjusted") < balanced.ranking.index("cross_entropy")
    assert balanced.ranking.index("logit_adjusted") < 4
    macro = run(rulebase, "multiclass", imbalance_ratio=5.0, metric="f1_macro")
    assert macro.scores["logit_adjusted"] > 0
    calibrated = run(rulebase, "multiclass", imbalance_ratio=20.0, metric="log_loss")
    for loss in ("logit_adjusted", "ldam", "poly1"):
        assert calibrated.scores[loss] < 0, loss
    assert calibrated.ranking[0] == "cross_entropy"


def test_f1_favours_the_soft_f1_surrogate_on_binary_and_multilabel_targets(rulebase):
    for task in ("binary", "multilabel"):
        judged = run(rulebase, task, metric="f1_macro")
        assert judged.scores["soft_f1"] > 0
        assert top(judged) == "soft_f1"
        imbalanced = run(rulebase, task, metric="f1_macro", imbalance_ratio=20.0,
                         minority_fraction=0.05)
        assert top(imbalanced) == "soft_f1", imbalanced.ranking
        assert judged.ranking.index("soft_f1") < judged.ranking.index("poly1")
        probabilities = run(rulebase, task, metric="log_loss")
        assert probabilities.scores["soft_f1"] < 0


@pytest.mark.parametrize("shape", [dict(dispersion_index=6.0),
                                   dict(excess_zero_ratio=3.0, zero_fraction=0.4),
                                   dict(dispersion_index=6.0, excess_zero_ratio=3.0,
                                        zero_fraction=0.4, target_mean=1.5, tweedie_power=1.5)])
def test_skewed_counts_judged_by_absolute_error_put_the_median_loss_first(rulebase, shape):
    """The dispersion rules model the mean; absolute error rewards the median, which sits
    below the mean of skewed counts, so mae leads there; the deviance keeps the deviance loss."""
    judged = run(rulebase, "count", metric="mae", **shape)
    assert top(judged) == "mae", judged.ranking
    assert "counts.skewed_counts_judged_by_absolute_error" in judged.fired
    deviance = run(rulebase, "count", metric="poisson_deviance", **shape)
    assert top(deviance) in ("poisson", "tweedie")


# ----- survival ------------------------------------------------------------------------------------
def test_survival_defaults_to_the_cox_partial_likelihood(rulebase):
    assert run(rulebase, "survival").ranking == ("cox", "logistic_hazard", "deephit")


def test_non_proportional_hazards_and_a_cured_fraction_favour_the_discrete_time_hazard(rulebase):
    violated = run(rulebase, "survival", ph_violated=True, ph_min_p=0.001)
    assert violated.ranking[0] == "logistic_hazard"
    assert "survival.non_proportional_hazards" in violated.fired
    cured = run(rulebase, "survival", cured_fraction=True, km_final_survival=0.4,
                km_plateau_length=0.3)
    assert cured.ranking[:2] == ("logistic_hazard", "deephit")


def test_few_events_per_feature_keep_cox_first_even_with_many_ties(rulebase):
    outcome = run(rulebase, "survival", events_per_feature=4.0, tied_event_share=0.5)
    assert outcome.ranking[0] == "cox" and outcome.ranking[-1] == "deephit"
    assert {"survival.few_events_per_feature", "survival.many_tied_times"} <= set(outcome.fired)


def test_judged_on_the_integrated_brier_score_the_logistic_hazard_leads(rulebase):
    outcome = run(rulebase, "survival", metric="integrated_brier", metric_given=True)
    assert outcome.ranking[0] == "logistic_hazard"
