"""Group DRO's loss objects keep and step their group weights, as the catalog's math does.

``GroupDROMath`` (the experiment's) takes Sagawa et al.'s step ``q_g <- q_g exp(eta L_g)`` at
every batch (``advance``) before the loss; ``to_torch()`` and ``to_keras()`` must do the same at
every training call, so that a user who trains with the object trains group DRO, not a
fixed-weight loss. Checked here: q after N calls is the math's after N ``advance`` calls on the
same batches (to 1e-9), eval mode freezes q, Keras's ``fit`` moves it (its ``evaluate`` does
not), a saved result rebuilds the object at its starting q, and training a small PyTorch
network on a set with a small, harder group raises that group's weight and lowers its loss
below plain cross-entropy's. Keras runs on its torch backend, as in ``test_loss_objects``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import real_frameworks

import advisor
from advisor.errors import FrameworkError
from advisor.losses import CATALOG
from advisor.losses._fairness import pack_groups

torch, keras = real_frameworks()

import advisor.keras as advisor_keras  # noqa: E402  (after the backend is chosen)
import advisor.torch as advisor_torch  # noqa: E402

FRAMEWORKS = ("torch", "keras")
TASKS = (("binary", 2), ("multiclass", 3))  # (task, classes)
N_GROUPS, N_ROWS, N_CALLS, ETA = 3, 48, 8, 0.5  # a large eta: q moves far in a few calls
SPEC = CATALOG["group_dro"]


def _object(framework: str, task: str, params: dict[str, Any]) -> Any:
    if framework == "torch":
        return advisor_torch.make_loss("group_dro", params, task, reduction="none")
    return advisor_keras.make_loss("group_dro", params, task, reduction=None, dtype="float64")


def _call(obj: Any, raw: np.ndarray, y: np.ndarray) -> np.ndarray:
    outputs, target = torch.from_numpy(raw), torch.from_numpy(y)
    values = obj(outputs, target) if isinstance(obj, torch.nn.Module) else obj(target, outputs)
    return values.detach().cpu().numpy()


def _q(obj: Any) -> np.ndarray:
    """A copy of the object's q (a CPU tensor's numpy view would follow it)."""
    return np.array(obj.q.detach().cpu().numpy() if isinstance(obj, torch.nn.Module)
                    else keras.ops.convert_to_numpy(obj.q), dtype=np.float64, copy=True)


def _batches(task: str, n_classes: int, count: int, seed: int = 4):
    """(raw outputs, [label, group] as a user has it, the math's packed target) per batch;
    group 2 is predicted worse than the others, so q moves towards it."""
    rng = np.random.default_rng(seed)
    width = 1 if task == "binary" else n_classes
    for _ in range(count):
        labels, groups = rng.integers(0, n_classes, N_ROWS), rng.integers(0, N_GROUPS, N_ROWS)
        raw = rng.normal(0.0, 1.0 + groups[:, None], (N_ROWS, width))
        plain = labels[:, None].astype(float) if task == "binary" else np.eye(n_classes)[labels]
        yield raw, np.column_stack([labels, groups]), pack_groups(plain, groups, task != "binary")


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize(("task", "n_classes"), TASKS)
def test_q_after_n_training_calls_is_the_maths_after_n_advance_calls(framework, task, n_classes):
    """Every call: the object's q and values equal GroupDROMath's after advance on the same
    batch (q to 1e-9), and q has really moved away from uniform."""
    params = {"n_groups": N_GROUPS, "eta": ETA}
    obj, math = _object(framework, task, params), SPEC.bind(params, task)
    np.testing.assert_allclose(_q(obj), math.q, rtol=0, atol=1e-12)
    for raw, y, target in _batches(task, n_classes, N_CALLS):
        values = _call(obj, raw, y)
        math.advance(raw, target)
        np.testing.assert_allclose(_q(obj), math.q, rtol=0, atol=1e-9)
        np.testing.assert_allclose(values, math.loss_gradient(raw, target)[0], rtol=0, atol=1e-9)
    assert math.q[2] > 0.5 and np.abs(math.q - 1.0 / N_GROUPS).max() > 0.15, math.q


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_eval_mode_does_not_move_q_and_its_value_is_the_loss_at_q(framework):
    """After some training calls, eval mode keeps q where it is (the values are the math's at
    that q); back in training mode q moves again; reset goes back to the start."""
    params = {"n_groups": N_GROUPS, "eta": ETA, "group_weights": [1.0, 2.0, 1.0]}
    obj, math = _object(framework, "binary", params), SPEC.bind(params, "binary")
    np.testing.assert_allclose(_q(obj), [0.25, 0.5, 0.25], atol=1e-12)
    batches = list(_batches("binary", 2, 4))
    for raw, y, target in batches[:2]:
        _call(obj, raw, y)
        math.advance(raw, target)
    obj.eval()
    held = _q(obj)
    for raw, y, target in batches[2:]:
        np.testing.assert_allclose(_call(obj, raw, y), math.loss_gradient(raw, target)[0], atol=1e-9)
        np.testing.assert_array_equal(_q(obj), held)
    obj.train()
    _call(obj, *batches[0][:2])
    assert np.abs(_q(obj) - held).max() > 1e-3
    obj.reset()
    np.testing.assert_allclose(_q(obj), [0.25, 0.5, 0.25], atol=1e-12)


def test_keras_fit_moves_q_as_the_math_and_evaluate_does_not():
    """model.fit with the loss steps q once per batch, exactly as GroupDROMath.advance on the
    model's outputs at that step (one full batch per epoch, replayed); evaluate and fit's
    validation steps leave it alone."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3)).astype("float32")
    groups = np.arange(60) % N_GROUPS
    labels = (x[:, 0] + groups > 1.0).astype(int)
    y = np.column_stack([labels, groups]).astype("float32")
    target = pack_groups(labels[:, None].astype(float), groups, False)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    loss = advisor_keras.make_loss("group_dro", {"n_groups": N_GROUPS, "eta": ETA}, "binary",
                                   dtype="float64")
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=loss)
    math = SPEC.bind({"n_groups": N_GROUPS, "eta": ETA}, "binary")
    for _ in range(4):
        math.advance(model.predict(x, verbose=0).astype(np.float64), target)
        model.fit(x, y, batch_size=len(x), epochs=1, verbose=0, validation_data=(x, y))
        np.testing.assert_allclose(_q(loss), math.q, rtol=0, atol=1e-9)
    assert np.abs(math.q - 1.0 / N_GROUPS).max() > 0.02, math.q
    held = _q(loss)
    model.evaluate(x, y, verbose=0)
    np.testing.assert_array_equal(_q(loss), held)


