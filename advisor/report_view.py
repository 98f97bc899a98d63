"""The reports' format-neutral view: every sentence and table row, built from the typed result.

The work is split as pytest-html and ydata-profiling split it: :func:`build_view` turns a
:class:`~advisor.schema.Recommendation` into plain rows and sentences, the Jinja2 templates in
``advisor/templates`` only lay them out, and :mod:`advisor.report_format` formats the numbers.
Everything here reads the records' typed fields; nothing is recomputed from the data.
"""

from __future__ import annotations

from typing import Any

from .calibration import CALIBRATION_TASKS
from .report_format import (
    format_interval,
    format_number,
    format_p_clause,
    format_signed,
    format_verdict,
    is_number,
)
from .schema import Candidate, EvidenceVersusPick, Recommendation, ValidationSummary

#: The report's sections, in reading order: (HTML id, heading).
SECTIONS: tuple[tuple[str, str], ...] = (
    ("summary", "Summary"),
    ("profile", "Data profile"),
    ("reasoning", "Reasoning"),
    ("experiment", "Experiment"),
    ("snippets", "Snippets"),
    ("warnings", "Warnings"),
    ("reproducibility", "Reproducibility"),
)

#: How the protocol's fields read in the report, in this order (the task is shown elsewhere,
#: the reasons as a list below the table).
PROTOCOL_LABELS: dict[str, str] = {
    "metric": "primary metric", "judge": "judged on", "greater_is_better": "higher is better",
    "rows_available": "rows available", "sample_rows": "rows used", "stratified_on": "stratified on",
    "folds": "folds", "repeats": "repeats", "splits_planned": "splits planned",
    "splits_used": "splits compared", "test_train_ratio": "test / train rows",
    "epochs": "epoch cap", "hidden": "hidden layers", "solver": "optimizer", "seed": "seed",
    "alpha": "significance level", "budget": "time budget (s)", "backend": "joblib backend",
    "n_jobs": "jobs asked", "workers": "workers", "within_budget": "planned within budget",
    "candidates": "candidates trained", "metrics": "metrics scored",
}

#: The calibration table's metrics after the primary one, with their column headings.
CALIBRATION_COLUMNS: dict[str, str] = {"log_loss": "log loss", "brier": "Brier", "ece": "ECE"}
#: What the calibration table's numbers are, under it in every report.
CALIBRATION_NOTE = ("Means over the folds; lower is better for log loss, Brier and ECE. Log loss "
                    "and Brier are proper scoring rules of the probabilities; ECE is the expected "
                    "calibration error of the top label's confidence in 15 equal-width bins "
                    "(Guo et al. 2017). A re-weighted loss or a threshold that wins the primary "
                    "metric usually pays for it here.")


def build_view(rec: Recommendation) -> dict[str, Any]:
    """The format-neutral view of a recommendation (no plots; see advisor.report)."""
    best = rec.best
    validation = rec.validation
    by_id = {candidate.loss: candidate for candidate in rec.candidates}
    return {
        "rec": rec,
        "sections": SECTIONS,
        "title": _title(rec),
        "best": best,
        "candidates": rec.candidates,
        "metric": rec.metric,
        "judged_on": judged_on(rec),
        "higher_is_better": validation.protocol.greater_is_better if validation else None,
        "default_loss": rec.default_loss,
        "default_is_best": rec.default_loss == best.loss,
        "experiment_line": _experiment_line(rec, best, by_id.get(rec.default_loss)),
        "facts": _facts_rows(rec.profile.facts),
        "classes": _class_rows(rec),
        "fired": _fired_rules(rec),
        "vetoes": _vetoes(rec.candidates),
        "why_not": _why_not_lines(rec),
        "experiment": _experiment(rec, validation) if validation is not None else None,
        "snippets": _snippets(rec, best),
        "warnings": rec.warnings,
        "audit": rec.audit,
        "reproducibility": _reproducibility(rec),
        "command": rec.reproducibility.command,
    }


