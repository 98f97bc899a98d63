"""The run: one job per (candidate, split), through joblib, so any joblib backend runs it.

Every candidate sees the same splits, the same architecture, the same optimizer settings
and, on each split, the same seed. A job that raises, diverges (``ProxyDivergedError``) or
predicts non-finite values is a *failed* result, not a crash; warnings are recorded, never
printed. Jobs that would start after the deadline are skipped.

The preprocessed features of the last splits are cached by the run's data
(:class:`SplitCache`): jobs are ordered split by split, so the candidates of a split reuse
them. In-process backends share the parent's cache, which ends with the run; a process
worker gets its own empty copy with the jobs it receives.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from ..proxy import ProxyDivergedError
from ..runtime.parallel import parallel_config, quiet_single_thread, result_mode
from ..stability import overshoot
from .decision import TunedRule, tune_rule, tuning_split
from .fairness import FoldFairness, fold_fairness
from .features import build_preprocessor
from .metrics import METRIC_SPECS
from .scoring import (
    NUMERIC_TASKS,
    ScoringContext,
    fold_distribution,
    level_coverage,
    needs_distribution,
    one_line,
    score_predictions,
)
from .search import SearchedValue, search_value
from .splits import split_seed

__all__ = ["Job", "FoldResult", "SplitCache", "RunData", "Runner", "run_job", "epochs_run"]

ProgressCallback = Callable[[int, int, str], None]
Matrices = tuple[np.ndarray, np.ndarray]


class SplitCache:
    """The last ``size`` splits' preprocessed (train, test) features, shared by threads.

    Pickling keeps only the size: a process worker starts with an empty cache of its own.
    """

    def __init__(self, size: int = 2) -> None:
        self.size = size
        self._items: OrderedDict[int, Matrices] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, split: int, build: Callable[[], Matrices]) -> Matrices:
        with self._lock:
            if split in self._items:
                self._items.move_to_end(split)
                return self._items[split]
        matrices = build()
        with self._lock:
            self._items[split] = matrices
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return matrices

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __getstate__(self) -> dict[str, int]:
        return {"size": self.size}

    def __setstate__(self, state: dict[str, int]) -> None:
        self.__init__(state["size"])  # type: ignore[misc]


@dataclass(frozen=True)
class RunData:
    """What every job of a run shares: the sample, the proxy factory and the split cache.

    ``sequential`` and ``parent_pid`` tell a job whether it runs alone in its process (then
    it limits BLAS and records warnings itself) or in a thread beside others in the parent
    (then the parent does, once, around the whole run).
    """

    features: pd.DataFrame
    y: np.ndarray
    profile: Any
    factory: Callable[..., Any]
    sequential: bool
    parent_pid: int = field(default_factory=os.getpid)
    cache: SplitCache = field(default_factory=SplitCache)
    groups: np.ndarray | None = None     # the sensitive column's group index per row
    group_names: tuple[str, ...] = ()

    def alone_in_process(self) -> bool:
        return self.sequential or os.getpid() != self.parent_pid

    def matrices(self, split: int, train: np.ndarray, test: np.ndarray) -> Matrices:
        """The split's preprocessed (train, test) features, fitted on its training rows only."""
        def build() -> Matrices:
            train_features = self.features.iloc[train]
            preprocessor = build_preprocessor(train_features)
            matrices = (preprocessor.fit_transform(train_features),
                        preprocessor.transform(self.features.iloc[test]))
            for matrix in matrices:
                matrix.setflags(write=False)  # shared between candidates: nobody may change it
            return matrices

        return self.cache.get(split, build)


@dataclass(frozen=True)
class Job:
    loss_id: str
    loss: Any
    params: dict[str, Any]
    split: int
    train: np.ndarray
    test: np.ndarray
    seed: int
    epochs: int
    hidden: tuple[int, ...]
    context: ScoringContext
    metrics: tuple[str, ...]
    deadline: float                      # wall clock (time.time()); later jobs are skipped


@dataclass(frozen=True)
class FoldResult:
    loss_id: str
    split: int
    status: str                          # ok, failed, skipped
    scores: dict[str, float] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)
    reason: str | None = None
    epochs_run: int | None = None
    reached_epoch_cap: bool = False
    seconds: float = 0.0
    warnings: tuple[str, ...] = ()
    overshoot: tuple[float, str | None] = (0.0, None)  # predictions beyond the training targets
    coverage: tuple[tuple[float, float], ...] = ()  # quantile level, share of test targets at or below it
    fairness: FoldFairness | None = None  # with a sensitive column: per-group scores and gaps
    decision: TunedRule | None = None    # a plan's decision rule, tuned on this split
    searched: SearchedValue | None = None  # a searched parameter's value on this split


