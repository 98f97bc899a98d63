"""The composite loss objects in both frameworks: Keras 3's layer (``to_keras`` on a multitask
result) against PyTorch's ``CompositeLoss`` and the numpy ``CompositeMath`` the experiment
trains, then real training of a two-head network, saving and loading.

Keras 3 runs on the PyTorch backend (``KERAS_BACKEND=torch`` before Keras is imported, as in
``tests/test_loss_objects.py``); without torch or keras the module skips.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import real_frameworks

import advisor
from advisor.composite.math import CompositeMath
from advisor.errors import OptionError
from advisor.losses import CATALOG

torch, keras = real_frameworks()

import advisor.keras as advisor_keras  # noqa: E402  (after the backend is chosen)
import advisor.torch as advisor_torch  # noqa: E402

TARGETS = ["mdvis", "idp"]


@pytest.fixture(scope="module")
def rec() -> advisor.Recommendation:
    return advisor.suggest("example:doctor_visits", TARGETS, budget=5, seed=0, n_jobs=1)


def candidate(rec: advisor.Recommendation, weighting: str):
    return next(c for c in rec.candidates if c.loss == f"composite_{weighting}")


def batch(seed: int = 0, rows: int = 48) -> tuple[np.ndarray, np.ndarray]:
    """Raw outputs (log-mean, logit) and targets (a count, a 0/1 label), one column each."""
    rng = np.random.default_rng(seed)
    outputs = rng.normal(scale=0.7, size=(rows, 2))
    targets = np.column_stack([rng.poisson(2.0, rows), rng.integers(0, 2, rows)]).astype(float)
    return outputs, targets


def numpy_value(params: dict, outputs: np.ndarray, targets: np.ndarray,
                log_variances: np.ndarray | None) -> float:
    """The experiment's CompositeMath: mean over rows of the weighted per-row sum. The count's
    and the 0/1 label's encoded targets are the columns themselves."""
    maths = [CATALOG[item["loss"]].bind(item["params"], item["task"]) for item in params["targets"]]
    initial = np.array(params["initial_losses"])
    composite = CompositeMath(maths, [1, 1], weights=1 / initial)
    if log_variances is not None:
        composite.log_variances = log_variances
        composite.weights = np.exp(-log_variances)
    values, _ = composite.loss_gradient(outputs, targets)
    return float(np.mean(values))


@pytest.mark.parametrize("weighting", ["fixed", "uncertainty"])
def test_the_keras_composite_is_the_torch_and_the_numpy_composite(rec, weighting) -> None:
    chosen = candidate(rec, weighting)
    layer = chosen.to_keras(dtype="float64")
    module = chosen.to_torch()
    assert isinstance(layer, advisor_keras.CompositeLoss) and layer.n_outputs == 2
    outputs, targets = batch()
    log_variances = None
    if weighting == "uncertainty":  # started at log L_t(0); compare away from the start too
        np.testing.assert_allclose(keras.ops.convert_to_numpy(layer.log_vars),
                                   np.log(chosen.params["initial_losses"]), rtol=1e-12)
        log_variances = np.array([0.3, -0.8])
        layer.log_vars.assign(log_variances)
        with torch.no_grad():
            module.log_vars.copy_(torch.as_tensor(log_variances))
    keras_value = float(keras.ops.convert_to_numpy(layer.composite_value(targets, outputs)))
    with torch.no_grad():
        torch_value = float(module(torch.as_tensor(outputs), torch.as_tensor(targets)))
    expected = numpy_value(chosen.params, outputs, targets, log_variances)
    assert keras_value == pytest.approx(torch_value, rel=1e-6, abs=1e-6)
    assert keras_value == pytest.approx(expected, rel=1e-6, abs=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer.loss_weights()),
                               module.weights().detach().numpy(), rtol=1e-12)


def two_head_model(layer):
    features = keras.Input((3,), dtype="float64")
    targets = keras.Input((2,), dtype="float64")
    hidden = keras.layers.Dense(16, activation="tanh", dtype="float64")(features)
    outputs = keras.layers.Dense(2, dtype="float64")(hidden)
    return keras.Model([features, targets], layer(targets, outputs))


def training_data(rows: int = 256) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(rows, 3))
    counts = rng.poisson(np.exp(0.6 * x[:, 0] + 0.8))
    flags = (x[:, 1] + 0.3 * rng.normal(size=rows) > 0).astype(float)
    return x, np.column_stack([counts, flags]).astype(float)


@pytest.mark.parametrize("weighting", ["fixed", "uncertainty"])
def test_the_keras_composite_trains_a_two_head_network(rec, weighting) -> None:
    keras.utils.set_random_seed(0)
    layer = candidate(rec, weighting).to_keras(dtype="float64")
    model = two_head_model(layer)
    model.compile(optimizer=keras.optimizers.Adam(0.02))
    x, y = training_data()
    start = float(keras.ops.convert_to_numpy(layer.composite_value(y, model.predict([x, y], verbose=0))))
    history = model.fit([x, y], epochs=4, batch_size=64, verbose=0).history["loss"]
    end = float(keras.ops.convert_to_numpy(layer.composite_value(y, model.predict([x, y], verbose=0))))
    assert end < start and history[-1] < history[0]
    if weighting == "uncertainty":  # the log variances trained with the network
        assert any("log_vars" in weight.path for weight in model.trainable_weights)
        moved = keras.ops.convert_to_numpy(layer.log_vars)
        assert not np.allclose(moved, np.log(candidate(rec, weighting).params["initial_losses"]))


