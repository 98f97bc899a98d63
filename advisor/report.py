"""Reports for reviewers: GitHub Markdown and one self-contained HTML file.

Both render from the recommendation's JSON dict alone (``Recommendation.to_dict()``), so
``advisor report rec.json`` re-renders a saved result without recomputing anything. The
work is split as pytest-html and ydata-profiling split it: :func:`build_view` turns the dict
into a format-neutral view (every sentence and every plot made in Python), the Jinja2
templates in ``advisor/templates`` only lay it out, and numbers are formatted by the Python
filters registered in :func:`_filters`.

Escaping is on by default in both formats. HTML: autoescape. Markdown: every ``{{ }}``
value goes through :func:`md_escape` unless a filter built it as Markdown on purpose
(``_Md``), so a class label cannot break a table or inject HTML. Plots are matplotlib SVG
(see :mod:`advisor.plots`), inlined in HTML and written beside the Markdown file.

Files are written atomically (temporary file in the same directory, then ``os.replace``);
the format is never guessed from a file name: it is given, or read from a known suffix.
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .errors import OptionError, ReportError
from .result import SCHEMA_VERSION

REPORT_FORMATS: tuple[str, ...] = ("markdown", "html")
FORMAT_ALIASES = {"md": "markdown", "htm": "html"}
SUFFIX_FORMATS: dict[str, str] = {".md": "markdown", ".markdown": "markdown",
                                  ".html": "html", ".htm": "html"}

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

#: Plot file names (Markdown) and the keys the templates use.
PLOT_FILES: dict[str, str] = {"target": "target-distribution.svg", "folds": "fold-scores.svg"}

_REQUIRED_KEYS = ("task", "metric", "candidates", "profile")
_SUPPORTED_SCHEMA_MAJOR = SCHEMA_VERSION.split(".")[0]

#: Metrics where a larger value is better; the others are losses or errors.
_HIGHER_IS_BETTER = frozenset({"accuracy", "balanced_accuracy", "f1_macro", "roc_auc",
                               "average_precision", "r2"})

#: How the validator's protocol keys read in the report, in this order; other keys follow.
_PROTOCOL_LABELS: dict[str, str] = {
    "metric": "primary metric", "greater_is_better": "higher is better",
    "rows_available": "rows available", "sample_rows": "rows used", "stratified_on": "stratified on",
    "folds": "folds", "repeats": "repeats", "splits_planned": "splits planned",
    "splits_used": "splits compared", "test_train_ratio": "test / train rows",
    "epochs": "epoch cap", "hidden": "hidden layers", "solver": "optimizer", "seed": "seed",
    "alpha": "significance level", "budget": "time budget (s)", "backend": "joblib backend",
    "n_jobs": "jobs asked", "workers": "workers", "within_budget": "planned within budget",
    "candidates": "candidates trained", "metrics": "metrics scored",
}
#: Validation keys shown elsewhere or never (timing varies from run to run).
_VALIDATION_SHOWN_ELSEWHERE = frozenset({"protocol", "candidates", "comparisons", "notices",
                                         "timing", "agreement", "metric",
                                         "rule_order", "empirical_order"})
_VALIDATION_LABELS = {"rule_choice": "rules' choice among the trained"}


# ----- public API ---------------------------------------------------------------------------

def render_html(rec: dict[str, Any]) -> str:
    """One self-contained HTML page: inline CSS and SVG, no script, nothing fetched."""
    from . import plots

    view = build_view(rec)
    view["plots"] = {name: _safe_markup(svg) for name, svg in _plots(view, plots).items()}
    return _environment("html").get_template("report.html.j2").render(view=view)


def render_markdown(rec: dict[str, Any], *, plot_dir: str | os.PathLike[str] | None = None) -> str:
    """GitHub-flavoured Markdown. With ``plot_dir``, the plots are written there as SVG files
    (the directory is created if needed) and linked by that path; without it, no plot."""
    if plot_dir is None:
        return _render_markdown(rec, plot_files=None)[0]
    directory = Path(plot_dir)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ReportError(f"cannot create the plot directory {str(directory)!r}: "
                          f"{error.strerror or error}") from None
    text, plot_outputs = _render_markdown(
        rec, plot_files={key: (directory / name, (directory / name).as_posix())
                         for key, name in PLOT_FILES.items()})
    for file, svg in plot_outputs:
        _atomic_write(file, svg, overwrite=True)
    return text


def save_report(rec: dict[str, Any], path: str | os.PathLike[str], *, format: str | None = None,
                overwrite: bool = True) -> str:
    """Write the report to ``path`` atomically and return the path written.

    ``format`` is ``markdown`` or ``html``; when omitted, a ``.md``/``.markdown`` or
    ``.html``/``.htm`` suffix decides, and any other suffix is an error (never a guess).
    An existing file is replaced only when ``overwrite`` is true (the caller named it).
    Markdown plots are written beside the report as ``<stem>-<plot>.svg``.
    """
    target = Path(path)
    chosen = resolve_format(target, format)
    if target.is_dir():
        raise ReportError(f"report path {str(target)!r} is a directory", hint="give a file name")
    directory = target.parent
    if not directory.is_dir():
        raise ReportError(f"directory {str(directory)!r} of the report does not exist",
                          hint="create it first or choose another path")
    if chosen == "html":
        outputs = [(target, render_html(rec))]
    else:
        plot_files = {key: (directory / f"{target.stem}-{name}", f"{target.stem}-{name}")
                      for key, name in PLOT_FILES.items()}
        text, plot_outputs = _render_markdown(rec, plot_files=plot_files)
        outputs = plot_outputs + [(target, text)]
    if not overwrite:
        for file, _ in outputs:
            if file.exists():
                raise ReportError(f"{str(file)!r} already exists",
                                  hint="choose another path or allow overwriting")
    for file, text in outputs:                       # plots first: the report never links to a
        _atomic_write(file, text, overwrite=overwrite)  # file that is not there yet
    return str(target)


def resolve_format(path: str | os.PathLike[str], format: str | None) -> str:
    """The report format: the one given (checked against a known suffix), else the suffix's."""
    suffix = Path(path).suffix.lower()
    from_suffix = SUFFIX_FORMATS.get(suffix)
    if format is None:
        if from_suffix is None:
            raise ReportError(f"cannot tell the report format of {str(path)!r} "
                              f"(suffix {suffix or 'none'!r})",
                              hint="name it .html or .md, or give the format (markdown or html)")
        return from_suffix
    normalized = str(format).strip().lower()
    normalized = FORMAT_ALIASES.get(normalized, normalized)
    if normalized not in REPORT_FORMATS:
        raise OptionError("format", format, REPORT_FORMATS)
    if from_suffix is not None and from_suffix != normalized:
        raise ReportError(f"format {normalized} does not match the suffix of {str(path)!r} "
                          f"({from_suffix})", hint="change the suffix or the format")
    return normalized


