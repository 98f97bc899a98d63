"""CLI speed: ``advisor --help`` start-up, and rules-only ``advisor suggest`` on a big CSV.

Prints two figures the core issue asks for:
  1. wall time of ``advisor --help`` (target: well under 0.3 s), best of N runs;
  2. wall time of ``advisor suggest big.csv --no-validate --format json`` on a 1M-row,
     20-column CSV against a bare ``pandas.read_csv`` of the same file (target: <= 1.3x).

The two commands alternate, so a drift in the machine's speed (a busy neighbour) hits both;
the load average before and after says how busy the machine was. The advisor's bytecode is
compiled first, as pip does when it installs a package (pandas' is): a checkout run with
PYTHONDONTWRITEBYTECODE would otherwise compile its sources again on every run.

Usage: python benchmarks/bench_cli.py [--rows 1000000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import statistics
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


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def best_of(repeat: int, command: list[str]) -> float:
    return min(timed(command) for _ in range(repeat))


def paired(repeat: int, first: list[str], second: list[str]) -> tuple[list[float], list[float]]:
    """Alternate the two commands, so a drift in the machine's speed hits both alike."""
    times_first, times_second = [], []
    for _ in range(repeat):
        times_first.append(timed(first))
        times_second.append(timed(second))
    return times_first, times_second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    advisor = shutil.which("advisor") or str(Path(sys.executable).with_name("advisor"))
    import advisor as package

    compileall.compile_dir(Path(package.__file__).parent, quiet=1)

    help_time = best_of(max(args.repeat, 5), [advisor, "--help"])
    print(f"advisor --help: {help_time * 1000:.0f} ms (best of {max(args.repeat, 5)}; target < 300 ms)")

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.csv"
        make_csv(path, args.rows)
        size_mb = path.stat().st_size / 1e6
        load_before = os.getloadavg()[0]
        read_code = f"import pandas as pd; pd.read_csv({str(path)!r})"
        read_times, suggest_times = paired(args.repeat, [sys.executable, "-c", read_code],
                                           [advisor, "suggest", str(path), "--no-validate",
                                            "--format", "json"])
        ratios = sorted(suggest / read for read, suggest in zip(read_times, suggest_times))
        print(f"data: {args.rows:,} rows x 20 columns, {size_mb:.0f} MB CSV")
        print(f"python -c 'pandas.read_csv(...)':       {min(read_times):6.2f} s (best of {args.repeat}, process start included)")
        print(f"advisor suggest --no-validate --format json: {min(suggest_times):6.2f} s (best of {args.repeat})")
        print(f"ratio of the bests: {min(suggest_times) / min(read_times):.2f}x; paired ratios "
              f"(each run against the read just before it): median {statistics.median(ratios):.2f}x, "
              f"range {ratios[0]:.2f}-{ratios[-1]:.2f}x (target <= 1.3x)")
        print(f"load average (1 min) before and after: {load_before:.2f}, {os.getloadavg()[0]:.2f} "
              f"on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
