"""What the decision says about calibrated probabilities.

A loss picked for a ranking or thresholded metric (balanced accuracy, F1, ...) is often a
re-weighted one, and re-weighting moves the probabilities away from the observed
frequencies: the decision must show what it costs there. Two sentences come from here:

- When the user's metric is a proper scoring rule (log loss, Brier), the summary says so: it
  is optimised in expectation by the true probabilities, so it already rewards calibration and
  needs no decision threshold or class re-weighting to be served.
- When the pick's expected calibration error (``ece``, see
  :func:`advisor.experiment.scoring.top_label_ece`) exceeds the default loss's by more than
  :func:`calibration_margin`, a ``decision.temperature_scaling`` notice recommends temperature
  scaling on held-out data (Guo, Pleiss, Sun & Weinberger, ICML 2017).
- When the experiment trained a plan (a loss plus a decision rule tuned on validation data,
  ``advisor.losses._plans``), the summary says which plan won and what it costs in log loss
  against plain cross-entropy: a tuned rule keeps the network's probabilities, a re-weighted
  loss does not (:func:`plan_sentence`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

from .schema import Notice

if TYPE_CHECKING:  # pragma: no cover
    from .experiment.evidence import Validation

__all__ = ["PROPER_SCORES", "CALIBRATION_TASKS", "ECE_ABSOLUTE_MARGIN", "ECE_RELATIVE_MARGIN",
           "calibration_margin", "proper_score_sentence", "calibration_notices", "plan_sentence"]

#: The task metrics that are proper scoring rules of the predicted probabilities.
PROPER_SCORES = ("log_loss", "brier")
#: Tasks whose candidates predict class or label probabilities.
CALIBRATION_TASKS = frozenset({"binary", "multiclass", "multilabel", "ordinal"})
#: The pick's ECE must exceed the default's by at least this much (0.02: two points of
#: confidence-accuracy gap, above the binning noise of a few hundred held-out rows per fold) ...
ECE_ABSOLUTE_MARGIN = 0.02
#: ... and by at least this share of the default's ECE (half again as large), so that two
#: small errors a few hundredths apart do not count as a difference in calibration.
ECE_RELATIVE_MARGIN = 0.5


def calibration_margin(default_ece: float) -> float:
    """How much larger than the default's ECE the pick's must be to count as worse calibrated."""
    return max(ECE_ABSOLUTE_MARGIN, ECE_RELATIVE_MARGIN * abs(default_ece))


def proper_score_sentence(metric: str, task: str) -> str | None:
    """The summary's sentence for a metric that is a proper scoring rule, else None."""
    if metric not in PROPER_SCORES or task not in CALIBRATION_TASKS:
        return None
    name = "log loss" if metric == "log_loss" else "the Brier score"
    return (f"Judged on {name}, a proper scoring rule: it already rewards calibrated "
            "probabilities, so serving it needs no decision threshold and no class re-weighting.")


def calibration_notices(validation: Validation, pick: str | None,
                        default: str | None) -> tuple[Notice, ...]:
    """A temperature-scaling notice when the pick is measurably worse calibrated than the
    default loss (both trained stably, both with an ECE); nothing otherwise."""
    if pick is None or default is None or pick == default:
        return ()
    if validation.protocol.task not in CALIBRATION_TASKS:
        return ()
    mine, theirs = validation.candidate(pick), validation.candidate(default)
    if mine is None or theirs is None or mine.status != "tested" or theirs.status != "tested":
        return ()
    pick_ece, default_ece = mine.means.get("ece", math.nan), theirs.means.get("ece", math.nan)
    if not (math.isfinite(pick_ece) and math.isfinite(default_ece)):
        return ()
    if pick_ece - default_ece <= calibration_margin(default_ece):
        return ()
    costs = _costs(mine.means, theirs.means)
    return (Notice("decision.temperature_scaling",
                   f"{pick}'s probabilities are worse calibrated than those of the default "
                   f"{default}: expected calibration error {pick_ece:.3g} against "
                   f"{default_ece:.3g}{costs}. If you use the probabilities, not only the "
                   "decisions, recalibrate them by temperature scaling on held-out data (Guo et "
                   "al. 2017): fit one temperature T > 0 on the validation logits by minimising "
                   "the log loss, then divide the logits by T before the softmax or sigmoid "
                   "(the predicted classes do not change); a class-weighted loss also shifts "
                   "each logit by the log of its class weight: subtract it first, or fit a bias "
                   "beside T as Platt scaling does."),)


def _costs(mine: Mapping[str, float], theirs: Mapping[str, float]) -> str:
    """', log loss a against b, Brier c against d' for the proper scores both have."""
    parts = [f"{label} {mine[name]:.3g} against {theirs[name]:.3g}"
             for name, label in (("log_loss", "log loss"), ("brier", "Brier"))
             if math.isfinite(mine.get(name, math.nan)) and math.isfinite(theirs.get(name, math.nan))]
    return f" ({', '.join(parts)})" if parts else ""


def plan_sentence(validation: Validation, pick: str | None) -> str | None:
    """'Of the plans (a loss plus a decision rule), P won ...; its log loss a against b for
    plain cross-entropy (+d)', when a plan with a tuned rule trained stably; else None."""
    from .losses import CATALOG

    plans = [item.loss for item in validation.tested()
             if item.loss in CATALOG and CATALOG[item.loss].decision is not None]
    mine = validation.candidate(pick) if pick is not None else None
    if not plans or mine is None or mine.status != "tested":
        return None
    metric = validation.protocol.metric
    others = [loss_id for loss_id in plans if loss_id != pick]
    plan = CATALOG[pick].decision if pick in CATALOG else None
    if plan is not None and mine.decision is not None:
        values = ", ".join(f"{value:.3g}" for value in mine.decision.medians)
        name = "threshold" if plan.rule == "threshold" else "tau"
        how = f" ({plan.base} with a {plan.title} for {metric}, median {name} {values})"
    else:
        how = ", with its plain argmax / 0.5 rule,"
    won = f"{pick}{how} won" + (f" over {', '.join(others)}" if others else "")
    plain = validation.candidate("cross_entropy")
    cost = ""
    if pick != "cross_entropy" and plain is not None and plain.status == "tested":
        a, b = mine.means.get("log_loss", math.nan), plain.means.get("log_loss", math.nan)
        if math.isfinite(a) and math.isfinite(b):
            cost = (f"; its log loss {a:.3g} against {b:.3g} for plain cross-entropy "
                    f"({a - b:+.3g})")
    return f"Of the plans (a loss plus a decision rule), {won}{cost}."
