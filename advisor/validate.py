"""Stage 4, validate: train every candidate loss on the same small MLP and compare them.

Public function: :func:`validate`. Output: :class:`Validation`.

The experiment, in the order it runs (every choice is reported in ``Validation.protocol``),
each step a module of :mod:`advisor.experiment`:

1. **Candidates** (:func:`advisor.decide.select_candidates`): the rule ranking's top
   non-vetoed losses, the task's default loss and the user's current loss.
2. **Pilot** (:mod:`~advisor.experiment.pilot`): every candidate trains for a few epochs on
   a small stratified sample; process-based workers are started (and import) before it, on
   the budget's clock.
3. **Plan** (:mod:`~advisor.experiment.plan`): rows, folds, repeats and the epoch cap, so
   that the whole run ends within ``budget`` seconds; pass ``sample_rows``/``folds``/
   ``repeats``/``epochs`` to pin them exactly (e.g. to reproduce a run on another machine).
4. **Splits** (:mod:`~advisor.experiment.splits`) and **features**
   (:mod:`~advisor.experiment.features`): stratified K-fold, shuffled with the seed; a
   column transformer fitted on the training fold only. Each proxy trains as a careful user
   would, with early stopping on its loss over a held-out tenth of the training rows.
5. **Run** (:mod:`~advisor.experiment.run`): one job per (candidate, split) through joblib
   (``loky``, ``threading``, ``dask`` with a running ``dask.distributed.Client``, ``ray``
   with the ``ray`` extra installed); BLAS is limited to one thread per fit.
   Fits that stopped early leave budget for more repeats.
6. **Evidence** (:mod:`~advisor.experiment.evidence`): fold scores on the primary metric
   (``facts["metric"]``) and the task's other metrics (:mod:`~advisor.experiment.metrics`),
   paired comparisons (:mod:`advisor.stats`), stability (:mod:`advisor.stability`).

The validator measures; the decide stage (:mod:`advisor.decide`) judges the measurements
and gives the verdicts. Nothing here prints. Progress goes to the ``progress`` callback as
``(done, total, message)``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from . import stats
from .decide import Candidates, select_candidates
from .errors import DataShapeError, OptionError
from .experiment.evidence import CandidateEvidence, Protocol, Validation, assemble
from .experiment.features import kept_positions, prepare_features
from .experiment.metrics import METRIC_SPECS
from .experiment.pilot import Pilot, run_pilot
from .experiment.plan import (
    DEFAULT_FOLDS,
    DEFAULT_HIDDEN,
    REPEATS_BEFORE_BREADTH,
    TRANSFER_BYTES_PER_SECOND,
    Plan,
    RunPlan,
    extended,
    extra_candidates,
    extra_repeats,
    mean_epochs_run,
    model_cost,
    plan_run,
    widened,
)
from .experiment.run import RunData, Runner
from .experiment.scoring import metrics_for, prediction_levels, prediction_times, scoring_context
from .experiment.splits import make_splits, strata_of, stratified_sample
from .runtime.parallel import LOCAL_BACKENDS, PROCESS_BACKENDS, warm_up_workers, worker_count
from .schema import Notice, measured

__all__ = ["validate", "Validation", "Protocol", "CandidateEvidence"]

ProgressCallback = Callable[[int, int, str], None]


def validate(loaded, profile, outcome, *, params: Mapping[str, dict[str, Any]],
             budget: float = 60, seed: int = 0, n_jobs: int = 1, backend: str | None = None,
             max_candidates: int = 4, progress: ProgressCallback | None = None,
             proxy_factory: Callable[..., Any] | None = None,
             extra_candidates: Sequence[str] = (), hidden: tuple[int, ...] = DEFAULT_HIDDEN,
             sample_rows: int | None = None, folds: int | None = None,
             repeats: int | None = None, epochs: int | None = None,
             judge: str = "all_rows") -> Validation:
    """Train the candidate losses on identical proxies and folds, and compare them.

    Parameters
    ----------
    loaded, profile, outcome
        The outputs of :func:`advisor.load.load_data`, :func:`advisor.profile.profile_data`
        and the rule engine (``ranking``, ``scores``, ``vetoes``).
    params
        Loss id -> derived hyper-parameters (``Loss.derive``).
    budget
        Seconds the whole validation may take; the protocol is sized to it.
    seed
        Fixes the sample, the folds and every proxy's initialization.
    n_jobs, backend
        joblib parallelism: ``n_jobs`` workers (-1 = all) of ``backend`` (None = loky;
        ``"dask"`` needs a running ``dask.distributed.Client``; ``"ray"`` the ``ray`` extra,
        and joins a running Ray instance or starts a local one).
    max_candidates
        How many of the rule ranking's non-vetoed losses to train (the task's default loss
        and ``extra_candidates`` are added when missing).
    progress
        Called with ``(done, total, message)`` as jobs finish.
    proxy_factory
        ``factory(loss, params, profile, *, seed, max_iter, hidden)`` -> object with
        ``fit(X, y)`` and ``predict(X)``; defaults to :func:`advisor.proxy.make_proxy`,
        after checking once that the installed scikit-learn fits the adapter.
    extra_candidates
        More losses to train (e.g. the one the user trains with today), when applicable
        and not vetoed.
    hidden
        Hidden layer sizes of every proxy.
    sample_rows, folds, repeats, epochs
        Pin these protocol choices instead of letting the budget decide them; a pinned
        protocol runs to completion even when it overruns the budget.
    judge
        ``all_rows``: the candidates are compared on the metric over all rows;
        ``worst_group`` (the profile has groups): on its worst group's value, fold by fold.
    """
    started, started_wall = time.perf_counter(), time.time()
    # The user's options (budget, seed, jobs) were checked once, by advisor.options.Options;
    # only this stage's own choices are checked here.
    pins = {"sample_rows": sample_rows, "folds": folds, "repeats": repeats, "epochs": epochs}
    _check_protocol_choices(max_candidates=max_candidates, pins=pins)
    factory = proxy_factory or _default_factory()
    header = _Header.of(profile.facts["metric"], seed, budget, backend, n_jobs, hidden, judge)
    candidates, notices = select_candidates(outcome, profile.task, max_candidates=max_candidates,
                                            extra_candidates=extra_candidates)
    if not candidates.chosen:  # every applicable loss is vetoed: nothing to train
        return _nothing_to_train(header, profile.task, len(profile.y), notices,
                                 time.perf_counter() - started)
    setup = _Setup.of(loaded, profile, candidates, params, header.metric)
    workers = worker_count(backend, n_jobs)
    startup_seconds = warm_up_workers(backend, n_jobs, workers)
    if progress is not None:
        progress(0, 1, "pilot: timing the proxies")
    pilot = run_pilot(loaded.features, setup.kept, setup.y, setup.strata, profile,
                      candidates.chosen, setup.loss_params, factory, setup.catalog, seed, hidden)
    run_plan = _plan(setup, pilot, candidates, profile, header, workers, pins)
    if run_plan.slow_machine:
        notices.append(_slow_machine_notice(run_plan.factor))
    runner, plan, split_list, candidates = _run(loaded, profile, setup, candidates, run_plan,
                                                factory, header, workers, started_wall, progress)
    test_train_ratio = float(np.mean([len(test) / len(train) for train, test in split_list]))
    splits_used, fields = assemble(
        task=profile.task, n_rows=len(profile.y), candidates=candidates, results=runner.results,
        n_splits=len(split_list), metrics=setup.metrics,
        greater_is_better=header.greater_is_better, test_train_ratio=test_train_ratio,
        notices=notices, plan=plan, judge=judge,
        group_names=profile.groups.names if profile.groups is not None else ())
    protocol = header.protocol(
        task=profile.task, metrics=setup.metrics, candidates=candidates.chosen,
        rows_available=len(setup.y), stratified_on=setup.stratified_on, solver=pilot.solver,
        workers=workers, **_as_run(plan, len(split_list), splits_used, test_train_ratio))
    timing = _timing(runner, run_plan, pilot, plan, total=time.perf_counter() - started,
                     startup=startup_seconds, budget=budget)
    return Validation(protocol=protocol, timing=timing, **fields)


@dataclass(frozen=True)
class _Header:
    """The protocol's fields known before anything trains."""

    metric: str
    greater_is_better: bool
    seed: int
    budget: float
    backend: str | None              # as the caller gave it: None is joblib's default, loky
    n_jobs: int
    hidden: tuple[int, ...]
    judge: str = "all_rows"

    @classmethod
    def of(cls, metric: str, seed: int, budget: float, backend: str | None, n_jobs: int,
           hidden: Sequence[int], judge: str = "all_rows") -> _Header:
        if metric not in METRIC_SPECS:
            raise OptionError("metric", metric, sorted(METRIC_SPECS))
        return cls(metric, METRIC_SPECS[metric].greater_is_better, seed, budget, backend, n_jobs,
                   tuple(hidden), judge)

    @property
    def backend_name(self) -> str:
        return self.backend or "loky"

    def protocol(self, *, test_train_ratio: float, **fields: Any) -> Protocol:
        """The protocol record, its measured figures rounded as every JSON number is."""
        return Protocol(metric=self.metric, greater_is_better=self.greater_is_better,
                        hidden=self.hidden, seed=self.seed, alpha=stats.ALPHA,
                        budget=measured(self.budget), backend=self.backend_name,
                        n_jobs=self.n_jobs, test_train_ratio=measured(test_train_ratio),
                        judge=self.judge, **fields)


