"""CLI speed: ``advisor --help`` start-up, and rules-only ``advisor suggest`` on a big CSV.

Prints two figures the core issue asks for:
  1. wall time of ``advisor --help`` (target: well under 0.3 s), best of N runs;
  2. wall time of ``advisor suggest big.csv --no-validate --format json`` on a 1M-row,
     20-column CSV against a bare ``pandas.read_csv`` of the same file (target: <= 1.5x).

Usage: python benchmarks/bench_cli.py [--rows 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def make_csv(path: Path, rows: int, seed: int = 0) -> None:
    """19 numeric features and an imbalanced binary target, like a typical tabular file."""
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(rows, 19)).astype(np.float32)
    logit = features[:, 0] * 1.5 - features[:, 1] - 3.0
    target = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    frame = pd.DataFrame(features, columns=[f"x{i}" for i in range(19)])
    frame["target"] = target
    frame.to_csv(path, index=False, float_format="%.5f")


def best_of(repeat: int, command: list[str]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    advisor = shutil.which("advisor") or str(Path(sys.executable).with_name("advisor"))

    help_time = best_of(max(args.repeat, 5), [advisor, "--help"])
    print(f"advisor --help: {help_time * 1000:.0f} ms (best of {max(args.repeat, 5)}; target < 300 ms)")

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.csv"
        make_csv(path, args.rows)
        size_mb = path.stat().st_size / 1e6
        read_code = f"import pandas as pd; pd.read_csv({str(path)!r})"
        read_time = best_of(args.repeat, [sys.executable, "-c", read_code])
        suggest_time = best_of(args.repeat, [advisor, "suggest", str(path), "--no-validate",
                                             "--format", "json"])
        ratio = suggest_time / read_time
        print(f"data: {args.rows:,} rows x 20 columns, {size_mb:.0f} MB CSV")
        print(f"python -c 'pandas.read_csv(...)':       {read_time:6.2f} s (best of {args.repeat}, process start included)")
        print(f"advisor suggest --no-validate --format json: {suggest_time:6.2f} s (best of {args.repeat})")
        print(f"ratio: {ratio:.2f}x (target <= 1.5x)")


if __name__ == "__main__":
    main()
