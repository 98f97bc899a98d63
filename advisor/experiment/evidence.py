"""The evidence: per-candidate fold scores and summaries, paired comparisons, and their
JSON form.

:func:`assemble` turns the run's fold results into the :class:`Validation`'s fields.
Statuses of a candidate: ``tested`` (trained and scored on every compared split, stably),
``unstable`` (a blow-up on some split, :mod:`advisor.stability`: kept for the report, left
out of the comparisons), ``failed`` (raised, diverged, predicted non-finite values or could
not be scored on the primary metric on some split; the reason is recorded) and ``not_run``
(the budget ran out first). Only the folds every surviving candidate completed are
compared. The decide stage (:mod:`advisor.decide`) judges this evidence.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .. import stats
from ..decide import Candidates
from ..schema import (
    Agreement,
    Comparison,
    Evidence,
    FairnessEvidence,
    IntervalCoverage,
    Notice,
    ParameterSearch,
    ValidationSummary,
    json_tree,
    measured,
    significant,
)
from ..schema import ExperimentProtocol as Protocol
from ..stability import unstable_candidates
from ..stats import finite_mean
from .fairness import summarise
from .plan import Plan
from .run import FoldResult
from .scoring import NUMERIC_TASKS
from .search import chosen_value

__all__ = ["Protocol", "CandidateEvidence", "Validation", "comparison_record", "assemble",
           "judged_folds"]


@dataclass(frozen=True)
class CandidateEvidence:
    """One trained candidate: fold scores, means, interval, and whether it trained stably."""

    loss: str
    rule_rank: int | None                    # 1-based position in the rule ranking
    roles: tuple[str, ...]                   # "rules", "default", "user", "budget"
    status: str                              # tested, unstable, failed, not_run (budget ran out)
    failure: str | None                      # why it failed, was unstable, or did not run
    fold_scores: dict[str, tuple[float, ...]]  # metric -> one score per split used (NaN = undefined)
    means: dict[str, float]
    std: float                               # of the primary metric across folds
    ci_low: float                            # corrected t interval of the primary mean
    ci_high: float
    epochs_run: tuple[int | None, ...]
    epoch_cap_folds: int                     # folds where training stopped at the epoch cap
    #: Quantile losses: level -> mean share of held-out targets at or below its prediction.
    coverage: dict[str, float] | None = None
    #: With a sensitive column: per-group means, worst group and gaps (``fairness.summarise``).
    fairness: dict[str, Any] | None = None
    #: Plans: the decision rule as tuned on each split's held-out part of the training fold.
    decision: TunedDecisions | None = None
    #: A searched parameter (``LossSpec.search``): its value on each split, and the chosen one.
    search: SearchedParameter | None = None

    def record(self, metric: str) -> Evidence:
        """The result schema's record of these numbers, judged on ``metric``, rounded."""
        return Evidence(
            loss=self.loss, rule_rank=self.rule_rank, roles=self.roles, status=self.status,
            error=self.failure if self.status in ("failed", "not_run") else None,
            unstable=self.failure if self.status == "unstable" else None,
            metric=metric,
            mean=measured(self.means.get(metric)), std=measured(self.std),
            ci_low=measured(self.ci_low), ci_high=measured(self.ci_high),
            fold_scores=tuple(measured(value) for value in self.fold_scores.get(metric, ())),
            means={name: measured(value) for name, value in self.means.items()},
            folds={name: tuple(measured(value) for value in values)
                   for name, values in self.fold_scores.items()},
            epochs_run=self.epochs_run, epoch_cap_folds=self.epoch_cap_folds,
            coverage=None if self.coverage is None else
            {level: significant(share) for level, share in self.coverage.items()},
            interval_coverage=interval_coverage(self.coverage),
            fairness=fairness_record(self.fairness),
            decision_folds=None if self.decision is None else
            tuple(tuple(significant(value) for value in values) for values in self.decision.folds),
            search=None if self.search is None else self.search.record())


