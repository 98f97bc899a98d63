"""The result model: what ``suggest`` returns, and its stable JSON form.

Everything here is a frozen dataclass. ``Recommendation.to_dict()`` is the versioned JSON
schema documented in the README; every renderer (terminal, JSON, Markdown, HTML) works from
that dict, so a saved JSON file re-renders to the same report without recomputing anything.
The JSON holds no timestamps or timings, so the same input and seed give the same bytes.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

#: Bump the minor version for additive changes, the major one when a key changes meaning.
SCHEMA_VERSION = "2.0"


@dataclass(frozen=True)
class Reason:
    """One rule's effect on one candidate, as a reviewer reads it."""

    rule_id: str
    effect: str            # "+2", "-1.5", "veto"
    because: str
    cite: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"rule_id": self.rule_id, "effect": self.effect, "because": self.because,
                "cite": list(self.cite)}


@dataclass(frozen=True)
class Candidate:
    """One loss in the final ranking, with its settings, reasons and evidence."""

    loss: str
    title: str
    rank: int
    score: float
    verdict: str
    params: dict[str, Any]
    reasons: tuple[Reason, ...]
    snippets: dict[str, str]
    formula: str
    citation: str
    vetoed: bool = False
    evidence: dict[str, Any] | None = None   # the validator's numbers for this loss, if tested

    def to_dict(self) -> dict[str, Any]:
        return {
            "loss": self.loss, "title": self.title, "rank": self.rank, "score": self.score,
            "verdict": self.verdict, "vetoed": self.vetoed, "params": self.params,
            "reasons": [reason.to_dict() for reason in self.reasons],
            "evidence": self.evidence, "formula": self.formula, "citation": self.citation,
            "snippets": self.snippets,
        }


@dataclass(frozen=True)
class Notice:
    """A problem worth the user's attention: an activation bug, small data, sampling."""

    code: str        # the rule id, or a built-in code such as "data.small"
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True, eq=False)
class Recommendation:
    """What :func:`advisor.suggest` returns. ``candidates[0]`` is the recommendation."""

    task: str
    task_reason: str
    target: tuple[str, ...]
    target_reason: str
    metric: str
    metric_reason: str
    activation: str
    framework: str
    profile: dict[str, Any]
    candidates: tuple[Candidate, ...]
    confidence: dict[str, str]
    summary: str
    warnings: tuple[Notice, ...]
    default_loss: str          # the task's naive default, the baseline of the experiment
    audit: dict[str, Any] | None
    provenance: dict[str, Any]
    rulebase: dict[str, Any]
    settings: dict[str, Any]
    reproducibility: dict[str, Any]
    validation: dict[str, Any] | None = None
    #: how the pick was decided: basis (evidence, rules_tiebreak, too_small, rules, none), the
    #: best-measured loss and the practical margin (see advisor.decide)
    decision: dict[str, Any] = field(default_factory=lambda: {"basis": "rules"})
    timing: dict[str, Any] = field(default_factory=dict, compare=False)  # not in the JSON

    @property
    def best(self) -> Candidate:
        """The recommended loss."""
        return self.candidates[0]

    def to_dict(self, *, include_timing: bool = False) -> dict[str, Any]:
        """The versioned, JSON-safe form (the schema documented in the README).

        ``include_timing`` adds the measured wall-clock figures (``timing``): useful to see
        where the time went, but they differ run to run, so they are off by default.
        """
        payload = {
            "schema_version": SCHEMA_VERSION,
            "recommendation": self.best.loss,
            "task": self.task,
            "task_reason": self.task_reason,
            "target": {"columns": list(self.target), "reason": self.target_reason},
            "metric": self.metric,
            "metric_reason": self.metric_reason,
            "activation": self.activation,
            "framework": self.framework,
            "confidence": self.confidence,
            "decision": self.decision,
            "summary": self.summary,
            "default_loss": self.default_loss,
            "candidates": [candidate.to_dict() for candidate in self.candidates],
            "audit": self.audit,
            "warnings": [warning.to_dict() for warning in self.warnings],
            "profile": self.profile,
            "validation": self.validation,
            "provenance": self.provenance,
            "rulebase": self.rulebase,
            "settings": self.settings,
            "reproducibility": self.reproducibility,
        }
        if include_timing:
            payload["timing"] = self.timing
        return payload

    def to_json(self, *, indent: int | None = 2, include_timing: bool = False) -> str:
        """Byte-stable JSON (same input and seed, same bytes) unless timings are included."""
        return dumps(self.to_dict(include_timing=include_timing), indent=indent)

    def to_markdown(self, *, plot_dir: str | None = None) -> str:
        """GitHub-flavoured Markdown report (plots written as SVG beside it when asked)."""
        from .report import render_markdown
        return render_markdown(self.to_dict(), plot_dir=plot_dir)

    def to_html(self) -> str:
        """One self-contained HTML file: inline CSS and SVG plots, nothing fetched."""
        from .report import render_html
        return render_html(self.to_dict())

    def save_report(self, path: str, *, format: str | None = None, overwrite: bool = True) -> str:
        """Write the report atomically to ``path``; ``format`` is markdown or html (required
        unless the suffix is .md/.html, which is then confirmed, never guessed silently)."""
        from .report import save_report
        return save_report(self.to_dict(), path, format=format, overwrite=overwrite)


def _refuse(value: object) -> object:
    """JSON encoder fallback: refuse, rather than hide what cannot be serialised."""
    raise TypeError(f"cannot serialise {type(value).__name__} to JSON: {value!r}")


def _check_finite(value: Any) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"non-finite number in the result: {value!r}")
    if isinstance(value, dict):
        for item in value.values():
            _check_finite(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _check_finite(item)


def dumps(payload: dict[str, Any], *, indent: int | None = 2) -> str:
    """The one JSON encoder: explicit, strict (no NaN, no str() fallback), stable."""
    _check_finite(payload)
    return json.dumps(payload, indent=indent, ensure_ascii=False, allow_nan=False,
                      default=_refuse) + "\n"