def judged_on(rec: Recommendation) -> str:
    """What decided, in words: the metric, or "the worst group (NAME) of METRIC" when the
    user judged on the worst-off group of the sensitive column (``--judge worst-group``)."""
    decision = rec.decision
    if decision.judge != "worst_group":
        return rec.metric
    if decision.worst_group is None:
        return f"the worst group of {rec.metric}"
    return f"the worst group ({decision.worst_group}) of {rec.metric}"


def _title(rec: Recommendation) -> str:
    columns = ", ".join(str(column) for column in rec.target.columns)
    name = rec.provenance.source.replace("\\", "/").rsplit("/", 1)[-1]  # the full path is in the profile
    where = f" in {name}" if name else ""
    return f"Loss report: {columns or 'target'}{where} ({rec.task})"


# ----- a candidate's numbers ------------------------------------------------------------------

def mean_of(candidate: Candidate | None) -> float | None:
    """The candidate's mean primary score in the experiment, if it has one."""
    evidence = candidate.evidence if candidate is not None else None
    return float(evidence.mean) if evidence is not None and is_number(evidence.mean) else None


def judged_mean_of(rec: Recommendation, candidate: Candidate | None) -> float | None:
    """The mean score the decision judged the candidate on: :func:`mean_of`, or, judged on
    the worst group, the mean over the folds of each fold's worst group."""
    if rec.decision.judge != "worst_group":
        return mean_of(candidate)
    evidence = candidate.evidence if candidate is not None else None
    if evidence is None or evidence.fairness is None:
        return None
    values = [float(value) for value in evidence.fairness.worst_group_folds if is_number(value)]
    return sum(values) / len(values) if values else None


def _judged_metric(rec: Recommendation) -> str:
    """The judged metric's short name: "log_loss", or "worst-group log_loss"."""
    return rec.metric if rec.decision.judge != "worst_group" else f"worst-group {rec.metric}"


def interval_of(evidence: EvidenceVersusPick | None) -> tuple[float | None, float | None]:
    """The interval of the mean primary score (the validator's ``ci_low``/``ci_high``)."""
    if evidence is None:
        return None, None
    low, high = evidence.ci_low, evidence.ci_high
    return (float(low) if is_number(low) else None, float(high) if is_number(high) else None)


def fold_scores_of(evidence: EvidenceVersusPick | None) -> list[float]:
    """The primary metric's score on every fold that could be scored."""
    if evidence is None:
        return []
    return [float(value) for value in evidence.fold_scores if is_number(value)]


# ----- the summary and the profile ------------------------------------------------------------

def _experiment_line(rec: Recommendation, best: Candidate, default: Candidate | None) -> str:
    """The experiment's verdict in one sentence for the summary."""
    if rec.validation is None:
        return ("Rules-only answer: the experiment was skipped; run without --no-validate "
                "to check the ranking on this data.")
    best_mean = judged_mean_of(rec, best)
    if best_mean is None:
        return "The recommended loss has no score in the experiment."
    low, high = interval_of(best.evidence) if rec.decision.judge != "worst_group" else (None, None)
    text = f"Mean {_judged_metric(rec)} {format_number(best_mean)}"
    if low is not None and high is not None:
        text += f" (interval {format_interval(low, high)})"
    default_mean = judged_mean_of(rec, default)
    if default is not None and default.loss != best.loss and default_mean is not None:
        text += f" against {format_number(default_mean)} for the default {default.loss}"
        p_value = default.evidence.p_value if default.evidence is not None else None
        if is_number(p_value):
            text += f" ({format_p_clause(p_value)})"
    elif default is not None and default.loss == best.loss:
        text += "; it is the task's default loss"
    splits = rec.validation.protocol.splits_used
    if is_number(splits):
        text += f"; {format_number(splits)} cross-validation splits compared"
    return text + "."


