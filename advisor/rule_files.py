"""Rule files: what a rule is, and how a rule file becomes checked :class:`Rule` records.

A rule file is TOML holding ``[[rule]]`` tables (the format is documented in
``docs/rules.md``). Nothing in it is executed: each table is checked key by key, its messages'
placeholders against the fact vocabulary, its effects against the loss catalog, and its
condition is compiled (:mod:`advisor.rule_conditions`). The activation vetoes the loss
catalog states (``advisor.losses``) arrive here as tables of the same shape and go through
the same checks.
"""

from __future__ import annotations

import math
import re
import string
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import RuleError
from .rule_conditions import ConditionCompiler, did_you_mean

#: Name under which built-in rule files are reported (their path in the repository).
BUILTIN_SOURCE = "rules"
#: The built-in file of the rules about a set of targets (the composite's starting
#: weighting, over :data:`advisor.facts.COMPOSITE_FACTS`): read on its own by
#: :func:`advisor.rules.load_composite_rulebase`, not with the single-target rules.
COMPOSITE_FILE = "composite.toml"
#: Order in which the built-in files are read, so a trace reads from the task's default
#: through the data's shape to the user's setup; other files follow by name.
BUILTIN_ORDER = ("task_defaults", "imbalance", "label_noise", "regression_shape",
                 "imbalanced_regression", "counts", "ordinal", "multilabel", "uncertainty",
                 "survival", "metric_alignment", "plans", "activation")

_RULE_KEYS = ("id", "when", "because", "cite", "effects", "warn")
_REQUIRED_KEYS = ("id", "when", "because", "cite")
_EFFECT_KEYS = ("loss", "score", "veto")
_ID_PATTERN = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")

_TEMPLATE_DUMMIES = {str: "x", float: 1.0, bool: True}


@dataclass(frozen=True)
class Effect:
    """What a rule does to one loss when it fires: move its score, or veto it with a reason."""

    loss: str
    score: float = 0.0
    veto: str | None = None

    @property
    def kind(self) -> str:
        return "veto" if self.veto is not None else "score"

    def to_dict(self) -> dict[str, Any]:
        if self.veto is not None:
            return {"loss": self.loss, "veto": self.veto}
        return {"loss": self.loss, "score": self.score}

    def __str__(self) -> str:
        if self.veto is not None:
            return f"{self.loss}: veto ({self.veto})"
        return f"{self.loss}: {self.score:+g}"


@dataclass(frozen=True)
class Rule:
    """One rule as written in its file, with its condition compiled once."""

    id: str
    file: str
    when: str
    because: str
    cite: tuple[str, ...]
    effects: tuple[Effect, ...]
    warn: str | None = None
    builtin: bool = False
    #: Facts the condition reads, sorted (for documentation and reports).
    facts_used: tuple[str, ...] = field(default=(), compare=False)
    _condition: Any = field(default=None, compare=False, repr=False)

    def matches(self, facts: Mapping[str, Any]) -> bool:
        """True when the condition holds for already normalized ``facts``."""
        return bool(self._condition.matches(facts))

    def canonical(self) -> dict[str, Any]:
        """The rule's content, independent of where it was read from (hashed into the digest)."""
        return {"id": self.id, "when": self.when, "because": self.because,
                "cite": list(self.cite), "effects": [effect.to_dict() for effect in self.effects],
                "warn": self.warn}

    def to_dict(self) -> dict[str, Any]:
        return {**self.canonical(), "file": self.file, "builtin": self.builtin,
                "facts_used": list(self.facts_used)}


def builtin_files(*, composite: bool = False) -> list[tuple[str, bytes]]:
    """(reported name, bytes) of every built-in single-target rule file, in BUILTIN_ORDER; with
    ``composite``, of the composite's file (:data:`COMPOSITE_FILE`) alone."""
    try:
        from importlib.resources import files

        root = files("advisor.builtin_rules")
        entries = [(entry.name, entry) for entry in root.iterdir()
                   if entry.name.endswith(".toml") and entry.is_file()]
    except ModuleNotFoundError:  # a source checkout that was not installed: read rules/ directly
        root_dir = Path(__file__).resolve().parent.parent / BUILTIN_SOURCE
        entries = [(path.name, path) for path in root_dir.glob("*.toml")]
    entries = [(name, entry) for name, entry in entries if (name == COMPOSITE_FILE) == composite]
    if not entries:
        raise RuleError("the built-in rule files are missing",
                        hint="reinstall loss-advisor (package data advisor.builtin_rules/*.toml)")

    def reading_order(item: tuple[str, Any]) -> tuple[int, str]:
        stem = item[0].removesuffix(".toml")
        rank = BUILTIN_ORDER.index(stem) if stem in BUILTIN_ORDER else len(BUILTIN_ORDER)
        return rank, item[0]

    return [(f"{BUILTIN_SOURCE}/{name}", entry.read_bytes())
            for name, entry in sorted(entries, key=reading_order)]