@dataclass(frozen=True)
class _Setup:
    """The data the experiment trains on, and what it is scored with."""

    y: np.ndarray
    kept: np.ndarray
    strata: np.ndarray
    stratified_on: str
    loss_params: dict[str, dict[str, Any]]
    metrics: tuple[str, ...]
    context: Any
    catalog: Mapping[str, Any]

    @classmethod
    def of(cls, loaded, profile, candidates: Candidates, params: Mapping[str, dict[str, Any]],
           metric: str) -> _Setup:
        """The setup of the candidates chosen and of their reserve (trained if the budget
        allows)."""
        from .losses import CATALOG

        loss_params = {loss_id: dict(params[loss_id]) if loss_id in params
                       else CATALOG[loss_id].derive(profile, {"quantiles": profile.quantiles})
                       for loss_id in (*candidates.chosen, *candidates.reserve)}
        y = np.asarray(profile.y)
        kept = kept_positions(loaded.features, profile.row_mask, len(y))
        if loaded.features.shape[1] == 0:
            raise DataShapeError("no feature columns to train the proxies on",
                                 hint="add at least one feature column besides the target")
        if len(y) < 10:
            raise DataShapeError(f"only {len(y)} usable rows: too few to cross-validate",
                                 hint="run with validate=False (--no-validate) for a rules-only answer")
        strata, stratified_on = _strata(y, profile)
        # the scoring context (a Tweedie candidate's power) is the planned candidates', so the
        # reserve, trained or not, leaves the metrics as they were
        planned = {loss_id: loss_params[loss_id] for loss_id in candidates.chosen}
        return cls(y, kept, strata, stratified_on, loss_params, metrics_for(profile, metric, y),
                   scoring_context(profile, planned), CATALOG)


