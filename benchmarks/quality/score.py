"""Score the advisor's picks against the cached ground truth (``truth/*.json``).

For every case (a dataset judged on one metric, see :mod:`datasets`) the advisor is asked
for a loss the way a user would ask (``advisor.suggest(frame, target=..., metric=...)``,
with the options a user would give, never the true task), on these paths:

- ``defaults``: the task's fixed default (cross-entropy / mse), no advisor at all;
- ``rules``: rules only (``validate=False``);
- ``validated-B``: the full advisor with ``budget=B`` seconds, seed 0, the default jobs.

A case of a dataset with a sensitive column (``Dataset.sensitive``) asks with
``sensitive=COL``; a case named ``worst_group:METRIC`` also asks with ``judge="worst_group"``
(``--judge worst-group``) and is judged on the truth's ``worst_group:METRIC`` fold scores,
each split's worst group.

A pick is a **hit** when its paired fold scores in the truth (15, or 50 below 1,000 rows) are
not significantly worse
than the best loss's (one-sided corrected resampled t-test *and* one-sided Wilcoxon
signed-rank test, both at p < 0.05), or its mean is within 0.5 % of the best mean. Its
**regret** is how much worse its mean is than the best, in percent of the best.

Run: ``python benchmarks/quality/score.py`` (rules and defaults: seconds; each validated
budget B: about B seconds per case). ``--budgets 10 30 60`` chooses the budgets,
``--write`` writes ``docs/quality.md`` and ``results/*.json`` (the picks, for review),
``--only NAME`` limits to datasets.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats as scipy_stats

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from datasets import DATASETS, Dataset, by_name  # noqa: E402

TRUTH_DIR = HERE / "truth"
RESULTS_DIR = HERE / "results"
DOCS = HERE.parents[1] / "docs" / "quality.md"
ALPHA = 0.05
CLOSE = 0.005            # within 0.5 % of the best mean is a hit whatever the tests say
TEST_TRAIN_RATIO = 1 / 4  # 5-fold cross-validation


def load_truth(name: str) -> dict[str, Any]:
    path = TRUTH_DIR / f"{name}.json"
    if not path.exists():
        raise SystemExit(f"no ground truth for {name}: run benchmarks/quality/truth.py --only {name}")
    return json.loads(path.read_text())


def truth_means(truth: dict[str, Any], metric: str) -> dict[str, float]:
    """Mean score per loss; a loss with an unscored split gets inf/-inf (it failed)."""
    greater = truth["greater_is_better"][metric]
    means = {}
    for loss, entry in truth["losses"].items():
        values = entry["scores"][metric]
        if any(value is None for value in values):
            means[loss] = -math.inf if greater else math.inf
        else:
            means[loss] = float(np.mean(values))
    return means


def judge(truth: dict[str, Any], metric: str, pick: str) -> dict[str, Any]:
    """Hit and regret of ``pick`` on one case."""
    greater = truth["greater_is_better"][metric]
    means = truth_means(truth, metric)
    sign = 1.0 if greater else -1.0
    best = max(means, key=lambda loss: sign * means[loss])
    if pick not in means:
        return {"best": best, "hit": False, "regret": None, "note": "not a loss of the truth"}
    if not math.isfinite(means[pick]):
        return {"best": best, "hit": False, "regret": math.inf, "note": "failed in the truth"}
    regret = 100.0 * sign * (means[best] - means[pick]) / abs(means[best]) if means[best] else 0.0
    if pick == best or regret <= 100 * CLOSE:
        return {"best": best, "hit": True, "regret": max(0.0, regret), "note": ""}
    worse = sign * (np.asarray(truth["losses"][best]["scores"][metric], dtype=float)
                    - np.asarray(truth["losses"][pick]["scores"][metric], dtype=float))
    t_value, p_two, _, _ = _corrected(worse)
    p_t = p_two / 2 if t_value is None or t_value > 0 else 1 - p_two / 2
    nonzero = worse[worse != 0]
    p_w = (float(scipy_stats.wilcoxon(nonzero, alternative="greater").pvalue)
           if nonzero.size else 1.0)
    significant = p_t < ALPHA and p_w < ALPHA
    return {"best": best, "hit": not significant, "regret": regret,
            "note": f"p_t={p_t:.3f} p_w={p_w:.3f}"}


def _corrected(differences: np.ndarray):
    from advisor.stats import corrected_t_test
    return corrected_t_test(differences, TEST_TRAIN_RATIO)


def ask(dataset: Dataset, metric: str, path: str) -> dict[str, Any]:
    """The advisor's pick for one case on one path."""
    from advisor.losses import DEFAULT_LOSS

    frame = dataset.frame()
    started = time.perf_counter()
    if path == "defaults":
        rec = dataset.suggest(metric, frame, validate=False)
        return {"pick": DEFAULT_LOSS[rec.task], "task": rec.task, "seconds": 0.0}
    if path == "rules":
        rec = dataset.suggest(metric, frame, validate=False)
    else:
        budget = float(path.split("-", 1)[1])
        rec = dataset.suggest(metric, frame, budget=budget, seed=0)
    answer = {"pick": rec.best.loss, "task": rec.task, "confidence": rec.confidence.level,
              "seconds": round(time.perf_counter() - started, 1)}
    # A loaded machine shrank the protocol (the slowdown notice) or cut an extension that a
    # quiet one runs (the timings): such a pick is not the advisor's, run it again.
    validation = rec.validation
    if validation is not None and (
            any(notice.code == "validation.slow_machine" for notice in validation.notices)
            or (rec.timing or {}).get("validation", {}).get("extensions_cut")):
        answer["slow_machine"] = True
    return answer


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    regrets = [row["regret"] for row in rows if row["regret"] is not None]
    finite = [value for value in regrets if math.isfinite(value)]
    missing = len(rows) - len(finite)
    return {"hits": sum(row["hit"] for row in rows), "cases": len(rows),
            "mean_regret": float(np.mean(finite)) if finite else math.nan,
            "worst_regret": max(finite) if finite else math.nan, "unscored": missing}


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if not math.isfinite(value):
        return "failed"
    return f"{value:,.2f} %" if value < 1000 else f"{value:,.0f} %"


