"""The recipe of docs/architecture.md, "How to add a loss", followed step by step.

A loss defined outside the package (here: the Cauchy loss, in this test) needs one math class,
one spec, two templates and a rule that says when it fits. Added to the catalog, it is
ranked by the rules, vetoed where its spec says, trained by the experiment like any other
candidate, and handed out as a snippet from its own templates.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import pin_protocol

import advisor
from advisor.losses import CATALOG, ParamSpec, losses_for_task
from advisor.losses._regression import IDENTITY_ACTIVATIONS, IDENTITY_VETOES, IdentityMath, per_task
from advisor.losses._spec import LossSpec
from advisor.rules import load_rulebase


class CauchyMath(IdentityMath):
    """Step 1, the math: c^2 / 2 * log(1 + (r / c)^2) and its gradient r / (1 + (r / c)^2)."""

    def residual_loss(self, residual):
        scale = float(self.params["c"])
        ratio = (residual / scale) ** 2
        return 0.5 * scale ** 2 * np.log1p(ratio), residual / (1.0 + ratio)


def _cauchy_spec(template_dir: Path) -> LossSpec:
    """Step 2, the spec (the loss's metadata, activations, vetoes and parameters)."""
    return LossSpec(
        id="cauchy", title="Cauchy loss",
        description="A redescending robust loss: the pull of a residual falls beyond c.",
        activations=per_task(("regression",), IDENTITY_ACTIVATIONS),
        math=CauchyMath, formula="c^2 / 2 log(1 + ((z - y) / c)^2)",
        citation="Black & Anandan (CVIU 1996), The Robust Estimation of Multiple Motions",
        vetoes=IDENTITY_VETOES,
        params=(ParamSpec("c", 2.385, low=0.0, closed="neither",
                          description="scale in standardised target units"),),
        template_dir=str(template_dir),
    )


def _write_templates(folder: Path) -> None:
    """Step 3, the two templates."""
    (folder / "cauchy.torch.py.j2").write_text(
        "import torch\n\n"
        "def loss_fn(z, y, c={{ c | num }}):\n"
        "    return (c ** 2 / 2 * torch.log1p(((z - y) / c) ** 2)).mean()\n", encoding="utf-8")
    (folder / "cauchy.keras.py.j2").write_text(
        "import keras\n\n"
        "def loss_fn(y, z, c={{ c | num }}):\n"
        "    return keras.ops.mean(c ** 2 / 2 * keras.ops.log1p(((z - y) / c) ** 2))\n",
        encoding="utf-8")


def _write_rule(folder: Path) -> None:
    """Step 5, a rule (TOML, no code) saying when the loss fits."""
    (folder / "cauchy.toml").write_text(
        '[[rule]]\n'
        'id = "recipe.cauchy_for_outliers"\n'
        'when = "task == \'regression\'"\n'
        'because = "A redescending loss ignores gross outliers that still pull Huber."\n'
        'cite = ["Black & Anandan (CVIU 1996), The Robust Estimation of Multiple Motions"]\n'
        'effects = [{ loss = "cauchy", score = 20 }]\n', encoding="utf-8")


@pytest.fixture
def cauchy(tmp_path, monkeypatch):
    """The catalog with the Cauchy loss (step 4), and a folder of its rules."""
    templates, rules = tmp_path / "templates", tmp_path / "rules"
    templates.mkdir()
    rules.mkdir()
    _write_templates(templates)
    _write_rule(rules)
    monkeypatch.setitem(CATALOG, "cauchy", _cauchy_spec(templates))
    return rules


def test_a_new_loss_is_ranked_vetoed_and_handed_out_by_the_rules(cauchy):
    recommendation = advisor.suggest("example:diabetes", validate=False, rules=cauchy, n_jobs=1)
    best = recommendation.best
    assert best.loss == "cauchy"
    assert [reason.rule_id for reason in best.reasons] == ["recipe.cauchy_for_outliers"]
    assert best.params == {"c": 2.385}
    assert "c=2.385" in best.snippets["pytorch"] and "torch.log1p" in best.snippets["pytorch"]
    assert "keras.ops.log1p" in best.snippets["keras"]
    # the spec's vetoes become rules: a softmax output cannot feed it, a linear one can
    rulebase = load_rulebase((cauchy,))
    for activation, vetoed in (("softmax", True), ("linear", False)):
        outcome = rulebase.evaluate({**recommendation.profile.facts, "activation": activation},
                                    losses_for_task("regression"))
        assert ("cauchy" in outcome.vetoes) is vetoed, activation


def test_a_new_loss_is_trained_by_the_experiment(cauchy, monkeypatch):
    pin_protocol(monkeypatch, sample_rows=200, folds=2, repeats=1, epochs=20)
    recommendation = advisor.suggest("example:diabetes", rules=cauchy, n_jobs=1)
    assert recommendation.validation is not None
    assert "cauchy" in recommendation.validation.protocol.candidates
    evidence = next(candidate for candidate in recommendation.candidates
                    if candidate.loss == "cauchy").evidence
    assert evidence is not None and evidence.status == "tested"
    assert evidence.mean is not None and np.isfinite(evidence.mean)
    assert len(evidence.fold_scores) == 2   # 2 folds x 1 repeat, as pinned


def cauchy_formula(ops, outputs, target, params, task):
    """Step 4, the loss objects' formula (registered with ``@formula("cauchy")`` in the
    package): the math's per-row value in the keras.ops vocabulary."""
    scale = float(params["c"])
    residual = outputs - ops.reshape(ops.cast(target, outputs.dtype), (-1, outputs.shape[-1]))
    return ops.sum(0.5 * scale ** 2 * ops.log1p(ops.square(residual / scale)), axis=-1)


def test_a_new_loss_gets_its_loss_object(cauchy, monkeypatch):
    """With its formula registered, the recommended new loss is a torch module computing the
    math's mean loss."""
    torch = pytest.importorskip("torch", reason="the torch extra is not installed")
    from advisor.frameworks import FORMULAS

    monkeypatch.setitem(FORMULAS, "cauchy", cauchy_formula)
    best = advisor.suggest("example:diabetes", validate=False, rules=cauchy, n_jobs=1).best
    loss_fn = best.to_torch()
    rng = np.random.default_rng(0)
    raw, y = rng.normal(size=(20, 1)), rng.normal(size=20)
    expected = CATALOG["cauchy"].bind(best.params, "regression").loss_gradient(raw, y.reshape(-1, 1))[0]
    value = loss_fn(torch.from_numpy(raw), torch.from_numpy(y))
    assert float(value) == pytest.approx(float(expected.mean()), rel=1e-12)
