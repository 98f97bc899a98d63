"""The multitask result: per-target rule stages, the weighting experiment, the record."""

from __future__ import annotations

import hashlib
import time
from typing import Any

from ..schema import (
    Candidate,
    Confidence,
    DataSource,
    DecisionBasis,
    Notice,
    ProfileSummary,
    Recommendation,
    Reproducibility,
    RulebaseInfo,
    RunSettings,
    Target,
    significant,
)
from . import (
    CHEN,
    KENDALL,
    WEIGHTINGS,
    choose,
    common_rows,
    plan_parts,
    start_weighting,
    summary_record,
)
from .snippets import composite_snippet

FORMULAS = {
    "fixed": "sum_t L_t / L_t(0), L_t(0) the loss of the constant best prediction",
    "uncertainty": "sum_t exp(-s_t) L_t + s_t, s_t learnable (closed form s_t = log L_t per epoch in the proxy)",
    "gradnorm": ("sum_t a_t L_t / L_t(0), the task weights a_t (summing to the number of targets) "
                 "set so the targets' gradient norms at the last shared layer follow their training "
                 "rates (the balance once per epoch in the proxy)"),
}
CITATIONS = {"fixed": "loss normalisation by the initial loss (Chen et al., ICML 2018, Sec. 3)",
             "uncertainty": KENDALL, "gradnorm": CHEN}


def run_composite(loaded: Any, split: tuple[Any, str], options: Any, rulebase: Any,
                  command: str, versions: dict[str, str], settings: dict[str, Any],
                  started: float) -> Recommendation:
    """The recommendation of a multitask problem (see :mod:`advisor.composite`)."""
    parts, reason = split
    planned = plan_parts(rulebase, list(parts))
    from ..rules import load_composite_rulebase

    weighting_rules = load_composite_rulebase()
    rule_weighting, start = start_weighting(list(parts), weighting_rules)
    results: list[Any] = []
    protocol: dict[str, Any] | None = None
    if options.validate:
        from .experiment import PartSetup, run_experiment

        every, ys = common_rows(list(parts))
        setups = [PartSetup(item["part"].column, item["loss"], item["part"].profile.facts["metric"],
                            item["spec"], item["params"], item["part"].profile) for item in planned]
        features = loaded.features[every].reset_index(drop=True)
        results, protocol = run_experiment(features, ys, setups, seed=options.seed,
                                           budget=options.budget)
    weighting, why = choose(results, rule_weighting)
    summary = summary_record(planned, weighting, why, rule_weighting, results, protocol)
    order = [weighting] + [name for name in WEIGHTINGS if name != weighting]
    candidates = tuple(_candidate(name, rank, planned, summary, rule_weighting, results, start)
                       for rank, name in enumerate(order, start=1))
    first = parts[0].profile
    metrics = ", ".join(f"{item['part'].column}: {item['part'].profile.facts['metric']}" for item in planned)
    losses = ", ".join(f"{item['loss']} for {item['part'].column!r}" for item in planned)
    level = "medium" if results else "low"
    return Recommendation(
        task="multitask", task_reason=reason,
        target=Target(columns=loaded.target_columns, reason=loaded.target_reason),
        metric="mean_rank",
        metric_reason=f"each target on its own metric ({metrics}); weightings compared by "
                      "their mean rank over the targets",
        activation=options.activation, framework=options.framework,
        confidence=Confidence(level, why),
        decision=DecisionBasis(basis="evidence" if results else "rules", leader=weighting,
                               margin=None, metric="mean_rank"),
        summary=f"Composite loss: {losses}, combined with {weighting} weighting ({why}).",
        default_loss=f"composite_{rule_weighting}",
        candidates=candidates,
        warnings=tuple(loaded.notices) + (() if options.validate else (
            Notice("validation.skipped", "rules-only answer: the weighting experiment was not run "
                   "(--no-validate)"),)),
        profile=ProfileSummary(task="multitask", task_reason=reason,
                               facts={"n_rows": first.facts["n_rows"], "n_targets": len(parts)},
                               classes=(), class_counts=(), robust_scale=0.0, quantiles=(),
                               n_features_used=int(loaded.features.shape[1])),
        validation=None,
        provenance=DataSource.from_dict(loaded.provenance.to_dict()),
        rulebase=RulebaseInfo(
            digest=hashlib.sha256(f"{rulebase.digest}{weighting_rules.digest}".encode()).hexdigest(),
            rules=len(rulebase.rules) + len(weighting_rules.rules),
            fired=tuple(sorted({rule for item in planned for rule in item["outcome"].fired}
                               | set(start.fired))),
            sources=tuple(rulebase.sources) + tuple(weighting_rules.sources), overrides=()),
        settings=RunSettings.from_dict(settings),
        reproducibility=Reproducibility(command=command, versions=versions),
        composite=summary,
        timing={"total": time.perf_counter() - started},
    )


def _candidate(weighting: str, rank: int, planned: list[dict[str, Any]], summary: Any,
               rule_weighting: str, results: list[Any], start: Any) -> Candidate:
    """One weighting of the combination as a candidate: its loss objects and snippets, its
    score and reasons from the weighting rules' outcome ``start``."""
    tested = {result.weighting for result in results}
    if weighting not in tested:
        verdict = "not_tested"
    elif rank == 1:
        verdict = "confirmed"
    else:
        best = min(result.mean_rank for result in results)
        mine = next(result.mean_rank for result in results if result.weighting == weighting)
        verdict = "equivalent" if mine == best else "overturned"
    initial = next((result.initial_losses for result in results), None) if results else None
    params = {"weighting": weighting,
              "targets": [{"column": item["part"].column, "task": item["part"].profile.task,
                           "loss": item["loss"], "params": dict(item["params"]),
                           "outputs": item["outputs"]} for item in planned],
              **({"initial_losses": [significant(value) for value in initial]} if initial is not None else {})}
    loss_id = f"composite_{weighting}"
    return Candidate(
        loss=loss_id, title=f"Composite loss, {weighting} weighting", rank=rank,
        score=start.scores[loss_id], verdict=verdict, params=params,
        reasons=start.trace[loss_id], formula=FORMULAS[weighting], citation=CITATIONS[weighting],
        snippets={framework: composite_snippet(framework, weighting, planned, FORMULAS[weighting],
                                               None if initial is None else list(initial))
                  for framework in ("pytorch", "keras")},
    )
