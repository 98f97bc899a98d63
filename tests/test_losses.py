"""The loss catalog: walk every loss on every task it supports.

Gradients are checked against finite differences on data drawn from each loss's valid
range (as scikit-learn's ``_loss/tests/test_loss.py`` does), values against scikit-learn's
metrics where one exists, derivations against hand-computed numbers, and every snippet
must parse and carry the derived values.
"""

from __future__ import annotations

import ast
import json
import math
import zlib

import numpy as np
import pytest
from scipy.special import expit, softmax
from scipy.special import huber as scipy_huber
from sklearn.metrics import (
    hinge_loss,
    log_loss,
    mean_absolute_error,
    mean_gamma_deviance,
    mean_pinball_loss,
    mean_poisson_deviance,
    mean_squared_error,
    mean_tweedie_deviance,
)

from advisor.errors import OptionError, TargetError
from advisor.facts import FACTS
from advisor.losses import CATALOG, DEFAULT_LOSS, LossMath, LossSpec, get_loss, losses_for_task
from advisor.losses._link import IDENTITY, LOG, LOG1P, LOGIT, MARGIN_SIGMOID, MARGIN_SOFTMAX, ORDINAL, SOFTMAX
from advisor.options import FRAMEWORKS, TASKS
from advisor.profile import Profile

ALL_PAIRS = [(loss_id, task) for loss_id, loss in CATALOG.items() for task in TASKS
             if loss.supports(task)]
N_ROWS = 60


# ----- profiles built by hand (the real profile module is another stage) -----------------------
def neutral_facts(**overrides) -> dict:
    """Every fact of the vocabulary at a neutral value, then ``overrides``."""
    neutral = {str: "", float: 0.0, bool: False}
    facts = {spec.name: neutral[spec.type] for spec in FACTS}
    facts.update(activation="auto", framework="pytorch", metric="log_loss", imbalance_ratio=1.0,
                 minority_fraction=0.5, label_entropy=1.0, effective_number_ratio=1.0,
                 label_cardinality=1.0, label_density=1.0, dispersion_index=1.0,
                 excess_zero_ratio=1.0, target_max=1.0, target_scale=1.0)
    unknown = set(overrides) - set(facts)
    assert not unknown, f"not facts: {unknown}"
    facts.update(overrides)
    return facts


def make_profile(task: str, y, *, classes=(), class_counts=(), robust_scale=0.0, quantiles=(),
                 **facts) -> Profile:
    y = np.asarray(y)
    facts.setdefault("task", task)
    facts.setdefault("n_rows", float(len(y)))
    facts.setdefault("n_classes", float(len(classes)))
    if task not in ("binary", "multiclass", "multilabel", "ordinal") and y.size:
        facts.setdefault("target_mean", float(np.mean(y)))
        facts.setdefault("target_std", float(np.std(y)))
        facts.setdefault("target_max", float(np.max(y)))
    return Profile(task=task, task_reason="built by the test", facts=neutral_facts(**facts),
                   classes=tuple(classes), class_counts=tuple(class_counts), y=y,
                   robust_scale=robust_scale, quantiles=tuple(quantiles))


def class_profile(task: str, labels: np.ndarray, n_classes: int, **facts) -> Profile:
    counts = np.bincount(labels, minlength=n_classes)
    return make_profile(task, labels, classes=[f"c{k}" for k in range(n_classes)],
                        class_counts=counts.tolist(),
                        imbalance_ratio=float(counts.max() / counts.min()), **facts)


def profile_for(loss: LossSpec, task: str, rng: np.random.Generator) -> Profile:
    """A small profile of ``task`` whose target lies in ``loss``'s valid range."""
    if task in ("binary", "multiclass", "ordinal"):
        n_classes = {"binary": 2, "multiclass": 4, "ordinal": 5}[task]
        labels = np.concatenate([np.arange(n_classes), rng.integers(0, n_classes, N_ROWS - n_classes)])
        return class_profile(task, labels, n_classes)
    if task == "multilabel":
        y = (rng.random((N_ROWS, 3)) < [0.5, 0.3, 0.1]).astype(float)
        y[:2] = [[1, 1, 1], [0, 0, 0]]
        return make_profile(task, y, classes=["a", "b", "c"], class_counts=y.sum(axis=0).astype(int).tolist(),
                            imbalance_ratio=10.0)
    if task == "survival":  # whole-number durations: tied event times; some censored
        time = rng.integers(1, 25, N_ROWS).astype(float)
        event = (rng.random(N_ROWS) < 0.6).astype(float)
        event[:2] = 1.0
        _, counts = np.unique(time[event > 0], return_counts=True)
        tied = counts[counts > 1].sum() / event.sum()
        return make_profile(task, np.column_stack([time, event]), tied_event_share=float(tied))
    if task == "proportion":
        y = np.clip(rng.beta(2, 5, N_ROWS), 0, 1)
        y[:2] = [0.0, 1.0]
        return make_profile(task, y)
    interval = loss.target_interval
    if interval.low == 0 and not interval.low_inclusive:
        y = rng.lognormal(0.5, 0.6, N_ROWS)
    elif interval.low == 0 or task == "count":
        y = rng.poisson(2.5, N_ROWS).astype(float) if task == "count" else rng.gamma(1.5, 2.0, N_ROWS) * (rng.random(N_ROWS) < 0.7)
    elif interval.low == -1:
        y = rng.lognormal(0.0, 0.5, N_ROWS) - 0.5
    else:
        y = rng.normal(1.0, 3.0, N_ROWS)
    mad = np.median(np.abs(y - np.median(y)))
    return make_profile(task, y, robust_scale=1.4826 * mad, tweedie_power=1.6,
                        quantiles=(0.1, 0.5, 0.9), has_quantiles=True)


def bound(loss_id: str, task: str, **params) -> LossMath:
    """The catalog loss's math for ``params`` on ``task``."""
    return CATALOG[loss_id].bind(params, task)


