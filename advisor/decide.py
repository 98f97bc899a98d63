"""Stage 5, decide: what the experiment measured decides; the rules break practical ties.

Public function: :func:`decide`. Output: :class:`Decision`.

Not significant is not equivalent. With 5-10 folds a t-test rarely rejects even for
differences of several percent, so "ties keep the rule order" let the rules overrule clear
leans of the experiment. The rule here:

1. Among the candidates that trained stably (``Validation.tested()``), the **leader** is the
   one with the best mean on the primary metric.
2. Candidates whose mean is within the **practical margin** of the leader's
   (:func:`practical_margin`: 0.5 % of the leader's score, whatever the metric: the same
   closeness the quality benchmark counts as "as good as the best") are practically
   equivalent to it; among those the rule order decides, and the first is the pick. The rest
   follow by mean.
3. Unstable candidates (a blow-up on some split, see :mod:`advisor.stability`) are never
   recommended while a stable or untested loss remains; they rank after the untested ones,
   then the failed ones, then the vetoed. When nothing else remains, the basis is ``none``:
   the first loss is listed, not recommended, and the confidence and summary say so.
4. With fewer than :data:`MIN_SPLITS_FOR_CONFIDENCE` splits, or fewer than two stable
   candidates to compare, the experiment is too small to order them: the rules do.
5. Without an experiment the order is the rule order (non-vetoed by score, then vetoed).

What is judged is the protocol's ``judge``: the user's metric over all rows, or, with a
sensitive column and ``--judge worst-group``, its value in the worst-off group of each fold
(``worst_group_folds``): the leader, the margin, the comparisons and the confidence then all
read those fold scores, the objective group DRO minimises (Sagawa et al., ICLR 2020).

The posterior probabilities of the Bayesian correlated t-test with that margin as the region
of practical equivalence (Benavoli et al., JMLR 2017; ``baycomp``) say how sure the pick is:
``high`` when no other stable candidate has more than :data:`RIVAL_PROBABILITY` posterior
probability of being practically better than the pick; ``medium`` otherwise, or when only one
candidate trained stably; ``low`` when the experiment was too small, compared nothing, or did
not run and the rule scores barely separate the first two.

Verdicts, each a word for what was seen:

- ``confirmed``: the pick, and it measured best.
- ``equivalent``: within the practical margin of the best measured (the pick itself when it
  is not the best-measured one but the rules prefer it among the equivalents), or any stable
  candidate when the experiment was too small to tell them apart.
- ``overturned``: measured worse than the best by more than the margin.
- ``unstable``: blew up on some split; never recommended.
- ``failed``: could not be trained or scored on some split.
- ``not_tested``: applicable, not vetoed, not trained (or the budget ran out first).
- ``vetoed``: a rule vetoed it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from .calibration import calibration_notices, plan_sentence, proper_score_sentence
from .errors import OptionError
from .schema import ComparisonWithPick, Notice, PracticalEquivalence, measured

if TYPE_CHECKING:  # pragma: no cover
    from .experiment.evidence import CandidateEvidence, Validation

__all__ = ["decide", "Decision", "select_candidates", "Candidates", "practical_margin",
           "CLEAR_RULE_MARGIN", "VERDICTS", "RELATIVE_MARGIN", "RIVAL_PROBABILITY"]

#: Every verdict a loss can get, in the order the README explains them.
VERDICTS: tuple[str, ...] = ("confirmed", "equivalent", "overturned", "unstable", "failed",
                             "not_tested", "vetoed")
#: Rule-score lead over the runner-up that makes an untested recommendation "medium".
CLEAR_RULE_MARGIN = 1.0
#: Splits the experiment needs before it orders anything.
MIN_SPLITS_FOR_CONFIDENCE = 3
#: Practical margin: this share of the leader's mean score, for every metric. On the quality
#: benchmark (docs/quality.md, budgets 10 and 30 s) it gave 85 hits of 86 and a mean regret of
#: 0.75 / 0.98 %; 1 % of an error with 0.005 for [0, 1] scores gave 86 hits but 1.10 / 1.22 %;
#: no margin at all (the best mean always) 84 hits and 0.73 / 0.64 %.
RELATIVE_MARGIN = 0.005
#: The most losses one experiment trains: the rules' top ones, the default and the user's,
#: then the next in rule order while the budget allows them on the planned splits.
MAX_CANDIDATES = 8
#: A rival more likely than this to be practically better keeps the confidence at "medium".
RIVAL_PROBABILITY = 0.05


def practical_margin(metric: str, leader_mean: float) -> float:
    """Half-width of the region of practical equivalence around the leader's mean score
    (``metric`` is part of the contract: a metric may one day need its own margin)."""
    return RELATIVE_MARGIN * abs(float(leader_mean))


@dataclass(frozen=True)
class Candidates:
    """The losses the experiment trains, in rule order, with why each is there (``roles``:
    "rules", "default", "user") and its 1-based position in the rule ranking."""

    chosen: tuple[str, ...]
    roles: Mapping[str, Sequence[str]]
    rule_rank: Mapping[str, int]
    #: The next non-vetoed losses of the rule ranking, best first: trained too when the
    #: budget allows after the planned run (role "budget").
    reserve: tuple[str, ...] = ()

    def widened(self, extra: Sequence[str]) -> Candidates:
        """These candidates and ``extra`` (taken from the reserve), in rule order."""
        unranked = len(self.rule_rank) + 1
        chosen = sorted([*self.chosen, *extra],
                        key=lambda loss_id: self.rule_rank.get(loss_id, unranked))
        roles = {**self.roles, **{loss_id: ("budget",) for loss_id in extra}}
        return Candidates(tuple(chosen), roles, self.rule_rank,
                          tuple(loss_id for loss_id in self.reserve if loss_id not in extra))


def select_candidates(outcome: Any, task: str, *, max_candidates: int,
                      extra_candidates: Sequence[str] = ()) -> tuple[Candidates, list[Notice]]:
    """Which losses to train, and the notices about the choice.

    The top ``max_candidates`` losses of the rule ranking that are not vetoed, plus, always,
    the task's default loss (``advisor.losses.DEFAULT_LOSS``) so the user sees what the
    advice is worth against the naive choice, plus ``extra_candidates`` (the user's current
    loss) when applicable. A vetoed default is reported as vetoed and not trained. The next
    losses of the ranking, up to MAX_CANDIDATES in all, wait in the ``reserve``: a loss that
    is never trained can never overturn the rules, so the budget buys them after a second
    repeat (five splits spread over more candidates leave too little power) and before more.
    A loss some rule argues against here (a negative score: misaligned with the metric or
    the data) is not among them: trained only to fill the budget, it could win on the noise
    of a small experiment, the more likely the more candidates there are.
    """
    from .losses import CATALOG, DEFAULT_LOSS

    vetoes = dict(getattr(outcome, "vetoes", {}) or {})
    ranking = list(outcome.ranking)
    known = list(dict.fromkeys([*ranking, *vetoes]))
    rule_rank = {loss_id: index + 1 for index, loss_id in enumerate(ranking)}
    chosen = [loss_id for loss_id in ranking if loss_id not in vetoes][:max_candidates]
    roles: dict[str, list[str]] = {loss_id: ["rules"] for loss_id in chosen}
    notices: list[Notice] = []
    added = [(DEFAULT_LOSS.get(task), "default"), *((item, "user") for item in extra_candidates)]
    for loss_id, role in added:
        if loss_id is None:
            continue
        if loss_id in vetoes:
            if role == "default":
                notices.append(Notice("validation.default_vetoed",
                                f"the default loss {loss_id} is vetoed here, so the experiment "
                                "cannot show what the advice is worth against it"))
            continue
        if loss_id not in known or loss_id not in CATALOG:
            continue
        if loss_id not in roles:
            chosen.append(loss_id)
            roles[loss_id] = []
        roles[loss_id].append(role)
    order = {loss_id: index for index, loss_id in enumerate(chosen)}
    chosen.sort(key=lambda loss_id: (rule_rank.get(loss_id, len(ranking) + 1), order[loss_id]))
    missing = [loss_id for loss_id in chosen if loss_id not in CATALOG]
    if missing:
        raise OptionError("loss", missing[0], sorted(CATALOG),
                          hint="the rule outcome names a loss the catalog does not have")
    scores = dict(getattr(outcome, "scores", {}) or {})
    reserve = tuple(loss_id for loss_id in ranking
                    if loss_id not in vetoes and loss_id not in roles and loss_id in CATALOG
                    and scores.get(loss_id, 0.0) >= 0)
    return Candidates(tuple(chosen), {key: tuple(value) for key, value in roles.items()},
                      rule_rank, reserve[:max(0, MAX_CANDIDATES - len(chosen))]), notices


@dataclass(frozen=True, eq=False)
class Decision:
    """The final ranking, a verdict per loss, the confidence and a one-paragraph summary."""

    order: tuple[str, ...]          # every applicable loss, best first
    verdicts: dict[str, str]        # loss -> one of VERDICTS
    confidence: dict[str, str]      # {"level": high|medium|low, "reason": ...}
    summary: str
    metric: str | None              # the experiment's primary metric, None without validation
    basis: str = "rules"            # evidence, rules_tiebreak, too_small, rules, none
    leader: str | None = None       # the best-measured stable candidate
    margin: float | None = None     # the practical margin used, in the metric's units
    versus: dict[str, ComparisonWithPick] = field(default_factory=dict)  # loss -> comparison with the pick
    notices: tuple[Notice, ...] = ()  # about the pick, e.g. decision.temperature_scaling
    judge: str = "all_rows"         # all_rows, or worst_group: the worst group's metric decided
    worst_group: str | None = None  # judged on the worst group: the pick's worst group

    @property
    def pick(self) -> str | None:
        """The recommended loss (None only when there is no applicable loss at all)."""
        return self.order[0] if self.order else None

    def basis_dict(self) -> dict[str, Any]:
        """How the pick was decided, as the JSON's ``decision`` object."""
        return {"basis": self.basis, "leader": self.leader, "margin": measured(self.margin),
                "metric": self.metric, "judge": self.judge,
                **({"worst_group": self.worst_group} if self.worst_group is not None else {})}