def rule_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        raise RuleError(f"rule directory {str(directory)!r} does not exist or is not a directory",
                        hint="pass a directory holding *.toml rule files")
    files = sorted(path for path in directory.glob("*.toml") if path.is_file())
    if not files:
        raise RuleError(f"rule directory {str(directory)!r} holds no *.toml files",
                        hint="rule files end in .toml; see docs/rules.md")
    return files


def parse_source(files: Sequence[tuple[str, bytes]], known_losses: frozenset[str], *,
                 builtin: bool, generated: Sequence[tuple[str | None, Mapping[str, Any]]] = (),
                 generated_file: str = "", fact_types: Mapping[str, type] | None = None,
                 ) -> list[Rule]:
    """Parse the files of one source (the built-ins or one directory); ids unique within it.

    ``generated`` holds rule tables made in Python (``(before, table)``: the table goes right
    before the rule with id ``before``, at the end when None); they are reported as
    ``generated_file`` and checked like the tables of a file. ``fact_types``: the vocabulary
    the conditions and messages may name (the single-target facts by default).
    """
    compiler = ConditionCompiler(known_losses, fact_types)
    rules: list[Rule] = []
    for name, raw in files:
        rules.extend(_parse_file(name, raw, known_losses, compiler, builtin=builtin))
    for index, (before, table) in enumerate(generated, start=1):
        rule = _parse_rule(generated_file, index, table, known_losses, compiler, builtin=builtin)
        ids = [existing.id for existing in rules]
        if before is not None and before not in ids:
            raise RuleError(f"a generated rule goes before {before!r}, which no rule file holds",
                            file=generated_file, rule_id=rule.id,
                            hint="restore that rule or move the generated rule elsewhere")
        rules.insert(len(rules) if before is None else ids.index(before), rule)
    seen: dict[str, str] = {}
    for rule in rules:
        if rule.id in seen:
            where = "twice in this file" if seen[rule.id] == rule.file else f"also in {seen[rule.id]}"
            raise RuleError(f"duplicate rule id ({where})", file=rule.file, rule_id=rule.id,
                            hint="rule ids must be unique; rename one of them")
        seen[rule.id] = rule.file
    return rules


def _parse_file(name: str, raw: bytes, known_losses: frozenset[str], compiler: ConditionCompiler,
                *, builtin: bool) -> list[Rule]:
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise RuleError("not UTF-8 text", file=name) from None
    except tomllib.TOMLDecodeError as exc:
        raise RuleError(f"invalid TOML: {exc}", file=name,
                        hint="check quotes, commas and brackets on that line") from None
    extra = sorted(set(data) - {"rule"})
    if extra:
        raise RuleError(f"unknown top-level key(s) {', '.join(map(repr, extra))}", file=name,
                        hint="a rule file holds only [[rule]] tables")
    tables = data.get("rule")
    if tables is None:
        raise RuleError("no [[rule]] tables", file=name, hint="start each rule with [[rule]]")
    if not isinstance(tables, list) or not all(isinstance(table, dict) for table in tables):
        raise RuleError("'rule' must be an array of tables", file=name,
                        hint="write [[rule]] (double brackets), not [rule]")
    return [_parse_rule(name, index, table, known_losses, compiler, builtin=builtin)
            for index, table in enumerate(tables, start=1)]