def finite_difference_check(loss: LossMath, raw: np.ndarray, target: np.ndarray,
                            eps: float = 1e-6) -> float:
    """Compare the analytic gradient with central differences; return the share checked.

    Elements whose one-sided differences disagree sit next to a kink (hinge, absolute and
    pinball losses, the asymmetric clip): there the subgradient is not a derivative, so they
    are skipped; the caller asserts that most elements were checked.
    """
    # beta-NLL's weight var^beta sits under a stop-gradient: its gradient is the derivative
    # of the loss with the weight held where it was read (weight_at fixes it)
    fixed = {"weight_at": raw} if getattr(loss, "stop_gradient", False) else {}
    per_sample, grad = loss.loss_gradient(raw, target)
    assert per_sample.shape == (raw.shape[0],)
    assert grad.shape == raw.shape
    assert np.all(np.isfinite(per_sample)) and np.all(np.isfinite(grad))
    if loss.batch_loss:
        return batch_difference_check(loss, raw, target, grad, eps)
    checked = 0
    for column in range(raw.shape[1]):
        shift = np.zeros_like(raw)
        shift[:, column] = eps
        up = loss.loss_gradient(raw + shift, target, **fixed)[0]
        down = loss.loss_gradient(raw - shift, target, **fixed)[0]
        forward = (up - per_sample) / eps
        backward = (per_sample - down) / eps
        smooth = np.abs(forward - backward) <= 1e-3 * (1.0 + np.abs(forward))
        central = (up - down) / (2 * eps)
        np.testing.assert_allclose(grad[smooth, column], central[smooth], rtol=2e-5, atol=2e-6,
                                   err_msg=f"{loss.id}: gradient of output {column}")
        checked += int(smooth.sum())
    return checked / raw.size


def batch_difference_check(loss: LossMath, raw: np.ndarray, target: np.ndarray, grad: np.ndarray,
                           eps: float) -> float:
    """A batch loss (soft F1): every element moves the whole batch's loss, so each one is
    shifted alone and the central difference of the mean over rows is compared with the
    returned gradient divided by n (the gradient of the mean, times n)."""
    n = raw.shape[0]
    for row, column in np.ndindex(raw.shape):
        shift = np.zeros_like(raw)
        shift[row, column] = eps
        up = loss.loss_gradient(raw + shift, target)[0].mean()
        down = loss.loss_gradient(raw - shift, target)[0].mean()
        assert grad[row, column] / n == pytest.approx((up - down) / (2 * eps), rel=2e-5, abs=2e-8), (
            f"{loss.id}: gradient of row {row}, output {column}")
    return 1.0


def draw_raw(loss: LossMath, profile: Profile, rng: np.random.Generator) -> np.ndarray:
    return rng.normal(0.3, 1.5, (N_ROWS, loss.n_outputs(profile)))


# ----- the catalog as a whole ----------------------------------------------------------------------
def test_catalog_has_the_thirty_one_losses_and_two_plans_in_stable_order():
    assert list(CATALOG) == [
        "cross_entropy", "weighted_cross_entropy", "focal", "label_smoothing",
        "generalized_cross_entropy", "hinge", "asymmetric", "logit_adjusted", "ldam", "poly1",
        "soft_f1", "cross_entropy+threshold", "cross_entropy+logit_adjustment",
        "group_reweighted_cross_entropy", "group_dro", "coral",
        "mse", "mae", "huber", "log_cosh", "quantile", "msle", "poisson", "gamma", "tweedie",
        "balanced_mse", "lds_mse", "lds_mae", "gaussian_nll", "ziln",
        "cox", "logistic_hazard", "deephit"]


@pytest.mark.parametrize("loss_id", list(CATALOG))
def test_every_loss_carries_its_metadata(loss_id):
    loss = CATALOG[loss_id]
    assert loss.id == loss_id and loss.title and loss.formula and loss.citation
    assert loss.tasks and set(loss.tasks) <= set(TASKS)
    assert all("linear" in activations for activations in loss.activations.values())
    assert len(loss.description) > 40 and loss.math.__doc__
    for spec in loss.params:
        assert spec.description, f"{loss_id}.{spec.name} has no description"
    json.dumps(loss.to_dict())


def test_a_plan_is_its_base_loss_plus_a_decision_rule():
    """A plan delegates its math, vetoes and templates to its base loss and adds its rule, on
    the tasks the rule fits (a threshold per label, the logit adjustment over classes)."""
    base = CATALOG["cross_entropy"]
    for loss_id, rule, tasks in (("cross_entropy+threshold", "threshold", {"binary", "multilabel"}),
                                 ("cross_entropy+logit_adjustment", "logit_adjustment",
                                  {"multiclass"})):
        plan = CATALOG[loss_id]
        assert plan.decision is not None and plan.decision.rule == rule
        assert plan.decision.base == "cross_entropy" and plan.math is base.math
        assert plan.tasks == tasks and plan.vetoes == base.vetoes
        assert plan.template_id == "cross_entropy" and plan.to_dict()["decision"]["rule"] == rule
    assert all(loss.decision is None for loss in CATALOG.values() if "+" not in loss.id)


def test_defaults_and_task_lookup():
    assert DEFAULT_LOSS == {"binary": "cross_entropy", "multiclass": "cross_entropy",
                            "multilabel": "cross_entropy", "ordinal": "cross_entropy",
                            "proportion": "cross_entropy", "regression": "mse", "count": "mse",
                            "survival": "cox"}
    assert losses_for_task("survival") == ("cox", "logistic_hazard", "deephit")
    assert losses_for_task("multilabel") == ("cross_entropy", "weighted_cross_entropy", "focal",
                                             "asymmetric", "logit_adjusted", "poly1", "soft_f1",
                                             "cross_entropy+threshold")
    assert losses_for_task("proportion") == ("cross_entropy", "mse")
    assert losses_for_task("ordinal") == ("cross_entropy", "weighted_cross_entropy",
                                          "label_smoothing", "coral", "mse", "mae")
    assert "gamma" not in losses_for_task("count") and "tweedie" in losses_for_task("count")
    for task in TASKS:
        assert DEFAULT_LOSS[task] in losses_for_task(task)
    with pytest.raises(OptionError, match="task must be one of"):
        losses_for_task("clustering")