def _strata(y: np.ndarray, profile, sample: np.ndarray | None = None) -> tuple[np.ndarray, str]:
    """The strata of the rows (of ``sample``, when given): the target's, crossed with the
    group of a sensitive column, so every fold holds every (group, class) cell it can."""
    groups = profile.groups
    codes = None if groups is None else (groups.codes if sample is None else groups.codes[sample])
    strata, what = strata_of(y, profile.task)
    if codes is None:
        return strata, what
    return strata * len(groups.names) + codes, f"{what} x group of {groups.column!r}"


def _default_factory() -> Callable[..., Any]:
    """The scikit-learn proxy, as a careful user trains: stop when the loss on a held-out
    tenth stops improving. The adapter is checked against scikit-learn here, once."""
    import functools

    from . import proxy

    proxy.check_sklearn_compatibility()
    return functools.partial(proxy.make_proxy, early_stopping=True, validation_fraction=0.1,
                             n_iter_no_change=10)


def _plan(setup: _Setup, pilot: Pilot, candidates: Candidates, profile, header: _Header,
          workers: int, pins: dict[str, Any]) -> RunPlan:
    """The plan from the cost model of data of this shape, with the transfer cost of
    backends that ship the data to other processes or machines."""
    n_outputs = max(setup.catalog[loss_id].bind(setup.loss_params[loss_id], profile.task).n_outputs(profile)
                    for loss_id in candidates.chosen)
    model = model_cost(n_inputs=pilot.n_inputs, n_outputs=n_outputs, hidden=header.hidden,
                       raw_columns=pilot.raw_columns, grouped=profile.groups is not None)
    process_based = header.backend_name in PROCESS_BACKENDS and workers > 1
    transfer = (pilot.bytes_per_row / TRANSFER_BYTES_PER_SECOND
                if process_based or header.backend_name not in LOCAL_BACKENDS else 0.0)
    return plan_run(measured=pilot.cost, model=model, n_rows=len(setup.y),
                    n_candidates=fit_units(setup.catalog, candidates.chosen), workers=workers,
                    budget=header.budget, transfer_per_row=transfer, pins=pins,
                    tuned_outputs=tuned_outputs(setup, profile, candidates.chosen))


