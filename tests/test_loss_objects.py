"""The loss objects (``Candidate.to_torch`` / ``to_keras``) against the catalog's math.

For every entry of :data:`advisor.losses.CATALOG` on every task it applies to (a new loss is
covered, and fails here until it has its loss object), in both frameworks: the object's per-row
values on random raw outputs and random targets in the loss's valid range are the catalog's
per-row loss (``LossSpec.bind(params, task).loss_gradient``), and the gradient of its mean with
respect to the raw outputs is the catalog's gradient over the batch size, to 1e-6 in float64.
The parameters are the ones derived from a small synthetic dataset of the task, profiled by
the real profiler; the object gets the target as a user has it (class indices, 0/1 labels,
values: y, not log1p(y), for msle; the (duration, event) pair for survival), the math its
encoded target.

Then, with real training: for every task, ``advisor.suggest(df, validate=False).best`` as a
PyTorch module and as a Keras 3 loss trains a small network, and the loss goes down (survival:
every candidate, the three survival losses). A saved survival result loads back in both.

Keras 3 runs on the PyTorch backend (``KERAS_BACKEND=torch`` before Keras is imported); without
torch or keras the tests skip, saying which is missing (``pip install '.[frameworks]'``).
"""

from __future__ import annotations

import functools
import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import real_frameworks
from conftest import task_frame as shared_task_frame

import advisor
from advisor.cli import main
from advisor.examples import example_path
from advisor.frameworks import FORMULAS
from advisor.load import load_data
from advisor.losses import CATALOG, LossSpec
from advisor.options import TASKS
from advisor.profile import Profile, profile_data

torch, keras = real_frameworks()

import advisor.keras as advisor_keras  # noqa: E402  (after the backend is chosen)
import advisor.torch as advisor_torch  # noqa: E402

FRAMEWORKS = ("torch", "keras")
CASES = [(loss_id, task, framework) for loss_id, loss in CATALOG.items() for task in TASKS
         if loss.supports(task) for framework in FRAMEWORKS]
N_ROWS, N_FEATURES = 64, 3
QUANTILES = (0.1, 0.5, 0.9)
TOLERANCE = 1e-6
SURVIVAL_LOSSES = ("cox", "logistic_hazard", "deephit")


# ----- data: one small synthetic dataset per task -------------------------------------------------
def task_frame(task: str, n_rows: int = N_ROWS) -> tuple[pd.DataFrame, Any]:
    """Three features and a target of ``task`` that depends on them (cox's durations shrink
    fast with the signal, so cox is the recommended survival loss)."""
    return shared_task_frame(task, n_rows, seed=3, durations=(8.0, 1.0))


def load_task(frame: pd.DataFrame, target: Any, task: str, sensitive: str | None = None) -> Any:
    """The loaded dataset: a survival target is the duration with its event indicator (its
    profile needs the survival extra; without it the survival cases skip, saying so)."""
    if task == "survival":
        for package in ("lifelines", "sksurv"):
            pytest.importorskip(package, reason="the survival extra (pip install '.[survival]') "
                                                f"is not installed: no {package}")
        return load_data(frame, "time", event="event", sensitive=sensitive)
    return load_data(frame, target, sensitive=sensitive)


@functools.cache
def task_profile(task: str, grouped: bool = False) -> Profile:
    """The task's profile; ``grouped``: with a sensitive column of three groups (for the
    group-aware losses, whose target is [label, group index])."""
    frame, target = task_frame(task)
    if grouped:
        frame = frame.assign(g=np.array(["p", "q", "r"])[np.arange(len(frame)) % 3])
    profile = profile_data(load_task(frame, target, task, sensitive="g" if grouped else None),
                           task=task, quantiles=QUANTILES)
    assert profile.task == task
    return profile


def loss_profile(loss: LossSpec, task: str) -> Profile:
    return task_profile(task, grouped=loss.math.needs_groups)