def decide(outcome: Any, validation: Validation | None = None) -> Decision:
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
        level, reason = _rules_only_confidence(by_score, scores)
        return Decision(order=tuple(by_score + vetoed), verdicts=verdicts,
                        confidence={"level": level, "reason": reason},
                        summary=_rules_only_summary(by_score, scores, vetoed), metric=None)

    judged = _judge(validation, position)
    stable = judged["order"]
    unstable = [item.loss for item in validation.tested("unstable") if item.loss in position]
    failed = [item.loss for item in validation.tested("failed") if item.loss in position]
    placed = set(stable) | set(unstable) | set(failed) | set(vetoed)
    untested = [loss_id for loss_id in by_score if loss_id not in placed]
    order = tuple(stable + untested + unstable + failed + vetoed)
    verdicts = {}
    for loss_id in ranking:
        verdicts[loss_id] = ("vetoed" if loss_id in vetoes else "unstable" if loss_id in unstable
                             else "failed" if loss_id in failed
                             else judged["verdicts"].get(loss_id, "not_tested"))
    pick = order[0] if order else None
    if pick is not None and verdicts[pick] in ("unstable", "failed"):
        judged = {**judged, "basis": "none"}    # every applicable loss blew up, failed or is vetoed
    measured = pick is not None and pick in judged["verdicts"]
    versus = _versus(validation, pick, judged["margin"]) if measured and pick else {}
    level, reason = _validated_confidence(validation, judged, pick, versus)
    notices = (calibration_notices(validation, pick, _default_of(validation))
               if measured and judged["basis"] != "none" else ())
    return Decision(order=order, verdicts=verdicts, confidence={"level": level, "reason": reason},
                    summary=_validated_summary(validation, judged, pick, versus, unstable, failed),
                    metric=validation.protocol.metric,
                    basis=judged["basis"], leader=judged["leader"], margin=judged["margin"],
                    versus=versus, notices=notices, judge=validation.protocol.judge,
                    worst_group=_worst_group_of(validation, pick))