@dataclass(frozen=True)
class SearchedParameter:
    """A searched parameter over the compared splits: the grid, the value each split chose
    (the derived value where the split was too small to search) and the one chosen most
    often, which the recommendation takes."""

    name: str
    grid: tuple[float, ...]
    folds: tuple[float, ...]
    searched_splits: int

    @property
    def chosen(self) -> float:
        return chosen_value(self.folds, self.grid)

    @classmethod
    def of(cls, runs: Sequence[FoldResult]) -> SearchedParameter | None:
        """The search of a loss's runs; None for a loss without one."""
        found = [run.searched for run in runs if run.searched is not None]
        if not found or len(found) != len(runs):
            return None
        return cls(found[0].name, found[0].grid, tuple(item.value for item in found),
                   sum(1 for item in found if item.scores is not None))

    def record(self) -> ParameterSearch:
        return ParameterSearch(name=self.name, grid=self.grid, folds=self.folds,
                               searched_splits=self.searched_splits, chosen=self.chosen)


def fairness_record(fairness: dict[str, Any] | None) -> FairnessEvidence | None:
    """The result schema's record of a candidate's fairness, rounded; None without groups."""
    if fairness is None:
        return None
    return FairnessEvidence(
        metric=fairness["metric"], worst_group=measured(fairness["worst_group"]),
        worst_group_name=fairness["worst_group_name"],
        worst_group_folds=tuple(measured(value) for value in fairness["worst_group_folds"]),
        per_group={name: measured(value) for name, value in fairness["per_group"].items()},
        demographic_parity_difference=measured(fairness["demographic_parity_difference"]),
        equalized_odds_difference=measured(fairness["equalized_odds_difference"]))


@dataclass(frozen=True)
class TunedDecisions:
    """A plan's decision rule over the compared splits: the tuned values of each split, their
    medians (one per label for thresholds; tau), and the splits where the guard kept the plain
    rule, with why."""

    rule: str
    folds: tuple[tuple[float, ...], ...]     # per split: thresholds per output, or (tau,)
    kept_plain: int                          # splits where the plain rule was kept
    reasons: tuple[str, ...]                 # why, distinct, in split order

    @property
    def medians(self) -> tuple[float, ...]:
        """The median over splits of each tuned value (per label for thresholds; tau)."""
        return tuple(float(value) for value in np.median(np.asarray(self.folds, dtype=float), axis=0))

    @classmethod
    def of(cls, runs: Sequence[FoldResult]) -> TunedDecisions | None:
        """The decision rules of a plan's runs; None for a loss without one."""
        tuned = [run.decision for run in runs if run.decision is not None]
        if not tuned or len(tuned) != len(runs):
            return None
        reasons = tuple(dict.fromkeys(item.kept_plain for item in tuned if item.kept_plain))
        return cls(tuned[0].rule, tuple(item.values for item in tuned),
                   sum(1 for item in tuned if item.kept_plain), reasons)


def interval_coverage(coverage: dict[str, float] | None) -> dict[str, IntervalCoverage] | None:
    """Each central interval a pair of quantile levels spans (lo + hi = 1, lo < 0.5): its
    nominal coverage hi - lo and the share of held-out targets inside it, cov(hi) - cov(lo).
    The difference is exact because the levels never cross (each row's predictions are
    sorted), so no target counts below lo and above hi at once. None without such a pair."""
    if not coverage:
        return None
    levels = sorted((float(level), share) for level, share in coverage.items())
    pairs: dict[str, IntervalCoverage] = {}
    for low, low_share in levels:
        high = next(((level, share) for level, share in levels
                     if low < 0.5 and abs(level - (1.0 - low)) < 1e-9), None)
        if high is not None:
            pairs[f"{low:g}-{high[0]:g}"] = IntervalCoverage(
                nominal=significant(high[0] - low), measured=significant(high[1] - low_share))
    return pairs or None