def draw_target(loss: LossSpec, task: str, profile: Profile, rng: np.random.Generator) -> np.ndarray:
    """A random target as a user has it, in the loss's valid range; [label, group index]
    for a group-aware loss."""
    n_classes = len(profile.classes)
    if loss.math.needs_groups:
        labels = rng.integers(0, n_classes, N_ROWS)
        return np.column_stack([labels, rng.integers(0, len(profile.groups.names), N_ROWS)])
    if task == "binary":
        return rng.integers(0, 2, N_ROWS)
    if task in ("multiclass", "ordinal"):
        return rng.integers(0, n_classes, N_ROWS)
    if task == "multilabel":
        return rng.integers(0, 2, (N_ROWS, n_classes))
    if task == "proportion":
        return rng.uniform(0.02, 0.98, N_ROWS)
    if task == "count":
        return rng.poisson(2.5, N_ROWS).astype(np.float64)
    if task == "survival":
        return draw_survival(profile, rng)
    values = np.exp(rng.normal(0.0, 0.6, N_ROWS))  # > 0: every regression loss's range
    interval = loss.target_interval
    if interval.low == 0.0 and interval.low_inclusive:
        values[rng.random(N_ROWS) < 0.25] = 0.0  # zeros where the loss allows them
    return values


def draw_survival(profile: Profile, rng: np.random.Generator) -> np.ndarray:
    """(duration, event) pairs ``(N_ROWS, 2)`` as a user has them: durations drawn from the
    profile's own (whole numbers: tied event times, some on the grid's cut points) and a tenth
    past the largest (beyond the grid's last cut), about a third censored."""
    observed = np.asarray(profile.y, dtype=np.float64)[:, 0]
    time = rng.choice(observed, N_ROWS)
    time[rng.random(N_ROWS) < 0.1] = observed.max() + 1.0
    event = (rng.random(N_ROWS) < 0.65).astype(np.float64)
    event[0] = 1.0  # at least one event
    return np.column_stack([time, event])


def catalog_math(loss: LossSpec, task: str) -> Any:
    """The catalog's math of ``loss`` on ``task`` with the parameters derived from its data."""
    return loss.bind(loss.derive(loss_profile(loss, task), {"quantiles": QUANTILES}), task)