def epochs_run(proxy: Any) -> int | None:
    """The epochs a fitted proxy ran (its ``n_iter_``), None when it does not say."""
    for holder in (proxy, getattr(proxy, "model_", None)):
        value = getattr(holder, "n_iter_", None)
        if isinstance(value, (int, np.integer)):
            return int(value)
    return None


def warning_texts(caught: Sequence[Any]) -> tuple[str, ...]:
    """Recorded warnings as sorted, distinct one-line texts."""
    return tuple(sorted({f"{item.category.__name__}: {one_line(item.message)}" for item in caught}))


def run_job(job: Job, data: RunData) -> FoldResult:
    """Train and score one candidate on one split. Never raises: failure is a result."""
    if time.time() > job.deadline:
        return FoldResult(job.loss_id, job.split, "skipped", reason="the time budget ran out")
    started = time.perf_counter()
    caught: list[Any] = []
    if data.alone_in_process():
        with quiet_single_thread() as caught:
            outcome = _train_and_score(job, data)
    else:  # a thread beside others: the parent limits BLAS and records warnings for the run
        outcome = _train_and_score(job, data)
    convergence = any(item.category.__name__ == "ConvergenceWarning" for item in caught)
    status, scores, problems, reason, ran, beyond, coverage, fairness, tuned, searched = outcome
    cap = (ran >= job.epochs) if ran is not None else convergence
    return FoldResult(job.loss_id, job.split, status, scores, problems, reason, ran,
                      bool(cap and status == "ok"), time.perf_counter() - started,
                      warning_texts(caught), beyond, coverage, fairness=fairness, decision=tuned,
                      searched=searched)


def _fold_fairness(job: Job, data: RunData, prediction: np.ndarray) -> FoldFairness | None:
    """The fold's per-group scores and gaps (fairlearn) when the run has groups."""
    if data.groups is None:
        return None
    spec = METRIC_SPECS[job.metrics[0]]
    return fold_fairness(data.y[job.test], prediction, data.groups[job.test],
                         len(data.group_names),
                         lambda truth, predicted: spec.score(truth, predicted, job.context))


def _search(job: Job, data: RunData, train_matrix: np.ndarray) -> SearchedValue | None:
    """The fold's best value of the loss's searched parameter (``LossSpec.search``), or None
    for a loss without one (:mod:`.search`)."""
    if getattr(job.loss, "search", None) is None:
        return None
    y_train = data.y[job.train]

    def predict_tuning_rows(params: dict[str, Any], fit: np.ndarray, tune: np.ndarray) -> np.ndarray:
        proxy = data.factory(job.loss, params, data.profile, seed=job.seed, max_iter=job.epochs,
                             hidden=job.hidden)
        proxy.fit(train_matrix[fit], y_train[fit])
        return np.asarray(proxy.predict(train_matrix[tune]), dtype=float)

    return search_value(job.loss, job.params, y_train, task=job.context.task,
                        metric=job.metrics[0], seed=job.seed,
                        predict_tuning_rows=predict_tuning_rows, context=job.context)


def _fit(job: Job, data: RunData, train_matrix: np.ndarray) -> tuple[Any, TunedRule | None]:
    """The fitted proxy, and a plan's decision rule: a plan's network fits on the training
    fold less a stratified, seeded part (:func:`.decision.tuning_split`), on which its rule
    is tuned for the primary metric; any other loss fits on the whole fold (with the rows'
    groups for a group-aware loss), with a searched parameter at its fold's best value."""
    proxy = data.factory(job.loss, job.params, data.profile, seed=job.seed,
                         max_iter=job.epochs, hidden=job.hidden)
    y_train = data.y[job.train]
    plan = getattr(job.loss, "decision", None)
    if plan is None:
        if data.groups is not None and job.loss.math.needs_groups:
            return proxy.fit(train_matrix, y_train, groups=data.groups[job.train]), None
        return proxy.fit(train_matrix, y_train), None
    fit, tune = tuning_split(y_train, job.context.task, job.seed)
    proxy.fit(train_matrix[fit], y_train[fit])
    tuned = tune_rule(plan.rule, np.asarray(proxy.predict(train_matrix[tune]), dtype=float),
                      y_train[tune], metric=job.metrics[0], task=job.context.task,
                      priors=job.params.get("priors"))
    return proxy, tuned


