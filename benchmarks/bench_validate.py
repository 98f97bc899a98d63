"""Validated run time against the budget on 10k, 100k and 1M-row synthetic data.

For each size, a CSV with 12 numeric and 2 categorical features and an imbalanced binary
target (balanced accuracy as the metric) goes through load -> profile -> rules ->
validate, and the script prints the wall time of ``validate`` against its budget, the
end-to-end time, and the protocol the validator chose to stay within the budget.

``--wide N`` adds N numeric noise columns, to time wide data (e.g. ``--sizes 2000
--wide 3000 --budget 20``).

Usage: python benchmarks/bench_validate.py [--budget 60] [--sizes 10000,100000,1000000]
                                            [--jobs 1] [--backend loky] [--wide 0]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def make_csv(path: Path, rows: int, seed: int = 0, wide: int = 0) -> None:
    """A tabular binary problem with about 8 % positives (and ``wide`` noise columns)."""
    rng = np.random.default_rng(seed)
    numeric = rng.normal(size=(rows, 12 + wide)).astype(np.float32)
    frame = pd.DataFrame(numeric, columns=[f"x{i}" for i in range(12 + wide)])
    frame["region"] = rng.choice(["north", "south", "east", "west"], size=rows)
    frame["plan"] = rng.choice([f"p{i}" for i in range(30)], size=rows)
    logit = 1.5 * numeric[:, 0] - numeric[:, 1] + 0.5 * (frame["region"] == "north") - 3.0
    frame["target"] = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    frame.to_csv(path, index=False, float_format="%.5f")


def run(path: Path, budget: float, n_jobs: int, backend: str | None) -> dict:
    from advisor.decide import decide
    from advisor.load import load_data
    from advisor.losses import CATALOG, losses_for_task
    from advisor.profile import profile_data
    from advisor.rules import load_rulebase
    from advisor.validate import validate

    started = time.perf_counter()
    loaded = load_data(str(path))
    profile = profile_data(loaded, metric="balanced_accuracy")
    applicable = losses_for_task(profile.task)
    outcome = load_rulebase().evaluate(profile.facts, applicable)
    params = {loss_id: CATALOG[loss_id].derive(profile, {"quantiles": profile.quantiles})
              for loss_id in applicable}
    prepared = time.perf_counter()
    validation = validate(loaded, profile, outcome, params=params, budget=budget,
                          n_jobs=n_jobs, backend=backend)
    validated = time.perf_counter()
    decision = decide(outcome, validation)
    return {"before": prepared - started, "validate": validated - prepared,
            "total": time.perf_counter() - started, "validation": validation,
            "decision": decision}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--backend", default=None)
    parser.add_argument("--wide", type=int, default=0, help="extra numeric noise columns")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]

    print(f"budget {args.budget:g} s, n_jobs {args.jobs}, backend {args.backend or 'loky'}, "
          f"{14 + args.wide} feature columns")
    header = (f"{'rows':>9} {'validate s':>10} {'/budget':>7} {'load+profile s':>14} "
              f"{'total s':>8}  protocol")
    print(header)
    with tempfile.TemporaryDirectory() as tmp:
        for rows in sizes:
            path = Path(tmp) / f"bench_{rows}.csv"
            make_csv(path, rows, wide=args.wide)
            result = run(path, args.budget, args.jobs, args.backend)
            protocol = result["validation"].protocol
            chosen = (f"{protocol.sample_rows:,} rows, {protocol.folds} folds x {protocol.repeats}, "
                      f"<= {protocol.epochs} epochs, {len(protocol.candidates)} candidates, "
                      f"{protocol.splits_used}/{protocol.splits_planned} splits used")
            print(f"{rows:>9,} {result['validate']:>10.1f} {result['validate'] / args.budget:>7.2f} "
                  f"{result['before']:>14.1f} {result['total']:>8.1f}  {chosen}")
            print(f"{'':>9} pick {result['decision'].pick} ({result['decision'].confidence['level']}); "
                  f"{'; '.join(protocol.reasons)}")


if __name__ == "__main__":
    main()