def catalog_values(loss: LossSpec, task: str, raw: np.ndarray, y: np.ndarray,
                   math: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """The catalog's per-row loss and the gradient of its batch mean w.r.t. the raw outputs.

    A loss with online state (group DRO's weights: ``advance``) takes its step on the batch
    first, as the proxy does before each gradient and the object does at each training-mode
    call; ``math`` carries that state from one batch to the next."""
    profile = loss_profile(loss, task)
    math = catalog_math(loss, task) if math is None else math
    if math.needs_groups:
        target = math.encode_target(y[:, 0], profile, groups=y[:, 1])
    else:
        target = math.encode_target(y, profile)
    advance = getattr(math, "advance", None)
    if advance is not None:
        advance(raw, target)
    per_row, gradient = math.loss_gradient(raw, target)
    return per_row, gradient / len(raw)


def width_of(loss: LossSpec, task: str) -> int:
    profile = loss_profile(loss, task)
    return loss.bind(loss.derive(profile, {"quantiles": QUANTILES}), task).n_outputs(profile)


def loss_object(loss_id: str, task: str, framework: str) -> Any:
    """The candidate's object, built as ``Candidate.to_torch`` / ``to_keras`` build it."""
    if loss_id not in FORMULAS:
        pytest.fail(f"catalog loss {loss_id!r} has no loss object: register its formula with "
                    f"@formula({loss_id!r}) in advisor/frameworks (the add-a-loss recipe, step "
                    "'the loss objects')")
    params = CATALOG[loss_id].derive(loss_profile(CATALOG[loss_id], task), {"quantiles": QUANTILES})
    if framework == "torch":
        return advisor_torch.make_loss(loss_id, params, task, reduction="none")
    return advisor_keras.make_loss(loss_id, params, task, reduction=None, dtype="float64")


def object_values(loss_object: Any, raw: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The object's per-row values and the gradient of their mean w.r.t. the raw outputs."""
    leaf = torch.tensor(raw, dtype=torch.float64, requires_grad=True)
    target = torch.from_numpy(np.asarray(y))
    per_row = loss_object(leaf, target) if isinstance(loss_object, torch.nn.Module) \
        else loss_object(target, leaf)
    assert tuple(per_row.shape) == (len(raw),), f"one value per row, got {tuple(per_row.shape)}"
    (gradient,) = torch.autograd.grad(per_row.mean(), leaf)
    return per_row.detach().numpy(), gradient.numpy()


# ----- the tests -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("loss_id", "task", "framework"), CASES)
def test_loss_object_agrees_with_the_catalog_math(loss_id, task, framework):
    """Per-row values and the gradient of the mean are the catalog's, to 1e-6 in float64, over
    three batches (a stateful object and its math both step their state at each one)."""
    loss = CATALOG[loss_id]
    rng = np.random.default_rng(17)
    obj = loss_object(loss_id, task, framework)
    math = catalog_math(loss, task)
    for _ in range(3):
        raw = rng.normal(0.3, 1.0, (N_ROWS, width_of(loss, task)))
        y = draw_target(loss, task, loss_profile(loss, task), rng)
        expected, expected_gradient = catalog_values(loss, task, raw, y, math)
        values, gradient = object_values(obj, raw, y)
        np.testing.assert_allclose(values, expected, rtol=TOLERANCE, atol=TOLERANCE,
                                   err_msg=f"{loss_id} on {task} ({framework}): per-row values")
        np.testing.assert_allclose(gradient, expected_gradient, rtol=TOLERANCE,
                                   atol=TOLERANCE * np.abs(expected_gradient).max(),
                                   err_msg=f"{loss_id} on {task} ({framework}): gradient")
        if task in ("multiclass", "ordinal") and loss_id not in ("coral", "mse", "mae") \
                and not loss.math.needs_groups:
            one_hot = np.eye(len(task_profile(task).classes))[y]
            np.testing.assert_allclose(object_values(obj, raw, one_hot)[0], expected,
                                       rtol=TOLERANCE, atol=TOLERANCE,
                                       err_msg="one-hot rows give the values of class indices")


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("ties", ["breslow", "efron"])
def test_the_cox_object_follows_both_ties_and_a_batch_without_events(framework, ties):
    """Either tie rule (the agreement test above runs the derived one) is the catalog's, on
    times drawn from a few values (many ties, censored rows tied with events); a batch without
    events is 0 with a zero gradient, as the catalog's."""
    profile = task_profile("survival")
    params = {**CATALOG["cox"].derive(profile, {}), "ties": ties}
    math = CATALOG["cox"].bind(params, "survival")
    obj = (advisor_torch.make_loss("cox", params, "survival", reduction="none") if framework == "torch"
           else advisor_keras.make_loss("cox", params, "survival", reduction=None, dtype="float64"))
    rng = np.random.default_rng(11)
    raw = rng.normal(0.0, 1.5, (N_ROWS, 1))
    y = np.column_stack([rng.integers(1, 6, N_ROWS), rng.random(N_ROWS) < 0.6]).astype(np.float64)
    for target in (y, np.column_stack([y[:, 0], np.zeros(N_ROWS)])):
        per_row, gradient = math.loss_gradient(raw, math.encode_target(target, profile))
        values, object_gradient = object_values(obj, raw, target)
        np.testing.assert_allclose(values, per_row, rtol=TOLERANCE, atol=TOLERANCE)
        np.testing.assert_allclose(object_gradient, gradient / N_ROWS, rtol=TOLERANCE, atol=1e-9)
    assert np.all(values == 0.0) and np.all(object_gradient == 0.0)


@pytest.mark.parametrize("loss_id", SURVIVAL_LOSSES)
def test_a_survival_object_names_the_target_it_takes(loss_id):
    """Not the (duration, event) pair (e.g. the durations alone): one TargetError line."""
    params = CATALOG[loss_id].derive(task_profile("survival"), {})
    obj = advisor_torch.make_loss(loss_id, params, "survival")
    with pytest.raises(advisor.TargetError, match=r"takes the survival target as \(batch, 2\)"):
        obj(torch.zeros(N_ROWS, 1), torch.ones(N_ROWS))


# ----- training with the recommendation's own object ----------------------------------------------
TRAIN_ROWS, HIDDEN, STEPS, LEARNING_RATE = 160, 16, 30, 0.03


@functools.cache
def recommended(task: str) -> tuple[Any, np.ndarray, np.ndarray, int]:
    """The rules-only recommendation for ``task``'s data, its features, the target as a user
    has it (class indices in the order of ``rec.profile.classes``; survival: the (duration,
    event) pair as two columns) and the output width."""
    frame, target = task_frame(task, TRAIN_ROWS)
    profile = profile_data(load_task(frame, target, task), task=task)
    if task == "survival":
        rec = advisor.suggest(frame, target="time", event="event", validate=False)
    else:
        rec = advisor.suggest(frame, target=target, task=task, validate=False)
    assert rec.task == task
    x = frame[["x1", "x2", "x3"]].to_numpy(np.float32, copy=True)
    y = frame[target].to_numpy(copy=True)
    if task in ("multiclass", "ordinal"):
        y = np.array([rec.profile.classes.index(str(value)) for value in y])
    width = CATALOG[rec.best.loss].bind(rec.best.params, task).n_outputs(profile)
    return rec, x, y, width


def torch_history(loss_fn: Any, x: np.ndarray, y: np.ndarray, width: int) -> list[float]:
    """The loss of a small network over ``STEPS`` full-batch Adam steps with ``loss_fn``."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(N_FEATURES, HIDDEN), torch.nn.Tanh(),
                                torch.nn.Linear(HIDDEN, width))
    inputs, target = torch.from_numpy(x), torch.from_numpy(y)
    optimiser = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    history = []
    for _ in range(STEPS):
        optimiser.zero_grad()
        loss = loss_fn(model(inputs), target)
        loss.backward()
        optimiser.step()
        history.append(float(loss.detach()))
    return history


def keras_history(loss: Any, x: np.ndarray, y: np.ndarray, width: int) -> list[float]:
    """The loss of a small Keras model compiled with ``loss`` over ``STEPS`` full-batch epochs."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((N_FEATURES,)), keras.layers.Dense(HIDDEN, activation="tanh"),
                              keras.layers.Dense(width)])
    model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE), loss=loss)
    history = model.fit(x, y.astype(np.float32), batch_size=len(x), epochs=STEPS, verbose=0)
    return list(history.history["loss"])