def test_load_loss_rebuilds_the_keras_composite(rec, tmp_path) -> None:
    path = tmp_path / "rec.json"
    path.write_text(rec.to_json(), encoding="utf-8")
    loaded = advisor_keras.load_loss(path, dtype="float64")
    assert isinstance(loaded, advisor_keras.CompositeLoss)
    assert f"composite_{loaded.weighting}" == rec.best.loss
    fixed = advisor_keras.load_loss(path, "composite_fixed", dtype="float64")
    outputs, targets = batch(seed=2)
    direct = candidate(rec, "fixed").to_keras(dtype="float64")
    assert float(fixed.composite_value(targets, outputs)) == float(direct.composite_value(targets, outputs))
    # the layer serialises with its params
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(fixed))
    assert float(again.composite_value(targets, outputs)) == float(direct.composite_value(targets, outputs))
    # and the torch loader reads the same file
    assert advisor_torch.load_loss(path).weighting == loaded.weighting


def test_gradnorm_is_refused_in_keras_with_what_to_do(rec) -> None:
    with pytest.raises(OptionError) as caught:
        candidate(rec, "gradnorm").to_keras()
    message = str(caught.value)
    assert "\n" not in message and "to_torch" in message and "gradnorm" in message


def test_the_keras_uncertainty_snippet_runs_and_matches_the_layer(rec) -> None:
    """The snippet's layer trains the same network as the object: same start for the log
    variances, same gradient with respect to the outputs (the snippet's Tweedie template
    drops a constant of y, so the values differ by that constant, weighted)."""
    chosen = candidate(rec, "uncertainty")
    namespace: dict = {}
    exec(compile(chosen.snippets["keras"], "<snippet>", "exec"), namespace)  # noqa: S102
    snippet_layer = namespace["UncertaintyWeighting"](dtype="float64")
    snippet_layer.build(None)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(snippet_layer.log_vars),
                               np.log(chosen.params["initial_losses"]), rtol=1e-6)
    outputs, targets = batch(seed=3)
    gradients = []
    for compute in (lambda out: (snippet_layer(torch.as_tensor(targets), out), snippet_layer.losses[-1])[1],
                    lambda out: chosen.to_keras(dtype="float64").composite_value(targets, out)):
        tensor = torch.as_tensor(outputs).requires_grad_(True)
        (gradient,) = torch.autograd.grad(compute(tensor), tensor)
        gradients.append(gradient.numpy())
    np.testing.assert_allclose(gradients[0], gradients[1], rtol=1e-6, atol=1e-9)


def torch_targets(targets: np.ndarray) -> list:
    return [torch.as_tensor(targets[:, [index]]) for index in range(targets.shape[1])]


@pytest.mark.parametrize("weighting", ["fixed", "uncertainty"])
def test_the_torch_snippet_has_the_objects_gradient(rec, weighting) -> None:
    """As for Keras: the snippet's templates may drop a constant of y, so the gradients with
    respect to the outputs are compared (the weights are the object's starting ones)."""
    chosen = candidate(rec, weighting)
    namespace: dict = {}
    exec(compile(chosen.snippets["pytorch"], "<snippet>", "exec"), namespace)  # noqa: S102
    namespace["initial"] = namespace["initial"].double()
    if weighting == "uncertainty":
        namespace["log_vars"] = torch.nn.Parameter(namespace["log_vars"].detach().double())
    outputs, targets = batch(seed=4)
    module = chosen.to_torch()
    gradients = []
    for compute in (namespace["composite_loss"], module):
        tensor = torch.as_tensor(outputs).requires_grad_(True)
        (gradient,) = torch.autograd.grad(compute(tensor, torch_targets(targets)), tensor)
        gradients.append(gradient.numpy())
    np.testing.assert_allclose(gradients[0], gradients[1], rtol=1e-6, atol=1e-9)


def test_the_torch_gradnorm_snippet_trains_and_balances(rec) -> None:
    """The snippet's GradNorm step, as its comments write it, on a small shared network."""
    chosen = candidate(rec, "gradnorm")
    namespace: dict = {}
    exec(compile(chosen.snippets["pytorch"], "<snippet>", "exec"), namespace)  # noqa: S102
    torch.manual_seed(0)
    hidden = torch.nn.Linear(3, 16)
    model = torch.nn.Sequential(hidden, torch.nn.Tanh(), torch.nn.Linear(16, 2))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    task_weights, weight_optimizer = namespace["task_weights"], namespace["weight_optimizer"]
    x, y = training_data()
    x_tensor, targets = torch.as_tensor(x, dtype=torch.float32), [t.float() for t in torch_targets(y)]
    history = []
    for _ in range(30):
        losses = namespace["part_losses"](model(x_tensor), targets)
        (weight_grad,) = torch.autograd.grad(namespace["gradnorm_loss"](losses, hidden.weight),
                                             task_weights, retain_graph=True)
        optimizer.zero_grad()
        namespace["composite_loss"](losses).backward()
        optimizer.step()
        task_weights.grad = weight_grad
        weight_optimizer.step()
        with torch.no_grad():
            task_weights.mul_(len(task_weights) / task_weights.sum())
        history.append(float((losses.detach() / namespace["initial"]).sum()))
    assert history[-1] < history[0]
    assert float(task_weights.sum()) == pytest.approx(2.0, rel=1e-5)
    assert not torch.allclose(task_weights.detach(), torch.ones(2))