def _facts_rows(facts: dict[str, Any]) -> list[dict[str, Any]]:
    from .facts import FACTS

    meanings = {spec.name: spec.meaning for spec in FACTS}
    order = [spec.name for spec in FACTS if spec.name in facts]
    order += sorted(name for name in facts if name not in meanings)
    return [{"name": name, "value": facts[name], "meaning": meanings.get(name, "")}
            for name in order]


def _class_rows(rec: Recommendation) -> list[dict[str, Any]]:
    profile = rec.profile
    classes, counts = profile.classes, profile.class_counts
    if not classes or len(classes) != len(counts):
        return []
    if rec.task == "multilabel":
        total = float(profile.facts.get("n_rows") or 0) or float(max(counts) or 1)
    else:
        total = float(sum(counts)) or 1.0
    return [{"label": label, "count": count, "share": count / total}
            for label, count in zip(classes, counts)]


# ----- the reasoning --------------------------------------------------------------------------

def _fired_rules(rec: Recommendation) -> list[dict[str, Any]]:
    """Every rule that fired, once, with its effects on each candidate it touched."""
    fired: dict[str, dict[str, Any]] = {}
    for candidate in rec.candidates:
        for reason in candidate.reasons:
            entry = fired.setdefault(reason.rule_id, {
                "rule_id": reason.rule_id, "because": reason.explanation,
                "cite": list(reason.cite), "effects": []})
            entry["effects"].append({"loss": candidate.loss, "effect": reason.effect})
            for citation in reason.cite:
                if citation not in entry["cite"]:
                    entry["cite"].append(citation)
    for rule_id in rec.rulebase.fired:                      # fired with no loss effect
        fired.setdefault(rule_id, {"rule_id": rule_id, "because": "", "cite": [], "effects": []})
    warn_codes = {warning.code: warning.message for warning in rec.warnings}
    for entry in fired.values():
        if not entry["because"] and entry["rule_id"] in warn_codes:
            entry["because"] = warn_codes[entry["rule_id"]]
    return list(fired.values())


def _vetoes(candidates: tuple[Candidate, ...]) -> list[dict[str, Any]]:
    rows = []
    for candidate in candidates:
        rows += [{"loss": candidate.loss, "rule_id": reason.rule_id, "because": reason.explanation,
                  "cite": reason.cite} for reason in candidate.reasons if reason.kind == "veto"]
        if candidate.vetoed and not any(reason.kind == "veto" for reason in candidate.reasons):
            rows.append({"loss": candidate.loss, "rule_id": "",
                         "because": "vetoed (no reason recorded)", "cite": ()})
    return rows


def _why_not_lines(rec: Recommendation) -> list[dict[str, Any]]:
    """One "why not" sentence for every candidate that lost (the default loss first)."""
    candidates, default_loss = rec.candidates, rec.default_loss
    best = candidates[0]
    losers = sorted(candidates[1:], key=lambda candidate: (candidate.loss != default_loss,
                                                           candidate.rank))
    return [{"loss": candidate.loss, "title": candidate.title,
             "is_default": candidate.loss == default_loss,
             "text": _why_not(rec, candidate, best)} for candidate in losers]