def test_unknown_loss_id_lists_the_valid_ids():
    assert get_loss("Focal") is CATALOG["focal"]
    with pytest.raises(OptionError) as caught:
        get_loss("focall")
    message = str(caught.value)
    assert "loss must be one of" in message and "cross_entropy" in message and "tweedie" in message
    assert "did you mean 'focal'" in message


def test_standardised_target_only_for_identity_link_numeric_losses():
    flagged = {loss_id for loss_id, loss in CATALOG.items() if loss.standardize_target}
    assert flagged == {"mse", "mae", "huber", "log_cosh", "quantile", "balanced_mse", "lds_mse",
                       "lds_mae", "gaussian_nll"}


def test_loss_refuses_a_task_it_does_not_apply_to():
    profile = make_profile("regression", np.arange(5.0))
    with pytest.raises(OptionError, match="task for loss hinge"):
        CATALOG["hinge"].derive(profile, {})


# ----- gradients, shapes and determinism on every (loss, task) --------------------------------------
@pytest.mark.parametrize("loss_id,task", ALL_PAIRS)
def test_gradient_matches_finite_differences(loss_id, task):
    rng = np.random.default_rng(zlib.crc32(f"{loss_id}/{task}".encode()))
    loss = CATALOG[loss_id]
    profile = profile_for(loss, task, rng)
    params = loss.derive(profile, {"quantiles": profile.quantiles})
    assert params == loss.derive(profile, {"quantiles": profile.quantiles}), "derive must be deterministic"
    json.dumps(params)
    assert "task" not in params
    math_ = loss.bind(params, task)
    target = math_.encode_target(profile.y, profile)
    assert target.shape == (N_ROWS, math_.n_outputs(profile)) and target.dtype == np.float64
    raw = draw_raw(math_, profile, rng)
    share = finite_difference_check(math_, raw, target)
    assert share >= 0.8, f"only {share:.0%} of the elements were away from a kink"


@pytest.mark.parametrize("loss_id,task", ALL_PAIRS)
def test_predictions_live_in_the_task_space(loss_id, task):
    rng = np.random.default_rng(7)
    loss = CATALOG[loss_id]
    profile = profile_for(loss, task, rng)
    math_ = loss.bind(loss.derive(profile, {}), task)
    params = math_.params
    raw = draw_raw(math_, profile, rng)
    if task == "survival":  # cox's curve needs the Breslow baseline of the training rows
        math_ = math_.after_training(raw, math_.encode_target(profile.y, profile))
    predicted = math_.predict(raw)
    if task in ("binary", "multiclass", "ordinal"):
        n_classes = len(profile.classes)
        assert predicted.shape == (N_ROWS, n_classes)
        assert np.all(predicted >= 0) and np.all(predicted <= 1)
        np.testing.assert_allclose(predicted.sum(axis=1), 1.0, rtol=1e-12)
        labels = math_.predict_class(raw)
        assert labels.shape == (N_ROWS,) and labels.min() >= 0 and labels.max() < n_classes
    elif task == "multilabel":
        assert predicted.shape == (N_ROWS, 3) and np.all((predicted >= 0) & (predicted <= 1))
    elif task == "survival":  # the risk, then S at the grid's times (cox: its Breslow baseline)
        assert predicted.shape == (N_ROWS, 1 + len(params["times"]))
        survival = predicted[:, 1:]
        assert np.all((survival >= 0) & (survival <= 1)) and np.all(np.diff(survival, axis=1) <= 1e-12)
        risk_order = np.argsort(predicted[:, 0])  # a higher risk: a lower curve
        assert survival[risk_order[-1]].sum() <= survival[risk_order[0]].sum()
    else:
        levels = len(params.get("quantiles", [None]))
        assert predicted.shape == ((N_ROWS,) if levels == 1 else (N_ROWS, levels))
        assert np.all(np.isfinite(predicted))
        if math_.link.name == "log":  # the mean, its log capped at log(max y) + 1
            cap = params["log_cap"]
            assert cap == pytest.approx(np.log(profile.facts["target_max"]) + 1, rel=1e-3)
            np.testing.assert_allclose(predicted, np.exp(np.minimum(raw[:, 0], cap)))
        if task == "proportion" and loss_id == "cross_entropy":
            np.testing.assert_allclose(predicted, expit(raw[:, 0]))


@pytest.mark.parametrize("loss_id,task", [pair for pair in ALL_PAIRS
                                          if pair[1] in ("binary", "multiclass", "multilabel", "ordinal", "proportion")])
def test_classification_losses_stay_finite_on_extreme_logits(loss_id, task):
    rng = np.random.default_rng(3)
    loss = CATALOG[loss_id]
    profile = profile_for(loss, task, rng)
    math_ = loss.bind(loss.derive(profile, {}), task)
    target = math_.encode_target(profile.y, profile)
    raw = np.where(rng.random((N_ROWS, math_.n_outputs(profile))) < 0.5, -800.0, 800.0)
    per_sample, grad = math_.loss_gradient(raw, target)
    assert np.all(np.isfinite(per_sample)) and np.all(np.isfinite(grad))
    assert np.all(np.isfinite(math_.predict(raw)))


@pytest.mark.parametrize("loss_id", ["mse", "mae", "huber", "log_cosh", "quantile", "msle", "poisson",
                                     "gamma", "tweedie", "balanced_mse", "lds_mse", "lds_mae"])