def _worst_group_of(validation: Validation, pick: str | None) -> str | None:
    """Judged on the worst group: the pick's worst group (None otherwise, or untrained)."""
    if validation.protocol.judge != "worst_group" or pick is None:
        return None
    evidence = validation.candidate(pick)
    return None if evidence is None or evidence.fairness is None \
        else evidence.fairness["worst_group_name"]


def _judge(validation: Validation, position: dict[str, int]) -> dict[str, Any]:
    """Order and verdicts of the stable candidates, the leader, the margin and the basis, on
    the scores the protocol's judge names (the metric over all rows, or in the worst group)."""
    protocol = validation.protocol
    metric = protocol.metric
    sign = 1.0 if protocol.greater_is_better else -1.0
    stable = sorted((item.loss for item in validation.tested() if item.loss in position),
                    key=position.__getitem__)
    mean = {loss_id: validation.judged_mean(loss_id) for loss_id in stable}
    if not stable:
        return {"order": [], "verdicts": {}, "leader": None, "margin": None, "basis": "rules"}
    leader = max(stable, key=lambda loss_id: (sign * mean[loss_id], -position[loss_id]))
    margin = practical_margin(metric, mean[leader])
    if protocol.splits_used < MIN_SPLITS_FOR_CONFIDENCE:
        return {"order": stable, "verdicts": {loss_id: "equivalent" for loss_id in stable},
                "leader": leader, "margin": margin, "basis": "too_small"}
    if len(stable) == 1:
        return {"order": stable, "verdicts": {leader: "confirmed"}, "leader": leader,
                "margin": margin, "basis": "evidence"}
    equivalent = [loss_id for loss_id in stable
                  if sign * (mean[leader] - mean[loss_id]) <= margin]
    rest = sorted((loss_id for loss_id in stable if loss_id not in equivalent),
                  key=lambda loss_id: (-sign * mean[loss_id], position[loss_id]))
    pick = equivalent[0]
    verdicts = {loss_id: "equivalent" for loss_id in equivalent}
    verdicts.update({loss_id: "overturned" for loss_id in rest})
    if pick == leader:
        verdicts[pick] = "confirmed"
    basis = "evidence" if len(equivalent) == 1 else "rules_tiebreak"
    return {"order": equivalent + rest, "verdicts": verdicts, "leader": leader,
            "margin": margin, "basis": basis}