def comparison_record(comparison: stats.PairedComparison) -> Comparison:
    """The result schema's record of a paired comparison (positive difference = ``a``
    better), rounded."""
    return Comparison(
        a=comparison.a, b=comparison.b, n_folds=comparison.n_folds,
        mean_difference=measured(comparison.mean_difference),
        standardized_difference=measured(comparison.standardized_difference),
        ci_low=measured(comparison.ci_low), ci_high=measured(comparison.ci_high),
        t_statistic=measured(comparison.t_statistic), p_value=measured(comparison.p_value),
        wilcoxon_p=measured(comparison.wilcoxon_p), significant=comparison.significant,
        better=comparison.winner)


@dataclass(frozen=True, eq=False)
class Validation:
    """The experiment's evidence (what was measured; the decide stage judges it).
    ``to_dict()`` is JSON-safe and, except under ``timing``, identical for the same data,
    options and seed on the same machine."""

    protocol: Protocol                    # the result schema's record, rounded when built
    candidates: tuple[CandidateEvidence, ...]    # trained candidates, in rule order
    comparisons: tuple[stats.PairedComparison, ...]  # every pair of stable candidates, a before b in rule order
    rule_order: tuple[str, ...]                  # stable tested candidates in rule order
    empirical_order: tuple[str, ...]             # stable tested candidates by mean primary score, best first
    rule_choice: str | None                      # the rules' first trained choice (may have failed)
    agreement: tuple[float, float] | None        # Kendall tau and its p between rule and empirical order
    notices: tuple[Notice, ...]                  # worth the user's attention
    timing: dict[str, Any] = field(default_factory=dict)

    def candidate(self, loss_id: str) -> CandidateEvidence | None:
        for evidence in self.candidates:
            if evidence.loss == loss_id:
                return evidence
        return None

    def tested(self, status: str = "tested") -> tuple[CandidateEvidence, ...]:
        """The candidates with ``status`` (tested = trained stably on every split), rule order."""
        return tuple(item for item in self.candidates if item.status == status)

    def comparison(self, a: str, b: str) -> stats.PairedComparison | None:
        """The paired comparison of ``a`` with ``b`` (oriented so positive = ``a`` better)."""
        for item in self.comparisons:
            if (item.a, item.b) == (a, b):
                return item
            if (item.a, item.b) == (b, a):
                return _flip(item)
        return None

    def judged_folds(self, loss_id: str) -> tuple[float, ...]:
        """The fold scores a trained candidate is judged on (``protocol.judge``), a KeyError
        for a loss that was not trained."""
        evidence = self.candidate(loss_id)
        if evidence is None:
            raise KeyError(loss_id)
        return judged_folds(evidence, self.protocol.metric, self.protocol.judge)

    def judged_mean(self, loss_id: str) -> float:
        """The mean of :meth:`judged_folds` over the folds that could be scored."""
        return finite_mean(self.judged_folds(loss_id))

    def judged_on(self, loss_id: str | None = None) -> str:
        """What decided, in words: the metric, or "the worst group (NAME) of METRIC" with
        the worst group of ``loss_id`` (the pick) when it has one."""
        metric = self.protocol.metric
        if self.protocol.judge == "all_rows":
            return metric
        evidence = self.candidate(loss_id) if loss_id is not None else None
        name = (evidence.fairness or {}).get("worst_group_name") if evidence is not None else None
        return f"the worst group ({name}) of {metric}" if name else f"the worst group of {metric}"

    def evidence_for(self, loss_id: str) -> Evidence | None:
        """The numbers shown next to one loss in the result; None when it was not trained."""
        evidence = self.candidate(loss_id)
        return None if evidence is None else evidence.record(self.protocol.metric)

    def summary(self) -> ValidationSummary:
        """The result schema's record of the evidence (everything but the timings)."""
        agreement = None
        if self.agreement is not None:
            agreement = Agreement(kendall_tau=measured(self.agreement[0]),
                                  p_value=measured(self.agreement[1]),
                                  n_candidates=len(self.rule_order))
        return ValidationSummary(
            protocol=self.protocol, metric=self.protocol.metric, rule_choice=self.rule_choice,
            rule_order=self.rule_order, empirical_order=self.empirical_order,
            agreement=agreement,
            candidates=tuple(item.record(self.protocol.metric) for item in self.candidates),
            comparisons=tuple(comparison_record(item) for item in self.comparisons),
            notices=self.notices)

    def rounded_timing(self) -> dict[str, Any]:
        """The measured timings, rounded as every JSON number is (they differ run to run)."""
        return json_tree(self.timing, measured)

    def to_dict(self) -> dict[str, Any]:
        return {**self.summary().to_dict(), "timing": self.rounded_timing()}


