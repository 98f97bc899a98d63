"""Several targets of different kinds: detection, the composite math, the experiment, the
loss object."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import numpy as np
import pandas as pd
import pytest

import advisor
from advisor.composite.math import CompositeMath, fixed_weights
from advisor.losses import CATALOG

ROOT = Path(__file__).resolve().parent.parent
TARGETS = ["mdvis", "idp"]


@pytest.fixture(scope="module")
def validated() -> advisor.Recommendation:
    return advisor.suggest("example:doctor_visits", TARGETS, budget=5, seed=0, n_jobs=1)


def test_a_count_and_a_binary_column_are_a_multitask_problem_rules_only() -> None:
    rec = advisor.suggest("example:doctor_visits", TARGETS, validate=False)
    assert rec.task == "multitask"
    assert "different kinds" in rec.task_reason
    parts = {part.column: part for part in rec.composite.targets}
    assert parts["mdvis"].task == "count" and parts["idp"].task == "binary"
    # each target's loss is its own rule stage's first choice
    single = advisor.suggest("example:doctor_visits", "idp", validate=False)
    assert parts["idp"].loss == single.best.loss
    assert parts["idp"].metric == single.metric
    assert rec.composite.weightings == () and rec.composite.protocol is None
    assert rec.best.loss == f"composite_{rec.composite.rule_weighting}"


def test_comparable_numeric_columns_stay_a_multi_output_regression() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=200)
    frame = pd.DataFrame({"x": x, "a": x + rng.normal(size=200), "b": 2 * x + rng.normal(size=200)})
    rec = advisor.suggest(frame, ["a", "b"], validate=False)
    assert rec.task == "regression" and rec.composite is None


def _scales_apart() -> pd.DataFrame:
    """Two numeric targets of one feature, four orders of magnitude apart in scale."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=200)
    return pd.DataFrame({"x": x, "price": 1e4 * (x + rng.normal(size=200)),
                         "rate": 0.5 * x + rng.normal(size=200)})


def test_numeric_columns_on_scales_far_apart_are_multitask() -> None:
    rec = advisor.suggest(_scales_apart(), ["price", "rate"], validate=False)
    assert rec.task == "multitask" and "scales" in rec.task_reason


def test_the_validated_composite_compares_the_weightings_per_target(validated) -> None:
    composite = validated.composite
    measured = {item.weighting: item for item in composite.weightings}
    assert set(measured) == {"fixed", "uncertainty", "gradnorm"}
    assert validated.composite.protocol["weightings"] == ["fixed", "uncertainty", "gradnorm"]
    for item in measured.values():
        assert set(item.scores) == set(TARGETS) and all(np.isfinite(list(item.scores.values())))
    best = min(item.mean_rank for item in measured.values())
    assert measured[composite.weighting].mean_rank == best
    assert validated.best.loss == f"composite_{composite.weighting}"
    assert validated.best.verdict == "confirmed"
    assert [target["loss"] for target in validated.best.params["targets"]] == \
        [part.loss for part in composite.targets]
    # the uncertainty weights end at 1 / L_t: the targets' weights differ from the start's
    assert measured["uncertainty"].final_weights != measured["fixed"].final_weights
    # GradNorm's weights are a_t / L_t(0) with task weights a_t summing to the number of
    # targets; it starts where fixed stays (a_t = 1), and it moved
    initial = np.array(validated.best.params["initial_losses"])
    np.testing.assert_allclose(np.array(measured["fixed"].final_weights), 1 / initial, rtol=1e-5)
    task_weights = np.array(measured["gradnorm"].final_weights) * initial
    assert task_weights.sum() == pytest.approx(2.0, rel=1e-4)
    assert not np.allclose(task_weights, 1.0, atol=0.05)
    # every weighting is a validated candidate, the best one first
    assert {c.loss: c.verdict for c in validated.candidates}.keys() == \
        {"composite_fixed", "composite_uncertainty", "composite_gradnorm"}
    assert all(c.verdict != "not_tested" for c in validated.candidates)