def _parse_rule(name: str, index: int, table: Mapping[str, Any], known_losses: frozenset[str],
                compiler: ConditionCompiler, *, builtin: bool) -> Rule:
    rule_id = table.get("id")
    label = rule_id if isinstance(rule_id, str) and rule_id else f"#{index} (no id)"

    def fail(message: str, hint: str | None = None) -> RuleError:
        return RuleError(message, file=name, rule_id=label, hint=hint)

    for key in table:
        if key not in _RULE_KEYS:
            raise fail(f"unknown key {key!r}",
                       did_you_mean(key, _RULE_KEYS) or f"allowed keys: {', '.join(_RULE_KEYS)}")
    for key in _REQUIRED_KEYS:
        if key not in table:
            raise fail(f"missing required key {key!r}", "every rule needs id, when, because and cite")
    if not isinstance(rule_id, str) or not _ID_PATTERN.match(rule_id):
        raise fail(f"bad id {rule_id!r}",
                   "use lowercase dotted words with the file's concern first, e.g. 'imbalance.reweight'")
    when = table["when"]
    if not isinstance(when, str) or not when.strip():
        raise fail("'when' must be a non-empty string (a rule-engine condition)")
    when = when.strip()
    because = _text(table["because"], "because", fail)
    cite = table["cite"]
    if isinstance(cite, str):
        cite = [cite]
    if not isinstance(cite, list) or not cite or not all(isinstance(c, str) and c.strip() for c in cite):
        raise fail("'cite' must be a non-empty list of citations",
                   "cite the paper (authors, title, venue, year) or the documentation page")
    warn = table.get("warn")
    if warn is not None:
        warn = _text(warn, "warn", fail)
        _check_template(warn, "warn", fail, compiler.fact_types)
    effects = _parse_effects(table.get("effects", []), known_losses, fail, compiler.fact_types)
    if not effects and warn is None:
        raise fail("the rule has no effects and no warn, so it can never do anything",
                   "add effects = [{ loss = ..., score = ... }] or a warn message")

    condition, facts_used = compiler.compile(when, fail)
    return Rule(id=rule_id, file=name, when=when, because=because,
                cite=tuple(c.strip() for c in cite), effects=effects, warn=warn,
                builtin=builtin, facts_used=facts_used, _condition=condition)


def _text(value: Any, key: str, fail: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise fail(f"{key!r} must be a non-empty string")
    return " ".join(value.split())


def _parse_effects(raw: Any, known_losses: frozenset[str], fail: Any,
                   fact_types: Mapping[str, type]) -> tuple[Effect, ...]:
    if not isinstance(raw, list):
        raise fail("'effects' must be a list of { loss = ..., score = ... } or { loss = ..., veto = ... }")
    effects: list[Effect] = []
    seen: set[str] = set()
    for number, item in enumerate(raw, start=1):
        if not isinstance(item, dict):
            raise fail(f"effect {number} must be an inline table {{ loss = ..., score = ... }}")
        for key in item:
            if key not in _EFFECT_KEYS:
                raise fail(f"effect {number}: unknown key {key!r}",
                           did_you_mean(key, _EFFECT_KEYS) or "allowed keys: loss, score, veto")
        loss = item.get("loss")
        if not isinstance(loss, str):
            raise fail(f"effect {number}: missing 'loss'")
        if loss not in known_losses:
            raise fail(f"effect {number}: unknown loss {loss!r}",
                       did_you_mean(loss, known_losses)
                       or f"known losses: {', '.join(sorted(known_losses))}")
        if loss in seen:
            raise fail(f"effect {number}: loss {loss!r} appears twice in this rule",
                       "merge the two effects into one")
        seen.add(loss)
        has_score, has_veto = "score" in item, "veto" in item
        if has_score == has_veto:
            raise fail(f"effect {number} ({loss}): give exactly one of 'score' or 'veto'")
        if has_veto:
            reason = item["veto"]
            if not isinstance(reason, str) or not reason.strip():
                raise fail(f"effect {number} ({loss}): 'veto' must be the reason, a non-empty string")
            reason = " ".join(reason.split())
            _check_template(reason, f"veto of {loss}", fail, fact_types)
            effects.append(Effect(loss=loss, veto=reason))
        else:
            score = item["score"]
            if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
                raise fail(f"effect {number} ({loss}): score must be a finite number; got {score!r}")
            effects.append(Effect(loss=loss, score=float(score)))
    return tuple(effects)


def _check_template(text: str, what: str, fail: Any, fact_types: Mapping[str, type]) -> None:
    """Messages may name facts as ``{fact}`` or ``{fact:format}``; nothing else."""
    try:
        fields = [parsed[1] for parsed in string.Formatter().parse(text) if parsed[1] is not None]
    except ValueError as exc:
        raise fail(f"{what}: bad placeholder ({exc})", "write literal braces as {{ and }}") from None
    for name in fields:
        if name not in fact_types:
            raise fail(f"{what}: unknown placeholder {{{name}}}",
                       did_you_mean(name, fact_types) or "placeholders name facts, e.g. {target_max:g}")
    try:
        text.format_map({name: _TEMPLATE_DUMMIES[kind] for name, kind in fact_types.items()})
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise fail(f"{what}: placeholder format does not fit the fact's type ({exc})") from None
