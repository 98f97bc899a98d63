"""Planning: what a fit costs (the cost model), and the protocol the budget allows.

:func:`plan_protocol` chooses rows (a stratified, reproducible sample when the data do not
fit the budget), folds (5; 5 x 2 repeated below 1,000 rows; 3 when the budget is tight) and
the epoch cap so that the whole run ends within the budget. Choices are quantized (rows on a
1-1.5-2-3-5-7 grid, epochs in steps of 5) so that small timing jitter does not change them;
pinned choices are kept as given. :func:`plan_run` sizes the run from the deterministic
cost model, scaled by the pilot only on a clearly slower machine; what fits that stopped
early left of the budget goes to a second repeat (REPEATS_BEFORE_BREADTH), then to more
candidates (:func:`extra_candidates`), then to more repeats (:func:`extra_repeats`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

__all__ = ["Cost", "Plan", "RunPlan", "model_cost", "slowdown_factor", "plan_protocol",
           "plan_run", "run_estimate", "REPEATS_BEFORE_BREADTH", "extra_repeats", "extended", "extra_candidates", "widened", "mean_epochs_run", "batches",
           "protocol_of", "DEFAULT_HIDDEN"]

# ----- protocol constants -------------------------------------------------------------
DEFAULT_HIDDEN: tuple[int, ...] = (64,)
#: Folds, and repeats below SMALL_DATA_ROWS rows.
DEFAULT_FOLDS = 5
SMALL_DATA_ROWS = 1000
SMALL_DATA_REPEATS = 2
MAX_REPEATS = 10          # repeats the budget may add when the fits stop early
#: Repeats the run gets before the budget buys candidates beyond the rules' choice.
REPEATS_BEFORE_BREADTH = 2
TIGHT_FOLDS = 3
#: Epoch cap: the proxy's adam stops earlier when its held-out loss stops improving. The aim is
#: TARGET_STEPS adam steps per fit (batches of BATCH_ROWS rows), within MIN_EPOCHS-MAX_EPOCHS;
#: before the budget cuts rows, a fit keeps at least MIN_EPOCHS epochs and MIN_STEPS steps.
BATCH_ROWS = 200
TARGET_STEPS = 10_000
MIN_STEPS = 300
MAX_EPOCHS = 1000
MIN_EPOCHS = 10
FLOOR_EPOCHS = 5
#: Smallest sample the budget may cut the data to, and the largest sample ever used.
MIN_SAMPLE_ROWS = 500
MAX_SAMPLE_ROWS = 200_000
#: Pilot: a small and a larger stratified sample, PILOT_EPOCHS (and twice that) epochs.
PILOT_SMALL_ROWS = 200
PILOT_ROWS = 1000
PILOT_EPOCHS = 10
#: Share of the budget the plan may spend (the rest absorbs estimation error).
BUDGET_SHARE = 0.85
#: Throughput of one worker when several share a machine (memory bandwidth, the parent).
PARALLEL_EFFICIENCY = 0.85
#: Dispatching jobs to parallel workers (after their warm-up), seconds.
DISPATCH_SECONDS = 0.2
#: Pickling throughput to process-based workers, bytes per second.
TRANSFER_BYTES_PER_SECOND = 300e6
#: Fixed cost of one job besides training (preprocessing set-up, scoring), seconds.
JOB_OVERHEAD_SECONDS = 0.02
#: The planning cost model, in seconds on the reference machine (2 cores, one BLAS thread per
#: fit, hidden 64, adam, batches of 200): about 1.5x the typical pilot measurement there
#: (recalibrated when it had drifted to 3x and the experiment used a fifth of its budget), so
#: ordinary load still fits the budget. The protocol is planned from this model, not from the
#: pilot's raw timings, which jitter 1.5-2x from run to run: that keeps the protocol, and so
#: the JSON, identical for the same input and seed. The pilot only scales the model, by a
#: power of two, when this machine is clearly slower (SLOWDOWN_TOLERANCE).
MODEL_PER_FIT = 1e-3
MODEL_PER_EPOCH = 5e-5
MODEL_PER_BATCH = 1.5e-4
MODEL_PER_BATCH_PER_UNIT = 1.5e-6      # per (input + output) unit, for 64 hidden units
MODEL_PER_ROW = 1.5e-6
MODEL_PER_ROW_PER_COLUMN = 2e-7
MODEL_PER_PREPARE = 2e-2
#: With a sensitive column every job also scores each group and fairlearn's two gaps
#: (MetricFrame, about 0.03 s), and the group losses' batches cost more: 0.045 s a job
#: measured on the bundled mortgage data, 1.5x that here as for the rest of the model (the
#: runs without it overran their estimate by a fifth, and the clock cut their extension).
MODEL_PER_FIT_GROUPS = 6.5e-2
#: A plan's tuned decision threshold (``advisor.experiment.decision``): scikit-learn's
#: threshold search scores the metric at 100 thresholds, about 0.1 s per tuned output
#: measured for F1 and balanced accuracy on 100-6,000 tuning rows, 1.5x that here. Without
#: it a multi-label plan's job (five labels) cost three times a plain fit's, and 60 s runs
#: overran their estimate until the clock cut an extension. (A logit adjustment scores 9
#: values of tau: negligible.)
MODEL_PER_TUNED_OUTPUT = 0.15
SLOWDOWN_TOLERANCE = 1.5
#: Seconds of the budget set aside for the pilot, and for starting process workers.
PILOT_RESERVE_SECONDS = 1.0
WORKER_RESERVE_SECONDS = 1.5


@dataclass(frozen=True)
class Cost:
    """What one candidate costs on this machine (the pilot's measurement, averaged).

    One fit of ``epochs`` epochs on ``n`` training rows, with its prediction and scoring,
    takes ``per_fit + epochs * (per_epoch + per_batch * ceil(n / BATCH_ROWS))`` seconds (plus
    a small fixed overhead): the proxies' cost is per adam step (batch), a partial batch
    costing about as much as a full one. Preparing the features of ``rows`` rows (once per
    split, shared by the candidates, and scoring them) takes ``per_prepare + per_row * rows``.
    A plan's job also pays ``per_tuned_output`` for each threshold its decision rule tunes.
    """

    per_fit: float
    per_epoch: float
    per_batch: float
    per_row: float
    per_prepare: float = 0.0
    per_tuned_output: float = 0.0

    def epoch_seconds(self, train_rows: float) -> float:
        return self.per_epoch + self.per_batch * batches(train_rows)

    def fit_seconds(self, train_rows: float, epochs: int) -> float:
        return self.per_fit + JOB_OVERHEAD_SECONDS + epochs * self.epoch_seconds(train_rows)

    def prepare_seconds(self, rows: int) -> float:
        return self.per_prepare + self.per_row * rows

    def scaled(self, factor: float, *, transfer_per_row: float = 0.0) -> Cost:
        """This cost on a machine ``factor`` times slower, plus a per-row transfer cost."""
        return Cost(per_fit=self.per_fit * factor, per_epoch=self.per_epoch * factor,
                    per_batch=self.per_batch * factor,
                    per_row=self.per_row * factor + transfer_per_row,
                    per_prepare=self.per_prepare * factor,
                    per_tuned_output=self.per_tuned_output * factor)


def model_cost(*, n_inputs: int, n_outputs: int, hidden: Sequence[int], raw_columns: int,
               grouped: bool = False) -> Cost:
    """The deterministic planning cost of one candidate on data of this shape (``grouped``:
    with the groups of a sensitive column, scored per group)."""
    units = (n_inputs + n_outputs) * sum(hidden) / 64.0
    return Cost(per_fit=MODEL_PER_FIT + (MODEL_PER_FIT_GROUPS if grouped else 0.0),
                per_epoch=MODEL_PER_EPOCH,
                per_batch=MODEL_PER_BATCH + MODEL_PER_BATCH_PER_UNIT * units,
                per_row=MODEL_PER_ROW + MODEL_PER_ROW_PER_COLUMN * raw_columns,
                per_prepare=MODEL_PER_PREPARE, per_tuned_output=MODEL_PER_TUNED_OUTPUT)


def slowdown_factor(measured: Cost, model: Cost, rows: int) -> tuple[float, float]:
    """(ratio of the pilot's cost to the model's, the power-of-two factor to plan with).

    The factor is 1 unless the pilot ran more than SLOWDOWN_TOLERANCE times slower than the
    model on a typical fit (0.8 x min(rows, 1000) training rows, 20 epochs, its preparation).
    """
    train = 0.8 * min(rows, 1000)

    def typical(cost: Cost) -> float:
        return cost.fit_seconds(train, 20) + cost.prepare_seconds(min(rows, 1000))

    ratio = typical(measured) / typical(model)
    if ratio <= SLOWDOWN_TOLERANCE:
        return ratio, 1.0
    return ratio, float(2 ** math.ceil(math.log2(ratio)))


@dataclass(frozen=True)
class Plan:
    """What the budget allows: rows, folds, repeats and the epoch cap, with the reasons."""

    rows: int
    folds: int
    repeats: int
    epochs: int
    reasons: tuple[str, ...]
    estimated_seconds: float
    within_budget: bool
    pinned: bool = False              # the caller fixed at least one choice


def protocol_of(plan: Plan) -> tuple:
    """What of a plan reaches the output (its choices, reasons and budget verdict)."""
    return plan.rows, plan.folds, plan.repeats, plan.epochs, plan.reasons, plan.within_budget


def _nice_sizes(upper: int, lower: int) -> list[int]:
    """``upper`` then the 1-1.5-2-3-5-7 x 10^k sizes below it, down to ``lower``."""
    sizes = [upper]
    exponent = int(math.floor(math.log10(max(upper, 1))))
    while exponent >= 0:
        for mantissa in (7, 5, 3, 2, 1.5, 1):
            size = int(mantissa * 10**exponent)
            if lower <= size < upper and size not in sizes:
                sizes.append(size)
        exponent -= 1
    return sorted(set(sizes), reverse=True)


def batches(train_rows: float) -> int:
    return max(1, math.ceil(train_rows / BATCH_ROWS))


def _round_epochs(count: float) -> int:
    """Epoch counts in steps of 5 (of 1 below 10), so timing jitter rarely changes them."""
    return int(count // 5 * 5) if count >= 10 else int(count)


def _train_rows(rows: int, folds: int) -> float:
    return rows * (folds - 1) / folds


def _efficiency(workers: int) -> float:
    return 1.0 if workers == 1 else PARALLEL_EFFICIENCY


def _waves(n_candidates: float, folds: int, repeats: int, workers: int) -> int:
    return math.ceil(n_candidates * folds * repeats / workers)


def _preparing(cost: Cost, rows: int, folds: int, repeats: int, n_candidates: float,
               workers: int) -> float:
    """Feature preparation: once for the sample, then once per split in each worker that
    trains on it."""
    per_split = math.ceil(folds * repeats * min(workers, n_candidates) / workers)
    return cost.prepare_seconds(rows) * (1 + per_split / _efficiency(workers))


def _tuning(cost: Cost, folds: int, repeats: int, tuned_outputs: float, workers: int) -> float:
    """The plans' decision-rule tuning: ``tuned_outputs`` thresholds per split, spread over
    the workers."""
    return folds * repeats * tuned_outputs * cost.per_tuned_output / (workers * _efficiency(workers))


def _besides_fits(cost: Cost, rows: int, folds: int, repeats: int, n_candidates: float,
                  workers: int, tuned_outputs: float) -> float:
    """What a run costs besides its fits: preparing the features, tuning the plans'
    thresholds (the estimate and the epoch sizing must count the same)."""
    return (_preparing(cost, rows, folds, repeats, n_candidates, workers)
            + _tuning(cost, folds, repeats, tuned_outputs, workers))


def run_estimate(cost: Cost, *, rows: int, folds: int, repeats: int, epochs: int,
                 n_candidates: float, workers: int, tuned_outputs: float = 0.0) -> float:
    """Seconds the cost model expects a run of this protocol to take (``tuned_outputs``:
    the thresholds the candidates' plans tune per split)."""
    return (_besides_fits(cost, rows, folds, repeats, n_candidates, workers, tuned_outputs)
            + _waves(n_candidates, folds, repeats, workers)
            * cost.fit_seconds(_train_rows(rows, folds), epochs) / _efficiency(workers))


@dataclass(frozen=True)
class _Sizing:
    """The arithmetic of one planning problem: which epoch caps each (rows, folds,
    repeats) choice wants, needs at least, and can afford."""

    cost: Cost
    n_candidates: float               # in fits: a searched parameter's candidate costs several
    workers: int
    seconds_available: float
    pinned_epochs: int | None
    tuned_outputs: float = 0.0        # thresholds the plans among them tune per split

    def estimate(self, rows: int, folds: int, repeats: int, epochs: int) -> float:
        return run_estimate(self.cost, rows=rows, folds=folds, repeats=repeats, epochs=epochs,
                            n_candidates=self.n_candidates, workers=self.workers,
                            tuned_outputs=self.tuned_outputs)

    def desired_epochs(self, rows: int, folds: int) -> int:
        if self.pinned_epochs is not None:
            return self.pinned_epochs
        wanted = TARGET_STEPS / batches(_train_rows(rows, folds))
        return _round_epochs(min(MAX_EPOCHS, max(MIN_EPOCHS, wanted)))

    def least_epochs(self, rows: int, folds: int) -> int:
        needed = max(MIN_EPOCHS, math.ceil(MIN_STEPS / batches(_train_rows(rows, folds))))
        return min(self.desired_epochs(rows, folds), needed)

    def affordable_epochs(self, rows: int, folds: int, repeats: int) -> int:
        if self.pinned_epochs is not None:
            return self.pinned_epochs
        besides_fits = _besides_fits(self.cost, rows, folds, repeats, self.n_candidates,
                                     self.workers, self.tuned_outputs)
        waves = _waves(self.n_candidates, folds, repeats, self.workers)
        per_job = (self.seconds_available - besides_fits) * _efficiency(self.workers) / waves
        spare = per_job - self.cost.fit_seconds(_train_rows(rows, folds), 0)
        per_epoch = self.cost.epoch_seconds(_train_rows(rows, folds))
        if spare <= 0:
            return 0
        if per_epoch <= 0:
            return MAX_EPOCHS
        return _round_epochs(spare / per_epoch)


def _ladder(capped_rows: int, *, sample_rows: int | None, folds: int | None,
            repeats: int | None) -> tuple[list[tuple[str, int, int, int, bool]], list[int], int, int]:
    """The protocols to try, most generous first: (step, rows, folds, repeats, short); also
    the sample sizes, the tight fold count and the repeats without the small-data repeat."""
    k0 = _feasible_folds(folds if folds is not None else DEFAULT_FOLDS, capped_rows)
    r0 = repeats if repeats is not None else (SMALL_DATA_REPEATS if capped_rows < SMALL_DATA_ROWS else 1)
    r1 = repeats if repeats is not None else 1
    k_tight = k0 if folds is not None else _feasible_folds(TIGHT_FOLDS, capped_rows)
    sizes = ([capped_rows] if sample_rows is not None
             else _nice_sizes(capped_rows, min(capped_rows, MIN_SAMPLE_ROWS)))
    ladder: list[tuple[str, int, int, int, bool]] = [("full", capped_rows, k0, r0, False)]
    if r0 > r1:
        ladder.append(("no_repeat", capped_rows, k0, r1, False))
    ladder += [("sample", rows, k0, r1, False) for rows in sizes[1:]]
    if k_tight < k0:
        ladder += [("tight", rows, k_tight, r1, False) for rows in sizes]
    ladder += [("short", rows, k_tight, r1, True) for rows in sizes]
    return ladder, sizes, k_tight, r1


def plan_protocol(*, n_rows: int, n_candidates: float, cost: Cost, seconds_available: float,
                  workers: int, budget: float, sample_rows: int | None = None,
                  folds: int | None = None, repeats: int | None = None,
                  epochs: int | None = None, tuned_outputs: float = 0.0) -> Plan:
    """Choose rows, folds, repeats and the epoch cap so the run fits ``seconds_available``.

    The ideal: every usable row (up to MAX_SAMPLE_ROWS), 5 folds (repeated twice below
    1,000 rows) and about TARGET_STEPS adam steps per fit. When that does not fit, the
    sacrifices come in this order: repeats; rows (a stratified sample, as long as a fit
    keeps at least MIN_EPOCHS epochs and MIN_STEPS steps); folds (5 -> 3); epochs (down to
    FLOOR_EPOCHS). Pinned values (``sample_rows``, ``folds``, ``repeats``, ``epochs``) are
    kept as given. ``tuned_outputs``: the thresholds the candidates' plans tune per split.
    """
    workers = max(1, int(workers))
    sizing = _Sizing(cost, n_candidates, workers, seconds_available, epochs, tuned_outputs)
    capped_rows = min(n_rows, MAX_SAMPLE_ROWS if sample_rows is None else max(1, sample_rows))
    ladder, sizes, k_tight, r1 = _ladder(capped_rows, sample_rows=sample_rows, folds=folds,
                                         repeats=repeats)
    chosen = None
    for step, rows, k, r, short in ladder:
        e = min(sizing.desired_epochs(rows, k), sizing.affordable_epochs(rows, k, r))
        floor = (min(FLOOR_EPOCHS, sizing.desired_epochs(rows, k)) if short
                 else sizing.least_epochs(rows, k))
        if e >= floor:
            chosen = (step, rows, k, r, e)
            break
    within = chosen is not None
    if chosen is None:
        chosen = ("over", sizes[-1], k_tight, r1,
                  epochs if epochs is not None
                  else min(FLOOR_EPOCHS, sizing.desired_epochs(sizes[-1], k_tight)))
    step, rows, k, r, e = chosen
    seconds = sizing.estimate(rows, k, r, e)
    limited = e < sizing.desired_epochs(rows, k)
    reasons = _plan_reasons(step, n_rows, rows, k, r, e, limited, budget,
                            pinned=(sample_rows, folds, repeats, epochs))
    return Plan(rows=rows, folds=k, repeats=r, epochs=e, reasons=reasons,
                estimated_seconds=seconds,
                within_budget=within and seconds <= max(seconds_available, 0.0) * 1.05,
                pinned=any(value is not None for value in (sample_rows, folds, repeats, epochs)))


def _feasible_folds(folds: int, rows: int) -> int:
    return max(2, min(folds, rows // 2))


def _plan_reasons(step: str, n_rows: int, rows: int, folds: int, repeats: int, epochs: int,
                  budget_limited: bool, budget: float,
                  pinned: tuple[int | None, int | None, int | None, int | None]) -> tuple[str, ...]:
    """Why the plan is what it is, in words that do not depend on measured timings."""
    pinned_rows, pinned_folds, pinned_repeats, pinned_epochs = pinned
    reasons = []
    if pinned_rows is not None:
        reasons.append(f"rows: {rows:,} of {n_rows:,}, as asked")
    elif rows == n_rows:
        reasons.append(f"rows: all {n_rows:,} usable rows")
    elif rows == MAX_SAMPLE_ROWS and step in ("full", "no_repeat"):
        reasons.append(f"rows: a stratified sample of {rows:,} of {n_rows:,} rows (the validator's "
                       "cap: beyond it fold-to-fold variation, not rows, limits the comparison)")
    else:
        reasons.append(f"rows: a stratified sample of {rows:,} of {n_rows:,} rows, the largest that "
                       f"fits the {budget:g} s budget with at least {MIN_EPOCHS} epochs per fit")
    split_text = f"{folds}-fold cross-validation" + (f" repeated {repeats} times" if repeats > 1 else "")
    if pinned_folds is not None or pinned_repeats is not None:
        reasons.append(f"splits: {split_text}, as asked")
    elif repeats > 1:
        reasons.append(f"splits: {split_text}: fewer than {SMALL_DATA_ROWS:,} rows, so repeats "
                       "reduce the variance of the comparison")
    elif rows < SMALL_DATA_ROWS and step != "full":
        reasons.append(f"splits: {split_text}: the {budget:g} s budget does not allow repeating it")
    elif folds < DEFAULT_FOLDS and step in ("tight", "short", "over"):
        reasons.append(f"splits: {split_text}: the {budget:g} s budget does not allow "
                       f"{DEFAULT_FOLDS} folds")
    elif folds < DEFAULT_FOLDS:
        reasons.append(f"splits: {split_text}: too few rows for {DEFAULT_FOLDS} folds")
    else:
        reasons.append(f"splits: {split_text}")
    if pinned_epochs is not None:
        reasons.append(f"epochs: at most {epochs}, as asked")
    elif step in ("short", "over"):
        reasons.append(f"epochs: at most {epochs}, all the {budget:g} s budget allows (fewer than "
                       "the validator aims for: the proxies may be under-trained)")
    elif budget_limited:
        reasons.append(f"epochs: at most {epochs}, what the {budget:g} s budget allows (adam stops "
                       "earlier when its held-out loss stops improving)")
    else:
        reasons.append(f"epochs: at most {epochs}, about {TARGET_STEPS:,} adam steps per fit "
                       "(adam stops earlier when its held-out loss stops improving)")
    if step == "over":
        reasons.append(f"budget: {budget:g} s is too small even for the minimal protocol; it ran "
                       "anyway and may take longer")
    return tuple(reasons)


@dataclass(frozen=True)
class RunPlan:
    """The plan of one run and what it was sized from (the timings report them)."""

    plan: Plan
    cost: Cost                       # the model cost, scaled for this machine and transfer
    slowdown: float                  # the pilot's cost against the model's
    factor: float                    # the power-of-two slowdown the plan assumed
    seconds_available: float
    slow_machine: bool               # the slowdown really shrank the protocol


def plan_run(*, measured: Cost, model: Cost, n_rows: int, n_candidates: float, workers: int,
             budget: float, transfer_per_row: float, pins: dict[str, Any],
             tuned_outputs: float = 0.0) -> RunPlan:
    """Size the run from the cost model, scaled only when the pilot ran clearly slower.

    A fixed reserve for the pilot and worker start-up, not the measured elapsed time, keeps
    the plan the same from run to run; the run's deadline guard covers a slow start.
    ``pins`` are the caller's ``sample_rows``, ``folds``, ``repeats`` and ``epochs``.
    """
    slowdown, factor = slowdown_factor(measured, model, n_rows)
    reserve = PILOT_RESERVE_SECONDS + (WORKER_RESERVE_SECONDS + DISPATCH_SECONDS if workers > 1 else 0.0)
    available = budget * BUDGET_SHARE - reserve

    def plan_for(scale: float) -> Plan:
        return plan_protocol(n_rows=n_rows, n_candidates=n_candidates,
                             cost=model.scaled(scale, transfer_per_row=transfer_per_row),
                             seconds_available=available, workers=workers, budget=budget,
                             tuned_outputs=tuned_outputs, **pins)

    plan = plan_for(factor)
    # The notice (which makes the output depend on the machine's load) only when the
    # slowdown really shrank the protocol; a pinned or small protocol is the same either way.
    slow = factor > 1 and protocol_of(plan) != protocol_of(plan_for(1.0))
    return RunPlan(plan, model.scaled(factor, transfer_per_row=transfer_per_row), slowdown,
                   factor, available, slow)


def mean_epochs_run(results: Sequence[Any]) -> int:
    """The mean epochs the successful fits ran, rounded up; 0 when none ran."""
    epochs = [item.epochs_run for item in results if item.status == "ok" and item.epochs_run]
    return max(1, math.ceil(sum(epochs) / len(epochs))) if epochs else 0


def extra_repeats(plan: Plan, results: Sequence[Any], cost: Cost, *, epochs: int,
                  n_candidates: float, workers: int, seconds_available: float,
                  tuned_outputs: float = 0.0) -> int:
    """Repeats the budget still allows after the planned run, from the cost model at the
    ``epochs`` the fits really ran (they stop when their held-out loss stops improving), up
    to MAX_REPEATS in all. 0 when the caller pinned the protocol or the clock cut the run."""
    if (plan.pinned or not plan.within_budget or not epochs
            or any(item.status == "skipped" for item in results)):
        return 0
    extra = 0
    while plan.repeats + extra < MAX_REPEATS and run_estimate(
            cost, rows=plan.rows, folds=plan.folds, repeats=plan.repeats + extra + 1,
            epochs=epochs, n_candidates=n_candidates, workers=workers,
            tuned_outputs=tuned_outputs) <= seconds_available:
        extra += 1
    return extra


def extra_candidates(plan: Plan, results: Sequence[Any], cost: Cost, *, epochs: int,
                     trained_units: float, reserve_units: Sequence[float], workers: int,
                     seconds_available: float, trained_tuned: float = 0.0,
                     reserve_tuned: Sequence[float] = ()) -> int:
    """How many more candidates the budget allows on the planned splits, from the cost model
    at the ``epochs`` the fits really ran (as :func:`extra_repeats`); the candidates count in
    fits (``*_units``: a searched parameter costs several) and in the thresholds their plans
    tune (``*_tuned``, zeros when not given). 0 when the caller pinned the protocol or the
    clock cut the run."""
    if (plan.pinned or not plan.within_budget or not epochs
            or any(item.status == "skipped" for item in results)):
        return 0
    tuned_of = list(reserve_tuned) or [0.0] * len(reserve_units)
    extra, units, tuned = 0, trained_units, trained_tuned
    while extra < len(reserve_units) and run_estimate(
            cost, rows=plan.rows, folds=plan.folds, repeats=plan.repeats, epochs=epochs,
            n_candidates=units + reserve_units[extra], workers=workers,
            tuned_outputs=tuned + tuned_of[extra]) <= seconds_available:
        units += reserve_units[extra]
        tuned += tuned_of[extra]
        extra += 1
    return extra


def widened(plan: Plan, planned: int, extra: int) -> Plan:
    """``plan`` with the reason for the ``extra`` candidates trained beyond the ``planned``."""
    text = (f"candidates: the {planned} the rules chose, and {extra} more in rule order, which "
            f"the budget allowed on the same splits (a loss never trained cannot overturn the "
            f"rules)")
    return replace(plan, reasons=(*plan.reasons, text))


def extended(plan: Plan, extra: int, epochs: int, *, planned: int | None = None) -> Plan:
    """``plan`` with ``extra`` more repeats, and the reason for all the repeats added to the
    ``planned`` ones (``plan.repeats`` unless an earlier extension added some)."""
    total = plan.repeats + extra
    first = plan.repeats if planned is None else planned
    added = total - first
    text = (f"splits: {plan.folds}-fold cross-validation repeated {total} times: the first "
            f"{'run' if first == 1 else f'{first} runs'} stopped early (a mean of "
            f"{epochs} epochs per fit), which left budget for {added} "
            f"more {'repeat' if added == 1 else 'repeats'}; repeats raise the power of the comparison")
    reasons = tuple(text if reason.startswith("splits:") else reason for reason in plan.reasons)
    return replace(plan, repeats=total, reasons=reasons)