def test_the_composite_json_is_valid_and_byte_stable(validated) -> None:
    schema = json.loads((ROOT / "docs" / "schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(json.loads(validated.to_json()))
    again = advisor.suggest("example:doctor_visits", TARGETS, budget=5, seed=0, n_jobs=1)
    assert again.to_json() == validated.to_json()
    for report in (validated.to_markdown(), validated.to_html()):
        assert "Targets" in report and "tweedie" in report and "uncertainty" in report
        assert "gradnorm" in report


def _parts() -> tuple[list, np.ndarray, np.ndarray]:
    from advisor.examples import example_path
    from advisor.load import load_data
    from advisor.profile import profile_data

    rng = np.random.default_rng(1)
    maths, targets = [], []
    for column, loss in (("mdvis", "poisson"), ("idp", "cross_entropy")):
        profile = profile_data(load_data(example_path("doctor_visits"), column))
        spec = CATALOG[loss]
        math = spec.bind(spec.derive(profile, {"quantiles": ()}), profile.task)
        maths.append(math)
        targets.append(math.encode_target(profile.y[:40], profile))
    target = np.hstack(targets).astype(float)
    raw = rng.normal(scale=0.5, size=target.shape)
    return maths, target, raw


@pytest.mark.parametrize("weighting", ["fixed", "uncertainty"])
def test_the_composite_gradient_matches_finite_differences(weighting) -> None:
    maths, target, raw = _parts()
    composite = CompositeMath(maths, [1, 1])
    start = composite.part_means(composite.constant_raw(target), target)
    composite.weights = fixed_weights(start)
    if weighting == "uncertainty":
        composite.set_uncertainty(np.array([0.7, 2.5]))
    _, grad = composite.loss_gradient(raw, target)
    step = 1e-6
    numeric = np.zeros_like(raw)
    for index in np.ndindex(raw.shape):
        up, down = raw.copy(), raw.copy()
        up[index] += step
        down[index] -= step
        numeric[index] = (composite.loss_gradient(up, target)[0][index[0]]
                          - composite.loss_gradient(down, target)[0][index[0]]) / (2 * step)
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7)
    # the value is the weighted sum of the parts (+ sum s_t for uncertainty)
    values, _ = composite.loss_gradient(raw, target)
    expected = sum(w * part.loss_gradient(raw[:, [i]], target[:, [i]])[0]
                   for i, (w, part) in enumerate(zip(composite.weights, maths)))
    if weighting == "uncertainty":
        expected = expected + np.log(0.7) + np.log(2.5)
    np.testing.assert_allclose(values, expected, rtol=1e-12)


@pytest.mark.parametrize("weighting", ["fixed", "uncertainty", "gradnorm"])
def test_the_loss_object_is_the_weighted_sum_of_the_targets_objects(validated, weighting) -> None:
    torch = pytest.importorskip("torch")
    candidate = next(c for c in validated.candidates if c.loss == f"composite_{weighting}")
    loss = candidate.to_torch()
    generator = torch.Generator().manual_seed(0)
    outputs = torch.randn(32, 2, dtype=torch.float64, generator=generator, requires_grad=True)
    targets = [torch.poisson(torch.full((32, 1), 2.0, dtype=torch.float64), generator=generator),
               torch.randint(0, 2, (32, 1), generator=generator).double()]
    value = loss(outputs, targets)
    weights = loss.weights().detach()
    expected = 0.0
    for index, item in enumerate(candidate.params["targets"]):
        alone = advisor.torch.make_loss(item["loss"], item["params"], item["task"])
        expected = expected + weights[index] * alone(outputs[:, index:index + 1], targets[index])
    if weighting == "uncertainty":
        assert isinstance(loss.log_vars, torch.nn.Parameter)
        expected = expected + loss.log_vars.detach().sum()
        np.testing.assert_allclose(weights.numpy(), 1 / np.array(candidate.params["initial_losses"]),
                                   rtol=1e-9)
    assert float(value) == pytest.approx(float(expected), rel=1e-12)
    value.backward()
    if weighting == "uncertainty":
        assert loss.log_vars.grad is not None


def test_gradnorm_trains_its_task_weights(validated) -> None:
    torch = pytest.importorskip("torch")
    candidate = next(c for c in validated.candidates if c.loss == "composite_gradnorm")
    loss = candidate.to_torch()
    shared = torch.nn.Linear(3, 2).double()
    x = torch.randn(16, 3, dtype=torch.float64)
    targets = [torch.ones(16, 1, dtype=torch.float64) * 3, torch.ones(16, 1, dtype=torch.float64)]
    losses = loss.part_losses(shared(x), targets)
    grad_loss = loss.gradnorm_loss(losses, shared.weight)
    (gradient,) = torch.autograd.grad(grad_loss, loss.task_weights)
    assert torch.isfinite(gradient).all() and gradient.abs().sum() > 0
    with torch.no_grad():
        loss.task_weights -= 0.1 * gradient
    loss.renormalize()
    assert float(loss.task_weights.sum()) == pytest.approx(2.0)


def test_gradnorm_objects_start_where_the_experiment_starts(validated) -> None:
    torch = pytest.importorskip("torch")
    candidate = next(c for c in validated.candidates if c.loss == "composite_gradnorm")
    loss = candidate.to_torch()
    fixed = next(item for item in validated.composite.weightings if item.weighting == "fixed")
    np.testing.assert_allclose(loss.weights().detach().numpy(), fixed.final_weights, rtol=1e-5)
    from advisor.composite.math import GRADNORM_ALPHA

    assert loss.gradnorm_loss.__defaults__ == (GRADNORM_ALPHA,)
    assert f"ALPHA = {GRADNORM_ALPHA}" in candidate.snippets["pytorch"]
    assert isinstance(loss.task_weights, torch.nn.Parameter)


def _fitted_network(hidden: tuple[int, ...], activation: str):
    """A small LossMLP on the composite of a count and a binary target, a few epochs in."""
    from advisor.proxy import LossMLP

    maths, target, _ = _parts()
    composite = CompositeMath(maths, [1, 1])
    composite.weights = np.array([0.6, 1.7])
    X = np.random.default_rng(3).normal(size=(len(target), 3))
    model = LossMLP(loss=composite, hidden_layer_sizes=hidden, activation=activation,
                    max_iter=3, random_state=0, learning_rate_init=0.01)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, target)
    return model, composite, X, target