def _why_not(rec: Recommendation, candidate: Candidate, best: Candidate) -> str:
    """Why ``candidate`` is not the recommendation: its vetoes, the rules behind the score
    gap, and the experiment's comparison with the pick."""
    if candidate.vetoed:
        vetoes = [f"{reason.explanation} ({reason.rule_id})"
                  for reason in candidate.reasons if reason.kind == "veto"]
        return "Vetoed: " + ("; ".join(vetoes) if vetoes else "no reason recorded") + "."
    parts = [f"rule score {format_signed(candidate.score)} against "
             f"{format_signed(best.score)} for {best.loss}"]
    gaps = _score_gaps(candidate, best)
    if gaps:
        parts.append("the gap comes from " + ", ".join(gaps))
    evidence = candidate.evidence
    mean, best_mean = judged_mean_of(rec, candidate), judged_mean_of(rec, best)
    if evidence is not None and mean is not None and best_mean is not None:
        details = [format_verdict(candidate.verdict)]
        if evidence.unstable:
            details.append(f"never recommended: {evidence.unstable}")
        versus = evidence.versus
        if versus is not None and is_number(versus.mean_difference):
            details.append(f"difference {format_signed(versus.mean_difference)} "
                           f"{format_interval(versus.ci_low, versus.ci_high)}, "
                           "positive = better than the pick")
        if is_number(evidence.p_value):
            details.append(format_p_clause(evidence.p_value))
        parts.append(f"in the experiment its mean {_judged_metric(rec)} was {format_number(mean)} against "
                     f"{format_number(best_mean)} (" + "; ".join(details) + ")")
    elif candidate.verdict == "failed":
        error = evidence.error if evidence is not None else None
        parts.append("its proxy failed in the experiment" + (f": {error}" if error else ""))
    elif candidate.verdict == "not_tested":
        parts.append("it was not among the candidates trained in the experiment")
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


def _score_gaps(candidate: Candidate, best: Candidate) -> list[str]:
    """The (at most three) rules that gave the pick the most points over ``candidate``."""
    own = {reason.rule_id: reason.score_change for reason in candidate.reasons}
    theirs = {reason.rule_id: reason.score_change for reason in best.reasons}
    gaps = []
    for rule_id in dict.fromkeys([*theirs, *own]):
        mine, best_value = own.get(rule_id), theirs.get(rule_id)
        difference = (best_value or 0.0) - (mine or 0.0)
        if difference > 0:
            gaps.append((-difference, rule_id,
                         f"{rule_id} ({_effect_text(best_value)} for {best.loss}, "
                         f"{_effect_text(mine)} here)"))
    return [text for _, _, text in sorted(gaps)[:3]]


def _effect_text(value: float | None) -> str:
    return "no effect" if value is None else format_signed(value)


# ----- the experiment, the snippets, reproducibility --------------------------------------------

def _experiment(rec: Recommendation, validation: ValidationSummary) -> dict[str, Any]:
    """Protocol, the candidates' numbers, the other metrics and the rank agreement."""
    protocol = validation.protocol
    protocol_rows = [{"name": label, "value": getattr(protocol, name)}
                     for name, label in PROTOCOL_LABELS.items()]
    protocol_rows.append({"name": "rules' choice among the trained", "value": validation.rule_choice})
    rows = [_evidence_row(candidate) for candidate in rec.candidates]
    calibration = calibration_table(rec, validation)
    shown = set(calibration["names"]) if calibration else set()
    other_metrics = [name for name in protocol.metrics if name != rec.metric and name not in shown]
    metric_rows = [{"loss": candidate.loss,
                    "values": [candidate.evidence.means.get(name) for name in other_metrics]}
                   for candidate in rec.candidates
                   if candidate.evidence is not None and candidate.evidence.means]
    orders = [{"name": name, "order": order}
              for order, name in ((validation.rule_order, "rules"),
                                  (validation.empirical_order, "mean score")) if order]
    coverage = [{"loss": candidate.loss, "levels": list(candidate.evidence.coverage.items()),
                 "intervals": list((candidate.evidence.interval_coverage or {}).items())}
                for candidate in rec.candidates
                if candidate.evidence is not None and candidate.evidence.coverage]
    return {"protocol": protocol_rows, "reasons": list(protocol.reasons), "rows": rows,
            "other_metrics": other_metrics if metric_rows else [], "metric_rows": metric_rows,
            "calibration": calibration, "coverage": coverage, "agreement": validation.agreement,
            "orders": orders, "fairness": fairness_rows(rec)}