def _run(loaded, profile, setup: _Setup, candidates: Candidates, run_plan: RunPlan,
         factory: Callable[..., Any], header: _Header, workers: int, started_wall: float,
         progress: ProgressCallback | None):
    """Sample, split and run the plan, then what fits stopping early paid for: a second
    repeat, more candidates from the reserve, then more repeats. Returns the runner (with its results),
    the plan as it ran, its splits and the candidates trained."""
    plan = run_plan.plan
    sample = stratified_sample(setup.strata, plan.rows, header.seed)
    y = setup.y[sample]
    strata, _ = _strata(y, profile, sample)
    split_list = make_splits(strata, plan.folds, plan.repeats, header.seed)
    chosen = candidates.chosen
    # A guard against a bad estimate: jobs that would start too late to end within the budget
    # are skipped. A protocol the caller pinned runs to completion.
    per_job = plan.estimated_seconds / max(1, math.ceil(fit_units(setup.catalog, chosen)
                                                        * len(split_list) / workers))
    deadline = math.inf if plan.pinned else started_wall + header.budget - per_job
    groups = profile.groups
    data = RunData(prepare_features(loaded.features.iloc[setup.kept[sample]]), y,
                   replace(profile, y=y, row_mask=None), factory,
                   sequential=header.backend_name in LOCAL_BACKENDS and workers == 1,
                   groups=None if groups is None else groups.codes[sample],
                   group_names=() if groups is None else groups.names)
    contexts = {loss_id: replace(setup.context,
                                 prediction_levels=prediction_levels(setup.loss_params[loss_id]),
                                 prediction_times=prediction_times(setup.loss_params[loss_id]))
                for loss_id in setup.loss_params}
    runner = Runner(data, chosen, setup.catalog, setup.loss_params, contexts, setup.metrics,
                    header.seed, plan.epochs, header.hidden, deadline, header.backend,
                    header.n_jobs, progress)
    runner.run(split_list, range(len(split_list)))
    # How many more candidates and repeats comes from the cost model and the epochs the fits
    # ran, not the clock: the same JSON every run.
    ran = mean_epochs_run(runner.results)
    # Depth before breadth: five splits spread over more candidates leave little power to
    # tell any two apart, so a second repeat comes before the reserve's candidates.
    planned_repeats = plan.repeats

    def repeats_allowed(trained: Sequence[str]) -> int:
        return extra_repeats(plan, runner.results, run_plan.cost, epochs=ran,
                             n_candidates=fit_units(setup.catalog, trained), workers=workers,
                             seconds_available=run_plan.seconds_available,
                             tuned_outputs=tuned_outputs(setup, profile, trained))

    if plan.repeats < REPEATS_BEFORE_BREADTH:
        depth = min(REPEATS_BEFORE_BREADTH - plan.repeats, repeats_allowed(chosen))
        split_list, plan = _add_repeats(runner, strata, plan, split_list, depth,
                                        seed=header.seed, epochs=ran, planned=planned_repeats)
    more = extra_candidates(plan, runner.results, run_plan.cost, epochs=ran,
                            trained_units=fit_units(setup.catalog, chosen),
                            reserve_units=[fit_units(setup.catalog, (loss_id,))
                                           for loss_id in candidates.reserve],
                            workers=workers, seconds_available=run_plan.seconds_available,
                            trained_tuned=tuned_outputs(setup, profile, chosen),
                            reserve_tuned=[tuned_outputs(setup, profile, (loss_id,))
                                           for loss_id in candidates.reserve])
    if more:
        added = candidates.reserve[:more]
        if _extend(runner, split_list, range(len(split_list)), added):
            plan = widened(plan, len(chosen), more)
            candidates = candidates.widened(added)
            runner.candidates = candidates.chosen
    split_list, plan = _add_repeats(runner, strata, plan, split_list,
                                    repeats_allowed(candidates.chosen), seed=header.seed,
                                    epochs=ran, planned=planned_repeats)
    data.cache.clear()
    return runner, plan, split_list, candidates


