"""Helpers shared by the tests: for the validate and decide stages a rule outcome, data, and
fake proxies whose quality is set per loss; for the framework tests, real torch and Keras."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pytest

from advisor.load import load_data
from advisor.losses import CATALOG, losses_for_task
from advisor.profile import profile_data

#: A small fixed protocol for the runs with a sensitive column: fast and not budget-dependent.
GROUP_PROTOCOL = {"sample_rows": 600, "folds": 3, "repeats": 1, "epochs": 40}


def pin_protocol(monkeypatch: pytest.MonkeyPatch, **pins: int) -> None:
    """Make the library's experiment (``advisor.validate.validate``, which ``suggest`` and the
    CLI call) run the protocol ``pins`` fix, whatever the budget."""
    import advisor.validate

    monkeypatch.setattr(advisor.validate, "validate",
                        functools.partial(advisor.validate.validate, **pins))


@pytest.fixture
def machine_at_model_speed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Plan and extend the experiment as on a machine as fast as the cost model: the pilot's
    slowdown never scales the plan and the clock never cuts an extension. For the tests of
    what the planner decides; what a slow or loaded machine changes has tests of its own."""
    import math

    import advisor.experiment.plan as plan_module
    from advisor.experiment.run import Runner

    measured_ratio = plan_module.slowdown_factor
    monkeypatch.setattr(plan_module, "slowdown_factor",
                        lambda *args: (measured_ratio(*args)[0], 1.0))
    run = Runner.run

    def without_deadline(self, *args, **kwargs):
        self.deadline = math.inf
        return run(self, *args, **kwargs)

    monkeypatch.setattr(Runner, "run", without_deadline)


@pytest.fixture
def pinned_group_protocol(monkeypatch: pytest.MonkeyPatch) -> None:
    pin_protocol(monkeypatch, **GROUP_PROTOCOL)


def run_cli(*args: str, input: str | bytes | None = None):
    """The ``advisor`` command in-process, its exceptions not caught (a traceback fails)."""
    from click.testing import CliRunner

    from advisor.cli import main

    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


@dataclass(frozen=True)
class Outcome:
    """The three fields of a rule outcome the validator and the decision read."""

    ranking: tuple[str, ...]
    scores: dict[str, float] = field(default_factory=dict)
    vetoes: dict[str, tuple] = field(default_factory=dict)


def binary_data(n: int = 400, seed: int = 0, metric: str = "balanced_accuracy"):
    """An imbalanced binary problem with a numeric and a categorical feature."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n),
                          "colour": rng.choice(["red", "green", "blue"], size=n)})
    logit = 2.0 * frame["x1"] - frame["x2"] - 1.5 + (frame["colour"] == "red") * 0.5
    frame["y"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    loaded = load_data(frame, "y")
    return loaded, profile_data(loaded, metric=metric)


def all_params(profile):
    """Every applicable loss's derived parameters."""
    return {loss_id: CATALOG[loss_id].derive(profile, {"quantiles": profile.quantiles})
            for loss_id in losses_for_task(profile.task)}


class FakeProxy:
    """A stand-in proxy whose quality is set per loss: the validator cannot tell it from a
    real one, so its verdicts can be checked against known answers.

    Modes: good (and good_copy): a balanced logistic regression; prior: the class
    frequencies; raise: fails; diverge: diverges; nan: predicts NaN.
    """

    def __init__(self, mode: str, n_classes: int, seed: int) -> None:
        self.mode, self.n_classes, self.seed = mode, n_classes, seed

    def fit(self, X, y, sample_weight=None):
        from sklearn.linear_model import LogisticRegression

        if self.mode == "raise":
            raise RuntimeError("boom")
        if self.mode == "diverge":
            from advisor.proxy import ProxyDivergedError
            raise ProxyDivergedError("fake", 3, "training loss")
        y = np.asarray(y, dtype=int)
        self.prior_ = np.bincount(y, minlength=self.n_classes) / len(y)
        if self.mode in ("good", "good_copy", "nan"):
            self.model_ = LogisticRegression(class_weight="balanced").fit(X, y)
        return self

    def predict(self, X):
        if self.mode == "nan":
            return np.full((X.shape[0], self.n_classes), np.nan)
        if self.mode == "prior":
            return np.tile(self.prior_, (X.shape[0], 1))
        return self.model_.predict_proba(X)


def _fake_factory(loss, params, profile, *, seed, max_iter, hidden, modes):
    return FakeProxy(modes.get(loss.id, "good"), len(profile.classes), seed)


def factory(**modes):
    """A proxy factory of fake proxies: loss id -> mode (default: good)."""
    return functools.partial(_fake_factory, modes=modes)


def deterministic_part(validation) -> dict:
    """A validation's JSON without its timings."""
    payload = validation.to_dict()
    payload.pop("timing")
    return payload


def real_frameworks():
    """(torch, keras) with Keras 3 on its torch backend; skips the calling test module, saying
    which is missing, without the frameworks extra."""
    torch = pytest.importorskip("torch", reason="the frameworks extra (pip install "
                                                "'.[frameworks]') is not installed: no torch")
    os.environ["KERAS_BACKEND"] = "torch"
    keras = pytest.importorskip("keras", reason="the frameworks extra (pip install "
                                                "'.[frameworks]') is not installed: no keras")
    if keras.backend.backend() != "torch":  # pragma: no cover - Keras was imported earlier
        pytest.skip(f"Keras was imported with the {keras.backend.backend()} backend before "
                    "this module could select torch", allow_module_level=True)
    return torch, keras


def task_frame(task: str, n_rows: int, *, seed: int,
               durations: tuple[float, float] = (8.0, 1.0)) -> tuple[pd.DataFrame, Any]:
    """Three features and a target of ``task`` that depends on them (the framework tests'
    data): the target column name, or the list of names for several columns. A survival
    target's whole-number durations (tied event times) are exponential with scale
    ``durations[0] * exp(-durations[1] * signal)``, about a third censored."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_rows, 3))
    signal = x @ np.array([1.0, -0.5, 0.3])
    noise = rng.normal(size=n_rows)
    frame = pd.DataFrame(x, columns=["x1", "x2", "x3"])
    scale, slope = durations
    targets: dict[str, Any] = {
        "binary": {"y": (signal + noise > 0.8).astype(int)},
        "multiclass": {"y": np.array(["a", "b", "c"])[np.digitize(signal, [-0.5, 0.5])]},
        "multilabel": {"l1": (signal > 0).astype(int), "l2": (x[:, 1] > 0.5).astype(int),
                       "l3": (rng.random(n_rows) < 0.3).astype(int)},
        "ordinal": {"y": 1 + np.digitize(signal + 0.5 * noise, [-1.0, 0.0, 1.0])},
        "proportion": {"y": np.round(1.0 / (1.0 + np.exp(-signal - 0.3 * noise)), 4)},
        "regression": {"y": np.round(np.exp(0.5 * signal + 0.3 * noise), 4)},  # > 0: gamma too
        "count": {"y": rng.poisson(np.exp(0.5 * signal + 0.5))},
        "survival": {"time": np.ceil(rng.exponential(scale * np.exp(-slope * signal))),
                     "event": (rng.random(n_rows) < 0.65).astype(int)},
    }[task]
    for name, values in targets.items():
        frame[name] = values
    names = list(targets)
    return frame, names if len(names) > 1 else names[0]