def markdown(results: dict[str, dict[str, dict[str, Any]]], paths: list[str],
             before: dict[str, dict[str, dict[str, Any]]] | None = None,
             before_label: str = "", note: str = "") -> str:
    """docs/quality.md: the summary per path (and ``note`` under it), the same before a
    change, one row per case."""
    lines = ["# Advice quality", "",
             "How often the advisor's pick is as good as the best loss, measured on real data "
             "with real PyTorch MLPs. Built by `benchmarks/quality/` (the README there says how "
             "to rebuild it); every change to the rules, the losses or the decision is measured "
             "here before and after.", "",
             "**Ground truth.** For each dataset, every catalog loss that applies to its task "
             "trains a PyTorch MLP (two hidden layers of 64 ReLU units, Adam, early stopping "
             "with the best weights restored) on the same 5 folds x 3 repeats (x 10 below 1,000 "
             "rows), with the "
             "settings the advisor derives. **Hit**: the pick's paired fold scores are not "
             "significantly worse than the best loss's (one-sided corrected resampled t-test "
             "and one-sided Wilcoxon signed-rank test, both at p < 0.05), or within 0.5 % of "
             "the best mean. **Regret**: how much worse the pick's mean is than the best's, "
             "in percent.", "",
             "| path | hits | mean regret | worst pick |", "|---|---|---|---|"]
    for path in paths:
        summary = summarize(list(results[path].values()))
        lines.append(f"| {_label(path)} | {summary['hits']}/{summary['cases']} "
                     f"({100 * summary['hits'] / summary['cases']:.0f} %) | "
                     f"{_fmt(summary['mean_regret'])} | {_fmt(summary['worst_regret'])} |")
    if note:
        lines += ["", note]
    if before:
        lines += ["", f"Before: {before_label}", "", "| path | hits | mean regret | worst pick |",
                  "|---|---|---|---|"]
        for path in (path for path in paths if path in before):
            summary = summarize(list(before[path].values()))
            lines.append(f"| {_label(path)} | {summary['hits']}/{summary['cases']} "
                         f"({100 * summary['hits'] / summary['cases']:.0f} %) | "
                         f"{_fmt(summary['mean_regret'])} | {_fmt(summary['worst_regret'])} |")
    lines += ["", "## Every case", "",
              "| dataset | task | metric | best loss | " + " | ".join(_label(path) for path in paths) + " |",
              "|---|---|---|---|" + "---|" * len(paths)]
    any_path = results[paths[0]]
    for key in any_path:
        dataset, metric = key.split(" / ")
        row = any_path[key]
        cells = []
        for path in paths:
            item = results[path][key]
            mark = "hit" if item["hit"] else "**miss**"
            cells.append(f"`{item['pick']}` {mark} ({_fmt(item['regret'])})")
        lines.append(f"| {dataset} | {row['task']} | {metric} | `{row['best']}` | " + " | ".join(cells) + " |")
    lines += ["", "Datasets and sources: `benchmarks/quality/datasets.py`; the truth per "
              "dataset (every loss, every fold, every metric): `benchmarks/quality/truth/`.", ""]
    return "\n".join(lines)