def test_multi_output_regression(loss_id):
    """A (n, 2) target: one output per target column (times the levels for quantile)."""
    rng = np.random.default_rng(8)
    loss = CATALOG[loss_id]
    y = rng.lognormal(0.3, 0.5, (N_ROWS, 2))
    profile = make_profile("regression", y, robust_scale=0.8, quantiles=(0.2, 0.8), tweedie_power=1.4)
    math_ = loss.bind(loss.derive(profile, {"quantiles": profile.quantiles}), "regression")
    width = 4 if loss_id == "quantile" else 2
    assert math_.n_outputs(profile) == width
    target = math_.encode_target(y, profile)
    assert target.shape == (N_ROWS, width)
    raw = rng.normal(0.5, 1.0, (N_ROWS, width))
    if loss.standardize_target:  # what the proxy does: one scale per encoded column
        math_ = math_.for_scale(np.linspace(0.5, 2.0, width))
    assert finite_difference_check(math_, raw, target) >= 0.8
    assert math_.predict(raw).shape == (N_ROWS, width)


def test_log_link_losses_stay_finite_on_extreme_raw_outputs():
    y = np.array([[0.0], [1.0], [3.0], [250.0]])
    raw = np.array([[-500.0], [500.0], [0.0], [-500.0]])
    for loss_id in ("poisson", "tweedie"):
        per_sample, grad = bound(loss_id, "count", power=1.5).loss_gradient(raw, y)
        assert np.all(np.isfinite(per_sample)) and np.all(np.isfinite(grad))
    per_sample, grad = bound("gamma", "regression").loss_gradient(raw, y + 0.5)
    assert np.all(np.isfinite(per_sample)) and np.all(np.isfinite(grad))


# ----- values against scikit-learn / scipy and against their special cases -----------------------------
def test_cross_entropy_matches_sklearn_log_loss():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 50)
    raw = rng.normal(size=(50, 3))
    loss = CATALOG["cross_entropy"]
    per_sample, _ = loss.bind({}, "multiclass").loss_gradient(raw, np.eye(3)[labels])
    assert per_sample.mean() == pytest.approx(log_loss(labels, softmax(raw, axis=1), labels=[0, 1, 2]))
    binary = rng.integers(0, 2, 50)
    per_sample, _ = loss.bind({}, "binary").loss_gradient(raw[:, :1], binary[:, None].astype(float))
    assert per_sample.mean() == pytest.approx(log_loss(binary, expit(raw[:, 0])))


def test_deviances_match_sklearn_metrics():
    rng = np.random.default_rng(1)
    y = rng.poisson(3.0, 80).astype(float)
    positive = rng.lognormal(0.0, 0.5, 80)
    raw = rng.normal(1.0, 0.5, (80, 1))
    mean = np.exp(raw[:, 0])
    poisson, _ = bound("poisson", "count").loss_gradient(raw, y[:, None])
    assert 2 * poisson.mean() == pytest.approx(mean_poisson_deviance(y, mean))
    gamma, _ = bound("gamma", "regression").loss_gradient(raw, positive[:, None])
    assert 2 * gamma.mean() == pytest.approx(mean_gamma_deviance(positive, mean))
    tweedie, _ = bound("tweedie", "count", power=1.3).loss_gradient(raw, y[:, None])
    assert 2 * tweedie.mean() == pytest.approx(mean_tweedie_deviance(y, mean, power=1.3))


def test_regression_values_match_sklearn_and_scipy():
    rng = np.random.default_rng(2)
    y = rng.normal(size=(70, 1))
    raw = rng.normal(size=(70, 1))
    residual = raw[:, 0] - y[:, 0]
    assert 2 * bound("mse", "regression").loss_gradient(raw, y)[0].mean() == pytest.approx(
        mean_squared_error(y, raw))
    assert bound("mae", "regression").loss_gradient(raw, y)[0].mean() == pytest.approx(
        mean_absolute_error(y, raw))
    huber = bound("huber", "regression", delta=0.7).loss_gradient(raw, y)[0]
    np.testing.assert_allclose(huber, scipy_huber(0.7, residual))
    np.testing.assert_allclose(bound("log_cosh", "regression").loss_gradient(raw, y)[0],
                               np.log(np.cosh(residual)))
    for tau in (0.1, 0.5, 0.9):
        pinball = bound("quantile", "regression", quantiles=[tau]).loss_gradient(raw, y)[0]
        assert pinball.mean() == pytest.approx(mean_pinball_loss(y, raw, alpha=tau))
    # several levels: per-sample loss is the sum over levels
    both = bound("quantile", "regression", quantiles=[0.1, 0.9]).loss_gradient(
        np.hstack([raw, raw + 1]), np.hstack([y, y]))[0]
    expected = (bound("quantile", "regression", quantiles=[0.1]).loss_gradient(raw, y)[0]
                + bound("quantile", "regression", quantiles=[0.9]).loss_gradient(raw + 1, y)[0])
    np.testing.assert_allclose(both, expected)
    msle_target = bound("msle", "regression").encode_target(np.exp(y[:, 0]),
                                                            make_profile("regression", np.exp(y[:, 0])))
    np.testing.assert_allclose(msle_target, np.log1p(np.exp(y)))


def test_binary_hinge_matches_sklearn():
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 2, 40)
    scores = rng.normal(size=(40, 1))
    per_sample, _ = bound("hinge", "binary", margin=1.0).loss_gradient(scores, labels[:, None].astype(float))
    assert per_sample.mean() == pytest.approx(hinge_loss(2 * labels - 1, scores[:, 0]))


def test_multiclass_hinge_is_torch_multi_margin():
    raw = np.array([[2.0, 1.5, -1.0]])  # true class 0: gaps 1 - 2 + 1.5 = 0.5 and 1 - 2 - 1 < 0
    per_sample, grad = bound("hinge", "multiclass", margin=1.0).loss_gradient(raw, np.array([[1.0, 0.0, 0.0]]))
    assert per_sample[0] == pytest.approx(0.5 / 3)
    np.testing.assert_allclose(grad, [[-1 / 3, 1 / 3, 0.0]])