def test_a_keras_model_with_the_loss_loads_back_a_group_dro_loss_at_its_start(tmp_path):
    """model.save / load_model rebuild GroupDROLoss (not a stateless loss) from its config;
    q is not in the config, so the loaded loss starts again from the starting weights."""
    loss = advisor_keras.make_loss("group_dro", {"n_groups": 2, "eta": ETA}, "binary")
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss=loss)
    x, target = _harder_small_group(0)
    model.fit(x.numpy(), target.numpy(), batch_size=len(x), epochs=2, verbose=0)
    assert np.abs(_q(loss) - 0.5).max() > 1e-3
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras").loss
    assert isinstance(loaded, advisor_keras.GroupDROLoss) and loaded.params == loss.params
    np.testing.assert_array_equal(_q(loaded), [0.5, 0.5])


def test_keras_on_jax_is_one_typed_line(monkeypatch):
    """JAX keeps no loss state inside its train step: the loss says so rather than train a
    fixed-weight loss under group DRO's name."""
    monkeypatch.setattr(advisor_keras.keras.backend, "backend", lambda: "jax")
    with pytest.raises(FrameworkError, match="under JAX its group weights could not move"):
        advisor_keras.make_loss("group_dro", {"n_groups": 2}, "binary")


def _grouped_frame() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.normal(size=(200, 3)), columns=["x1", "x2", "x3"])
    frame["grp"] = np.where(np.arange(200) % 5 == 0, "b", "a")
    frame["y"] = ((frame["x1"] > 0) ^ (frame["grp"] == "b")).astype(int)
    return frame