def _flip(item: stats.PairedComparison) -> stats.PairedComparison:
    return replace(item, a=item.b, b=item.a, mean_difference=-item.mean_difference,
                   standardized_difference=(None if item.standardized_difference is None
                                            else -item.standardized_difference),
                   t_statistic=None if item.t_statistic is None else -item.t_statistic,
                   ci_low=-item.ci_high, ci_high=-item.ci_low)


class _Folds:
    """The run's fold results by (candidate, split): who failed, which splits every
    surviving candidate completed, and the scores on those splits."""

    def __init__(self, chosen: Sequence[str], results: Sequence[FoldResult], n_splits: int,
                 metrics: tuple[str, ...]) -> None:
        self.by_key = {(result.loss_id, result.split): result for result in results}
        self.n_splits = n_splits
        self.failures: dict[str, str] = {}
        for loss_id in chosen:
            failed = [run for run in self.runs(loss_id) if run.status == "failed"]
            if failed:
                first = failed[0]
                self.failures[loss_id] = (f"{first.reason} (split {first.split + 1}; "
                                          f"{len(failed)} of {n_splits} splits failed)")
        alive = [loss_id for loss_id in chosen if loss_id not in self.failures]
        self.complete = [split for split in range(n_splits)
                         if all(self.by_key[(loss_id, split)].status == "ok" for loss_id in alive)]
        self.unrun: dict[str, str] = {}
        if alive and not self.complete:
            self.unrun = {loss_id: "the time budget ran out before any of its splits completed"
                          for loss_id in alive}
            alive = []
        self.alive = alive
        self.scores = {loss_id: {name: tuple(self.by_key[(loss_id, split)].scores.get(name, math.nan)
                                             for split in self.complete) for name in metrics}
                       for loss_id in alive}

    def runs(self, loss_id: str) -> list[FoldResult]:
        return [self.by_key[(loss_id, split)] for split in range(self.n_splits)]

    def unstable(self, task: str, metrics: tuple[str, ...]) -> dict[str, str]:
        """Do no harm: a blow-up on any split (a spike, or predictions far outside the
        targets) on the user's metric and on RMSE: other deviances punish near-zero
        predictions of identity-link losses, which is not a blow-up of the network."""
        if task not in NUMERIC_TASKS:
            return {}
        watched = [name for name in dict.fromkeys((metrics[0], "rmse")) if name in metrics]
        overshoots = {loss_id: [self.by_key[(loss_id, split)].overshoot for split in self.complete]
                      for loss_id in self.alive}
        return unstable_candidates(self.scores, watched, self.complete, overshoots)