def test_special_cases_reduce_to_cross_entropy():
    rng = np.random.default_rng(5)
    raw = rng.normal(size=(30, 3))
    onehot = np.eye(3)[rng.integers(0, 3, 30)]
    labels01 = (rng.random((30, 3)) < 0.4).astype(float)
    ce_multi = bound("cross_entropy", "multiclass").loss_gradient(raw, onehot)[0]
    ce_multilabel = bound("cross_entropy", "multilabel").loss_gradient(raw, labels01)[0]
    focal = bound("focal", "multiclass", gamma=0.0, alpha=None).loss_gradient(raw, onehot)[0]
    np.testing.assert_allclose(focal, ce_multi)
    focal_half = bound("focal", "multilabel", gamma=0.0, alpha=[0.5, 0.5, 0.5]).loss_gradient(raw, labels01)[0]
    np.testing.assert_allclose(focal_half, 0.5 * ce_multilabel)
    smoothing = bound("label_smoothing", "multiclass", epsilon=0.0).loss_gradient(raw, onehot)[0]
    np.testing.assert_allclose(smoothing, ce_multi)
    weighted = bound("weighted_cross_entropy", "multiclass",
                     class_weights=[1.0, 1.0, 1.0]).loss_gradient(raw, onehot)[0]
    np.testing.assert_allclose(weighted, ce_multi)
    asymmetric = bound("asymmetric", "multilabel", gamma_pos=0.0, gamma_neg=0.0,
                       clip=0.0).loss_gradient(raw, labels01)[0]
    np.testing.assert_allclose(asymmetric, ce_multilabel)
    gce = bound("generalized_cross_entropy", "multiclass", q=1e-7).loss_gradient(raw, onehot)[0]
    np.testing.assert_allclose(gce, ce_multi, rtol=1e-5)
    coral_levels = np.array([[1.0, 1.0, 0.0]])
    coral = bound("coral", "ordinal").loss_gradient(raw[:1], coral_levels)[0]
    np.testing.assert_allclose(coral, bound("cross_entropy", "multilabel").loss_gradient(raw[:1], coral_levels)[0])


def test_asymmetric_clip_discards_easy_negatives():
    loss = bound("asymmetric", "multilabel", gamma_pos=0.0, gamma_neg=4.0, clip=0.05)
    raw = np.array([[-4.0, 2.0]])  # p = 0.018 (below the 0.05 clip) and 0.88
    per_sample, grad = loss.loss_gradient(raw, np.zeros((1, 2)))
    assert grad[0, 0] == 0.0 and grad[0, 1] > 0
    p_m = expit(2.0) - 0.05
    assert per_sample[0] == pytest.approx(-(p_m ** 4) * math.log(1 - p_m))