@pytest.mark.parametrize("hidden, activation", [((6,), "tanh"), ((5, 4), "relu"), ((4,), "logistic")])
def test_each_targets_shared_gradient_matches_finite_differences(hidden, activation) -> None:
    from advisor.composite.gradnorm import shared_gradients

    model, composite, X, target = _fitted_network(hidden, activation)
    gradients, means = shared_gradients(model, X, target, composite)
    np.testing.assert_allclose(means, composite.part_means(model.decision_function(X), target),
                               rtol=1e-12)
    shared = model.coefs_[-2]
    step = 1e-6
    for index in range(2):
        numeric = np.zeros_like(shared)
        for cell in np.ndindex(shared.shape):
            values = []
            for sign in (1, -1):
                shared[cell] += sign * step
                values.append(composite.part_means(model.decision_function(X), target)[index])
                shared[cell] -= sign * step
            numeric[cell] = (values[0] - values[1]) / (2 * step)
        np.testing.assert_allclose(gradients[index], numeric, rtol=1e-5, atol=1e-8)
    # weighted and summed, they are scikit-learn's own backward pass of the composite
    model.alpha = 0.0  # without the L2 term
    layers = model.n_layers_
    coef_grads = [np.empty_like(coef) for coef in model.coefs_]
    intercept_grads = [np.empty_like(bias) for bias in model.intercepts_]
    model._backprop(X, target, None, [X] + [None] * (layers - 1), [None] * (layers - 1),
                    coef_grads, intercept_grads)
    np.testing.assert_allclose(composite.weights[0] * gradients[0] + composite.weights[1] * gradients[1],
                               coef_grads[-2], rtol=1e-10, atol=1e-14)


