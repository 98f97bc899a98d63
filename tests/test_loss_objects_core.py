"""The loss objects' framework-free side: every catalog loss has one, ``import advisor`` never
imports a framework, and bad saved results or a missing framework fail with one typed line.

These run without torch or keras (``tests/test_loss_objects.py`` runs the objects themselves).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

import advisor
from advisor.errors import FrameworkError, OptionError, ReportError
from advisor.frameworks import FORMULAS, saved_setting
from advisor.losses import CATALOG

FRAMEWORK_MODULES = ("torch", "keras", "tensorflow", "jax")


def test_every_catalog_loss_has_a_loss_object():
    """A new catalog loss cannot ship without its formula (advisor/frameworks)."""
    missing = sorted(set(CATALOG) - set(FORMULAS))
    assert not missing, (f"catalog losses without a loss object: {missing}; register each with "
                         "@formula('<id>') in advisor/frameworks (the add-a-loss recipe, step "
                         "'the loss objects')")


def test_import_advisor_and_a_rules_only_suggest_import_no_framework():
    """The frameworks are optional extras: neither ``import advisor`` nor a rules-only
    ``suggest`` (which renders the snippets) imports torch, keras or a Keras backend."""
    script = textwrap.dedent(f"""
        import sys
        frameworks = {FRAMEWORK_MODULES!r}
        import advisor
        print(sorted(name for name in frameworks if name in sys.modules))
        import numpy as np, pandas as pd
        rng = np.random.default_rng(0)
        frame = pd.DataFrame(rng.normal(size=(80, 3)), columns=["a", "b", "c"])
        frame["y"] = (frame["a"] + rng.normal(size=80) > 0).astype(int)
        rec = advisor.suggest(frame, target="y", validate=False)
        assert rec.best.snippets and rec.best.params is not None
        print(sorted(name for name in frameworks if name in sys.modules))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["[]", "[]"], result.stdout


@pytest.fixture(scope="module")
def recommendation():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.normal(size=(120, 3)), columns=["a", "b", "c"])
    frame["y"] = np.array(["u", "v", "w"])[np.digitize(frame["a"] + 0.3 * frame["b"], [-0.5, 0.5])]
    return advisor.suggest(frame, target="y", validate=False)


def _one_line(error: pytest.ExceptionInfo) -> str:
    text = str(error.value)
    assert "\n" not in text and text
    return text


@pytest.mark.parametrize(("framework", "method", "extra"),
                         [("torch", "to_torch", "torch"), ("keras", "to_keras", "keras")])
def test_a_missing_framework_is_one_typed_line_naming_the_extra(monkeypatch, recommendation,
                                                                 framework, method, extra):
    monkeypatch.setitem(sys.modules, framework, None)  # what an uninstalled package looks like
    monkeypatch.delitem(sys.modules, f"advisor.{framework}", raising=False)
    with pytest.raises(FrameworkError) as error:
        getattr(recommendation.best, method)()
    assert f"pip install 'loss-advisor[{extra}]'" in _one_line(error)
    assert isinstance(error.value, ImportError) and isinstance(error.value, advisor.AdvisorError)


def test_saved_setting_reads_the_best_or_the_named_candidate(tmp_path, recommendation):
    path = tmp_path / "rec.json"
    path.write_text(recommendation.to_json(), encoding="utf-8")
    best = saved_setting(path)
    assert (best.loss_id, best.task) == (recommendation.best.loss, "multiclass")
    assert best.params == CATALOG[best.loss_id].bind(recommendation.best.params, "multiclass").params
    other = recommendation.candidates[2].loss
    assert saved_setting(str(path), loss=other).loss_id == other
    with pytest.raises(OptionError) as error:
        saved_setting(path, loss="cox")
    assert recommendation.best.loss in _one_line(error)


@pytest.mark.parametrize(("content", "message"), [
    (None, "cannot read the saved result"),
    ("{not json", "is not a JSON result of advisor suggest"),
    (json.dumps({"task": "binary"}), "needs a task and candidates"),
    (json.dumps({"task": "binary", "candidates": [{"loss": "focal"}]}), "needs a task and candidates"),
    (json.dumps([1, 2]), "needs a task and candidates"),
])
def test_a_bad_saved_result_is_one_typed_line(tmp_path, content, message):
    path = tmp_path / "rec.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ReportError) as error:
        saved_setting(path)
    assert message in _one_line(error)


def test_a_candidate_outside_its_recommendation_says_what_it_needs(recommendation):
    """A candidate read back alone does not know its task (sigmoid or softmax form)."""
    alone = type(recommendation.best).from_dict(recommendation.best.to_dict())
    with pytest.raises(ReportError) as error:
        alone.to_torch()
    assert "make_loss(loss, params, task)" in _one_line(error)
