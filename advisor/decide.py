"""Stage 5, decide: merge the rule prior with the experiment's evidence into the final order.

Public function: :func:`decide`. Output: :class:`Decision`.

The final order is

1. the trained candidates that were scored, in the *evidence order*
   (:func:`advisor.stats.evidence_order`): the rule order, changed only where a paired test
   found a significant difference on the primary metric. Strong evidence overturns the rule
   order; ties keep it;
2. then the applicable losses that were not trained, by rule score (rule order on ties);
3. then the candidates that failed in the experiment (they could not be trained on this
   data: evidence against them, so they rank below the untested ones), in rule order;
4. then the vetoed losses, in rule order.

Without a validation, the order is the rule order (non-vetoed by score, then vetoed).

Verdicts are the validator's (see :mod:`advisor.validate` for their exact meaning);
without a validation every non-vetoed loss is ``not_tested`` and the others ``vetoed``.

Confidence in the first loss of the final order:

- ``high``: tested, and it beat the task's default loss significantly; or it *is* the
  default and beat every other tested candidate significantly; or the default could not be
  compared (vetoed or failed) and it beat every other tested candidate significantly.
- ``medium``: tested and confirmed, but without such a significant margin (the rules'
  preference decides between statistically tied losses); or not tested but the rules
  prefer it by at least :data:`CLEAR_RULE_MARGIN` score points (or it is the only
  applicable loss).
- ``low``: not tested and the rule scores barely separate it from the runner-up; or the
  experiment could not compare anything (fewer than two candidates trained, or fewer than
  three splits completed); or every applicable loss is vetoed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .validate import Validation

__all__ = ["decide", "Decision", "CLEAR_RULE_MARGIN"]

#: Rule-score lead over the runner-up that makes an untested recommendation "medium".
CLEAR_RULE_MARGIN = 1.0
#: Splits the experiment needs before any confidence above "low".
MIN_SPLITS_FOR_CONFIDENCE = 3


@dataclass(frozen=True, eq=False)
class Decision:
    """The final ranking, a verdict per loss, the confidence and a one-paragraph summary."""

    order: tuple[str, ...]          # every applicable loss, best first
    verdicts: dict[str, str]        # loss -> confirmed / tied / overturned / failed / not_tested / vetoed
    confidence: dict[str, str]      # {"level": high|medium|low, "reason": ...}
    summary: str
    validated: bool
    metric: str | None              # the experiment's primary metric, None without validation
    agreement: dict[str, Any] | None  # Kendall tau between rule and empirical order

    @property
    def pick(self) -> str | None:
        """The recommended loss (None only when there is no applicable loss at all)."""
        return self.order[0] if self.order else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "pick": self.pick, "order": list(self.order), "verdicts": dict(self.verdicts),
            "confidence": dict(self.confidence), "summary": self.summary,
            "validated": self.validated, "metric": self.metric, "agreement": self.agreement,
        }


def decide(outcome: Any, validation: "Validation | None" = None) -> Decision:
    """Merge the rule outcome (``ranking``, ``scores``, ``vetoes``) with the experiment."""
    vetoes = dict(getattr(outcome, "vetoes", {}) or {})
    scores = {key: float(value) for key, value in (getattr(outcome, "scores", {}) or {}).items()}
    ranking = list(dict.fromkeys([*outcome.ranking, *vetoes]))
    position = {loss_id: index for index, loss_id in enumerate(ranking)}
    by_score = sorted((loss_id for loss_id in ranking if loss_id not in vetoes),
                      key=lambda loss_id: (-scores.get(loss_id, 0.0), position[loss_id]))
    vetoed = [loss_id for loss_id in ranking if loss_id in vetoes]

    if validation is None:
        verdicts = {loss_id: "vetoed" if loss_id in vetoes else "not_tested" for loss_id in ranking}
        order = tuple(by_score + vetoed)
        level, reason = _rules_only_confidence(by_score, scores, vetoed)
        return Decision(order=order, verdicts=verdicts,
                        confidence={"level": level, "reason": reason},
                        summary=_rules_only_summary(by_score, scores, vetoed),
                        validated=False, metric=None, agreement=None)

    tested = [loss_id for loss_id in validation.evidence_order if loss_id in position]
    failed = [item.loss for item in validation.candidates
              if item.status == "failed" and item.loss in position]
    failed.sort(key=lambda loss_id: position[loss_id])
    placed = set(tested) | set(failed) | set(vetoed)
    untested = [loss_id for loss_id in by_score if loss_id not in placed]
    order = tuple(tested + untested + failed + vetoed)
    verdicts = {}
    for loss_id in ranking:
        if loss_id in vetoes:
            verdicts[loss_id] = "vetoed"
        else:
            verdicts[loss_id] = validation.verdicts.get(loss_id, "not_tested")
    level, reason = _validated_confidence(validation, order[0] if order else None)
    agreement = None
    if validation.agreement is not None:
        agreement = {"kendall_tau": _sig(validation.agreement[0]),
                     "p_value": _sig(validation.agreement[1]),
                     "n_candidates": len(validation.rule_order)}
    return Decision(order=order, verdicts=verdicts, confidence={"level": level, "reason": reason},
                    summary=_validated_summary(validation, order, vetoed),
                    validated=True, metric=validation.protocol.metric, agreement=agreement)


# ----- confidence -----------------------------------------------------------------------
def _rules_only_confidence(by_score: list[str], scores: dict[str, float],
                           vetoed: list[str]) -> tuple[str, str]:
    if not by_score:
        return "low", "every applicable loss is vetoed by the rules"
    first = by_score[0]
    if len(by_score) == 1:
        return "medium", f"{first} is the only applicable loss the rules do not veto; not tested empirically"
    second = by_score[1]
    margin = scores.get(first, 0.0) - scores.get(second, 0.0)
    if margin >= CLEAR_RULE_MARGIN:
        return "medium", (f"the rules prefer {first} by {margin:g} score points over {second}; "
                          "not tested empirically")
    return "low", (f"the rules barely separate {first} from {second} ({margin:g} score points) "
                   "and the experiment was not run")


def _default_of(validation: "Validation") -> str | None:
    for item in validation.candidates:
        if "default" in item.roles:
            return item.loss
    return None


def _validated_confidence(validation: "Validation", first: str | None) -> tuple[str, str]:
    metric = validation.protocol.metric
    tested = list(validation.evidence_order)
    if not tested or first != tested[0]:
        return "low", "no candidate could be trained and scored; the order is the rules' alone"
    if len(tested) < 2:
        return "low", f"only {first} could be trained and scored, so nothing was compared with it"
    if validation.protocol.splits_used < MIN_SPLITS_FOR_CONFIDENCE:
        return "low", (f"only {validation.protocol.splits_used} splits completed within the "
                       "budget: too few for a reliable comparison")
    default = _default_of(validation)
    others = [loss_id for loss_id in tested if loss_id != first]
    beats_all = all((first, other) in validation.beats() for other in others)
    if default is not None and default != first and default in tested:
        comparison = validation.comparison(first, default)
        if comparison is not None and comparison.significant and comparison.mean_difference > 0:
            return "high", (f"{first} beat the default {default} on {metric} by "
                            f"{_difference_text(comparison)}")
        p_text = f" ({_p_text(comparison.p_value)})" if comparison is not None else ""
        return "medium", (f"{first} was not significantly better than the default {default} on "
                          f"{metric}{p_text}; the rules' preference decides")
    if default == first:
        if beats_all:
            return "high", f"the default {first} beat every alternative significantly on {metric}"
        return "medium", (f"the default {first} was as good as the alternatives on {metric}; "
                          "no alternative beat it significantly")
    if beats_all:
        return "high", f"{first} beat every other tested candidate significantly on {metric}"
    return "medium", (f"no tested candidate beat {first} significantly on {metric}, but it did "
                      "not beat them all either (the default could not be compared)")


# ----- summary ----------------------------------------------------------------------------
def _rules_only_summary(by_score: list[str], scores: dict[str, float], vetoed: list[str]) -> str:
    if not by_score:
        return (f"Every applicable loss was vetoed by the rules ({', '.join(vetoed)}); fix the "
                "network's output activation or the task and ask again.")
    first = by_score[0]
    text = (f"Rules only, not tested empirically: {first} leads with a rule score of "
            f"{scores.get(first, 0.0):+g}")
    if len(by_score) > 1:
        second = by_score[1]
        text += f", ahead of {second} ({scores.get(second, 0.0):+g})"
    text += "."
    if vetoed:
        text += f" Vetoed: {', '.join(vetoed)}."
    return text


def _validated_summary(validation: "Validation", order: tuple[str, ...], vetoed: list[str]) -> str:
    protocol = validation.protocol
    metric = protocol.metric
    splits = f"{protocol.folds}-fold cross-validation" + (
        f" repeated {protocol.repeats} times" if protocol.repeats > 1 else "")
    rows = (f"all {protocol.sample_rows:,} rows" if protocol.sample_rows == protocol.rows_available
            else f"a stratified sample of {protocol.sample_rows:,} of {protocol.rows_available:,} rows")
    parts = [f"{len(protocol.candidates)} losses trained as identical MLP proxies with {splits} on "
             f"{rows}, judged on {metric}."]
    if protocol.splits_used < protocol.splits_planned:
        parts.append(f"The time budget ran out: the comparison uses {protocol.splits_used} of "
                     f"{protocol.splits_planned} splits.")
    pick = validation.pick
    rule_choice = validation.rule_choice
    default = _default_of(validation)
    if pick is None:
        parts.append("Every trained candidate failed, so the ranking is the rules' alone.")
    else:
        rule_evidence = validation.candidate(rule_choice) if rule_choice else None
        if rule_choice == pick:
            sentence = f"The rules' choice {pick} was confirmed"
            if default and default != pick and default in validation.evidence_order:
                comparison = validation.comparison(pick, default)
                if comparison is not None and comparison.significant:
                    sentence += f": it beat the default {default} by {_difference_text(comparison)}"
                elif comparison is not None:
                    sentence += (f", though it was not significantly better than the default "
                                 f"{default} ({_p_text(comparison.p_value)})")
            others = [item for item in validation.evidence_order if item != pick]
            if others and all((pick, other) in validation.beats() for other in others):
                sentence += "; it beat every other tested candidate significantly"
            tied = [item for item in validation.evidence_order
                    if validation.verdicts.get(item) == "tied"]
            if tied:
                sentence += f"; statistically tied: {', '.join(tied)}"
            parts.append(sentence + ".")
        elif rule_evidence is not None and rule_evidence.status == "failed":
            parts.append(f"The rules' choice {rule_choice} failed in the experiment "
                         f"({rule_evidence.failure}); {pick} leads instead.")
        else:
            winners = [comparison for comparison in
                       (validation.comparison(item, rule_choice) for item in validation.evidence_order
                        if item != rule_choice)
                       if comparison is not None and comparison.significant
                       and comparison.mean_difference > 0]
            sentence = f"The evidence overturned the rules' choice {rule_choice}"
            if winners:
                best = max(winners, key=lambda comparison: comparison.mean_difference)
                sentence += f": {best.a} beat it by {_difference_text(best)}"
                if best.a != pick:
                    sentence += (f"; {pick} leads because the rules rank it higher and no tested "
                                 "candidate beat it significantly")
            parts.append(sentence + ".")
    failed = [item.loss for item in validation.candidates if item.status == "failed"]
    if failed and (pick is not None):
        parts.append(f"Failed: {', '.join(failed)}.")
    if validation.agreement is not None:
        tau = validation.agreement[0]
        word = "agree" if tau >= 0.6 else "partly agree" if tau > 0 else "disagree"
        parts.append(f"Rule and empirical rankings {word} (Kendall tau {tau:.2f} over "
                     f"{len(validation.rule_order)} candidates).")
    return " ".join(parts)


def _difference_text(comparison) -> str:
    """'0.12 (95% CI 0.05 to 0.19, p = 0.003)' for a comparison oriented a-versus-b."""
    confidence = int(round(100 * (1 - comparison.alpha)))
    return (f"{_sig(comparison.mean_difference, 3)} ({confidence}% CI "
            f"{_sig(comparison.ci_low, 3)} to {_sig(comparison.ci_high, 3)}, "
            f"{_p_text(comparison.p_value)})")


def _p_text(p_value: float) -> str:
    return "p < 0.001" if p_value < 0.001 else f"p = {p_value:.3f}"


def _sig(value: float | None, digits: int = 6) -> float | None:
    if value is None:
        return None
    number = float(value)
    if number != number or number in (float("inf"), float("-inf")):
        return None
    return float(f"{number:.{digits}g}")