def fairness_rows(rec: Recommendation) -> list[dict[str, Any]]:
    """The fairness trade-off per trained candidate (with a sensitive column): the metric,
    its worst group, fairlearn's demographic parity and equalized odds differences."""
    rows = []
    for candidate in rec.candidates:
        evidence = candidate.evidence
        if evidence is None or evidence.fairness is None:
            continue
        fairness = evidence.fairness
        rows.append({"loss": candidate.loss, "best": candidate is rec.best, "mean": evidence.mean,
                     "worst_group": fairness.worst_group, "worst_group_name": fairness.worst_group_name,
                     "dp": fairness.demographic_parity_difference,
                     "eo": fairness.equalized_odds_difference})
    return rows


def calibration_table(rec: Recommendation, validation: ValidationSummary) -> dict[str, Any] | None:
    """For a classification task, every trained candidate's primary metric next to its log
    loss, Brier score and ECE (those the task has), from the evidence's means; None for
    another task or when no candidate has a mean."""
    if rec.task not in CALIBRATION_TASKS:
        return None
    names = [name for name in CALIBRATION_COLUMNS
             if name in validation.protocol.metrics and name != rec.metric]
    if not names:
        return None
    rows = [{"loss": candidate.loss, "roles": ", ".join(candidate.evidence.roles),
             "values": [candidate.evidence.means.get(name) for name in (rec.metric, *names)]}
            for candidate in rec.candidates
            if candidate.evidence is not None and candidate.evidence.means]
    if not rows:
        return None
    headings = [f"{CALIBRATION_COLUMNS.get(rec.metric, rec.metric)} (primary)",
                *(CALIBRATION_COLUMNS[name] for name in names)]
    return {"names": names, "headings": headings, "rows": rows, "note": CALIBRATION_NOTE}


def _evidence_row(candidate: Candidate) -> dict[str, Any]:
    """One row of the evidence table (empty cells for a candidate that was not trained)."""
    evidence = candidate.evidence
    low, high = interval_of(evidence)
    versus = evidence.versus if evidence is not None else None
    roles = evidence.roles if evidence is not None else ()
    difference = versus.mean_difference if versus is not None else None
    p_value = evidence.p_value if evidence is not None else None
    return {
        "loss": candidate.loss, "rank": candidate.rank, "verdict": candidate.verdict,
        "tested": evidence is not None, "roles": ", ".join(roles),
        "badges": [role for role in roles if role != "rules"],
        "mean": mean_of(candidate), "low": low, "high": high,
        "difference": difference if is_number(difference) else None,
        "difference_low": versus.ci_low if versus is not None else None,
        "difference_high": versus.ci_high if versus is not None else None,
        "p_value": p_value if is_number(p_value) else None,
        "folds": len(fold_scores_of(evidence)),
        "note": (evidence.error or evidence.unstable or "") if evidence is not None else ""}


def _snippets(rec: Recommendation, best: Candidate) -> list[dict[str, Any]]:
    first = rec.framework or "pytorch"
    frameworks = sorted(best.snippets, key=lambda name: (name != first, name))
    return [{"framework": name, "code": best.snippets[name]} for name in frameworks]


def _reproducibility(rec: Recommendation) -> dict[str, list[dict[str, Any]]]:
    """The tables of the reproducibility section: each record's fields as rows."""
    versions = [{"name": name, "value": value}
                for name, value in rec.reproducibility.versions.items()]
    data = [{"name": key, "value": value} for key, value in rec.provenance.to_dict().items()]
    rules = [{"name": key, "value": value} for key, value in rec.rulebase.to_dict().items()
             if key != "fired"]
    run = [{"name": "schema version", "value": rec.schema_version}]
    run += [{"name": key.replace("_", " "), "value": value}
            for key, value in rec.settings.to_dict().items()]
    return {"versions": versions, "data": data, "rules": rules, "run": run}


__all__ = ["build_view", "SECTIONS", "PROTOCOL_LABELS", "CALIBRATION_COLUMNS", "CALIBRATION_NOTE",
           "calibration_table", "mean_of", "interval_of", "fold_scores_of"]