def _evidence(loss_id: str, folds: _Folds, candidates: Candidates, means: Mapping[str, Any],
              unstable: Mapping[str, str], primary: str, test_train_ratio: float,
              group_names: Sequence[str] = ()) -> CandidateEvidence:
    runs = folds.runs(loss_id)
    rule_rank = candidates.rule_rank.get(loss_id)
    roles = tuple(candidates.roles[loss_id])
    cap_folds = sum(1 for run in runs if run.reached_epoch_cap)
    if loss_id not in folds.alive:
        failed = loss_id in folds.failures
        return CandidateEvidence(
            loss=loss_id, rule_rank=rule_rank, roles=roles, status="failed" if failed else "not_run",
            failure=folds.failures[loss_id] if failed else folds.unrun[loss_id], fold_scores={},
            means={}, std=math.nan, ci_low=math.nan, ci_high=math.nan,
            epochs_run=tuple(run.epochs_run for run in runs), epoch_cap_folds=cap_folds)
    compared = [folds.by_key[(loss_id, split)] for split in folds.complete]
    primary_scores = folds.scores[loss_id][primary]
    finite = np.asarray(primary_scores, dtype=float)
    finite = finite[np.isfinite(finite)]
    low, high = stats.corrected_interval(primary_scores, test_train_ratio)
    return CandidateEvidence(
        loss=loss_id, rule_rank=rule_rank, roles=roles,
        status="unstable" if loss_id in unstable else "tested",
        failure=unstable.get(loss_id), fold_scores=folds.scores[loss_id], means=means[loss_id],
        std=float(finite.std(ddof=1)) if finite.size >= 2 else math.nan, ci_low=low, ci_high=high,
        epochs_run=tuple(folds.by_key[(loss_id, split)].epochs_run for split in folds.complete),
        epoch_cap_folds=cap_folds, coverage=_coverage(compared),
        fairness=_fairness(primary, group_names, compared),
        decision=TunedDecisions.of(compared),
        search=SearchedParameter.of(compared))


def judged_folds(evidence: CandidateEvidence, metric: str, judge: str) -> tuple[float, ...]:
    """The fold scores the decision judges a trained candidate on: ``metric`` over all rows,
    or (``worst_group``) its value in the worst group of each fold (NaN where no group could
    be scored, as a fold score is)."""
    if judge == "all_rows":
        return evidence.fold_scores[metric]
    if evidence.fairness is None:
        raise ValueError(f"{evidence.loss} has no per-group scores to judge the worst group on")
    return tuple(evidence.fairness["worst_group_folds"])


def _fairness(primary: str, group_names: Sequence[str],
              runs: Sequence[FoldResult]) -> dict[str, Any] | None:
    """The candidate's fairness over the compared splits; None without groups."""
    if not group_names or not runs or any(run.fairness is None for run in runs):
        return None
    return summarise([run.fairness for run in runs if run.fairness is not None], primary,
                     group_names)


def _coverage(runs: Sequence[FoldResult]) -> dict[str, float] | None:
    """Mean share of held-out targets at or below each quantile level's prediction, over the
    splits; None for a loss that predicts no quantiles."""
    if not runs or not runs[0].coverage:
        return None
    return {f"{level:g}": float(np.mean([dict(run.coverage)[level] for run in runs]))
            for level, _ in runs[0].coverage}


def _search_notice(loss_id: str, search: SearchedParameter) -> Notice:
    """Which value the search chose, from which grid, on how many splits."""
    grid = ", ".join(f"{value:g}" for value in search.grid)
    agree = sum(1 for value in search.folds if value == search.chosen)
    text = (f"{loss_id}: {search.name} searched over {grid} on each training fold's held-out "
            f"fifth (the user's metric); {search.chosen:g} was chosen on {agree} of "
            f"{len(search.folds)} splits, and the recommendation uses it")
    if search.searched_splits < len(search.folds):
        text += (f" ({len(search.folds) - search.searched_splits} splits were too small to "
                 "search and kept the derived value)")
    return Notice("validation.parameter_searched", text)


def _plain_rule_notice(loss_id: str, decision: TunedDecisions, n_splits: int) -> Notice:
    """The guard's notice: the plan kept the plain rule on some splits, and why."""
    rule = "0.5 threshold" if decision.rule == "threshold" else "argmax (tau = 0)"
    return Notice("validation.plain_rule_kept",
                  f"{loss_id} kept the plain {rule} on {decision.kept_plain} of {n_splits} "
                  f"splits: {'; '.join(decision.reasons)}")