# ----- predictions -----------------------------------------------------------------------------------
def test_coral_counts_thresholds_and_returns_cumulative_differences():
    loss = bound("coral", "ordinal")
    raw = np.array([[3.0, 1.0, -2.0], [-1.0, -2.0, -3.0], [4.0, 4.0, 4.0], [-1.0, 2.0, 0.5]])
    np.testing.assert_array_equal(loss.predict_class(raw), [2, 0, 3, 2])
    probabilities = loss.predict(raw)
    above = expit(raw[0])
    np.testing.assert_allclose(probabilities[0], [1 - above[0], above[0] - above[1], above[1] - above[2], above[2]])
    # crossing thresholds (last row) give negative differences: clipped and renormalised
    assert np.all(probabilities >= 0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    profile = class_profile("ordinal", np.array([0, 1, 2, 3, 3]), 4)
    np.testing.assert_array_equal(loss.encode_target(profile.y, profile),
                                  [[0, 0, 0], [1, 0, 0], [1, 1, 0], [1, 1, 1], [1, 1, 1]])
    assert loss.n_outputs(profile) == 3


def test_regression_losses_on_ordinal_targets_predict_levels():
    loss = bound("mse", "ordinal", n_classes=4)
    raw = np.array([[1.25], [-3.0], [9.0], [2.5]])
    probabilities = loss.predict(raw)
    np.testing.assert_allclose(probabilities[0], [0, 0.75, 0.25, 0])
    np.testing.assert_allclose(probabilities[1], [1, 0, 0, 0])
    np.testing.assert_allclose(probabilities[2], [0, 0, 0, 1])
    np.testing.assert_array_equal(loss.predict_class(raw), [1, 0, 3, 2])
    # the expectation of the two-level distribution is the clipped prediction
    np.testing.assert_allclose(probabilities @ np.arange(4), np.clip(raw[:, 0], 0, 3))


def test_binary_prediction_has_two_columns_and_hinge_pseudo_probabilities():
    raw = np.array([[0.0], [2.0]])
    for loss_id in ("cross_entropy", "focal", "hinge", "generalized_cross_entropy"):
        predicted = bound(loss_id, "binary").predict(raw)
        np.testing.assert_allclose(predicted[:, 1], expit(raw[:, 0]))
        np.testing.assert_allclose(predicted.sum(axis=1), 1.0)


def test_inverse_links_of_numeric_losses():
    raw = np.array([[0.0, 1.0], [2.0, -1.0]])
    np.testing.assert_allclose(bound("msle", "regression").predict(raw[:, :1]), np.expm1(raw[:, 0]))
    np.testing.assert_allclose(bound("gamma", "regression").predict(raw), np.exp(raw))
    # identity link, the levels in order: the second row's crossing outputs are rearranged
    np.testing.assert_allclose(bound("quantile", "regression", quantiles=[0.1, 0.9]).predict(raw),
                               np.sort(raw, axis=1))
    np.testing.assert_allclose(bound("mse", "regression").predict(raw[:, :1]), raw[:, 0])


def test_init_bias():
    counts = np.array([[0.0], [2.0], [4.0]])
    assert bound("poisson", "count").init_bias(counts)[0] == pytest.approx(math.log(2.0))
    assert bound("tweedie", "count", power=1.5).init_bias(counts)[0] == pytest.approx(math.log(2.0))
    labels = np.array([[1.0], [0.0], [0.0], [0.0]])
    assert bound("focal", "binary").init_bias(labels)[0] == pytest.approx(math.log(1 / 3))
    onehot = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    np.testing.assert_allclose(bound("focal", "multiclass").init_bias(onehot), np.log([0.75, 0.25]))
    assert bound("cross_entropy", "binary").init_bias(labels) is None
    assert bound("msle", "regression").init_bias(np.array([[1.0], [3.0]]))[0] == pytest.approx(2.0)


# ----- derivations with hand-computed numbers -----------------------------------------------------------
def binary_counts_profile(n_negative: int, n_positive: int, **facts) -> Profile:
    labels = np.array([0] * n_negative + [1] * n_positive)
    return class_profile("binary", labels, 2, **facts)


def test_pos_weight_is_negatives_over_positives():
    profile = binary_counts_profile(642, 10)
    params = CATALOG["weighted_cross_entropy"].derive(profile, {})
    assert params["pos_weight"] == 64.2
    multilabel = make_profile("multilabel", np.zeros((100, 3)), classes=["a", "b", "c"],
                              class_counts=[10, 50, 4])
    assert CATALOG["weighted_cross_entropy"].derive(multilabel, {})["pos_weight"] == [9.0, 1.0, 24.0]


def test_class_weights_by_effective_number_and_inverse_frequency():
    labels = np.array([0] * 1000 + [1] * 100 + [2] * 10)
    profile = class_profile("multiclass", labels, 3)
    params = CATALOG["weighted_cross_entropy"].derive(profile, {})
    # beta = 1 - 1/1000; E_n = (1 - beta^n) / (1 - beta) = 632.3, 95.21, 9.955; w ~ 1/E_n, sum 3
    assert params["scheme"] == "effective_number" and params["beta"] == 0.999
    assert params["class_weights"] == [0.04216, 0.28, 2.678]
    assert params["inverse_frequency_weights"] == [0.37, 3.7, 37.0]  # N / (K n_c)
    inverse = CATALOG["weighted_cross_entropy"].derive(profile, {"weight_scheme": "inverse_frequency"})
    assert inverse["class_weights"] == [0.37, 3.7, 37.0]
    with pytest.raises(OptionError, match="weight_scheme"):
        CATALOG["weighted_cross_entropy"].derive(profile, {"weight_scheme": "sqrt"})
    ordinal = class_profile("ordinal", labels, 3)
    assert CATALOG["weighted_cross_entropy"].derive(ordinal, {})["class_weights"] == [0.04216, 0.28, 2.678]


def test_focal_parameters():
    rare = CATALOG["focal"].derive(binary_counts_profile(642, 10), {})
    # prior of the positive class 10/652 = 0.01534; imbalance 64.2 >= 10 -> gamma 2
    assert rare == {"gamma": 2.0, "alpha": 0.9847, "prior_bias": -4.162}
    mild = CATALOG["focal"].derive(binary_counts_profile(50, 10), {})
    assert mild["gamma"] == 1.0 and mild["alpha"] == pytest.approx(0.8333, abs=1e-4)
    labels = np.array([0] * 1000 + [1] * 100 + [2] * 10)
    multi = CATALOG["focal"].derive(class_profile("multiclass", labels, 3), {})
    assert multi["alpha"] == [0.01405, 0.09333, 0.8926]  # effective-number weights / their sum
    assert multi["prior_bias"] == [-0.1044, -2.407, -4.71]  # log(n_c / N)
    multilabel = make_profile("multilabel", np.zeros((100, 2)), classes=["a", "b"], class_counts=[20, 50],
                              imbalance_ratio=4.0)
    assert CATALOG["focal"].derive(multilabel, {}) == {"gamma": 1.0, "alpha": [0.8, 0.5],
                                                       "prior_bias": [-1.386, 0.0]}


def test_label_smoothing_and_fixed_defaults():
    quiet = binary_counts_profile(30, 30)
    noisy = binary_counts_profile(30, 30, label_noise=True)
    assert CATALOG["label_smoothing"].derive(quiet, {})["epsilon"] == 0.1
    assert CATALOG["label_smoothing"].derive(noisy, {})["epsilon"] == 0.2
    assert CATALOG["generalized_cross_entropy"].derive(quiet, {})["q"] == 0.7
    assert CATALOG["hinge"].derive(quiet, {})["margin"] == 1.0
    multilabel = make_profile("multilabel", np.zeros((4, 2)), classes=["a", "b"], class_counts=[1, 2])
    assert CATALOG["asymmetric"].derive(multilabel, {}) == {"gamma_pos": 0.0, "gamma_neg": 4.0,
                                                            "clip": 0.05}


def test_huber_delta_from_the_robust_scale_with_fallbacks():
    y = np.array([0.0, 1.0, 2.0, 3.0, 100.0])  # median 2, MAD 1 -> robust scale 1.4826
    mad_profile = make_profile("regression", y, robust_scale=1.4826 * 1.0)
    params = CATALOG["huber"].derive(mad_profile, {})
    assert params["delta"] == 1.994  # 1.345 * 1.4826 = 1.99410 -> 4 significant digits
    assert CATALOG["huber"].derive(make_profile("regression", y, robust_scale=0.0, target_std=3.0), {})["delta"] == 4.035
    assert CATALOG["huber"].derive(make_profile("regression", np.zeros(5), robust_scale=0.0), {})["delta"] == 1.0
    scaled = CATALOG["huber"].bind(params, "regression").for_scale(2.0)
    assert scaled.params["delta"] == pytest.approx(0.997) and params["delta"] == 1.994
    plain = bound("mse", "regression", x=1)
    assert plain.for_scale(3.0) is plain


@pytest.mark.parametrize("estimate,power,source", [
    (2.7, 1.9, "clipped"), (1.05, 1.1, "clipped"), (1.37, 1.37, "estimated"),
    (0.0, 1.5, "default"), (float("nan"), 1.5, "default"), (-0.4, 1.5, "default"),
])
def test_tweedie_power_is_clipped_or_defaulted(estimate, power, source):
    profile = make_profile("count", np.array([0.0, 1.0, 4.0]), tweedie_power=estimate)
    params = CATALOG["tweedie"].derive(profile, {})
    assert params["power"] == power and source in params["power_source"]
    assert params["init_bias"] == pytest.approx(math.log(5 / 3), abs=1e-4)


def test_quantile_levels_come_from_options_then_profile():
    y = np.arange(10.0)
    plain = make_profile("regression", y)
    assert CATALOG["quantile"].derive(plain, {})["quantiles"] == [0.5]
    assert CATALOG["quantile"].derive(plain, {"quantiles": (0.9, 0.1)})["quantiles"] == [0.1, 0.9]
    asked = make_profile("regression", y, quantiles=(0.05, 0.5, 0.95))
    assert CATALOG["quantile"].derive(asked, {"quantiles": ()})["quantiles"] == [0.05, 0.5, 0.95]
    levels = CATALOG["quantile"].derive(asked, {"quantiles": asked.quantiles})
    assert CATALOG["quantile"].bind(levels, "regression").n_outputs(asked) == 3
    assert bound("quantile", "regression").n_outputs(plain) == 1
    with pytest.raises(OptionError, match="quantile"):
        CATALOG["quantile"].derive(plain, {"quantiles": (1.5,)})


def test_poisson_starts_at_the_log_mean_and_checks_its_domain():
    profile = make_profile("count", np.array([0.0, 2.0, 4.0]))
    assert CATALOG["poisson"].derive(profile, {}) == {"init_bias": 0.6931, "log_cap": 2.386}
    zeros = make_profile("count", np.zeros(3))
    assert CATALOG["poisson"].derive(zeros, {}) == {"init_bias": None, "log_cap": None}
    negative = make_profile("regression", np.array([-1.0, 2.0]))
    with pytest.raises(TargetError, match="poisson needs 0 <= y"):
        bound("poisson", "regression").encode_target(negative.y, negative)
    with pytest.raises(TargetError, match="gamma needs 0 < y"):
        bound("gamma", "regression").encode_target(np.array([0.0, 2.0]), negative)
    with pytest.raises(TargetError, match="msle needs -1 < y"):
        bound("msle", "regression").encode_target(np.array([-1.0, 2.0]), negative)
    assert CATALOG["msle"].in_target_range(np.array([-0.5, 3.0]))


def test_parameter_bounds_are_checked_in_one_place():
    loss = CATALOG["label_smoothing"]
    assert loss.check_params({"epsilon": 0.3}) == {"epsilon": 0.3}
    with pytest.raises(OptionError, match=r"label_smoothing.epsilon must be a number in \(0, 0.5\)"):
        loss.check_params({"epsilon": 0.5})
    with pytest.raises(OptionError, match="generalized_cross_entropy.q"):
        CATALOG["generalized_cross_entropy"].check_params({"q": 0.0})
    CATALOG["generalized_cross_entropy"].check_params({"q": 1.0})
    with pytest.raises(OptionError, match="weighted_cross_entropy.class_weights"):
        CATALOG["weighted_cross_entropy"].check_params({"class_weights": [1.0, -2.0]})


# ----- snippets --------------------------------------------------------------------------------------------
#: Derived values each snippet must show verbatim.
SNIPPET_VALUES = {
    "weighted_cross_entropy": ("pos_weight", "class_weights"),
    "focal": ("gamma", "alpha", "prior_bias"),
    "label_smoothing": ("epsilon",),
    "generalized_cross_entropy": ("q",),
    "hinge": ("margin",),
    "asymmetric": ("gamma_pos", "gamma_neg", "clip"),
    "coral": ("n_classes",),
    "huber": ("delta",),
    "quantile": ("quantiles",),
    "poisson": ("init_bias",),
    "gamma": ("init_bias",),
    "tweedie": ("power", "init_bias"),
    "balanced_mse": ("noise_sigma",),
    "lds_mse": ("bin_edges", "bin_weights"),
    "lds_mae": ("bin_edges", "bin_weights"),
}


def _number_texts(value) -> list[str]:
    from advisor.losses._snippets import num
    values = value if isinstance(value, list) else [value]
    return [num(item) for item in values if item is not None]


@pytest.mark.parametrize("loss_id,task", ALL_PAIRS)
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_snippet_parses_and_shows_the_derived_values(loss_id, task, framework):
    rng = np.random.default_rng(11)
    loss = CATALOG[loss_id]
    profile = profile_for(loss, task, rng)
    params = loss.derive(profile, {"quantiles": profile.quantiles})
    code = loss.snippet(framework, params, profile)
    ast.parse(code)
    assert "# Output layer:" in code
    for name in SNIPPET_VALUES.get(loss_id, ()):
        for text in _number_texts(params.get(name)):
            assert text in code, f"{loss_id} {task} {framework}: {name}={text} missing"


def test_task_generic_cross_entropy_picks_the_framework_class():
    binary = binary_counts_profile(5, 5)
    labels = np.array([0, 1, 2, 2])
    multiclass = class_profile("multiclass", labels, 3)
    loss = CATALOG["cross_entropy"]
    assert "nn.BCEWithLogitsLoss()" in loss.snippet("pytorch", loss.derive(binary), binary)
    assert "nn.CrossEntropyLoss()" in loss.snippet("pytorch", loss.derive(multiclass), multiclass)
    assert "BinaryCrossentropy(from_logits=True)" in loss.snippet("keras", loss.derive(binary), binary)
    assert "SparseCategoricalCrossentropy(from_logits=True)" in loss.snippet("keras", loss.derive(multiclass), multiclass)
    weighted = CATALOG["weighted_cross_entropy"]
    rare = binary_counts_profile(642, 10)
    assert "nn.BCEWithLogitsLoss(pos_weight=torch.tensor([64.2]))" in weighted.snippet(
        "pytorch", weighted.derive(rare), rare)
    focal = CATALOG["focal"]
    assert ("BinaryFocalCrossentropy(\n    apply_class_balancing=True, alpha=0.9847, gamma=2.0, from_logits=True)"
            in focal.snippet("keras", focal.derive(rare), rare))
    with pytest.raises(OptionError, match="framework"):
        loss.snippet("jax", loss.derive(binary), binary)


def test_snippet_adapts_to_the_users_activation():
    sigmoid_user = binary_counts_profile(5, 5, activation="sigmoid")
    code = CATALOG["cross_entropy"].snippet("pytorch", {}, sigmoid_user)
    assert "ends in sigmoid: remove it" in code
    auto_user = binary_counts_profile(5, 5)
    assert "Your network ends" not in CATALOG["cross_entropy"].snippet("pytorch", {}, auto_user)
    counts = make_profile("count", np.array([0.0, 1.0, 3.0]), activation="linear")
    keras_code = CATALOG["poisson"].snippet("keras", CATALOG["poisson"].derive(counts), counts)
    assert 'activation="exponential"' in keras_code and "add activation" in keras_code
    assert "Your network ends" not in CATALOG["poisson"].snippet("pytorch", CATALOG["poisson"].derive(counts), counts)


def test_snippet_survives_hostile_class_labels():
    labels = np.array([0, 1, 2, 2])
    profile = Profile(task="multiclass", task_reason="", facts=neutral_facts(n_classes=3.0),
                      classes=("a\nimport os", "b'\"", "#c"), class_counts=(1, 1, 2), y=labels)
    for loss_id in ("weighted_cross_entropy", "focal"):
        loss = CATALOG[loss_id]
        for framework in FRAMEWORKS:
            code = loss.snippet(framework, loss.derive(profile, {}), profile)
            tree = ast.parse(code)
            assert not any(isinstance(node, ast.Import) and node.names[0].name == "os"
                           for node in ast.walk(tree))


def test_activation_pairing_and_target_ranges():
    ce = CATALOG["cross_entropy"]
    assert ce.accepts_activation("binary", "sigmoid") and not ce.accepts_activation("multiclass", "sigmoid")
    assert ce.accepts_activation("multiclass", "softmax") and not ce.accepts_activation("multilabel", "softmax")
    assert not ce.accepts_activation("binary", "relu") and ce.accepts_activation("binary", "auto")
    assert CATALOG["poisson"].accepts_activation("count", "exp")
    assert not CATALOG["hinge"].accepts_activation("binary", "softmax")
    assert [str(CATALOG[name].target_interval) for name in ("mse", "poisson", "gamma", "msle")] == [
        "any real y", "0 <= y", "0 < y", "-1 < y"]
    assert not CATALOG["mse"].accepts_activation("ordinal", "sigmoid")  # the ranks run past 1
    assert CATALOG["mse"].accepts_activation("regression", "sigmoid")
    assert CATALOG["tweedie"].to_dict()["target_range"] == "0 <= y"
    assert CATALOG["cross_entropy"].to_dict()["links"] == ["logit", "softmax"]


# ----- links and binding ------------------------------------------------------------------------------------
@pytest.mark.parametrize("link", [IDENTITY, LOG, LOG1P, LOGIT, SOFTMAX, ORDINAL, MARGIN_SIGMOID, MARGIN_SOFTMAX],
                         ids=lambda link: link.name)
def test_link_inverse_and_its_derivative(link):
    raw = np.random.default_rng(12).normal(0.0, 1.5, (20, 3))
    round_trip = link.link(link.inverse(raw)) - raw
    if link in (SOFTMAX, MARGIN_SOFTMAX):  # softmax logits are known up to a constant per row
        round_trip -= round_trip.mean(axis=1, keepdims=True)
    np.testing.assert_allclose(round_trip, 0.0, atol=1e-9)
    step = 1e-6
    for column in range(raw.shape[1]):
        shift = np.zeros_like(raw)
        shift[:, column] = step
        numeric = (link.inverse(raw + shift) - link.inverse(raw - shift))[:, column] / (2 * step)
        np.testing.assert_allclose(link.derivative(raw)[:, column], numeric, rtol=1e-5, atol=1e-9)


def test_bind_fills_defaults_and_the_task_picks_the_link():
    huber = CATALOG["huber"].bind({"delta_source": "x", "unused": None}, "regression")
    assert huber.params == {"delta": 1.0, "delta_source": "x"} and huber.task == "regression"
    assert huber.id == "huber" and huber.standardize_target
    assert CATALOG["cross_entropy"].bind({}, "multiclass").link is SOFTMAX
    assert CATALOG["cross_entropy"].bind({}, "proportion").link is LOGIT
    assert CATALOG["hinge"].bind({}, "binary").link.name == "margin"
    with pytest.raises(OptionError, match="task for loss coral"):
        CATALOG["coral"].bind({}, "binary")


@pytest.mark.parametrize("loss_id,task", ALL_PAIRS)
def test_a_bound_loss_pickles(loss_id, task):
    """The validator may send the catalog's entries and their math to worker processes."""
    import pickle

    math_ = CATALOG[loss_id].bind({}, task)
    restored = pickle.loads(pickle.dumps(math_))
    assert restored.link.name == math_.link.name and restored.params == math_.params
    assert pickle.loads(pickle.dumps(CATALOG[loss_id])).id == loss_id


def test_quantile_predictions_are_rearranged_per_target_and_follow_the_levels_order():
    """Target-major blocks are sorted separately, and levels given out of order get the
    values of their rank (the 0.9 level the largest)."""
    math = CATALOG["quantile"].bind({"quantiles": [0.1, 0.5, 0.9]}, "regression")
    raw = np.array([[3.0, 1.0, 2.0, 10.0, 30.0, 20.0]])  # two targets, three levels each
    np.testing.assert_array_equal(math.predict(raw), [[1.0, 2.0, 3.0, 10.0, 20.0, 30.0]])
    unordered = CATALOG["quantile"].bind({"quantiles": [0.9, 0.1, 0.5]}, "regression")
    np.testing.assert_array_equal(unordered.predict(np.array([[1.0, 5.0, 3.0]])), [[5.0, 1.0, 3.0]])
    single = CATALOG["quantile"].bind({"quantiles": [0.5]}, "regression")
    np.testing.assert_array_equal(single.predict(np.array([[2.0], [-1.0]])), [2.0, -1.0])