def tuned_outputs(setup: _Setup, profile, loss_ids: Sequence[str]) -> float:
    """The thresholds these candidates' plans tune per split, for the planner: a plan tunes
    one per output on the tuning part of each training fold (:mod:`.experiment.decision`),
    counted on 5 folds of every usable row (fewer rows can only make it cheaper)."""
    from .experiment.decision import thresholds_tuned
    from .experiment.metrics import TUNING_FRACTION

    rows = int(round(TUNING_FRACTION * len(setup.y) * (DEFAULT_FOLDS - 1) / DEFAULT_FOLDS))
    total = 0
    for loss_id in loss_ids:
        plan = getattr(setup.catalog[loss_id], "decision", None)
        if plan is not None:
            outputs = setup.catalog[loss_id].bind(setup.loss_params[loss_id],
                                                  profile.task).n_outputs(profile)
            total += thresholds_tuned(plan.rule, profile.facts["metric"], rows, outputs)
    return float(total)


def fit_units(catalog: Mapping[str, Any], loss_ids: Sequence[str]) -> float:
    """What one split of these candidates costs in plain fits: a candidate with a searched
    parameter trains one network per grid value besides its refit (:mod:`.experiment.search`)."""
    from .experiment.search import fit_units as units_of

    return sum(units_of(catalog[loss_id]) for loss_id in loss_ids)


def _add_repeats(runner: Runner, strata, plan: Plan, splits, extra: int, *, seed: int,
                 epochs: int, planned: int):
    """Run ``extra`` more repeats of the splits: the splits and the plan as they ran (as
    they were when ``extra`` is 0 or the clock cut the extension)."""
    if not extra:
        return splits, plan
    longer = make_splits(strata, plan.folds, plan.repeats + extra, seed)
    if _extend(runner, longer, range(len(splits), len(longer))):
        return longer, extended(plan, extra, epochs, planned=planned)
    return splits, plan


