"""Survival targets: detection of the (duration, event) pair and its refusals, the Cox loss
against statsmodels and lifelines, the survival metrics against scikit-survival and
lifelines, and the bundled example end to end on the command line."""

from __future__ import annotations

import functools
import json
import warnings

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

pytest.importorskip("lifelines", reason="the survival extra (pip install '.[survival]') is not installed")
pytest.importorskip("sksurv", reason="the survival extra (pip install '.[survival]') is not installed")

import advisor  # noqa: E402
from advisor.cli import main  # noqa: E402
from advisor.errors import MissingDependencyError, TargetError  # noqa: E402
from advisor.experiment.scoring import ScoringContext, score_predictions  # noqa: E402
from advisor.losses import CATALOG  # noqa: E402
from advisor.losses._cox import partial_likelihood  # noqa: E402


def _tied_data(rows: int = 80, seed: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two covariates, whole-number times (many ties), about 30 % censored."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 2))
    time = np.ceil(rng.exponential(6.0 * np.exp(-0.7 * x[:, 0] + 0.3 * x[:, 1])))
    event = (rng.random(rows) < 0.7).astype(float)
    event[0] = 1.0
    return x, time, event


# ----- the Cox loss against references -----------------------------------------------------------
@pytest.mark.parametrize("ties", ["breslow", "efron"])
def test_cox_loss_and_gradient_match_statsmodels_phreg(ties):
    """statsmodels' PHReg log-likelihood and score at fixed coefficients, on tied times: the
    loss is -loglike / events, its gradient chained through eta = X b is -score / events."""
    from statsmodels.duration.hazard_regression import PHReg

    x, time, event = _tied_data()
    assert len(np.unique(time[event > 0])) < event.sum()  # tied event times
    beta = np.array([0.4, -0.25])
    model = PHReg(time, x, status=event, ties=ties)
    value, gradient = partial_likelihood(x @ beta, time, event, np.ones(len(time)), ties == "efron")
    events = event.sum()
    assert value == pytest.approx(-model.loglike(beta) / events, rel=1e-10)
    np.testing.assert_allclose(x.T @ gradient, -model.score(beta) / events, rtol=1e-8)


def test_cox_efron_matches_lifelines_coxph_log_likelihood():
    """lifelines' CoxPHFitter (Efron's ties) at its fitted coefficients: the same partial
    log-likelihood, and a zero gradient there (the fit's optimum)."""
    from lifelines import CoxPHFitter

    x, time, event = _tied_data(rows=120, seed=5)
    frame = pd.DataFrame(x, columns=["a", "b"]).assign(time=time, event=event)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitter = CoxPHFitter().fit(frame, "time", "event")
    beta = fitter.params_[["a", "b"]].to_numpy()
    value, gradient = partial_likelihood(x @ beta, time, event, np.ones(len(time)), efron=True)
    assert value == pytest.approx(-fitter.log_likelihood_ / event.sum(), rel=1e-8)
    np.testing.assert_allclose(x.T @ gradient, 0.0, atol=1e-4)


def test_cox_untied_times_make_breslow_and_efron_agree_and_match_the_direct_formula():
    rng = np.random.default_rng(0)
    eta, time = rng.normal(size=30), rng.permutation(30).astype(float) + 1.0
    event = (rng.random(30) < 0.6).astype(float)
    direct = -sum(eta[i] - np.log(np.exp(eta[time >= time[i]]).sum())
                  for i in range(30) if event[i]) / event.sum()
    for efron in (False, True):
        value, _ = partial_likelihood(eta, time, event, np.ones(30), efron)
        assert value == pytest.approx(direct, rel=1e-12)


def test_cox_ties_are_derived_from_the_share_of_tied_event_times():
    frame = _frame()
    tied = advisor.suggest(frame, "time", event="status", validate=False)
    params = next(c.params for c in tied.candidates if c.loss == "cox")
    assert tied.profile.facts["tied_event_share"] >= 0.05 and params["ties"] == "efron"
    frame["time"] = np.arange(len(frame)) + 0.5  # every time distinct
    untied = advisor.suggest(frame, "time", event="status", validate=False)
    assert next(c.params for c in untied.candidates if c.loss == "cox")["ties"] == "breslow"


# ----- metrics -------------------------------------------------------------------------------------
def test_survival_metrics_are_scikit_survivals_and_harrell_agrees_with_lifelines():
    from lifelines.utils import concordance_index
    from sksurv.metrics import concordance_index_ipcw, integrated_brier_score
    from sksurv.util import Surv

    x, time, event = _tied_data(rows=200)
    risk = 0.7 * x[:, 0] - 0.3 * x[:, 1]
    grid = np.quantile(time[event > 0], [0.2, 0.4, 0.6, 0.8])
    survival = np.exp(-np.outer(np.exp(risk), grid) / 6.0)
    prediction = np.column_stack([risk, survival])
    truth = np.column_stack([time, event])
    context = ScoringContext("survival", prediction_times=tuple(grid),
                             survival_reference=(tuple(time), tuple(event)),
                             survival_horizon=float(np.quantile(time, 0.9)))
    scores, problems = score_predictions(truth, prediction, ("c_index", "uno_c", "integrated_brier"),
                                         context)
    assert not problems
    assert scores["c_index"] == pytest.approx(concordance_index(time, -risk, event), rel=1e-9)
    structured = Surv.from_arrays(event=event > 0, time=time)
    assert scores["uno_c"] == pytest.approx(
        concordance_index_ipcw(structured, structured, risk, tau=context.survival_horizon)[0])
    assert scores["integrated_brier"] == pytest.approx(
        integrated_brier_score(structured, structured, survival, grid))


# ----- detection and refusals ----------------------------------------------------------------------
def _frame(rows: int = 60) -> pd.DataFrame:
    x, time, event = _tied_data(rows)
    return pd.DataFrame({"age": x[:, 0], "dose": x[:, 1], "time": time, "status": event.astype(int)})


def test_the_pair_is_detected_from_names_and_values():
    recommendation = advisor.suggest(_frame(), validate=False)
    assert recommendation.task == "survival"
    assert "'status' is a 0/1 indicator named like an event indicator" in recommendation.task_reason
    assert recommendation.to_dict()["target"]["columns"] == ["time", "status"]
    assert {c.loss for c in recommendation.candidates} == {"cox", "logistic_hazard", "deephit"}


def test_a_censoring_indicator_is_flipped_by_name_or_declaration():
    frame = _frame()
    events = int(frame["status"].sum())
    named = frame.rename(columns={"status": "censored"}).assign(censored=1 - frame["status"])
    by_name = advisor.suggest(named, validate=False)
    assert by_name.task == "survival" and "1 = censored" in by_name.task_reason
    assert by_name.profile.facts["n_events"] == events
    declared = frame.assign(status=1 - frame["status"])
    by_option = advisor.suggest(declared, "time", censored="status", validate=False)
    assert by_option.profile.facts["n_events"] == events
    assert "given with --censored" in by_option.task_reason


def test_a_zero_one_column_of_another_name_is_never_taken_for_an_event():
    frame = _frame().rename(columns={"status": "flag"})
    recommendation = advisor.suggest(frame, "time", validate=False)
    assert recommendation.task != "survival"


@pytest.mark.parametrize(("change", "options", "message"), [
    (lambda f: f.assign(time=f["time"] - 10), {"event": "status"}, "cannot be negative"),
    (lambda f: f.assign(status=f["status"] * 2), {"event": "status"}, "an event indicator is 0/1"),
    (lambda f: f.assign(status=0), {"event": "status"}, "records no event"),
    (lambda f: f, {"event": "status", "censored": "status"}, "given twice"),
    (lambda f: f.drop(columns="status"), {"task": "survival"}, "needs an event indicator"),
    (lambda f: f, {"event": "nope"}, "unknown event column 'nope'"),
])
def test_bad_survival_input_is_one_clear_error(change, options, message):
    with pytest.raises(TargetError, match=message) as caught:
        advisor.suggest(change(_frame()), "time", validate=False, **options)
    assert "\n" not in str(caught.value)


def test_without_the_extra_a_survival_target_names_the_pip_command(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "lifelines" else real(name, *a))
    with pytest.raises(MissingDependencyError, match=r"pip install 'loss-advisor\[survival\]'"):
        advisor.suggest(_frame(), validate=False)
    result = CliRunner().invoke(main, ["suggest", "example:rossi", "--no-validate"])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "error: a survival target needs lifelines, which is not installed; install the survival "
        "extra: pip install 'loss-advisor[survival]'"]