def assert_it_trained(history: list[float], what: str) -> None:
    assert all(np.isfinite(history)), history
    assert history[-1] < 0.9 * history[0], f"{what}: {history[0]} -> {history[-1]}"


@pytest.mark.parametrize("task", TASKS)
def test_the_recommended_torch_module_trains(task):
    """``rec.best.to_torch()`` trains a small network: a few Adam steps lower the loss."""
    rec, x, y, width = recommended(task)
    loss_fn = rec.best.to_torch()
    assert isinstance(loss_fn, torch.nn.Module) and loss_fn.loss_id == rec.best.loss
    assert_it_trained(torch_history(loss_fn, x, y, width), f"{rec.best.loss} on {task}")


@pytest.mark.parametrize("task", TASKS)
def test_the_recommended_keras_loss_trains(task):
    """``rec.best.to_keras()`` compiles into a Keras 3 model, and fitting lowers the loss."""
    rec, x, y, width = recommended(task)
    loss = rec.best.to_keras()
    assert isinstance(loss, keras.losses.Loss) and loss.loss_id == rec.best.loss
    assert_it_trained(keras_history(loss, x, y, width), f"{rec.best.loss} on {task}")


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_every_survival_candidate_trains_on_the_duration_event_pair(framework):
    """The three survival losses (one is the best, the others follow it) each train a small
    network from the (duration, event) columns as they are, in both frameworks."""
    rec, x, y, _ = recommended("survival")
    assert y.shape == (len(x), 2)
    frame, target = task_frame("survival", TRAIN_ROWS)
    profile = profile_data(load_task(frame, target, "survival"), task="survival")
    survival_losses = [c for c in rec.candidates if c.loss in SURVIVAL_LOSSES]
    assert sorted(c.loss for c in survival_losses) == sorted(SURVIVAL_LOSSES)
    for candidate in survival_losses:
        width = CATALOG[candidate.loss].bind(candidate.params, "survival").n_outputs(profile)
        history = (torch_history(candidate.to_torch(), x, y, width) if framework == "torch"
                   else keras_history(candidate.to_keras(), x, y, width))
        assert_it_trained(history, f"{candidate.loss} ({framework})")


