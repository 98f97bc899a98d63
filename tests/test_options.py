"""Options are checked once, when the frozen object is built, with one message shape."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from advisor.errors import OptionError
from advisor.options import Options, available_cores, metric_for_task


def test_values_are_normalized_once():
    options = Options(activation=" Logits", framework="KERAS", task="MultiClass",
                      metric="ROC_AUC", quantiles=[0.9, 0.1, 0.9], budget="5", rules="extra",
                      loss=" Focal ", validate=0, label_noise=1)
    assert options.activation == "linear" and options.framework == "keras"
    assert options.task == "multiclass" and options.metric == "roc_auc"
    assert options.quantiles == (0.1, 0.9) and options.budget == 5.0
    assert options.rules == (Path("extra"),) and options.loss == "focal"
    assert options.validate is False and options.label_noise is True
    assert Options(rules=["a", Path("b")]).rules == (Path("a"), Path("b"))
    assert Options().rules == () and Options().n_jobs is None


def test_the_object_is_frozen_and_rebuilt_alike():
    options = Options(activation="logits", quantiles=(0.5,))
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.activation = "relu"  # type: ignore[misc]
    assert dataclasses.replace(options) == options


@pytest.mark.parametrize("values, message", [
    ({"activation": "swish"}, "activation must be one of auto, exp, identity, linear"),
    ({"framework": "jax"}, "framework must be one of keras, pytorch; got 'jax'"),
    ({"task": "classification"}, "task must be one of binary, count"),
    ({"metric": "auc"}, "metric must be one of accuracy, average_precision"),
    ({"quantiles": [0.5, 1.5]}, "quantile must be a number strictly between 0 and 1; got 1.5"),
    ({"quantiles": ["x"]}, "quantile must be a number strictly between 0 and 1; got 'x'"),
    ({"budget": 0}, "budget must be a positive number of seconds; got 0"),
    ({"budget": float("inf")}, "budget must be a positive number of seconds; got inf"),
    ({"seed": -1}, "seed must be a non-negative integer; got -1"),
    ({"seed": True}, "seed must be a non-negative integer; got True"),
    ({"n_jobs": 0}, r"jobs must be a non-zero integer \(-1 = all cores\); got 0"),
    ({"n_jobs": 1.5}, r"jobs must be a non-zero integer \(-1 = all cores\); got 1.5"),
    ({"label_sep": ""}, "label_sep must be a non-empty string such as '|'; got ''"),
    ({"loss": "cross_entropi"}, "loss must be one of .*; got 'cross_entropi'; did you mean 'cross_entropy'"),
])
def test_a_wrong_value_names_the_option_and_what_is_allowed(values, message):
    with pytest.raises(OptionError, match=f"^{message}"):
        Options(**values)


def test_the_checks_run_in_the_order_of_the_fields():
    with pytest.raises(OptionError, match="^activation"):
        Options(seed=-1, activation="swish")


def test_workers_are_the_cores_when_not_given():
    assert Options().workers == available_cores()
    assert Options(n_jobs=-1).workers == -1


def test_hint_facts_resolve_the_metric_for_the_task():
    hints = Options(activation="relu", loss="mse", quantiles=[0.5]).hint_facts("regression")
    assert hints == {"task_overridden": False, "activation": "relu", "framework": "pytorch",
                     "metric": "rmse", "metric_given": False, "current_loss": "mse",
                     "label_noise": False, "has_quantiles": True, "judge": "all_rows"}
    assert metric_for_task("mae", "ordinal") == ("mae", "chosen by the user (--metric mae)")
    with pytest.raises(OptionError, match="^metric must be one of .*that metric does not apply to a binary"):
        Options(metric="rmse").hint_facts("binary")
