"""The run's machinery: parallel backends give the numbers of one process, process-wide
state (BLAS limits, warning filters) is never entered per job in threads, and the split
cache belongs to the run."""

from __future__ import annotations

import pickle
import threading

import numpy as np
import pytest
from conftest import Outcome, all_params, binary_data, deterministic_part

import advisor.experiment.run as run_module
from advisor.errors import OptionError
from advisor.experiment.run import SplitCache
from advisor.runtime.parallel import parallel_config, worker_count
from advisor.validate import validate


def _without_parallelism(payload: dict) -> dict:
    for key in ("backend", "n_jobs", "workers"):
        payload["protocol"].pop(key)
    return payload


def test_threading_backend_gives_the_sequential_numbers_and_keeps_state_in_the_parent(monkeypatch):
    loaded, profile = binary_data(n=300)
    outcome = Outcome(("weighted_cross_entropy", "cross_entropy"))
    pinned = dict(params=all_params(profile), budget=60, seed=5, folds=3, repeats=1, epochs=10)
    alone = deterministic_part(validate(loaded, profile, outcome, **pinned))

    entered_in: list[str] = []
    real = run_module.quiet_single_thread

    def recording():
        entered_in.append(threading.current_thread().name)
        return real()

    monkeypatch.setattr(run_module, "quiet_single_thread", recording)
    threaded = validate(loaded, profile, outcome, n_jobs=2, backend="threading", **pinned)
    assert threaded.protocol.backend == "threading"
    assert _without_parallelism(deterministic_part(threaded)) == _without_parallelism(alone)
    if threaded.protocol.workers > 1:  # one context per batch of jobs, in the parent thread
        assert set(entered_in) == {threading.main_thread().name}
        assert len(entered_in) == 1


def test_the_split_cache_keeps_the_last_splits_and_pickles_empty():
    cache = SplitCache(size=2)
    built: list[int] = []

    def build(split):
        def make():
            built.append(split)
            return np.full(2, split), np.full(1, split)
        return make

    for split in (0, 0, 1, 2, 0):
        cache.get(split, build(split))
    assert built == [0, 1, 2, 0]          # 0 was evicted by 1 and 2, then built again
    copy = pickle.loads(pickle.dumps(cache))
    copy.get(2, build(2))
    assert built[-1] == 2 and copy.size == 2


def test_an_unknown_backend_is_one_option_error():
    with pytest.raises(OptionError, match="backend") as info:
        worker_count("no-such-backend", 2)
    assert "\n" not in str(info.value)
    with parallel_config("threading", 2):
        pass


def test_ray_backend_gives_the_same_numbers_as_the_local_run():
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'loss-advisor[ray]')")
    import os

    from joblib import Parallel, delayed

    loaded, profile = binary_data(n=300)
    outcome = Outcome(("weighted_cross_entropy", "cross_entropy"))
    pinned = dict(params=all_params(profile), budget=60, seed=3, folds=3, repeats=1, epochs=15)
    local = deterministic_part(validate(loaded, profile, outcome, **pinned))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        with parallel_config("ray", 2):                # jobs really run in Ray's processes
            assert os.getpid() not in set(Parallel()(delayed(os.getpid)() for _ in range(4)))
        remote = validate(loaded, profile, outcome, backend="ray", n_jobs=2, **pinned)
    finally:
        ray.shutdown()
    assert remote.protocol.backend == "ray" and remote.protocol.workers == 2
    assert _without_parallelism(deterministic_part(remote)) == _without_parallelism(local)


def test_the_ray_backend_without_its_extra_is_one_clear_line(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "ray.util.joblib", None)     # as if ray were missing
    with pytest.raises(OptionError, match=r"loss-advisor\[ray\]") as info:
        worker_count("ray", 2)
    message = str(info.value)
    assert "\n" not in message and message.count("got 'ray'") == 1 and "Invalid backend" not in message
