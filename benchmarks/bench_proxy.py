"""Time per epoch of the proxy MLP with every catalog loss, against stock scikit-learn.

    python benchmarks/bench_proxy.py [--rows 50000] [--features 20] [--epochs 5] [--repeats 3]

Every loss trains on a synthetic target of one of its tasks (the same X for all), with the
validator's architecture: hidden (64,), adam, batch 200, BLAS limited to one thread. The
reference is the stock scikit-learn MLP with its native loss on the same task, data and
number of epochs (MLPClassifier's log loss for classification tasks, MLPRegressor's squared
error for numeric ones, its Poisson loss for counts). The target for the adapter is a ratio
of at most 1.2 for ``cross_entropy`` against MLPClassifier and ``mse`` against MLPRegressor.
Timings are the process's CPU time (``--wall`` for wall-clock), best of ``--repeats``
interleaved runs (proxy, stock, proxy, ...), which keeps other load on the machine out of
the ratio as far as possible.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.neural_network import MLPClassifier, MLPRegressor  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from advisor.load import load_data  # noqa: E402
from advisor.profile import Profile, profile_data  # noqa: E402
from advisor.proxy import make_proxy  # noqa: E402

#: The task each loss is timed on: the first of these it supports.
TASK_PREFERENCE = ("multiclass", "binary", "regression", "count", "multilabel", "ordinal", "proportion")
#: Extra (loss, task) rows always timed: the adapter's targets.
HEADLINE = (("cross_entropy", "multiclass"), ("cross_entropy", "binary"), ("mse", "regression"))
N_CLASSES = 5
QUANTILES = (0.1, 0.5, 0.9)


# ----- synthetic targets, one per task -------------------------------------------------------
def latent(X: np.ndarray, rng: np.random.Generator, width: int = 1) -> np.ndarray:
    """A nonlinear signal of the features, ``(n, width)``, roughly unit scale."""
    w = rng.normal(size=(X.shape[1], width)) / np.sqrt(X.shape[1])
    return np.tanh(X @ w) + 0.5 * np.sin(X[:, :width] * 2.0) + 0.3 * rng.normal(size=(len(X), width))


def make_target(task: str, X: np.ndarray, seed: int = 0) -> np.ndarray:
    """A raw target of ``task`` (what a user's table would hold)."""
    rng = np.random.default_rng(seed)
    if task == "multiclass":
        return latent(X, rng, N_CLASSES).argmax(axis=1)
    if task == "binary":
        return (latent(X, rng)[:, 0] > 0.3).astype(int)
    if task == "multilabel":
        return (latent(X, rng, N_CLASSES) > 0.2).astype(float)
    if task == "ordinal":
        z = latent(X, rng)[:, 0]
        return np.digitize(z, np.quantile(z, [0.15, 0.4, 0.7, 0.9]))
    if task == "regression":  # positive, so the log-link losses apply too
        return 100.0 + 30.0 * latent(X, rng)[:, 0]
    if task == "count":
        return rng.poisson(np.exp(1.0 + latent(X, rng)[:, 0]))
    if task == "proportion":
        return 1.0 / (1.0 + np.exp(-2.0 * latent(X, rng)[:, 0]))
    raise ValueError(f"no synthetic target for task {task!r}")


def make_profile(task: str, X: np.ndarray, y: np.ndarray) -> Profile:
    """The profile the advisor itself builds for this target (load and profile stages)."""
    quantiles = QUANTILES if task in ("regression", "count") else ()
    return profile_data(load_data(X, y=y), task=task, quantiles=quantiles)


def stock_model(task: str, common: dict[str, Any]) -> tuple[str, Callable[[], Any]]:
    """The stock scikit-learn MLP with its native loss for ``task``."""
    if task in ("binary", "multiclass", "multilabel", "ordinal"):
        return "MLPClassifier", lambda: MLPClassifier(**common)
    if task == "count":
        return "MLPRegressor(poisson)", lambda: MLPRegressor(loss="poisson", **common)
    return "MLPRegressor", lambda: MLPRegressor(**common)


def timed(fit: Callable[[], Any], clock: Callable[[], float] = time.process_time) -> tuple[float, Any]:
    """Time of one fit on ``clock``, and the fitted model."""
    start = clock()
    model = fit()
    return clock() - start, model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--losses", default="", help="comma-separated loss ids (default: all)")
    parser.add_argument("--wall", action="store_true",
                        help="time wall-clock instead of the process's CPU time")
    args = parser.parse_args(argv)

    from advisor.losses import CATALOG

    wanted = [name for name in args.losses.split(",") if name] or sorted(CATALOG)
    unknown = sorted(set(wanted) - set(CATALOG))
    if unknown:
        parser.error(f"unknown loss ids: {', '.join(unknown)}")
    runs = [(loss_id, task) for loss_id, task in HEADLINE if loss_id in wanted]
    for loss_id in wanted:
        task = next((t for t in TASK_PREFERENCE if t in CATALOG[loss_id].tasks), None)
        if task is not None and (loss_id, task) not in runs:
            runs.append((loss_id, task))

    X = np.random.default_rng(0).normal(size=(args.rows, args.features))
    common = dict(hidden_layer_sizes=(64,), solver="adam", batch_size=200, learning_rate_init=1e-3,
                  max_iter=args.epochs, n_iter_no_change=np.inf, random_state=0)
    clock = time.perf_counter if args.wall else time.process_time
    print(f"{args.rows} rows x {args.features} features, hidden (64,), adam, batch 200, "
          f"{args.epochs} epochs, best of {args.repeats}, 1 BLAS thread, "
          f"{'wall-clock' if args.wall else 'CPU'} time")
    header = f"{'loss':<28}{'task':<12}{'outputs':>8}{'proxy ms/ep':>13}{'ms/1k rows':>11}{'stock ms/ep':>13}{'ratio':>8}  stock model"
    print(header)
    print("-" * len(header))
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for loss_id, task in runs:
            loss = CATALOG[loss_id]
            profile = make_profile(task, X, make_target(task, X))
            y = profile.y
            params = loss.derive(profile, {})
            stock_name, build_stock = stock_model(task, common)

            def fit_proxy():
                return make_proxy(loss, params, profile, seed=0, max_iter=args.epochs,
                                  n_iter_no_change=np.inf).fit(X, y)

            proxy_time = stock_time = np.inf
            try:
                for _ in range(args.repeats):  # interleaved: both sides see the same machine load
                    elapsed, proxy = timed(fit_proxy, clock)
                    proxy_time = min(proxy_time, elapsed)
                    stock_time = min(stock_time, timed(lambda: build_stock().fit(X, y), clock)[0])
            except Exception as exc:  # a benchmark row, not a crash: say what failed
                print(f"{loss_id:<28}{task:<12}  failed: {type(exc).__name__}: {exc}", flush=True)
                continue
            proxy_ms = 1000 * proxy_time / proxy.model_.n_iter_
            stock_ms = 1000 * stock_time / args.epochs
            print(f"{loss_id:<28}{task:<12}{proxy.model_.n_outputs_:>8}{proxy_ms:>13.1f}"
                  f"{1000 * proxy_ms / args.rows:>11.2f}{stock_ms:>13.1f}{proxy_ms / stock_ms:>8.2f}"
                  f"  {stock_name}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