def _rejudged(saved: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Saved picks judged again against the current truth (a rebuilt truth needs no new runs)."""
    judged = {}
    for key, item in saved.items():
        dataset, metric = key.split(" / ")
        judged[key] = {**item, **judge(load_truth(dataset), metric, item["pick"])}
    return judged


def _merged_with_saved(fresh: dict[str, dict[str, Any]], path: str) -> dict[str, dict[str, Any]]:
    """``--only`` with ``--write``: the fresh cases, and every other case from the saved
    results of ``path`` judged again against the current truth, in the order of DATASETS."""
    saved_file = RESULTS_DIR / f"{path}.json"
    saved = _rejudged(json.loads(saved_file.read_text())) if saved_file.exists() else {}
    merged = {**saved, **fresh}
    order = [f"{dataset.name} / {metric}" for dataset in DATASETS for metric in dataset.metrics]
    missing = [key for key in order if key not in merged]
    if missing:
        raise SystemExit(f"no saved result for {missing[0]}: run score.py --write without --only")
    return {key: merged[key] for key in order}


def _label(path: str) -> str:
    return {"defaults": "fixed defaults", "rules": "rules only"}.get(
        path, f"validated, budget {path.split('-', 1)[-1]} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", type=float, nargs="*", default=[10, 30, 60])
    parser.add_argument("--only", action="append", default=[])
    parser.add_argument("--paths", nargs="*", default=None,
                        help="defaults, rules, validated-B (default: all, with --budgets)")
    parser.add_argument("--write", action="store_true", help="write docs/quality.md and results/")
    parser.add_argument("--tag", default="", help="suffix of the results files (e.g. before)")
    parser.add_argument("--render", metavar="TAG", default=None,
                        help="write docs/quality.md and results/ from the saved results-TAG "
                             "files instead of asking the advisor again")
    parser.add_argument("--before", metavar="TAG", default=None,
                        help="with --render: also show the summary of the results-TAG files")
    parser.add_argument("--before-label", default="", help="what --before measured")
    parser.add_argument("--note", default="", help="a paragraph under the summary (e.g. which "
                                                   "cases were asked when)")
    args = parser.parse_args(argv)
    paths = args.paths or ["defaults", "rules", *(f"validated-{b:g}" for b in args.budgets)]
    if args.render is not None:
        suffix = f"-{args.render}" if args.render else ""
        results = {path: _rejudged(json.loads((RESULTS_DIR / f"{path}{suffix}.json").read_text()))
                   for path in paths}
        for path in paths:
            (RESULTS_DIR / f"{path}.json").write_text(json.dumps(results[path], indent=1,
                                                                 sort_keys=True) + "\n")
        before = {path: _rejudged(json.loads((RESULTS_DIR / f"{path}-{args.before}.json").read_text()))
                  for path in paths if args.before
                  and (RESULTS_DIR / f"{path}-{args.before}.json").exists()}
        DOCS.write_text(markdown(results, paths, before, args.before_label, args.note))
        return 0
    datasets = [by_name(name) for name in args.only] if args.only else list(DATASETS)
    results: dict[str, dict[str, dict[str, Any]]] = {path: {} for path in paths}
    for dataset in datasets:
        truth = load_truth(dataset.name)
        for metric in dataset.metrics:
            key = f"{dataset.name} / {metric}"
            for path in paths:
                answer = ask(dataset, metric, path)
                verdict = judge(truth, metric, answer["pick"])
                results[path][key] = {**answer, **verdict, "truth_task": truth["task"]}
                print(f"{key:40s} {path:14s} {answer['pick']:26s} best {verdict['best']:26s} "
                      f"{'hit ' if verdict['hit'] else 'MISS'} {_fmt(verdict['regret'])} "
                      f"({answer['seconds']} s{', SLOW MACHINE' if answer.get('slow_machine') else ''})",
                      file=sys.stderr, flush=True)
    print()
    for path in paths:
        summary = summarize(list(results[path].values()))
        print(f"{_label(path):28s} hits {summary['hits']}/{summary['cases']}  mean regret "
              f"{_fmt(summary['mean_regret'])}  worst {_fmt(summary['worst_regret'])}")
        slow = sum(1 for row in results[path].values() if row.get("slow_machine"))
        if slow:
            print(f"{'':28s} {slow} of its cases ran on a loaded machine, which shrank their "
                  "protocol or cut its extension: run them again on a quiet one")
    if args.write:
        RESULTS_DIR.mkdir(exist_ok=True)
        if args.only and not args.tag:
            results = {path: _merged_with_saved(results[path], path) for path in paths}
        for path in paths:
            name = f"{path}{'-' + args.tag if args.tag else ''}.json"
            (RESULTS_DIR / name).write_text(json.dumps(results[path], indent=1, sort_keys=True,
                                                       default=str) + "\n")
        if not args.tag:
            DOCS.write_text(markdown(results, paths, note=args.note))
    return 0


if __name__ == "__main__":
    sys.exit(main())
