"""Every catalog snippet, run in the real PyTorch and Keras.

For each loss of :data:`advisor.losses.CATALOG` on each task it applies to (so a new loss is
covered as soon as it is in the catalog), a small synthetic dataset of that task is profiled
with the real profiler, the loss's snippet is rendered for both frameworks and executed, and
the harness builds what the snippet asks for:

* the output layer its ``# Output layer:`` header names (the header's leading call, e.g.
  ``nn.Linear(hidden_units, 3)``, ``keras.layers.Dense(1, activation="exponential")`` or the
  snippet's own ``CoralOutput(4)``), on top of one hidden layer;
* the target as the snippet says: class indices where it says "class indices", one-hot
  where it says "one-hot", else the catalog's encoded target (0/1 columns, fractions,
  levels, values, log1p for msle), or the plain target columns when the catalog repeats
  them once per output (quantile levels); standardised with the centre and scale of the
  snippet's note where it says so, and compared with the catalog's math for that
  standardised target (``LossMath.for_standardized``), as the proxy trains;
* the loss: what the Keras snippet passes to ``model.compile`` (through Keras's own
  ``compute_loss``, with the snippet's ``class_weight`` applied as ``model.fit`` would), else
  ``loss_fn``, else the one function the snippet defines whose name ends in ``_loss``.

Then it checks that the loss is a finite scalar, that back-propagation gives finite, non-zero
gradients, that a few Adam steps lower it, and that its value and its gradient with respect
to the raw outputs agree with the catalog's own math (``LossSpec.bind(...).loss_gradient``,
per-sample values averaged) up to the constants listed in :data:`DOCUMENTED_CONSTANTS`.

Keras 3 runs on the PyTorch backend here: ``KERAS_BACKEND=torch`` is set before Keras is
imported (Keras reads it once, at import). Install both with ``pip install '.[frameworks]'``;
without torch or keras the tests skip, saying which is missing.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import real_frameworks, task_frame

from advisor.load import load_data
from advisor.losses import CATALOG, LossSpec
from advisor.options import TASKS
from advisor.profile import Profile, profile_data

torch, keras = real_frameworks()

FRAMEWORKS = ("pytorch", "keras")
CASES = [(loss_id, task, framework) for loss_id, loss in CATALOG.items() for task in TASKS
         if loss.supports(task) for framework in FRAMEWORKS]
N_ROWS, N_FEATURES, HIDDEN_UNITS = 48, 3, 8
#: Several levels, so quantile's snippet runs with several outputs per row.
QUANTILES = (0.1, 0.5, 0.9)
TRAIN_STEPS, LEARNING_RATE = 25, 0.05


# ----- data: one small synthetic dataset per task, profiled by the real profiler ---------------
def _task_frame(task: str, n_rows: int = N_ROWS, seed: int = 7) -> tuple[pd.DataFrame, Any]:
    """A frame of three features and a target of ``task`` that depends on them."""
    return task_frame(task, n_rows, seed=seed, durations=(10.0, 0.5))


@functools.cache
def task_data(task: str, grouped: bool = False) -> tuple[Profile, np.ndarray]:
    """The profile of ``task``'s dataset and its float32 feature matrix; ``grouped``: with a
    sensitive column of three groups (the group-aware losses)."""
    frame, target = _task_frame(task)
    if grouped:
        frame = frame.assign(g=np.array(["p", "q", "r"])[np.arange(len(frame)) % 3])
    sensitive = "g" if grouped else None
    if task == "survival":  # the duration with its event indicator
        loaded = load_data(frame, "time", event="event", sensitive=sensitive)
    else:
        loaded = load_data(frame, target, sensitive=sensitive)
    profile = profile_data(loaded, task=task, quantiles=QUANTILES)
    assert profile.task == task
    return profile, frame[["x1", "x2", "x3"]].to_numpy(np.float32, copy=True)


# ----- running a snippet -----------------------------------------------------------------------
class _CompileRecorder:
    """Stands in for ``model`` while a Keras snippet runs: records its ``compile`` call, which
    the harness replays on the real model (built after the snippet, from the header, since the
    header's layer may be defined by the snippet itself)."""

    def __init__(self) -> None:
        self.compiled: dict[str, Any] | None = None

    def compile(self, **kwargs: Any) -> None:
        self.compiled = kwargs


@dataclass
class Case:
    """One loss on one task in one framework: the snippet run, its model and its target."""

    loss: LossSpec
    task: str
    framework: str
    snippet: str
    namespace: dict[str, Any]
    model: Any
    x: Any
    target: Any
    sample_weight: Any = None
    output_activation: Any = None
    loss_callable: Any = None

    def loss_of(self, outputs: Any) -> Any:
        """The snippet's loss of the network's outputs (post-activation) on the batch."""
        if self.framework == "keras":
            return self.model.compute_loss(x=self.x, y=self.target, y_pred=outputs,
                                           sample_weight=self.sample_weight)
        return self.loss_callable(outputs, self.target)

    def model_loss(self) -> Any:
        """The loss of the model's current predictions."""
        return self.loss_of(self.model(self.x))


def _leading_call(text: str) -> str:
    """The Python call an ``# Output layer:`` text starts with, e.g. ``nn.Linear(hidden_units, 1)``."""
    opening = text.index("(")
    depth = 0
    for position in range(opening, len(text)):
        depth += {"(": 1, ")": -1}.get(text[position], 0)
        if depth == 0:
            return text[:position + 1]
    raise AssertionError(f"unbalanced output layer text: {text!r}")


def _header_layer(snippet: str) -> str:
    lines = [line for line in snippet.splitlines() if line.startswith("# Output layer: ")]
    assert len(lines) == 1, "every snippet names its output layer once in its header"
    return lines[0].removeprefix("# Output layer: ")


def _snippet_function(namespace: dict[str, Any], filename: str) -> Any:
    """``loss_fn``, else the one function the snippet defines whose name ends in ``_loss``."""
    if "loss_fn" in namespace:
        return namespace["loss_fn"]
    defined = [value for name, value in namespace.items() if name.endswith("_loss")
               and getattr(getattr(value, "__code__", None), "co_filename", None) == filename]
    assert len(defined) == 1, ("a snippet must define loss_fn, or exactly one function named "
                               f"*_loss; found {[f.__name__ for f in defined]}")
    return defined[0]


_STANDARDISE = re.compile(r"standardise the target for training: \(y - (\S+)\) / (\S+?);")


def _standardisation(snippet: str) -> tuple[float, float] | None:
    """The (centre, scale) a numeric snippet tells the user to standardise the target with."""
    match = _STANDARDISE.search(snippet)
    return (float(match[1]), float(match[2])) if match else None


def _framework_target(case_loss: LossSpec, task: str, snippet: str, profile: Profile) -> np.ndarray:
    """The target encoded as the snippet says (see the module docstring); a group-aware loss
    takes [label, group index] per row."""
    math = case_loss.bind(case_loss.derive(profile, {"quantiles": QUANTILES}), task)
    y = np.asarray(profile.y)
    if math.needs_groups:
        return np.column_stack([y, profile.groups.codes]).astype(np.float32)
    text = snippet.lower()
    if task in ("multiclass", "ordinal") and "class indices" in text:
        return y.astype(np.int64).reshape(-1)
    encoded = math.encode_target(y, profile)
    if task in ("multiclass", "ordinal") and re.search(r"target: one-hot", text):
        return encoded.astype(np.float32)
    columns = y.reshape(len(y), -1).shape[1]
    if encoded.shape[1] != columns and task not in ("multiclass", "ordinal"):
        encoded = y.reshape(len(y), -1)  # repeated once per output (quantile levels)
    standardisation = _standardisation(snippet) if task not in ("multiclass", "ordinal") else None
    if standardisation is not None:  # as the snippet's note says: (y - centre) / scale
        centre, scale = standardisation
        encoded = (encoded - centre) / scale
    return encoded.astype(np.float32)


def _sample_weight(namespace: dict[str, Any], target: np.ndarray) -> np.ndarray | None:
    """The per-row weights ``model.fit(..., class_weight=class_weight)`` would apply."""
    class_weight = namespace.get("class_weight")
    if class_weight is None:
        return None
    labels = target.reshape(len(target), -1)
    index = labels[:, 0] if labels.shape[1] == 1 else labels.argmax(axis=1)
    return np.array([class_weight[int(k)] for k in index], dtype=np.float32)


def _torch_model(layer_text: str, namespace: dict[str, Any]) -> tuple[Any, Any]:
    layer = eval(_leading_call(layer_text), {**namespace, "nn": torch.nn,
                                             "hidden_units": HIDDEN_UNITS})
    activation = torch.exp if "followed by torch.exp" in layer_text else None
    parts = [torch.nn.Linear(N_FEATURES, HIDDEN_UNITS), torch.nn.Tanh(), layer]
    if activation is not None:
        parts.append(_Lambda(activation))
    return torch.nn.Sequential(*parts), activation


class _Lambda(torch.nn.Module):
    """An activation as a layer (``followed by torch.exp``)."""

    def __init__(self, function: Any) -> None:
        super().__init__()
        self.function = function

    def forward(self, x: Any) -> Any:
        return self.function(x)


def _keras_model(layer_text: str, namespace: dict[str, Any]) -> tuple[Any, Any]:
    layer = eval(_leading_call(layer_text), {**namespace, "keras": keras})
    inputs = keras.Input((N_FEATURES,))
    hidden = keras.layers.Dense(HIDDEN_UNITS, activation="tanh")(inputs)
    model = keras.Model(inputs, layer(hidden))
    activation = getattr(layer, "activation", None)
    if activation is keras.activations.linear:
        activation = None
    return model, activation


@functools.cache
def rendered(loss_id: str, task: str, framework: str) -> str:
    """The snippet of ``loss_id`` on ``task``'s dataset, with the settings derived from it."""
    loss = CATALOG[loss_id]
    profile, _ = task_data(task, loss.math.needs_groups)
    return loss.snippet(framework, loss.derive(profile, {"quantiles": QUANTILES}), profile)


def build_case(loss_id: str, task: str, framework: str) -> Case:
    """Run the snippet and build its model, inputs and target (a fresh, seeded model)."""
    loss = CATALOG[loss_id]
    profile, x = task_data(task, loss.math.needs_groups)
    snippet = rendered(loss_id, task, framework)
    filename = f"<snippet {loss_id} {task} {framework}>"
    recorder = _CompileRecorder()
    namespace: dict[str, Any] = {"model": recorder} if framework == "keras" else {}
    exec(compile(snippet, filename, "exec"), namespace)
    torch.manual_seed(0)
    keras.utils.set_random_seed(0)
    layer_text = _header_layer(snippet)
    build = _keras_model if framework == "keras" else _torch_model
    model, activation = build(layer_text, namespace)
    target = _framework_target(loss, task, snippet, profile)
    case = Case(loss, task, framework, snippet, namespace, model, torch.from_numpy(x),
                torch.from_numpy(target), output_activation=activation)
    if framework == "keras":
        compiled = recorder.compiled or {"optimizer": "adam",
                                          "loss": _snippet_function(namespace, filename)}
        model.compile(**compiled)
        weights = _sample_weight(namespace, target)
        case.sample_weight = None if weights is None else torch.from_numpy(weights)
    else:
        case.loss_callable = _snippet_function(namespace, filename)
    width = loss.bind(loss.derive(profile, {"quantiles": QUANTILES}), task).n_outputs(profile)
    assert tuple(model(case.x).shape) == (N_ROWS, width), (
        f"the header's output layer gives {tuple(model(case.x).shape)}, the catalog expects "
        f"{width} outputs per row")
    return case


def _parameters(case: Case) -> list[Any]:
    return [p for p in case.model.parameters() if p.requires_grad]


# ----- the tests -------------------------------------------------------------------------------
@pytest.mark.parametrize(("loss_id", "task", "framework"), CASES)
def test_snippet_trains_in_the_framework(loss_id, task, framework):
    """The snippet's loss is a finite scalar with finite, non-zero gradients, and a few Adam
    steps on one batch lower it."""
    case = build_case(loss_id, task, framework)
    value = case.model_loss()
    assert value.ndim == 0, f"the loss must reduce to a scalar, got shape {tuple(value.shape)}"
    assert torch.isfinite(value), f"loss is {value.item()}"
    value.backward()
    gradients = [p.grad for p in _parameters(case)]
    assert all(g is not None and torch.isfinite(g).all() for g in gradients)
    assert sum(float(g.abs().sum()) for g in gradients) > 0.0, "every gradient is zero"
    optimiser = torch.optim.Adam(_parameters(case), lr=LEARNING_RATE)
    start = float(value.detach())
    for _ in range(TRAIN_STEPS):
        optimiser.zero_grad()
        step = case.model_loss()
        step.backward()
        optimiser.step()
    final = float(case.model_loss().detach())
    assert np.isfinite(final) and final < start, f"{TRAIN_STEPS} Adam steps: {start} -> {final}"


# ----- agreement with the catalog's math ---------------------------------------------------------
def _raw_draws(width: int, count: int = 3) -> list[np.ndarray]:
    """Raw outputs (pre-activation) away from every kink, one batch per draw."""
    rng = np.random.default_rng(11)
    return [rng.normal(0.3, 1.0, (N_ROWS, width)) for _ in range(count)]


def measure(case: Case) -> tuple[float, float, float]:
    """(scale, offset, gradient mismatch) between the snippet's loss and the catalog's mean
    loss, over a few raw batches: the snippet's gradient w.r.t. the raw outputs is fitted as
    scale x the catalog's, the offset is the mean of value - scale x catalog value, and the
    mismatch is the largest gap of the gradients (relative to the largest gradient) and of the
    offsets across batches."""
    profile, _ = task_data(case.task, case.loss.math.needs_groups)
    math = case.loss.bind(case.loss.derive(profile, {"quantiles": QUANTILES}), case.task)
    extra = {"groups": profile.groups.codes} if math.needs_groups else {}
    target = math.encode_target(np.asarray(profile.y), profile, **extra)
    standardisation = (_standardisation(case.snippet)
                       if case.task not in ("multiclass", "ordinal") else None)
    if standardisation is not None:  # the catalog's math on the target the snippet trains on
        centre, scale = (np.full(target.shape[1], value) for value in standardisation)
        target = (target - centre) / scale
        math = math.for_standardized(centre, scale)
    values, catalog, gradients, catalog_gradients = [], [], [], []
    for raw in _raw_draws(math.n_outputs(profile)):
        leaf = torch.tensor(raw, dtype=torch.float64, requires_grad=True)
        outputs = leaf if case.output_activation is None else case.output_activation(leaf)
        value = case.loss_of(outputs.float())
        (gradient,) = torch.autograd.grad(value, leaf)
        advance = getattr(math, "advance", None)
        if advance is not None:  # online state (group DRO): the snippet steps it per call too
            advance(raw, target)
        per_sample, catalog_gradient = math.loss_gradient(raw, target)
        values.append(float(value.detach()))
        catalog.append(float(per_sample.mean()))
        gradients.append(gradient.numpy())
        catalog_gradients.append(catalog_gradient / len(raw))
    g, c = np.concatenate(gradients), np.concatenate(catalog_gradients)
    scale = float((g * c).sum() / (c * c).sum())
    offsets = np.array(values) - scale * np.array(catalog)
    mismatch = max(float(np.abs(g - scale * c).max() / np.abs(g).max()),
                   float(np.ptp(offsets) / max(abs(values[0]), 1.0)))
    return scale, float(offsets.mean()), mismatch


@dataclass(frozen=True)
class Constant:
    """How a framework's loss differs from the catalog's mean loss, and why.

    ``scale(case, width)`` is the factor on the catalog's value (and gradient); with
    ``target_terms`` the framework also drops terms of the target alone, so the values differ
    by a constant of the batch (the gradients do not)."""

    why: str
    scale: Any = None
    target_terms: bool = False

    def expected_scale(self, case: Case, width: int) -> float:
        return 1.0 if self.scale is None else float(self.scale(case, width))


def _mean_over_labels(case: Case, width: int) -> float:
    return 1.0 / width if case.task == "multilabel" else 1.0


def _torch_weighted_mean(case: Case, width: int) -> float:
    """nn.CrossEntropyLoss(weight) divides by the batch's sum of weights, the catalog by n;
    nn.BCEWithLogitsLoss averages over labels, the catalog sums them."""
    if case.task == "multilabel":
        return 1.0 / width
    if case.task == "binary":
        return 1.0
    weights = np.asarray(case.loss.derive(task_data(case.task)[0], {})["class_weights"])
    labels = case.target.numpy().astype(int)
    return len(labels) / float(weights[labels].sum())


_NO_HALF = Constant("the framework's squared error has no 1/2; the catalog's is 0.5 r^2",
                    scale=lambda case, width: 2.0)
_DEVIANCE = Constant("the snippet's deviance leaves out the terms of the target alone "
                     "(y log y - y, log y + 1, y^(2-p) / ((1-p)(2-p))), which the catalog keeps "
                     "so that a perfect prediction costs 0", target_terms=True)
#: (loss id, framework) -> how the framework's value differs from the catalog's; every other
#: pair must agree exactly (value and gradient w.r.t. the raw outputs).
DOCUMENTED_CONSTANTS: dict[tuple[str, str], Constant] = {
    ("cross_entropy", "pytorch"): Constant(
        "nn.BCEWithLogitsLoss averages over labels; the catalog sums them per row",
        scale=_mean_over_labels),
    ("cross_entropy", "keras"): Constant(
        "keras BinaryCrossentropy averages over labels; the catalog sums them per row",
        scale=_mean_over_labels),
    ("weighted_cross_entropy", "pytorch"): Constant(_torch_weighted_mean.__doc__ or "",
                                                    scale=_torch_weighted_mean),
    ("mse", "pytorch"): _NO_HALF, ("mse", "keras"): _NO_HALF,
    ("msle", "pytorch"): _NO_HALF, ("msle", "keras"): _NO_HALF,
    ("lds_mse", "pytorch"): _NO_HALF, ("lds_mse", "keras"): _NO_HALF,
    ("poisson", "pytorch"): _DEVIANCE, ("poisson", "keras"): _DEVIANCE,
    ("gamma", "pytorch"): _DEVIANCE, ("gamma", "keras"): _DEVIANCE,
    ("tweedie", "pytorch"): _DEVIANCE, ("tweedie", "keras"): _DEVIANCE,
}
#: Keras's Poisson adds 1e-7 inside its log; float32 arithmetic otherwise.
AGREEMENT_TOLERANCE = 1e-5


@pytest.mark.parametrize(("loss_id", "task", "framework"), CASES)
def test_snippet_agrees_with_the_catalog_math(loss_id, task, framework):
    """The snippet's loss and its gradient w.r.t. the raw outputs are the catalog's mean loss
    (LossSpec.bind(params, task).loss_gradient, per-sample values averaged) times the
    documented scale, plus, where documented, a constant of the target."""
    case = build_case(loss_id, task, framework)
    width = int(case.model(case.x).shape[1])
    base = case.loss.decision.base if case.loss.decision is not None else loss_id  # a plan's loss
    constant = DOCUMENTED_CONSTANTS.get((base, framework), Constant("exact"))
    scale, offset, mismatch = measure(case)
    expected = constant.expected_scale(case, width)
    assert mismatch < AGREEMENT_TOLERANCE, (
        f"the snippet's gradient is not a constant multiple of the catalog's (scale {scale:.6g}, "
        f"mismatch {mismatch:.2e})")
    assert scale == pytest.approx(expected, rel=AGREEMENT_TOLERANCE), (
        f"the snippet's loss is {scale:.6g} x the catalog's, the documented factor is "
        f"{expected:.6g} ({constant.why})")
    if not constant.target_terms:
        assert abs(offset) < AGREEMENT_TOLERANCE, (
            f"the snippet's loss is off the catalog's by {offset:.6g} ({constant.why})")


# ----- a plan's tuning step ----------------------------------------------------------------------
PLAN_CASES = [case for case in CASES if CATALOG[case[0]].decision is not None]
VALIDATION_ROWS = 400


def _validation(case: Case) -> tuple[Any, Any, np.ndarray, np.ndarray]:
    """Validation rows of the case's task (another draw of its data): the model's logits and
    the target as the snippet's framework holds them, and both as numpy arrays."""
    frame, target = _task_frame(case.task, VALIDATION_ROWS, seed=8)
    profile = profile_data(load_data(frame, target), task=case.task)
    x = torch.from_numpy(frame[["x1", "x2", "x3"]].to_numpy(np.float32, copy=True))
    y = np.asarray(profile.y)
    held = torch.from_numpy(y.astype(np.int64) if case.task == "multiclass"
                            else y.reshape(len(y), -1).astype(np.float32))
    logits = case.model(x)
    if case.framework == "keras":  # what model.predict returns: a numpy array
        logits = keras.ops.convert_to_numpy(logits)
    raw = logits if case.framework == "keras" else logits.detach().numpy()
    return logits, held, np.asarray(raw, dtype=float), y


@pytest.mark.parametrize(("loss_id", "task", "framework"), PLAN_CASES)
def test_a_plans_snippet_tunes_and_applies_its_rule(loss_id, task, framework):
    """The snippet's tuning step picks the rule for the metric on validation logits, keeps the
    plain rule on fewer than 50 rows, and its decisions are those the advisor's scorers make
    with the same rule (the offsets of advisor.experiment.decision); the metric it reaches is
    the advisor's own tuning's, up to the two searches' grids."""
    from advisor.experiment.decision import tune_rule
    from advisor.experiment.metrics import METRIC_SPECS
    from advisor.experiment.scoring import ScoringContext

    case = build_case(loss_id, task, framework)
    plan = case.loss.decision
    profile, _ = task_data(task)
    metric = plan.snippet_values(str(profile.facts["metric"]), task)["tuned_metric"]
    logits, held, raw, y = _validation(case)
    namespace = case.namespace
    pick = namespace["pick_thresholds" if plan.rule == "threshold" else "pick_tau"]
    plain = pick(logits[:40], held[:40])
    assert np.all(np.asarray(plain) == (0.5 if plan.rule == "threshold" else 0.0))
    chosen = pick(logits, held)
    decided = np.asarray(namespace["decide"](logits, chosen))
    if plan.rule == "threshold":
        offsets = tuple(float(v) for v in np.log(chosen) - np.log1p(-np.asarray(chosen)))
        probabilities = 1.0 / (1.0 + np.exp(-raw))
        scored = probabilities if task == "multilabel" else np.column_stack(
            [1.0 - probabilities[:, 0], probabilities[:, 0]])
        expected = (probabilities >= np.asarray(chosen)).astype(int)
        assert np.array_equal(decided.reshape(expected.shape), expected)
    else:
        priors = np.asarray(case.loss.derive(profile, {})["priors"])
        offsets = tuple(float(v) for v in chosen * np.log(priors))
        scored = np.exp(raw - raw.max(axis=1, keepdims=True))
        scored /= scored.sum(axis=1, keepdims=True)
        assert np.array_equal(decided, (raw - np.asarray(offsets)).argmax(axis=1))
    context = ScoringContext(task, n_classes=scored.shape[1])
    snippet_score = METRIC_SPECS[metric].score(y, scored, replace(context, decision_offsets=offsets))
    plain_score = METRIC_SPECS[metric].score(y, scored, context)
    assert snippet_score >= plain_score - 1e-12
    tuned = tune_rule(plan.rule, scored, y, metric=metric, task=task,
                      priors=priors if plan.rule == "logit_adjustment" else None)
    advisor_score = METRIC_SPECS[metric].score(y, scored, replace(context, decision_offsets=tuned.offsets))
    assert tuned.kept_plain is None and abs(advisor_score - snippet_score) < 0.03