def _versus(validation: Validation, pick: str, margin: float | None) -> dict[str, ComparisonWithPick]:
    """For every trained candidate but the pick: the paired comparison with the pick
    (frequentist, as a second reading) and the posterior of practical superiority."""
    from . import stats  # scipy and baycomp: only a validated run needs them
    from .experiment.evidence import comparison_record

    protocol = validation.protocol
    mine = validation.judged_folds(pick)
    result = {}
    for item in validation.candidates:
        if item.loss == pick or item.status not in ("tested", "unstable"):
            continue
        theirs = validation.judged_folds(item.loss)
        frequentist = stats.compare_paired(
            item.loss, theirs, pick, mine, greater_is_better=protocol.greater_is_better,
            test_train_ratio=protocol.test_train_ratio or 0.0)  # None only without splits
        practical = stats.practical_comparison(
            item.loss, theirs, pick, mine, greater_is_better=protocol.greater_is_better,
            rope=margin or 0.0, folds=protocol.folds)
        comparison = comparison_record(frequentist)
        result[item.loss] = ComparisonWithPick(
            **{spec.name: getattr(comparison, spec.name) for spec in fields(comparison)},
            practical=PracticalEquivalence(rope=measured(practical.rope),
                                           better=measured(practical.better, 3),
                                           equivalent=measured(practical.equivalent, 3),
                                           worse=measured(practical.worse, 3)))
    return result


# ----- confidence -----------------------------------------------------------------------
def _rules_only_confidence(by_score: list[str], scores: dict[str, float]) -> tuple[str, str]:
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


def _measured(validation: Validation, loss_id: str) -> CandidateEvidence:
    """The evidence of a loss the experiment trained (a KeyError otherwise: a bug)."""
    evidence = validation.candidate(loss_id)
    if evidence is None:
        raise KeyError(loss_id)
    return evidence


def _default_of(validation: Validation) -> str | None:
    for item in validation.candidates:
        if "default" in item.roles:
            return item.loss
    return None