def _train_and_score(job: Job, data: RunData):
    tuned: TunedRule | None = None
    try:
        train_matrix, test_matrix = data.matrices(job.split, job.train, job.test)
        searched = _search(job, data, train_matrix)
        if searched is not None:
            job = replace(job, params={**job.params, searched.name: searched.value})
        proxy, tuned = _fit(job, data, train_matrix)
        prediction = np.asarray(proxy.predict(test_matrix), dtype=float)
        distribution = _distribution(job, data, proxy, train_matrix, test_matrix, prediction)
    except ProxyDivergedError as error:
        return "failed", {}, {}, f"diverged: {one_line(error)}", None, None, (), None, None, None
    except Exception as error:  # noqa: BLE001 - failure is data: record it, go on
        return "failed", {}, {}, f"{type(error).__name__}: {one_line(error)}", None, None, (), None, None, None
    ran = epochs_run(proxy)
    if prediction.shape[0] != len(job.test):
        return ("failed", {}, {}, f"predicted {prediction.shape[0]} rows for {len(job.test)}",
                ran, None, (), None, None, None)
    if not np.all(np.isfinite(prediction)):
        return "failed", {}, {}, "diverged: non-finite predictions", ran, None, (), None, None, None
    beyond = (overshoot(prediction, data.y[job.train]) if job.context.task in NUMERIC_TASKS
              else (0.0, None))
    context = job.context if tuned is None else replace(job.context, decision_offsets=tuned.offsets)
    scores, problems = score_predictions(data.y[job.test], prediction, job.metrics, context,
                                         distribution)
    primary = job.metrics[0]
    if not math.isfinite(scores[primary]):
        reason = problems.get(primary, "not finite")
        return ("failed", scores, problems, f"{primary} could not be computed: {reason}",
                ran, beyond, (), None, None, None)
    return ("ok", scores, problems, None, ran, beyond,
            level_coverage(data.y[job.test], prediction, job.context),
            _fold_fairness(job, data, prediction), tuned, searched)


def _distribution(job: Job, data: RunData, proxy: Any, train_matrix: np.ndarray,
                  test_matrix: np.ndarray, prediction: np.ndarray) -> Any:
    """The fold's predictive distribution when a metric reads one: the loss's own, else a
    Gaussian around the prediction with the training residuals' spread (fold_distribution)."""
    if job.context.task not in NUMERIC_TASKS or not needs_distribution(job.metrics):
        return None
    return fold_distribution(proxy.predict_distribution(test_matrix), prediction,
                             data.y[job.train], lambda: np.asarray(proxy.predict(train_matrix)),
                             job.context)


@dataclass
class Runner:
    """The jobs of one experiment, run batch by batch; ``results`` in the order they ended."""

    data: RunData
    candidates: tuple[str, ...]
    losses: Mapping[str, Any]
    params: Mapping[str, dict[str, Any]]
    contexts: Mapping[str, ScoringContext]    # per candidate (its prediction levels)
    metrics: tuple[str, ...]
    seed: int
    epochs: int
    hidden: tuple[int, ...]
    deadline: float
    backend: str | None
    n_jobs: int
    progress: ProgressCallback | None = None
    results: list[FoldResult] = field(default_factory=list)
    warnings: set[str] = field(default_factory=set)
    seconds: float = 0.0                      # wall clock spent running jobs
    extensions_cut: int = 0                   # extensions the clock cut and the run dropped

    def jobs(self, splits: Sequence[tuple[np.ndarray, np.ndarray]], indices: Sequence[int],
             losses: Sequence[str]) -> list[Job]:
        return [Job(loss_id, self.losses[loss_id], self.params[loss_id], index, splits[index][0],
                    splits[index][1], split_seed(self.seed, index), self.epochs, self.hidden,
                    self.contexts[loss_id], self.metrics, self.deadline)
                for index in indices for loss_id in losses]

    def run(self, splits: Sequence[tuple[np.ndarray, np.ndarray]], indices: Sequence[int],
            losses: Sequence[str] | None = None) -> None:
        """Run the jobs of the splits ``indices`` for ``losses`` (default: every candidate);
        BLAS limits and warnings held once here."""
        from joblib import Parallel, delayed

        started = time.perf_counter()
        losses = self.candidates if losses is None else tuple(losses)
        jobs = self.jobs(splits, indices, losses)
        total = len(self.results) + len(jobs)
        self._report(len(self.results), total,
                     f"training {len(losses)} candidates on {len(indices)} splits")
        with quiet_single_thread() as caught, parallel_config(self.backend, self.n_jobs):
            for result in Parallel(return_as=result_mode())(delayed(run_job)(job, self.data)
                                                            for job in jobs):
                self.results.append(result)
                self._report(len(self.results), total, f"{result.loss_id}: split "
                                                       f"{result.split + 1} of {len(splits)}")
        self.warnings.update(warning_texts(caught))
        self.seconds += time.perf_counter() - started

    def _report(self, done: int, total: int, message: str) -> None:
        if self.progress is not None:
            self.progress(done, total, message)