def test_gradnorm_moves_weight_toward_the_slower_training_target() -> None:
    from advisor.composite.gradnorm import gradnorm_task_weights

    initial = np.array([2.0, 0.5])
    # equal gradient norms of L_t / L_t(0); target 0 kept 90 % of its loss, target 1 30 %
    norms = np.array([0.4, 0.1])  # ||grad L_t||: 0.2 for both once divided by L_t(0)
    weights = gradnorm_task_weights(norms, np.array([1.8, 0.15]), initial)
    assert weights.sum() == pytest.approx(2.0)
    assert weights[0] > weights[1]
    # the balance: weighted norms in the ratio of the training rates ** alpha
    rate = np.array([0.9, 0.3]) / 0.6
    np.testing.assert_allclose(weights * norms / initial / np.mean(weights * norms / initial),
                               rate ** 1.5 / np.mean(rate ** 1.5), rtol=1e-12)
    # same training rate: the target with the larger gradient gets the smaller weight
    even = gradnorm_task_weights(np.array([0.3, 0.1]), np.array([0.5, 0.5]), np.array([1.0, 1.0]))
    np.testing.assert_allclose(even, [0.5, 1.5])
    # nothing usable: equal weights
    np.testing.assert_allclose(gradnorm_task_weights([0.0, 0.1], [1.0, 1.0], [1.0, 1.0]), [1, 1])


def test_the_gradnorm_proxy_weighs_up_the_target_that_does_not_learn() -> None:
    """A learnable numeric target beside a 0/1 column of coin flips: the coin's loss stays at
    its start while the numeric one falls, so GradNorm moves weight to the coin."""
    from advisor.composite.experiment import CompositeProxy, PartSetup
    from advisor.load import load_data
    from advisor.profile import profile_data

    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 3))
    frame = pd.DataFrame({"x0": x[:, 0], "x1": x[:, 1], "x2": x[:, 2],
                          "level": 3 * x[:, 0] - 2 * x[:, 1] + 0.1 * rng.normal(size=600),
                          "coin": rng.integers(0, 2, 600)})
    setups, ys = [], []
    for column, loss in (("level", "mse"), ("coin", "cross_entropy")):
        profile = profile_data(load_data(frame.drop(columns=[c for c in ("level", "coin") if c != column]),
                                         column))
        spec = CATALOG[loss]
        setups.append(PartSetup(column, loss, profile.facts["metric"], spec,
                                spec.derive(profile, {"quantiles": ()}), profile))
        ys.append(np.asarray(profile.y))
    model = CompositeProxy(setups, "gradnorm", seed=0, epochs=15).fit(x, ys)
    task_weights = model.math_.task_weights
    assert task_weights.sum() == pytest.approx(2.0)
    assert task_weights[1] > 1.2 > 0.8 > task_weights[0]