def load_saved(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a recommendation saved with ``--format json``; checked, never recomputed."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReportError(f"saved recommendation {str(path)!r} not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ReportError(f"cannot read {str(path)!r}: {error}") from None
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as error:
        raise ReportError(f"{str(path)!r} is not valid JSON (line {error.lineno}: {error.msg})",
                          hint="save it with: advisor suggest DATA --format json > rec.json") from None
    check_payload(payload)
    return payload


def check_payload(rec: Any) -> None:
    """Refuse a dict that is not a recommendation of a schema this version reads."""
    if not isinstance(rec, dict):
        raise ReportError("not a loss-advisor recommendation: expected a JSON object")
    missing = [key for key in _REQUIRED_KEYS if key not in rec]
    if missing:
        raise ReportError(f"not a loss-advisor recommendation: missing {', '.join(missing)}",
                          hint="save one with: advisor suggest DATA --format json")
    version = str(rec.get("schema_version", ""))
    if version.split(".")[0] != _SUPPORTED_SCHEMA_MAJOR:
        raise ReportError(f"recommendation schema {version or 'unknown'!r} is not supported "
                          f"(this advisor reads {_SUPPORTED_SCHEMA_MAJOR}.x)",
                          hint="re-run advisor suggest with this version")
    if not isinstance(rec["candidates"], list) or not rec["candidates"]:
        raise ReportError("not a loss-advisor recommendation: no candidates")


# ----- the view: everything the templates show, built in Python -----------------------------

def build_view(rec: dict[str, Any]) -> dict[str, Any]:
    """The format-neutral view of a recommendation dict (no plots; see :func:`_plots`)."""
    check_payload(rec)
    rec = _with_defaults(rec)
    candidates = rec["candidates"]
    best = candidates[0]
    metric = rec["metric"]
    higher = _higher_is_better(rec)
    validation = rec.get("validation")
    default_loss = _default_loss(rec)
    by_id = {candidate["loss"]: candidate for candidate in candidates}
    return {
        "rec": rec,
        "sections": SECTIONS,
        "title": _title(rec),
        "best": best,
        "candidates": candidates,
        "metric": metric,
        "higher_is_better": higher,
        "default_loss": default_loss,
        "default_is_best": default_loss == best["loss"],
        "experiment_line": _experiment_line(rec, best, by_id.get(default_loss)),
        "facts": _facts_rows(rec["profile"].get("facts") or {}),
        "classes": _class_rows(rec),
        "fired": _fired_rules(rec),
        "vetoes": _vetoes(candidates),
        "why_not": _why_not_lines(candidates, default_loss, metric),
        "experiment": _experiment(rec, validation, candidates),
        "snippets": _snippets(rec, best),
        "warnings": list(rec.get("warnings") or []),
        "audit": rec.get("audit"),
        "reproducibility": _reproducibility(rec),
        "command": (rec.get("reproducibility") or {}).get("command"),
    }


def _with_defaults(rec: dict[str, Any]) -> dict[str, Any]:
    """A shallow copy where every key the templates read exists (older or partial dicts)."""
    filled = {"schema_version": "", "task_reason": "", "target": {}, "metric_reason": "",
              "activation": "", "framework": "", "confidence": {}, "summary": "", "audit": None,
              "warnings": [], "validation": None, "provenance": {}, "rulebase": {},
              "settings": {}, "reproducibility": {}}
    filled.update({key: value for key, value in rec.items() if value is not None or key in
                   ("audit", "validation")})
    filled["target"] = {"columns": [], "reason": "", **(filled["target"] or {})}
    filled["profile"] = {"facts": {}, "classes": [], "class_counts": [], **(rec["profile"] or {})}
    filled["candidates"] = [{"title": "", "score": None, "verdict": "", "params": {},
                             "reasons": [], "snippets": {}, "formula": "", "citation": "",
                             "vetoed": False, "evidence": None, **candidate}
                            for candidate in rec["candidates"]]
    for index, candidate in enumerate(filled["candidates"], start=1):
        candidate.setdefault("rank", index)
    return filled


def _title(rec: dict[str, Any]) -> str:
    columns = ", ".join(str(column) for column in (rec.get("target") or {}).get("columns") or [])
    source = str((rec.get("provenance") or {}).get("source") or "")
    name = source.replace("\\", "/").rsplit("/", 1)[-1]    # the full path is in the profile
    where = f" in {name}" if name else ""
    return f"Loss report: {columns or 'target'}{where} ({rec['task']})"


def _higher_is_better(rec: dict[str, Any]) -> bool | None:
    protocol = (rec.get("validation") or {}).get("protocol") or {}
    for key in ("greater_is_better", "higher_is_better"):
        if isinstance(protocol.get(key), bool):
            return protocol[key]
    return rec["metric"] in _HIGHER_IS_BETTER


def _default_loss(rec: dict[str, Any]) -> str | None:
    """The task's naive default loss, as recorded in the dict (never recomputed)."""
    for evidence in (rec.get("validation") or {}).get("candidates") or []:
        if "default" in (evidence.get("roles") or []):
            return evidence.get("loss")
    for holder in (rec, rec.get("audit") or {}):
        if isinstance(holder.get("default_loss"), str):
            return holder["default_loss"]
    try:                                            # static catalog knowledge, not a recomputation
        from .losses import DEFAULT_LOSS
    except ImportError:                             # pragma: no cover - the catalog always ships
        return None
    return DEFAULT_LOSS.get(rec["task"])


def _evidence(candidate: dict[str, Any] | None) -> dict[str, Any]:
    return (candidate or {}).get("evidence") or {}


def _mean(candidate: dict[str, Any] | None) -> float | None:
    value = _evidence(candidate).get("mean")
    return float(value) if _is_number(value) else None


def _interval(evidence: dict[str, Any]) -> tuple[float | None, float | None]:
    """The interval of the mean primary score (validator's ``ci_low``/``ci_high``)."""
    low, high = evidence.get("ci_low"), evidence.get("ci_high")
    return (float(low) if _is_number(low) else None, float(high) if _is_number(high) else None)


def _fold_scores(evidence: dict[str, Any]) -> list[float]:
    """The primary metric's score on every fold that could be scored."""
    return [float(value) for value in evidence.get("fold_scores") or [] if _is_number(value)]


def _experiment_line(rec: dict[str, Any], best: dict[str, Any],
                     default: dict[str, Any] | None) -> str:
    """The experiment's verdict in one sentence for the summary."""
    if rec.get("validation") is None:
        return ("Rules-only answer: the experiment was skipped; run without --no-validate "
                "to check the ranking on this data.")
    metric = rec["metric"]
    best_mean = _mean(best)
    if best_mean is None:
        return "The recommended loss has no score in the experiment."
    low, high = _interval(_evidence(best))
    text = f"Mean {metric} {format_number(best_mean)}"
    if low is not None and high is not None:
        text += f" (interval {format_interval(low, high)})"
    default_mean = _mean(default)
    if default is not None and default["loss"] != best["loss"] and default_mean is not None:
        text += f" against {format_number(default_mean)} for the default {default['loss']}"
        p_value = _evidence(default).get("p_value")
        if _is_number(p_value):
            text += f" ({format_p_clause(p_value)})"
    elif default is not None and default["loss"] == best["loss"]:
        text += "; it is the task's default loss"
    splits = ((rec.get("validation") or {}).get("protocol") or {}).get("splits_used")
    if _is_number(splits):
        text += f"; {format_number(splits)} cross-validation splits compared"
    return text + "."


def _facts_rows(facts: dict[str, Any]) -> list[dict[str, Any]]:
    from .facts import FACTS

    meanings = {spec.name: spec.meaning for spec in FACTS}
    order = [spec.name for spec in FACTS if spec.name in facts]
    order += sorted(name for name in facts if name not in meanings)
    return [{"name": name, "value": facts[name], "meaning": meanings.get(name, "")}
            for name in order]


def _class_rows(rec: dict[str, Any]) -> list[dict[str, Any]]:
    profile = rec["profile"]
    classes = profile.get("classes") or []
    counts = profile.get("class_counts") or []
    if not classes or len(classes) != len(counts):
        return []
    if rec["task"] == "multilabel":
        total = float((profile.get("facts") or {}).get("n_rows") or 0) or float(max(counts) or 1)
    else:
        total = float(sum(counts)) or 1.0
    return [{"label": label, "count": count, "share": count / total}
            for label, count in zip(classes, counts)]


def _fired_rules(rec: dict[str, Any]) -> list[dict[str, Any]]:
    """Every rule that fired, once, with its effects on each candidate it touched."""
    fired: dict[str, dict[str, Any]] = {}
    for candidate in rec["candidates"]:
        for reason in candidate.get("reasons") or []:
            entry = fired.setdefault(reason["rule_id"], {
                "rule_id": reason["rule_id"], "because": reason.get("because", ""),
                "cite": list(reason.get("cite") or []), "effects": []})
            entry["effects"].append({"loss": candidate["loss"], "effect": reason.get("effect", "")})
            for citation in reason.get("cite") or []:
                if citation not in entry["cite"]:
                    entry["cite"].append(citation)
    for rule_id in (rec.get("rulebase") or {}).get("fired") or []:   # fired with no loss effect
        fired.setdefault(rule_id, {"rule_id": rule_id, "because": "", "cite": [], "effects": []})
    warn_codes = {warning.get("code"): warning.get("message", "")
                  for warning in rec.get("warnings") or []}
    for entry in fired.values():
        if not entry["because"] and entry["rule_id"] in warn_codes:
            entry["because"] = warn_codes[entry["rule_id"]]
    return list(fired.values())


def _vetoes(candidates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for candidate in candidates:
        reasons = [reason for reason in candidate.get("reasons") or [] if reason.get("effect") == "veto"]
        if candidate.get("vetoed") and not reasons:
            reasons = [{"rule_id": "", "because": "vetoed (no reason recorded)", "cite": []}]
        for reason in reasons:
            rows.append({"loss": candidate["loss"], "rule_id": reason.get("rule_id", ""),
                         "because": reason.get("because", ""), "cite": reason.get("cite") or []})
    return rows


def _why_not_lines(candidates: list[dict[str, Any]], default_loss: str | None,
                   metric: str) -> list[dict[str, Any]]:
    """One "why not" sentence for every candidate that lost (the default loss first)."""
    best = candidates[0]
    losers = list(candidates[1:])
    losers.sort(key=lambda candidate: (candidate["loss"] != default_loss, candidate["rank"]))
    return [{"loss": candidate["loss"], "title": candidate.get("title", ""),
             "is_default": candidate["loss"] == default_loss,
             "text": _why_not(candidate, best, metric)} for candidate in losers]


def _effect_value(effect: Any) -> float | None:
    try:
        return float(effect)
    except (TypeError, ValueError):
        return None


def _why_not(candidate: dict[str, Any], best: dict[str, Any], metric: str) -> str:
    """Why ``candidate`` is not the recommendation: its vetoes, the rules behind the score
    gap, and the experiment's comparison with the pick."""
    reasons = candidate.get("reasons") or []
    if candidate.get("vetoed"):
        vetoes = [f"{reason.get('because', '')} ({reason.get('rule_id', '')})"
                  for reason in reasons if reason.get("effect") == "veto"]
        return "Vetoed: " + ("; ".join(vetoes) if vetoes else "no reason recorded") + "."
    parts = [f"rule score {format_signed(candidate.get('score'))} against "
             f"{format_signed(best.get('score'))} for {best['loss']}"]
    own = {reason["rule_id"]: _effect_value(reason.get("effect")) for reason in reasons}
    theirs = {reason["rule_id"]: _effect_value(reason.get("effect"))
              for reason in best.get("reasons") or []}
    gaps = []
    for rule_id in dict.fromkeys([*theirs, *own]):
        mine, best_value = own.get(rule_id), theirs.get(rule_id)
        difference = (best_value or 0.0) - (mine or 0.0)
        if difference > 0:
            gaps.append((-difference, rule_id,
                         f"{rule_id} ({_effect_text(best_value)} for {best['loss']}, "
                         f"{_effect_text(mine)} here)"))
    if gaps:
        parts.append("the gap comes from " + ", ".join(text for _, _, text in sorted(gaps)[:3]))
    verdict = str(candidate.get("verdict", ""))
    evidence = _evidence(candidate)
    mean, best_mean = _mean(candidate), _mean(best)
    if mean is not None and best_mean is not None:
        text = (f"in the experiment its mean {metric} was {format_number(mean)} against "
                f"{format_number(best_mean)}")
        versus = evidence.get("versus") or {}
        details = [format_verdict(verdict)]
        if evidence.get("unstable"):
            details.append(f"never recommended: {evidence['unstable']}")
        if _is_number(versus.get("mean_difference")):
            details.append(f"difference {format_signed(versus['mean_difference'])} "
                           f"{format_interval(versus.get('ci_low'), versus.get('ci_high'))}, "
                           "positive = better than the pick")
        if _is_number(evidence.get("p_value")):
            details.append(format_p_clause(evidence["p_value"]))
        parts.append(text + " (" + "; ".join(details) + ")")
    elif verdict == "failed":
        error = evidence.get("error")
        parts.append("its proxy failed in the experiment" + (f": {error}" if error else ""))
    elif verdict == "not_tested":
        parts.append("it was not among the candidates trained in the experiment")
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


def _effect_text(value: float | None) -> str:
    return "no effect" if value is None else format_signed(value)


def _experiment(rec: dict[str, Any], validation: dict[str, Any] | None,
                candidates: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Protocol, the candidates' numbers, the other metrics and the rank agreement."""
    if validation is None:
        return None
    protocol = dict(validation.get("protocol") or {})
    protocol.pop("task", None)                      # shown in the summary and the profile
    reasons = [str(reason) for reason in protocol.pop("reasons", None) or []]
    ordered = [key for key in _PROTOCOL_LABELS if key in protocol]
    ordered += [key for key in protocol if key not in _PROTOCOL_LABELS]
    protocol_rows = [{"name": _PROTOCOL_LABELS.get(key, key.replace("_", " ")),
                      "value": protocol[key]} for key in ordered]
    protocol_rows += [{"name": _VALIDATION_LABELS.get(key, key.replace("_", " ")), "value": value}
                      for key, value in validation.items()
                      if key not in _VALIDATION_SHOWN_ELSEWHERE and key not in protocol]
    rows = []
    for candidate in candidates:
        evidence = _evidence(candidate)
        low, high = _interval(evidence)
        versus = evidence.get("versus") or {}
        rows.append({
            "loss": candidate["loss"], "rank": candidate["rank"],
            "verdict": candidate.get("verdict", ""), "tested": bool(evidence),
            "roles": ", ".join(str(role) for role in evidence.get("roles") or []),
            "badges": [str(role) for role in evidence.get("roles") or [] if role != "rules"],
            "mean": _mean(candidate), "low": low, "high": high,
            "difference": versus.get("mean_difference") if _is_number(versus.get("mean_difference")) else None,
            "difference_low": versus.get("ci_low"), "difference_high": versus.get("ci_high"),
            "p_value": evidence.get("p_value") if _is_number(evidence.get("p_value")) else None,
            "folds": len(_fold_scores(evidence)),
            "note": evidence.get("error") or evidence.get("unstable") or ""})
    metrics = [str(name) for name in protocol.get("metrics") or []]
    other_metrics = [name for name in metrics if name != rec["metric"]]
    metric_rows = [{"loss": candidate["loss"],
                    "values": [(_evidence(candidate).get("means") or {}).get(name) for name in other_metrics]}
                   for candidate in candidates if (_evidence(candidate).get("means") or {})]
    agreement = validation.get("agreement") or None
    orders = [{"name": name, "order": validation.get(key)}
              for key, name in (("rule_order", "rules"), ("empirical_order", "mean score"))
              if isinstance(validation.get(key), list) and validation.get(key)]
    return {"protocol": protocol_rows, "reasons": reasons, "rows": rows,
            "other_metrics": other_metrics if metric_rows else [], "metric_rows": metric_rows,
            "agreement": agreement, "orders": orders}


def _snippets(rec: dict[str, Any], best: dict[str, Any]) -> list[dict[str, Any]]:
    first = rec.get("framework") or "pytorch"
    frameworks = sorted((best.get("snippets") or {}).keys(), key=lambda name: (name != first, name))
    return [{"framework": name, "code": best["snippets"][name]} for name in frameworks]


def _reproducibility(rec: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    reproducibility = rec.get("reproducibility") or {}
    provenance = rec.get("provenance") or {}
    rulebase = rec.get("rulebase") or {}
    settings = rec.get("settings") or {}
    versions = [{"name": name, "value": value}
                for name, value in (reproducibility.get("versions") or {}).items()]
    data = [{"name": key, "value": value} for key, value in provenance.items()]
    rules = [{"name": key, "value": value} for key, value in rulebase.items() if key != "fired"]
    run = [{"name": "schema version", "value": rec.get("schema_version")}]
    run += [{"name": key.replace("_", " "), "value": value} for key, value in settings.items()]
    run += [{"name": key.replace("_", " "), "value": value} for key, value in reproducibility.items()
            if key not in ("command", "versions")]
    return {"versions": versions, "data": data, "rules": rules, "run": run}


def _plots(view: dict[str, Any], plots: Any) -> dict[str, str]:
    """The SVG of every plot the view can draw (missing data: no entry).

    Drawing costs a few tenths of a second per plot, so the last few results are kept:
    ``--format html --report r.md`` and repeated renders of one result draw once.
    """
    rec = view["rec"]
    series = []
    if view["experiment"] is not None:
        for candidate in view["candidates"]:
            evidence = _evidence(candidate)
            if not evidence and candidate.get("verdict") != "failed":
                continue
            low, high = _interval(evidence)
            series.append(plots.FoldSeries(
                label=candidate["loss"], scores=tuple(_fold_scores(evidence)),
                mean=_mean(candidate), low=low, high=high,
                highlight=candidate is view["best"],
                note=candidate.get("verdict") if candidate.get("verdict") in ("failed", "unstable") else ""))
    key = json.dumps([rec["profile"], rec["task"], [list(vars(item).values()) for item in series],
                      view["metric"], view["higher_is_better"]], sort_keys=True, default=str)
    if key not in _PLOT_CACHE:
        drawn: dict[str, str] = {}
        target_svg = plots.target_distribution_svg(rec["profile"], rec["task"])
        if target_svg:
            drawn["target"] = target_svg
        folds_svg = plots.fold_scores_svg(series, view["metric"],
                                          higher_is_better=view["higher_is_better"]) if series else None
        if folds_svg:
            drawn["folds"] = folds_svg
        _PLOT_CACHE[key] = drawn
        while len(_PLOT_CACHE) > _PLOT_CACHE_SIZE:
            _PLOT_CACHE.pop(next(iter(_PLOT_CACHE)))
    return dict(_PLOT_CACHE[key])


_PLOT_CACHE: dict[str, dict[str, str]] = {}
_PLOT_CACHE_SIZE = 16


# ----- number formatting: the template filters ------------------------------------------------

def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def format_number(value: Any, digits: int = 4) -> str:
    """Numbers as a reviewer reads them: ints whole, floats to ``digits`` significant."""
    if value is None:
        return "\u2014"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.{digits}g}"
    return str(value)


def format_signed(value: Any) -> str:
    if not _is_number(value):
        return format_number(value)
    return ("+" if value > 0 else "") + format_number(value)


def format_percent(value: Any) -> str:
    return f"{value:.1%}" if _is_number(value) else format_number(value)


def format_p(value: Any) -> str:
    if not _is_number(value):
        return "\u2014"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def format_p_clause(value: Any) -> str:
    """A p-value inside a sentence: ``p = 0.049`` or ``p < 0.001``."""
    text = format_p(value)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def format_interval(low: Any, high: Any) -> str:
    if not (_is_number(low) and _is_number(high)):
        return "\u2014"
    return f"[{format_number(low)}, {format_number(high)}]"


def format_value(value: Any) -> str:
    """Any JSON value as compact text: lists and dicts inline, numbers formatted."""
    if isinstance(value, list):
        return "[" + ", ".join(format_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {format_value(item)}" for key, item in value.items()) + "}"
    return format_number(value)


def format_params(params: dict[str, Any] | None) -> str:
    if not params:
        return "no settings"
    return ", ".join(f"{key} = {format_value(value)}" for key, value in params.items())


def format_verdict(value: Any) -> str:
    return str(value or "").replace("_", " ")


def css_token(value: Any) -> str:
    """A value made safe as a CSS class name (verdicts: confirmed, not_tested...)."""
    return re.sub(r"[^a-z0-9_-]", "", str(value).lower())


_TICKS = re.compile(r"`([^`]+)`")


def html_ticks(value: Any) -> Any:
    """Project text (fact meanings) with its `code` spans as <code>; escaped first."""
    from markupsafe import Markup, escape

    return Markup(_TICKS.sub(r"<code>\1</code>", str(escape(value))))


def md_ticks(value: Any) -> str:
    """Project text with its `code` spans kept as code and everything else escaped."""
    parts = _TICKS.split(str(value))
    return _Md("".join(md_code(part) if index % 2 else md_escape(part)
                       for index, part in enumerate(parts)))


def _filters() -> dict[str, Any]:
    return {"num": format_number, "signed": format_signed, "pct": format_percent,
            "pval": format_p, "pclause": format_p_clause, "value": format_value, "params": format_params,
            "verdict": format_verdict, "css": css_token,
            "interval": lambda row: format_interval(row.get("low"), row.get("high")),
            "difference": lambda row: (
                "\u2014" if row.get("difference") is None else
                f"{format_signed(row['difference'])} "
                f"{format_interval(row.get('difference_low'), row.get('difference_high'))}")}


# ----- Markdown escaping ----------------------------------------------------------------------

class _Md(str):
    """Text already built as Markdown by a filter: the finalizer leaves it alone."""


_MD_ACTIVE = re.compile(r"([\\`*_\[\]{}#!|~$])")


def md_escape(value: Any) -> str:
    """Data as inert Markdown text: one line, HTML-active and Markdown-active characters
    neutralized (``|`` cannot split a table cell, ``<`` cannot open a tag)."""
    text = re.sub(r"\s+", " ", str(value))
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_ACTIVE.sub(r"\\\1", text)


def _md_finalize(value: Any) -> str:
    if isinstance(value, _Md):
        return value
    if value is None:
        return ""
    return md_escape(value)


_CODE_SAFE = re.compile(r"\A[A-Za-z0-9_.:+\-/= ]+\Z")


def md_code(value: Any) -> str:
    """An identifier as inline code when it is plain, else as escaped text."""
    text = str(value)
    return _Md(f"`{text}`") if _CODE_SAFE.match(text) else _Md(md_escape(text))


def md_fence(code: Any, language: str = "") -> str:
    """A fenced code block whose fence is longer than any backtick run inside the code."""
    text = str(code).rstrip("\n")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return _Md(f"{fence}{css_token(language)}\n{text}\n{fence}")


def md_image(link: str, alt: str) -> str:
    return _Md(f"![{md_escape(alt)}]({quote(link)})")


# ----- templates and files ----------------------------------------------------------------------

@functools.lru_cache(maxsize=2)
def _environment(kind: str) -> Any:
    from jinja2 import Environment, PackageLoader, StrictUndefined

    if kind == "html":
        environment = Environment(loader=PackageLoader("advisor", "templates"), autoescape=True,
                                  undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        environment.filters["ticks"] = html_ticks
    else:
        environment = Environment(loader=PackageLoader("advisor", "templates"), autoescape=False,
                                  finalize=_md_finalize, undefined=StrictUndefined,
                                  trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
        environment.filters.update({"code": md_code, "fence": md_fence, "image": md_image,
                                    "md": md_escape, "ticks": md_ticks})
    environment.filters.update(_filters())
    return environment


def _safe_markup(svg: str) -> Any:
    from markupsafe import Markup

    return Markup(svg)  # produced by advisor.plots, which escapes text and refuses active content


def _render_markdown(rec: dict[str, Any], *, plot_files: dict[str, tuple[Path, str]] | None
                     ) -> tuple[str, list[tuple[Path, str]]]:
    """The Markdown text and the plot files to write (key -> (file, link) in ``plot_files``)."""
    view = build_view(rec)
    links: dict[str, str] = {}
    plot_outputs: list[tuple[Path, str]] = []
    if plot_files is not None:
        from . import plots

        for key, svg in _plots(view, plots).items():
            file, link = plot_files[key]
            links[key] = link
            plot_outputs.append((file, svg))
    view["plot_links"] = links
    view["plots_requested"] = plot_files is not None
    text = _environment("markdown").get_template("report.md.j2").render(view=view)
    return text.strip() + "\n", plot_outputs


def _atomic_write(path: Path, text: str, *, overwrite: bool) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same directory.

    With ``overwrite`` false the final step is a hard link, which fails if the path
    appeared in the meantime, so an existing file is never clobbered.
    """
    directory = path.parent
    try:
        handle, temporary = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:
        raise ReportError(f"cannot write in {str(directory)!r}: {error.strerror or error}") from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o666 & ~_umask())
        if overwrite:
            os.replace(temporary, path)
        else:
            try:
                os.link(temporary, path)
            except FileExistsError:
                raise ReportError(f"{str(path)!r} already exists",
                                  hint="choose another path or allow overwriting") from None
            except OSError:                           # no hard links here: check, then replace
                if path.exists():
                    raise ReportError(f"{str(path)!r} already exists",
                                      hint="choose another path or allow overwriting") from None
                os.replace(temporary, path)
    except OSError as error:
        raise ReportError(f"cannot write the report {str(path)!r}: {error.strerror or error}") from None
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def _umask() -> int:
    """The process umask, so a report gets the mode of any new file (mkstemp makes 0600)."""
    try:                                   # Linux: read it without changing it
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)                 # elsewhere: the classic set-and-restore
    os.umask(mask)
    return mask


__all__ = ["render_html", "render_markdown", "save_report", "load_saved", "resolve_format",
           "check_payload", "build_view", "REPORT_FORMATS", "SECTIONS"]