def test_the_recommendation_and_a_saved_result_give_the_stateful_object(tmp_path):
    """rec's group_dro candidate builds GroupDROLoss in both frameworks; load_loss rebuilds it
    at the starting (uniform) q even after the first object trained, and a torch state_dict
    resumes the trained q."""
    rec = advisor.suggest(_grouped_frame(), target="y", sensitive="grp", validate=False)
    candidate = next(c for c in rec.candidates if c.loss == "group_dro")
    trained = candidate.to_torch()
    assert isinstance(trained, advisor_torch.GroupDROLoss)
    assert isinstance(candidate.to_keras(), advisor_keras.GroupDROLoss)
    raw, y, _ = next(_batches("binary", 2, 1))
    y[:, 1] = np.arange(len(y)) % 2  # the two groups of this result
    trained(torch.from_numpy(raw), torch.from_numpy(y))
    assert np.abs(_q(trained) - 0.5).max() > 0.0
    path = tmp_path / "rec.json"
    path.write_text(rec.to_json(), encoding="utf-8")
    for loaded in (advisor_torch.load_loss(path, loss="group_dro"),
                   advisor_keras.load_loss(path, loss="group_dro")):
        assert type(loaded).__name__ == "GroupDROLoss"
        np.testing.assert_array_equal(_q(loaded), [0.5, 0.5])
    resumed = advisor_torch.load_loss(path, loss="group_dro")
    resumed.load_state_dict(trained.state_dict())
    np.testing.assert_array_equal(_q(resumed), _q(trained))


# ----- a real training ---------------------------------------------------------------------------
def _harder_small_group(seed: int) -> tuple[Any, Any]:
    """400 rows, a tenth in group 1: group 0's label follows x1, group 1's follows x2 with a
    tenth of its labels flipped (another rule, noisier: harder, and small)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(400, 2))
    groups = (np.arange(400) >= 360).astype(int)
    labels = np.where(groups == 0, x[:, 0] > 0, x[:, 1] > 0).astype(int)
    flip = (groups == 1) & (rng.random(400) < 0.1)
    labels[flip] = 1 - labels[flip]
    return (torch.tensor(x, dtype=torch.float32),
            torch.tensor(np.column_stack([labels, groups]), dtype=torch.float32))


def _train(loss_fn: Any, x: Any, target: Any, steps: int = 200) -> Any:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    optimiser = torch.optim.Adam(net.parameters(), lr=0.05)
    for _ in range(steps):
        optimiser.zero_grad()
        loss_fn(net(x), target).backward()
        optimiser.step()
    return net


def _group_losses(net: Any, x: Any, target: Any) -> np.ndarray:
    with torch.no_grad():
        per_row = torch.nn.functional.binary_cross_entropy_with_logits(
            net(x)[:, 0], target[:, 0], reduction="none")
    return np.array([float(per_row[target[:, 1] == g].mean()) for g in (0, 1)])


def test_training_with_the_torch_object_raises_the_hard_groups_weight_and_lowers_its_loss():
    """200 full-batch Adam steps of a small network with group DRO at the catalog's default
    step size, against plain cross-entropy (torch's own): the small, harder group's weight
    rises from 1/2, and its loss is far lower, on the training rows and on fresh rows."""
    x, target = _harder_small_group(0)
    plain = _train(lambda outputs, y: torch.nn.functional.binary_cross_entropy_with_logits(
        outputs[:, 0], y[:, 0]), x, target)
    loss_fn = advisor_torch.make_loss("group_dro", {"n_groups": 2}, "binary")
    assert loss_fn.eta == 0.01
    robust = _train(loss_fn, x, target)
    assert float(loss_fn.q[1]) > 0.55, loss_fn.q
    fresh = _harder_small_group(1)
    for rows in ((x, target), fresh):
        before, after = _group_losses(plain, *rows), _group_losses(robust, *rows)
        assert after[1] < 0.75 * before[1], (before, after)
        assert after.max() < before.max(), (before, after)