def test_the_cli_gives_a_composite_answer(tmp_path) -> None:
    from click.testing import CliRunner

    from advisor.cli import main

    result = CliRunner().invoke(main, ["suggest", "example:doctor_visits", "--target", "mdvis",
                                       "--target", "idp", "--budget", "5", "--format", "json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["task"] == "multitask"
    assert {item["weighting"] for item in payload["composite"]["weightings"]} == \
        {"fixed", "uncertainty", "gradnorm"}


# ------------------------------------------------------------------------------------------
# the starting weighting: rules/composite.toml over the facts about the set of targets
# ------------------------------------------------------------------------------------------
def test_the_weighting_rules_are_their_own_file_over_the_composite_facts() -> None:
    from advisor.facts import COMPOSITE_FACT_TYPES
    from advisor.rules import load_composite_rulebase, load_rulebase

    weighting_rules = load_composite_rulebase()
    assert weighting_rules.sources == ("rules/composite.toml",)
    assert {rule.id.split(".")[0] for rule in weighting_rules.rules} == {"composite"}
    assert all(rule.cite and set(rule.facts_used) <= set(COMPOSITE_FACT_TYPES)
               for rule in weighting_rules.rules)
    assert "rules/composite.toml" not in load_rulebase().sources
    # the single-target facts are not the composite's, nor are the single-target losses
    with pytest.raises(ValueError, match="facts missing"):
        weighting_rules.evaluate({"n_targets": 2.0}, ("composite_fixed",))


@pytest.mark.parametrize("when, effect, message", [
    ("imbalance_ratio >= 3", "composite_fixed", "unknown fact 'imbalance_ratio'"),
    ("n_kinds == 'two'", "composite_fixed", "compares a number with a string"),
    ("n_targets >= 3", "mse", "unknown loss 'mse'"),
])
def test_a_weighting_rule_is_checked_against_the_composite_vocabulary(when, effect, message) -> None:
    from advisor.errors import RuleError
    from advisor.facts import COMPOSITE_FACT_TYPES
    from advisor.rule_files import parse_source

    text = (f'[[rule]]\nid = "composite.custom"\nwhen = "{when}"\nbecause = "why"\n'
            f'cite = ["a paper"]\neffects = [{{ loss = "{effect}", score = 1.0 }}]\n')
    known = frozenset({"composite_fixed", "composite_uncertainty", "composite_gradnorm"})
    with pytest.raises(RuleError, match=message):
        parse_source([("composite.toml", text.encode())], known, builtin=False,
                     fact_types=COMPOSITE_FACT_TYPES)


def test_a_count_and_a_binary_target_start_from_uncertainty_by_the_rule_file() -> None:
    rec = advisor.suggest("example:doctor_visits", TARGETS, validate=False)
    assert rec.composite.rule_weighting == "uncertainty" and rec.best.loss == "composite_uncertainty"
    assert [reason.rule_id for reason in rec.best.reasons] == ["composite.different_kinds"]
    assert "Kendall" in rec.best.reasons[0].cite[0]
    scores = {c.loss: c.score for c in rec.candidates}
    assert scores == {"composite_uncertainty": 2.0, "composite_fixed": 1.0, "composite_gradnorm": 0.0}
    assert {"composite.different_kinds", "composite.normalised_sum"} <= set(rec.rulebase.fired)
    assert "rules/composite.toml" in rec.rulebase.sources


def test_numeric_targets_scales_apart_start_from_uncertainty() -> None:
    rec = advisor.suggest(_scales_apart(), ["price", "rate"], validate=False)
    assert rec.best.loss == "composite_uncertainty"
    assert [reason.rule_id for reason in rec.best.reasons] == ["composite.scales_apart"]


def test_three_targets_start_from_gradnorm() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=300)
    frame = pd.DataFrame({"x": x, "price": 1e4 * (x + rng.normal(size=300)),
                          "rate": 0.5 * x + rng.normal(size=300),
                          "flag": (x + rng.normal(size=300) > 0).astype(int)})
    rec = advisor.suggest(frame, ["price", "rate", "flag"], validate=False)
    assert rec.task == "multitask" and len(rec.composite.targets) == 3
    assert rec.composite.rule_weighting == "gradnorm" and rec.best.loss == "composite_gradnorm"
    assert [reason.rule_id for reason in rec.best.reasons] == ["composite.many_targets"]
    assert "GradNorm" in rec.best.reasons[0].cite[0]