def _extend(runner: Runner, splits, indices: range, losses: Sequence[str] | None = None) -> bool:
    """Run an extension of the experiment; when the clock cut it (a loaded machine), drop it
    whole, so the output is the planned run's, the same as on an idle machine."""
    done = len(runner.results)
    runner.run(splits, indices, losses)
    if any(item.status == "skipped" for item in runner.results[done:]):
        del runner.results[done:]
        runner.extensions_cut += 1
        return False
    return True


def _as_run(plan: Plan, n_splits: int, splits_used: int, test_train_ratio: float) -> dict[str, Any]:
    """The protocol's fields the plan and the run decided."""
    return {"sample_rows": int(plan.rows), "folds": plan.folds, "repeats": plan.repeats,
            "splits_planned": n_splits, "splits_used": splits_used,
            "test_train_ratio": test_train_ratio, "epochs": plan.epochs,
            "within_budget": plan.within_budget, "reasons": plan.reasons}


def _slow_machine_notice(factor: float) -> Notice:
    return Notice("validation.slow_machine",
            f"the pilot fits ran well below the planning model's speed (the measured ratio is "
            f"in the timings), so the protocol was planned for a machine {factor:g}x slower; on "
            "a less loaded machine the same seed may choose a larger protocol")


def _check_protocol_choices(*, max_candidates: int, pins: dict[str, Any]) -> None:
    _check_int("max_candidates", max_candidates, minimum=1)
    minimums = {"sample_rows": 10, "folds": 2, "repeats": 1, "epochs": 1}
    for name, value in pins.items():
        if value is not None:
            _check_int(name, value, minimum=minimums[name])


def _check_int(name: str, value: Any, *, minimum: int) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise OptionError(name, value, f"an integer >= {minimum}")


def _nothing_to_train(header: _Header, task: str, n_rows: int, notices: list[Notice],
                      seconds: float) -> Validation:
    notices.append(Notice("validation.nothing_to_train",
                    "every applicable loss is vetoed, so the experiment trained nothing"))
    protocol = header.protocol(
        task=task, metrics=(header.metric,), candidates=(), rows_available=n_rows,
        sample_rows=0, stratified_on="", folds=0, repeats=0, splits_planned=0, splits_used=0,
        test_train_ratio=0.0, epochs=0, solver="", workers=0, within_budget=True,
        reasons=("nothing to train: every applicable loss is vetoed",))
    return Validation(protocol=protocol, candidates=(), comparisons=(), rule_order=(),
                      empirical_order=(), rule_choice=None, agreement=None,
                      notices=tuple(notices), timing={"total_seconds": seconds})


def _timing(runner: Runner, run_plan: RunPlan, pilot: Pilot, plan: Plan, *, total: float,
            startup: float, budget: float) -> dict[str, Any]:
    """The measured wall-clock figures (not in the JSON: they differ from run to run)."""
    names = ("per_fit", "per_epoch", "per_batch", "per_row", "per_prepare")
    results = runner.results
    return {
        "total_seconds": total, "startup_seconds": startup, "pilot_seconds": pilot.seconds,
        "run_seconds": runner.seconds, "estimated_run_seconds": plan.estimated_seconds,
        "seconds_available": run_plan.seconds_available, "budget": budget,
        "cost": {name: getattr(run_plan.cost, name) for name in names},
        "measured_cost": {name: getattr(pilot.cost, name) for name in names},
        "slowdown": run_plan.slowdown, "slowdown_factor": run_plan.factor,
        "extensions_cut": runner.extensions_cut,
        "fit_seconds": {loss_id: sum(r.seconds for r in results if r.loss_id == loss_id)
                        for loss_id in runner.candidates},
        "warnings": sorted({message for result in results for message in result.warnings}
                           | runner.warnings),
    }
