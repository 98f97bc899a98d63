"""Parallel runs through joblib: the backend, how many jobs really run at once, warming the
workers up, and BLAS limited to one thread per fit.

``threadpool_limits`` and ``warnings.catch_warnings`` change the whole process, so they are
entered once around work that runs alone in its process (the parent's sequential run, the
pilot, one job in a process worker), never per job in threads that share the process.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import OptionError

__all__ = ["LOCAL_BACKENDS", "PROCESS_BACKENDS", "parallel_config", "result_mode", "worker_count",
           "warm_up_workers", "quiet_single_thread"]

LOCAL_BACKENDS = frozenset({"loky", "multiprocessing", "threading", "sequential"})
PROCESS_BACKENDS = frozenset({"loky", "multiprocessing"})


@contextmanager
def parallel_config(backend: str | None, n_jobs: int) -> Iterator[None]:
    """joblib.parallel_config for ``backend`` (None = loky), with an unusable backend as one
    OptionError line. ``ray`` is registered with joblib here (the ``ray`` extra)."""
    from joblib import parallel_config as joblib_config
    from joblib.parallel import BACKENDS, EXTERNAL_BACKENDS

    known = sorted(set(BACKENDS) | set(EXTERNAL_BACKENDS))
    if backend == "ray":
        _register_ray(known)
    if backend is None:
        config = joblib_config(n_jobs=n_jobs)
    else:
        try:
            config = joblib_config(backend=backend, n_jobs=n_jobs)
        except (ValueError, KeyError):
            hint = "start a dask.distributed Client first" if backend == "dask" else None
            raise OptionError("backend", backend, known, hint=hint) from None
    with config:
        yield


def _register_ray(known: list[str]) -> None:
    try:
        from ray.util.joblib import register_ray
    except ImportError:
        raise OptionError("backend", "ray", known, hint="the ray backend needs the ray extra: "
                          "pip install 'loss-advisor[ray]'") from None
    register_ray()


def result_mode() -> str:
    """``"generator"`` when the active joblib backend streams results as jobs end (progress
    per job), else ``"list"`` (Ray's backend returns them all at the end)."""
    from joblib.parallel import get_active_backend

    backend, _ = get_active_backend()
    return "generator" if getattr(backend, "supports_return_generator", False) else "list"


def worker_count(backend: str | None, n_jobs: int) -> int:
    """How many jobs really run at once (capped by the cores this process may use, the same
    count as the default ``--jobs``, for local backends)."""
    import joblib

    from ..options import available_cores

    with parallel_config(backend, n_jobs):
        count = joblib.effective_n_jobs(n_jobs)
    if (backend or "loky") in LOCAL_BACKENDS:
        count = min(count, available_cores())
    return max(1, int(count))


def _warm_up() -> int:
    """Run once in every parallel worker before the clock-sensitive part: the imports."""
    import sklearn.compose  # noqa: F401
    import sklearn.neural_network  # noqa: F401

    from .. import proxy  # noqa: F401
    return os.getpid()


def warm_up_workers(backend: str | None, n_jobs: int, workers: int) -> float:
    """Start (and import in) the workers of a process or remote backend; the seconds it took."""
    from joblib import Parallel, delayed

    started = time.perf_counter()
    if workers > 1 and (backend or "loky") not in ("threading", "sequential"):
        with parallel_config(backend, n_jobs):
            Parallel()(delayed(_warm_up)() for _ in range(workers))
    return time.perf_counter() - started


@contextmanager
def quiet_single_thread() -> Iterator[list[warnings.WarningMessage]]:
    """BLAS limited to one thread and every warning recorded, not printed (both process-wide:
    enter it only around work that is alone in its process)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield caught