# ----- the bundled example on the command line ---------------------------------------------------
def test_the_bundled_survival_example_end_to_end(monkeypatch):
    """example:rossi: task survival with its reason, the censoring facts, the three losses
    validated on the C-index (a small pinned protocol), snippets for both frameworks."""
    import advisor.validate

    monkeypatch.setattr(advisor.validate, "validate", functools.partial(
        advisor.validate.validate, sample_rows=432, folds=3, repeats=1, epochs=40))
    result = CliRunner().invoke(main, ["suggest", "example:rossi", "--format", "json", "--quiet",
                                       "--jobs", "1"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["task"] == "survival"
    assert "'arrest' is a 0/1 indicator named like an event indicator" in payload["task_reason"]
    facts = payload["profile"]["facts"]
    assert facts["n_events"] == 114 and facts["censored_fraction"] == pytest.approx(318 / 432, rel=1e-5)
    assert facts["ph_violated"] and facts["tied_event_share"] > 0.5
    assert payload["metric"] == "c_index"
    protocol = payload["validation"]["protocol"]
    assert protocol["stratified_on"] == "event" and protocol["splits_used"] == 3
    assert set(protocol["candidates"]) == {"cox", "logistic_hazard", "deephit"}
    for candidate in payload["candidates"]:
        evidence = candidate["evidence"]
        assert 0.5 < evidence["mean"] < 0.8, (candidate["loss"], evidence["mean"])
        assert set(candidate["snippets"]) == {"pytorch", "keras"}
    assert payload["decision"]["metric"] == "c_index"
    assert "--target week --event arrest" in payload["reproducibility"]["command"]


def test_every_survival_loss_trains_through_the_proxy_and_predicts_curves():
    from advisor.load import load_data
    from advisor.profile import profile_data
    from advisor.proxy import make_proxy

    frame = _frame(120)
    profile = profile_data(load_data(frame, "time", event="status"))
    features = frame[["age", "dose"]].to_numpy()
    for loss_id in ("cox", "logistic_hazard", "deephit"):
        loss = CATALOG[loss_id]
        params = loss.derive(profile, {})
        proxy = make_proxy(loss, params, profile, seed=0, max_iter=30).fit(features, profile.y)
        predicted = proxy.predict(features)
        assert predicted.shape == (120, 1 + len(params["times"]))
        assert np.all(np.diff(predicted[:, 1:], axis=1) <= 1e-12)