def _validated_confidence(validation: Validation, judged: dict[str, Any], pick: str | None,
                          versus: dict[str, ComparisonWithPick]) -> tuple[str, str]:
    metric = validation.protocol.metric
    if judged["basis"] == "none":
        return "low", (f"no applicable loss trained stably: {pick} is listed first only because "
                       "every other one is vetoed, failed or blew up too; do not use it before "
                       "fixing the data (e.g. far-out feature values that the network extrapolates)")
    if pick is None or pick not in judged["verdicts"]:
        return "low", ("no candidate trained stably, so nothing was measured for the pick; "
                       "the order is the rules' alone")
    if judged["basis"] == "too_small":
        return "low", (f"only {validation.protocol.splits_used} splits completed within the "
                       "budget: too few to order the candidates, so the rules did")
    stable_rivals = {loss_id: item for loss_id, item in versus.items()
                     if judged["verdicts"].get(loss_id)}
    if not stable_rivals:
        others = [item.loss for item in validation.candidates if item.loss != pick]
        return "medium", (f"{pick} is the only candidate that trained stably"
                          + (f" ({', '.join(others)} did not)" if others else ""))
    rival, chance = max(((loss_id, _chance_better(item)) for loss_id, item in stable_rivals.items()),
                        key=lambda pair: pair[1])
    margin_text = _margin_text(metric, judged["margin"])
    if judged["basis"] == "rules_tiebreak":
        tied = _equivalents(judged, pick)
        lead = (f"{pick} is practically equivalent to {', '.join(tied)} on "
                f"{validation.judged_on(pick)} ({margin_text}), so the rules chose")
    else:
        lead = f"{pick} measured best on {validation.judged_on(pick)}"
    if chance < RIVAL_PROBABILITY:
        return "high", (f"{lead}; no other candidate is practically better with more than "
                        f"{RIVAL_PROBABILITY:.0%} posterior probability ({margin_text})")
    return "medium", (f"{lead}, but {rival} may still be practically better (posterior "
                      f"probability {chance:.2f}, {margin_text}); a larger budget would tell")


def _chance_better(comparison: ComparisonWithPick) -> float:
    """The posterior probability that the candidate is practically better than the pick (the
    correlated t-test's posterior is always a number, never a missing score)."""
    chance = comparison.practical.better
    assert chance is not None, "the practical comparison gave no probability"
    return chance


def _equivalents(judged: dict[str, Any], pick: str) -> list[str]:
    """The stable candidates practically equivalent to the pick (within the margin)."""
    return [loss_id for loss_id, verdict in judged["verdicts"].items()
            if verdict in ("equivalent", "confirmed") and loss_id != pick]


def _margin_text(metric: str, margin: float | None) -> str:
    return f"margin +-{measured(margin, 3):g} {metric}" if margin is not None else "no margin"


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


def _validated_summary(validation: Validation, judged: dict[str, Any], pick: str | None,
                       versus: dict[str, ComparisonWithPick], unstable: list[str],
                       failed: list[str]) -> str:
    protocol = validation.protocol
    metric = protocol.metric
    splits = f"{protocol.folds}-fold cross-validation" + (
        f" repeated {protocol.repeats} times" if protocol.repeats > 1 else "")
    rows = (f"all {protocol.sample_rows:,} rows" if protocol.sample_rows == protocol.rows_available
            else f"a stratified sample of {protocol.sample_rows:,} of {protocol.rows_available:,} rows")
    parts = [f"{len(protocol.candidates)} losses trained as identical MLP proxies with {splits} on "
             f"{rows}, judged on {validation.judged_on(pick)}."]
    if protocol.splits_used < protocol.splits_planned:
        parts.append(f"The time budget ran out: the comparison uses {protocol.splits_used} of "
                     f"{protocol.splits_planned} splits.")
    rule_choice = validation.rule_choice
    default = _default_of(validation)
    if judged["basis"] == "none":
        parts.append(f"No applicable loss trained stably, so none can be recommended safely; "
                     f"{pick} is only listed first.")
    elif pick is None or pick not in judged["verdicts"]:
        parts.append("No candidate trained stably, so the ranking is the rules' alone.")
    elif judged["basis"] == "too_small":
        parts.append(f"Too few splits to order the candidates: the rules' order stands, {pick} first.")
    else:
        parts.append(_pick_sentence(validation, judged, pick, rule_choice, default, versus))
        fairness = _fairness_sentence(validation, pick)
        if fairness:
            parts.append(fairness)
        plans = plan_sentence(validation, pick)
        if plans:
            parts.append(plans)
    proper = proper_score_sentence(metric, protocol.task)
    if proper:
        parts.append(proper)
    for label, losses in (("Unstable, never recommended", unstable), ("Failed", failed)):
        if losses:
            details = [f"{loss_id} ({_measured(validation, loss_id).failure})" for loss_id in losses]
            parts.append(f"{label}: {'; '.join(details)}.")
    if validation.agreement is not None:
        tau = validation.agreement[0]
        word = "agree" if tau >= 0.6 else "partly agree" if tau > 0 else "disagree"
        parts.append(f"Rule and empirical rankings {word} (Kendall tau {tau:.2f} over "
                     f"{len(validation.rule_order)} candidates).")
    return " ".join(parts)


