"""Profile-stage speed: task detection and the 43 facts on in-memory frames of growing size.

Prints the best-of-N wall time of ``profile_data`` for each task family on 100k and 1M rows
x 20 columns (the target the core issue sets: well under 5 s for 1M rows on one core).

Usage: python benchmarks/bench_profile.py [--rows 100000 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from advisor.load import load_data
from advisor.profile import profile_data


def make_targets(rng: np.random.Generator, n: int) -> dict[str, object]:
    """One target per task family the profile stage tells apart."""
    return {
        "binary": (rng.random(n) < 0.1).astype(int),
        "multiclass": rng.choice(["cat", "dog", "bird", "fish"], size=n, p=[0.6, 0.2, 0.15, 0.05]),
        "ordinal": rng.integers(1, 6, size=n),
        "regression": rng.standard_t(3, size=n),
        "count": rng.poisson(3.0, size=n),
        "proportion": rng.beta(2, 5, size=n),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"{'rows':>10}  {'target':<11} {'task':<11} {'best s':>7}")
    for rows in args.rows:
        rng = np.random.default_rng(0)
        features = pd.DataFrame(rng.normal(size=(rows, 19)), columns=[f"x{i}" for i in range(19)])
        for name, target in make_targets(rng, rows).items():
            loaded = load_data(features.assign(y=target), "y")
            times = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                profile = profile_data(loaded)
                times.append(time.perf_counter() - started)
            print(f"{rows:>10,}  {name:<11} {profile.task:<11} {min(times):>7.2f}")


if __name__ == "__main__":
    main()
