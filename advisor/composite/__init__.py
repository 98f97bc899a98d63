"""Several targets of different kinds: one loss per target, one weighted combination.

:func:`run_composite` is the pipeline of a ``multitask`` problem (detected by
:func:`advisor.profile._multitask.split_multitask`): each target's own profile goes through
the rule stage, which ranks that target's losses as for a single target; the first
non-vetoed loss the composite can train (a per-row loss, :mod:`.math`) is its loss. The
experiment (:mod:`.experiment`) trains one shared network per weighting on the same folds
and the decision picks the weighting with the best mean rank over the targets' own
metrics; a tie goes to the weighting the rules start from (:func:`start_weighting`, whose
rules are ``rules/composite.toml``).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from ..schema import (
    CompositePart,
    CompositeSummary,
    WeightingEvidence,
    significant,
)
from .math import TRAINED_WEIGHTINGS, WEIGHTINGS

__all__ = ["run_composite", "start_weighting", "composite_facts", "WEIGHTINGS", "TRAINED_WEIGHTINGS",
           "composite_snippet"]

KENDALL = ("Kendall, Gal & Cipolla, Multi-task learning using uncertainty to weigh losses "
           "for scene geometry and semantics, CVPR 2018")
CHEN = ("Chen, Badrinarayanan, Lee & Rabinovich, GradNorm: gradient normalization for "
        "adaptive loss balancing in deep multitask networks, ICML 2018")


def composite_facts(parts: list[Any]) -> dict[str, float]:
    """The facts about the set of targets the composite's rules read
    (:data:`advisor.facts.COMPOSITE_FACTS`)."""
    from ..facts import fact_number
    from ..profile._multitask import numeric_scale_ratio

    return {"n_targets": float(len(parts)),
            "n_kinds": float(len({part.profile.task for part in parts})),
            "scale_ratio": fact_number(numeric_scale_ratio(parts))}


def start_weighting(parts: list[Any], rules: Any = None) -> tuple[str, Any]:
    """The weighting the combination starts from, and the rules' outcome that chose it.

    The choice is the rule file's (``rules/composite.toml``, :func:`advisor.rules.load_composite_rulebase`):
    its conditions read the facts about the set of targets (:func:`composite_facts`), its
    effects score the weightings as ``composite_<name>``; the highest score starts (equal
    scores: the first of :data:`WEIGHTINGS`). This is the answer without the experiment, and
    the one a tie in the experiment keeps.
    """
    if rules is None:
        from ..rules import load_composite_rulebase

        rules = load_composite_rulebase()
    outcome = rules.evaluate(composite_facts(parts), tuple(f"composite_{name}" for name in WEIGHTINGS))
    return outcome.ranking[0].removeprefix("composite_"), outcome


def pick_loss(outcome: Any, order: tuple[str, ...]) -> str:
    """The first loss of the target's ranking that is not vetoed and trains row by row."""
    from ..losses import CATALOG

    for loss_id in order:
        if loss_id in outcome.vetoes:
            continue
        math_class = CATALOG[loss_id].math
        if not (getattr(math_class, "batch_loss", False) or getattr(math_class, "needs_groups", False)):
            return loss_id
    return order[0]


def plan_parts(rulebase: Any, parts: list[Any]) -> list[dict[str, Any]]:
    """Each target's rule stage: its ranking, its loss, the loss's settings and reasons."""
    from ..decide import decide
    from ..losses import CATALOG, losses_for_task

    planned = []
    for part in parts:
        profile = part.profile
        applicable = losses_for_task(profile.task)
        outcome = rulebase.evaluate(profile.facts, applicable)
        order = decide(outcome, None).order
        loss_id = pick_loss(outcome, order)
        spec = CATALOG[loss_id]
        params = spec.derive(profile, {"quantiles": profile.quantiles})
        width = spec.bind(params, profile.task).n_outputs(profile)
        planned.append({"part": part, "outcome": outcome, "order": order, "loss": loss_id,
                        "spec": spec, "params": params, "outputs": int(width)})
    return planned


def common_rows(parts: list[Any]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Rows where every target is present, and each target's ``y`` on those rows."""
    masks = [np.asarray(part.profile.row_mask, dtype=bool) for part in parts]
    every = np.logical_and.reduce(masks)
    ys = [np.asarray(part.profile.y)[every[mask]] for part, mask in zip(parts, masks)]
    return every, ys


def identifier(column: str) -> str:
    """``column`` as a Python identifier for the snippets."""
    name = re.sub(r"\W+", "_", column).strip("_") or "target"
    return name if not name[0].isdigit() else f"t_{name}"


def summary_record(planned: list[dict[str, Any]], weighting: str, weighting_reason: str,
                   rule_weighting: str, results: list[Any], protocol: dict[str, Any] | None,
                   ) -> CompositeSummary:
    """The ``composite`` block of the JSON: per-target losses, the weighting and its evidence."""
    targets = tuple(CompositePart(
        column=item["part"].column, task=item["part"].profile.task,
        task_reason=item["part"].profile.task_reason, metric=item["part"].profile.facts["metric"],
        loss=item["loss"], params=dict(item["params"]), outputs=item["outputs"],
        ranking=tuple(item["order"]),
        reasons=tuple(item["outcome"].trace.get(item["loss"], ())),
    ) for item in planned)
    evidence = tuple(WeightingEvidence(
        weighting=result.weighting,
        scores={column: significant(value) for column, value in result.scores.items()},
        ranks={column: significant(value) for column, value in result.ranks.items()},
        mean_rank=significant(result.mean_rank),
        final_weights=tuple(significant(value) for value in result.final_weights),
    ) for result in results)
    return CompositeSummary(weighting=weighting, weighting_reason=weighting_reason,
                            rule_weighting=rule_weighting, targets=targets, weightings=evidence,
                            protocol=protocol)


def choose(results: list[Any], rule_weighting: str) -> tuple[str, str]:
    """The weighting with the best mean rank over the targets; ties go to the rules' start."""
    if not results:
        return rule_weighting, "rules only: the experiment was not run"
    best = min(result.mean_rank for result in results)
    leaders = [result.weighting for result in results if result.mean_rank == best]
    if rule_weighting in leaders:
        pick = rule_weighting
        why = ("best mean rank over the targets' own metrics" if len(leaders) == 1 else
               f"tied best mean rank ({best:g}) with {', '.join(w for w in leaders if w != pick)}: "
               "the rules' starting weighting keeps the tie")
    else:
        pick = leaders[0]
        why = (f"best mean rank over the targets' own metrics ({best:g}), overturning the "
               f"rules' {rule_weighting}")
    return pick, why


from ._pipeline import run_composite  # noqa: E402
from .snippets import composite_snippet  # noqa: E402