def _fairness_sentence(validation: Validation, pick: str) -> str | None:
    """With a sensitive column: the trade-off between the two readings. Judged on all rows,
    the pick's worst-group metric and gaps against the candidate with the best worst group;
    judged on the worst group, the pick's metric over all rows against the best there."""
    measured = {item.loss: item.fairness for item in validation.tested()
                if item.fairness is not None and math.isfinite(item.fairness["worst_group"])}
    if pick not in measured:
        return None
    greater = validation.protocol.greater_is_better
    choose = max if greater else min
    metric = validation.protocol.metric

    def describe(loss_id: str) -> str:
        item = measured[loss_id]
        return (f"worst group {item['worst_group_name']!r} {metric} {item['worst_group']:.4g}, "
                f"demographic parity difference {item['demographic_parity_difference']:.3g}, "
                f"equalized odds difference {item['equalized_odds_difference']:.3g}")

    if validation.protocol.judge == "worst_group":
        overall = {loss_id: _measured(validation, loss_id).means[metric] for loss_id in measured}
        best = choose(overall, key=overall.__getitem__)
        if best == pick:
            return (f"Over all rows, {pick} also scores best ({metric} {overall[pick]:.4g}; "
                    f"{describe(pick)}).")
        return (f"Fairness trade-off: over all rows {best} scores best ({metric} "
                f"{overall[best]:.4g} against {overall[pick]:.4g}); the pick follows the worst "
                f"group, as asked ({describe(pick)}).")
    best = choose(measured, key=lambda loss_id: measured[loss_id]["worst_group"])
    if best == pick:
        return f"Across the groups, {pick} also has the best worst group: {describe(pick)}."
    return (f"Fairness trade-off: {pick} has {describe(pick)}; {best} has the best worst group "
            f"({describe(best)}). The pick follows {metric} over all rows; choose {best} if the "
            "worst-off group matters most (or ask with --judge worst-group).")


def _pick_sentence(validation: Validation, judged: dict[str, Any], pick: str,
                   rule_choice: str | None, default: str | None,
                   versus: dict[str, ComparisonWithPick]) -> str:
    metric = validation.protocol.metric
    if validation.protocol.judge == "worst_group":
        metric = f"worst-group {metric}"
    mean = validation.judged_mean(pick)
    leader = judged["leader"]
    if judged["basis"] == "rules_tiebreak":
        tied = _equivalents(judged, pick)
        sentence = (f"{pick} ({measured(mean, 4)}) and {', '.join(tied)} are practically equivalent "
                    f"({_margin_text(metric, judged['margin'])}): the rules' order decides"
                    + (f", though {leader} measured best" if leader != pick else ""))
    elif pick == rule_choice:
        sentence = f"The rules' choice {pick} was confirmed: it measured best ({metric} {measured(mean, 4)})"
    else:
        chosen = validation.candidate(rule_choice) if rule_choice else None
        if chosen is not None and chosen.status in ("unstable", "failed"):
            sentence = (f"The rules' choice {rule_choice} was {chosen.status}; {pick} measured "
                        f"best instead ({metric} {measured(mean, 4)})")
        else:
            sentence = f"The evidence overturned the rules' choice {rule_choice}: {pick} measured best ({metric} {measured(mean, 4)}"
            if rule_choice in versus:
                sentence += f" against {measured(validation.judged_mean(rule_choice), 4)}"
                sentence += f", {_chance_text(versus[rule_choice])}"
            sentence += ")"
    if default and default != pick and default in versus:
        default_mean = validation.judged_mean(default)
        sentence += (f"; the default {default} scored {measured(default_mean, 4)} "
                     f"({_chance_text(versus[default])})")
    return sentence + "."


def _chance_text(comparison: ComparisonWithPick) -> str:
    """'P(practically worse than the pick) = 0.97' for a comparison oriented candidate-vs-pick."""
    return f"probability it is practically worse than the pick {comparison.practical.worse:.2f}"
