"""The planning cost model against what this machine measures, on the quality benchmark's data.

The protocol is planned from a deterministic cost model (``advisor.experiment.plan``), meant
to sit about 1.5x above the pilot's measurement so that ordinary load still fits the
budget. This script asks the advisor once per dataset of ``benchmarks/quality/datasets.py``
(its first metric, ``--timings`` figures) and prints, per dataset, the model's and the
pilot's cost of one adam step (batch), the pilot's slowdown ratio (above 1.5 the plan is
made for a machine twice as slow), and the run's wall time against the seconds the plan had,
with the extensions the clock cut. A ratio of measured to model per batch above 1 means the
model is below this machine; a cut extension means an estimate was short.

Usage: ``pip install '.[bench]'`` then ``python benchmarks/bench_cost_model.py [--budget 10]
[--only NAME ...]`` (about ``budget`` seconds per dataset).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "quality"))

from datasets import DATASETS, by_name  # noqa: E402


def measure(dataset, budget: float) -> dict | None:
    """The validation timings of one dataset judged on its first metric (None: no experiment)."""
    frame = dataset.frame()
    rec = dataset.suggest(dataset.metrics[0], frame, budget=budget, seed=0)
    timing = (rec.timing or {}).get("validation", {})
    if "cost" not in timing:
        return None
    return {"task": rec.task, "rows": len(frame), **timing}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=10.0)
    parser.add_argument("--only", action="append", default=[], help="dataset name (repeatable)")
    args = parser.parse_args(argv)
    datasets = [by_name(name) for name in args.only] if args.only else list(DATASETS)
    print(f"budget {args.budget:g} s, seed 0, the default jobs")
    print(f"{'dataset':22s} {'task':11s} {'rows':>5s} {'batch model':>11s} {'measured':>9s} "
          f"{'ratio':>5s} {'slowdown':>8s} {'run s':>6s} {'of s':>5s} {'cut':>3s}")
    ratios = []
    for dataset in datasets:
        timing = measure(dataset, args.budget)
        if timing is None:
            print(f"{dataset.name:22s} no experiment")
            continue
        model, measured = timing["cost"]["per_batch"], timing["measured_cost"]["per_batch"]
        ratios.append(measured / model)
        print(f"{dataset.name:22s} {timing['task']:11s} {timing['rows']:5d} {model:11.2e} "
              f"{measured:9.2e} {measured / model:5.2f} {timing['slowdown']:8.2f} "
              f"{timing['run_seconds']:6.1f} {timing['seconds_available']:5.1f} "
              f"{timing['extensions_cut']:3d}", flush=True)
    if ratios:
        print(f"measured / model per batch: median {statistics.median(ratios):.2f}, "
              f"range {min(ratios):.2f}-{max(ratios):.2f} over {len(ratios)} datasets")
    return 0


if __name__ == "__main__":
    sys.exit(main())