# ----- saved results --------------------------------------------------------------------------------
def test_load_loss_rebuilds_the_saved_candidates(tmp_path):
    """A saved JSON result gives back the best candidate's object (the same values as the
    recommendation's own), or another candidate's by loss id, in both frameworks."""
    rec, x, y, width = recommended("binary")
    path = tmp_path / "rec.json"
    path.write_text(rec.to_json(), encoding="utf-8")
    rng = np.random.default_rng(5)
    outputs = torch.from_numpy(rng.normal(size=(len(y), width)))
    target = torch.from_numpy(y)
    loaded = advisor_torch.load_loss(path)
    assert loaded.loss_id == rec.best.loss and loaded.params == rec.best.to_torch().params
    assert float(loaded(outputs, target)) == float(rec.best.to_torch()(outputs, target))
    other = rec.candidates[1]
    by_id = advisor_torch.load_loss(str(path), loss=other.loss)
    assert by_id.loss_id == other.loss
    assert float(by_id(outputs, target)) == float(other.to_torch()(outputs, target))
    keras_loss = advisor_keras.load_loss(path, loss=other.loss)
    assert keras_loss.loss_id == other.loss
    np.testing.assert_allclose(float(keras_loss(target, outputs.float())),
                               float(other.to_torch()(outputs.float(), target)), rtol=1e-6)
    with pytest.raises(advisor.OptionError, match="loss must be one of"):
        advisor_torch.load_loss(path, loss="no_such_loss")


def test_load_loss_rebuilds_a_saved_survival_result(tmp_path):
    """``advisor suggest example:rossi --no-validate --format json`` saved, then every
    candidate loaded back in both frameworks: on rossi's (week, arrest) columns as they are,
    its values and gradient are the catalog's math with the saved parameters."""
    task_profile("survival")  # skips without the survival extra
    result = CliRunner().invoke(main, ["suggest", "example:rossi", "--no-validate", "--format",
                                       "json", "--quiet"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    path = tmp_path / "rossi.json"
    path.write_text(result.stdout, encoding="utf-8")
    payload = json.loads(result.stdout)
    assert payload["task"] == "survival" and payload["target"]["columns"] == ["week", "arrest"]
    frame = pd.read_csv(example_path("rossi"))
    profile = profile_data(load_data(frame, "week", event="arrest"), task="survival")
    y = frame[["week", "arrest"]].to_numpy(np.float64)
    rng = np.random.default_rng(8)
    assert advisor_torch.load_loss(path).loss_id == payload["candidates"][0]["loss"]
    for candidate in payload["candidates"]:
        math = CATALOG[candidate["loss"]].bind(candidate["params"], "survival")
        raw = rng.normal(0.0, 1.0, (len(y), math.n_outputs(profile)))
        per_row, gradient = math.loss_gradient(raw, math.encode_target(y, profile))
        for loaded in (advisor_torch.load_loss(path, loss=candidate["loss"], reduction="none"),
                       advisor_keras.load_loss(path, loss=candidate["loss"], reduction=None,
                                               dtype="float64")):
            assert loaded.loss_id == candidate["loss"] and loaded.task == "survival"
            values, object_gradient = object_values(loaded, raw, y)
            np.testing.assert_allclose(values, per_row, rtol=TOLERANCE, atol=TOLERANCE)
            np.testing.assert_allclose(object_gradient, gradient / len(y), rtol=TOLERANCE,
                                       atol=TOLERANCE * np.abs(gradient / len(y)).max())


def test_a_keras_model_with_the_loss_saves_and_loads(tmp_path):
    """The Keras loss serialises with the model: loading it back rebuilds the same loss."""
    rec, x, y, width = recommended("multiclass")
    model = keras.Sequential([keras.Input((N_FEATURES,)), keras.layers.Dense(width)])
    model.compile(optimizer="adam", loss=rec.best.to_keras())
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.loss.loss_id == rec.best.loss and loaded.loss.params == rec.best.to_keras().params
    outputs = np.random.default_rng(2).normal(size=(len(y), width)).astype(np.float32)
    np.testing.assert_allclose(float(loaded.loss(y, outputs)), float(model.loss(y, outputs)))