def _run_notices(notices: list[Notice], plan: Plan, n_rows: int, epoch_cap_total: int,
                 fits: int) -> None:
    """The notices about the protocol as it ran: sampled, over budget, stopped at the cap."""
    if plan.rows < n_rows:
        notices.insert(0, Notice("validation.sampled",
                           f"the experiment used a stratified sample of {plan.rows:,} of "
                           f"{n_rows:,} rows to fit the time budget"))
    if not plan.within_budget:
        message = ("the protocol asked for is expected to take longer than the budget" if plan.pinned
                   else f"the budget is too small even for the minimal protocol ({plan.folds} folds, "
                        f"{plan.epochs} epochs), so the run may take longer than asked")
        notices.append(Notice("validation.budget_small", message))
    if epoch_cap_total and epoch_cap_total >= fits / 2:
        notices.append(Notice("validation.epoch_cap",
                        f"{epoch_cap_total} of {fits} proxy fits stopped at the {plan.epochs}-epoch "
                        "cap before their held-out loss stopped improving; a larger budget trains them longer"))


def assemble(*, task: str, n_rows: int, candidates: Candidates, results: Sequence[FoldResult],
             n_splits: int, metrics: tuple[str, ...], greater_is_better: bool,
             test_train_ratio: float, notices: list[Notice],
             plan: Plan, group_names: Sequence[str] = (),
             judge: str = "all_rows") -> tuple[int, dict[str, Any]]:
    """Fold results -> (splits used, the Validation's evidence fields): per-candidate
    evidence (tested, unstable, failed, not run), comparisons, orders and notices. The
    comparisons and the empirical order are on the scores ``judge`` names
    (:func:`judged_folds`)."""
    chosen = candidates.chosen
    folds = _Folds(chosen, results, n_splits, metrics)
    if len(folds.complete) < n_splits:
        notices.append(Notice("validation.budget_exhausted",
                        f"the time budget ran out: the comparison uses {len(folds.complete)} of "
                        f"{n_splits} splits; raise the budget for the full protocol"))
    primary = metrics[0]
    unstable = folds.unstable(task, metrics)
    stable = [loss_id for loss_id in folds.alive if loss_id not in unstable]
    means = {loss_id: {name: finite_mean(values) for name, values in folds.scores[loss_id].items()}
             for loss_id in folds.alive}
    evidence = []
    for loss_id in chosen:
        evidence.append(_evidence(loss_id, folds, candidates, means, unstable, primary,
                                  test_train_ratio, group_names))
        if loss_id in unstable:
            notices.append(Notice("validation.unstable", f"{loss_id} is unstable, so it is never "
                            f"recommended: {unstable[loss_id]}"))
        elif loss_id in folds.failures:
            notices.append(Notice("validation.failed", f"{loss_id} failed in the experiment: "
                            f"{folds.failures[loss_id]}"))
        plain = evidence[-1].decision
        if plain is not None and plain.kept_plain:
            notices.append(_plain_rule_notice(loss_id, plain, len(folds.complete)))
        searched = evidence[-1].search
        if searched is not None:
            notices.append(_search_notice(loss_id, searched))
    _run_notices(notices, plan, n_rows, sum(item.epoch_cap_folds for item in evidence),
                 len(chosen) * n_splits)
    judged = {item.loss: judged_folds(item, primary, judge) for item in evidence
              if item.loss in stable}
    comparisons = tuple(
        stats.compare_paired(a, judged[a], b, judged[b], greater_is_better=greater_is_better,
                             test_train_ratio=test_train_ratio)
        for index, a in enumerate(stable) for b in stable[index + 1:])
    sign = 1.0 if greater_is_better else -1.0
    empirical = sorted(stable, key=lambda loss_id: (-sign * finite_mean(judged[loss_id]),
                                                    stable.index(loss_id)))
    return len(folds.complete), {
        "candidates": tuple(evidence), "comparisons": comparisons,
        "rule_order": tuple(stable), "empirical_order": tuple(empirical),
        "rule_choice": chosen[0] if chosen else None,
        "agreement": stats.kendall_agreement(stable, empirical), "notices": tuple(notices),
    }
