"""Stage 3, rules: a declarative rule base that scores, vetoes and lints candidate losses.

Rules live in TOML files (``rules/*.toml``, shipped as ``advisor.builtin_rules``, plus any
``--rules DIR``). Nothing in a rule file is executed: a condition is a `rule-engine`
expression over the fact vocabulary (:mod:`advisor.facts`), compiled once at load with a
type resolver, so an unknown fact, a type mismatch or a misspelled option value fails when
the file is loaded, with the file, the rule id and a suggestion. The format is documented
in ``docs/rules.md``.

Public API: :func:`load_rulebase`, :func:`check_rule_dir`, :class:`RuleBase` (whose
:meth:`RuleBase.evaluate` returns a :class:`RuleOutcome`), and the frozen records
:class:`Rule`, :class:`Effect`, :class:`Reason`, :class:`Override`.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import json
import math
import numbers
import re
import string
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from .errors import RuleError
from .facts import FACT_NAMES, FACT_TYPES
from .options import ACTIVATION_ALIASES, ACTIVATIONS, FRAMEWORKS, METRICS, TASKS

__all__ = [
    "Effect", "Rule", "Reason", "Override", "RuleOutcome", "RuleBase",
    "load_rulebase", "check_rule_dir", "BUILTIN_SOURCE", "BUILTIN_ORDER",
]

#: Name under which built-in rule files are reported (their path in the repository).
BUILTIN_SOURCE = "rules"
#: Order in which the built-in files are read, so a trace reads from the task's default
#: through the data's shape to the user's setup; other files follow by name.
BUILTIN_ORDER = ("task_defaults", "imbalance", "label_noise", "regression_shape", "counts",
                 "ordinal", "multilabel", "metric_alignment", "activation")

_RULE_KEYS = ("id", "when", "because", "cite", "effects", "warn")
_REQUIRED_KEYS = ("id", "when", "because", "cite")
_EFFECT_KEYS = ("loss", "score", "veto")
_ID_PATTERN = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")

_TYPE_NAMES = {str: "string", float: "number", bool: "boolean"}
_TEMPLATE_DUMMIES = {str: "x", float: 1.0, bool: True}
#: rule-engine built-ins whose value changes from run to run: forbidden (results must be reproducible).
_NONDETERMINISTIC_BUILTINS = frozenset({"now", "today", "random"})


def _engine():
    """rule-engine, imported on first use (with its parser tables shipped, see
    advisor.runtime.rule_parser): the records below and a rule base evaluated elsewhere do
    not need it."""
    from .runtime.rule_parser import import_rule_engine

    return import_rule_engine()


# --------------------------------------------------------------------------------------
# records
# --------------------------------------------------------------------------------------
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


@dataclass(frozen=True)
class Reason:
    """One line of the trace: a fired rule's effect on one loss, or a warning it raised."""

    rule_id: str
    loss: str | None          # None for warnings
    kind: str                 # "score" | "veto" | "warn"
    delta: float              # score change; 0.0 for vetoes and warnings
    because: str              # the rule's sentence
    cite: tuple[str, ...]
    message: str              # the veto reason or the warning text, facts filled in; "" for scores

    def to_dict(self) -> dict[str, Any]:
        return {"rule_id": self.rule_id, "loss": self.loss, "kind": self.kind,
                "delta": self.delta, "because": self.because, "cite": list(self.cite),
                "message": self.message}


@dataclass(frozen=True)
class Override:
    """A rule from a ``--rules`` directory that replaced a rule with the same id."""

    rule_id: str
    replaced_file: str
    by_file: str

    def to_dict(self) -> dict[str, Any]:
        return {"rule_id": self.rule_id, "replaced_file": self.replaced_file,
                "by_file": self.by_file}


@dataclass(frozen=True)
class RuleOutcome:
    """What the rules concluded for one set of facts; deterministic for equal inputs."""

    scores: dict[str, float]                   # every applicable loss -> summed score
    vetoes: dict[str, tuple[Reason, ...]]      # vetoed loss -> the vetoes, in rule order
    trace: dict[str, tuple[Reason, ...]]       # every applicable loss -> reasons, in rule order
    warnings: tuple[Reason, ...]
    fired: tuple[str, ...]                     # ids of the rules whose condition held
    ranking: tuple[str, ...]                   # non-vetoed by score desc, then vetoed
    digest: str                                # digest of the rule base that produced it

    def to_dict(self) -> dict[str, Any]:
        return {
            "scores": dict(self.scores),
            "vetoes": {loss: [r.to_dict() for r in reasons] for loss, reasons in self.vetoes.items()},
            "trace": {loss: [r.to_dict() for r in reasons] for loss, reasons in self.trace.items()},
            "warnings": [r.to_dict() for r in self.warnings],
            "fired": list(self.fired),
            "ranking": list(self.ranking),
            "digest": self.digest,
        }


# --------------------------------------------------------------------------------------
# the rule base
# --------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class RuleBase:
    """All loaded rules in evaluation order, with a digest of their content."""

    rules: tuple[Rule, ...]
    digest: str
    overrides: tuple[Override, ...] = ()
    sources: tuple[str, ...] = ()              # rule files read, in order
    loss_tasks: Mapping[str, frozenset[str]] = field(default_factory=lambda: MappingProxyType({}))
    #: Which rules hold for normalized facts, in rule order. None: each rule's own compiled
    #: condition. A rule base compiled in another process (advisor.runtime.side_process) answers there.
    matcher: Callable[[dict[str, Any]], Sequence[bool]] | None = field(
        default=None, compare=False, repr=False)

    def get(self, rule_id: str) -> Rule:
        """The rule with this id; RuleError with a suggestion when there is none."""
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise RuleError(f"no rule with id {rule_id!r}",
                        hint=_did_you_mean(rule_id, [rule.id for rule in self.rules])
                        or "list them with `advisor rules list`")

    def applicable_losses(self, task: str) -> tuple[str, ...]:
        """Losses whose tasks include ``task``, in catalog order (needs the loss tasks)."""
        return tuple(loss for loss, tasks in self.loss_tasks.items() if task in tasks)

    def evaluate(self, facts: Mapping[str, Any],
                 applicable: Sequence[str] | None = None) -> RuleOutcome:
        """Fire every rule whose condition holds and combine the effects on ``applicable``.

        Scores add up over fired rules; a single veto excludes a loss. Effects on losses
        outside ``applicable`` are ignored. ``applicable`` defaults to the losses of
        ``facts['task']``; its order breaks score ties.
        """
        values = _normalize_facts(facts)
        if applicable is None:
            applicable = self.applicable_losses(values["task"])
        applicable = tuple(applicable)
        unknown = sorted(set(applicable) - set(self.loss_tasks))
        if unknown:
            raise ValueError(f"applicable losses not in the catalog: {', '.join(unknown)}")
        if len(set(applicable)) != len(applicable):
            raise ValueError("applicable losses contain duplicates")

        scores = {loss: 0.0 for loss in applicable}
        trace: dict[str, list[Reason]] = {loss: [] for loss in applicable}
        vetoes: dict[str, list[Reason]] = {}
        warnings: list[Reason] = []
        fired: list[str] = []
        if self.matcher is None:
            matched = [rule.matches(values) for rule in self.rules]
        else:
            matched = list(self.matcher(values))
        for rule, holds in zip(self.rules, matched, strict=True):
            if not holds:
                continue
            fired.append(rule.id)
            for effect in rule.effects:
                if effect.loss not in scores:
                    continue
                if effect.veto is not None:
                    reason = Reason(rule.id, effect.loss, "veto", 0.0, rule.because, rule.cite,
                                    effect.veto.format_map(values))
                    vetoes.setdefault(effect.loss, []).append(reason)
                else:
                    reason = Reason(rule.id, effect.loss, "score", effect.score, rule.because,
                                    rule.cite, "")
                    scores[effect.loss] += effect.score
                trace[effect.loss].append(reason)
            if rule.warn is not None:
                warnings.append(Reason(rule.id, None, "warn", 0.0, rule.because, rule.cite,
                                       rule.warn.format_map(values)))

        scores = {loss: round(score, 6) + 0.0 for loss, score in scores.items()}
        order = {loss: index for index, loss in enumerate(applicable)}
        ranked = sorted(applicable, key=lambda loss: (loss in vetoes, -scores[loss], order[loss]))
        return RuleOutcome(
            scores=scores,
            vetoes={loss: tuple(vetoes[loss]) for loss in applicable if loss in vetoes},
            trace={loss: tuple(reasons) for loss, reasons in trace.items()},
            warnings=tuple(warnings),
            fired=tuple(fired),
            ranking=tuple(ranked),
            digest=self.digest,
        )


def _normalize_facts(facts: Mapping[str, Any]) -> dict[str, Any]:
    """Exactly the fact vocabulary, each value as its declared plain Python type."""
    missing = sorted(FACT_NAMES - set(facts))
    if missing:
        raise ValueError(f"facts missing: {', '.join(missing)}")
    extra = sorted(set(facts) - FACT_NAMES)
    if extra:
        raise ValueError(f"unknown facts: {', '.join(extra)} (the vocabulary is advisor.facts.FACTS)")
    values: dict[str, Any] = {}
    for name, kind in FACT_TYPES.items():
        value = facts[name]
        if kind is bool:
            if not isinstance(value, (bool, np.bool_)):
                raise ValueError(f"fact {name} must be a boolean; got {value!r}")
            values[name] = bool(value)
        elif kind is float:
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise ValueError(f"fact {name} must be a number; got {value!r}")
            value = float(value)
            if math.isnan(value):
                raise ValueError(f"fact {name} is NaN; the profile must give a neutral value instead")
            values[name] = value
        else:
            if not isinstance(value, str):
                raise ValueError(f"fact {name} must be a string; got {value!r}")
            values[name] = value
    return values


# --------------------------------------------------------------------------------------
# loading
# --------------------------------------------------------------------------------------
def load_rulebase(extra_dirs: Sequence[str | Path] = (), *,
                  loss_ids: Mapping[str, Iterable[str]] | Iterable[str] | None = None) -> RuleBase:
    """The built-in rules (in BUILTIN_ORDER), then each extra directory's ``*.toml`` (by name).

    A rule in an extra directory with the id of an earlier rule replaces it in place (the
    replacement is recorded in ``overrides``); two rules with one id inside one source are
    an error. ``loss_ids`` is the loss catalog as ``{id: tasks}`` (or just the ids); by
    default ``advisor.losses.CATALOG``. The built-in load is cached.
    """
    loss_key = _loss_key(loss_ids)
    base = _builtin_rulebase(loss_key)
    if isinstance(extra_dirs, (str, Path)):
        extra_dirs = (extra_dirs,)
    if not extra_dirs:
        return base

    known = frozenset(loss for loss, _ in loss_key)
    rules = list(base.rules)
    position = {rule.id: index for index, rule in enumerate(rules)}
    overrides: list[Override] = []
    sources = list(base.sources)
    for directory in extra_dirs:
        files = _rule_files(Path(directory))
        parsed = _parse_source([(str(path), path.read_bytes()) for path in files], known,
                               builtin=False)
        sources.extend(str(path) for path in files)
        for rule in parsed:
            if rule.id in position:
                replaced = rules[position[rule.id]]
                overrides.append(Override(rule.id, replaced.file, rule.file))
                rules[position[rule.id]] = rule
            else:
                position[rule.id] = len(rules)
                rules.append(rule)
    return RuleBase(rules=tuple(rules), digest=_digest(rules), overrides=tuple(overrides),
                    sources=tuple(sources), loss_tasks=base.loss_tasks)


def check_rule_dir(path: str | Path, *,
                   loss_ids: Mapping[str, Iterable[str]] | Iterable[str] | None = None) -> RuleBase:
    """Validate the rule files of ``path`` together with the built-in rules (``advisor rules check``)."""
    return load_rulebase((path,), loss_ids=loss_ids)


def _loss_key(loss_ids: Mapping[str, Iterable[str]] | Iterable[str] | None
              ) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """A hashable (id, tasks) table in catalog order, from the argument or the catalog."""
    if loss_ids is None:
        from .losses import CATALOG  # lazy: the catalog imports numpy and the snippets

        return tuple((loss_id, tuple(sorted(loss.tasks))) for loss_id, loss in CATALOG.items())
    if isinstance(loss_ids, Mapping):
        return tuple((str(loss_id), tuple(sorted(tasks))) for loss_id, tasks in loss_ids.items())
    return tuple((str(loss_id), ()) for loss_id in loss_ids)


@functools.lru_cache(maxsize=8)
def _builtin_rulebase(loss_key: tuple[tuple[str, tuple[str, ...]], ...]) -> RuleBase:
    known = frozenset(loss for loss, _ in loss_key)
    files = _builtin_files()
    rules = _parse_source(files, known, builtin=True)
    return RuleBase(rules=tuple(rules), digest=_digest(rules), sources=tuple(name for name, _ in files),
                    loss_tasks=MappingProxyType({loss: frozenset(tasks) for loss, tasks in loss_key}))


def _builtin_files() -> list[tuple[str, bytes]]:
    """(reported name, bytes) of every built-in rule file, in BUILTIN_ORDER."""
    try:
        from importlib.resources import files

        root = files("advisor.builtin_rules")
        entries = [(entry.name, entry) for entry in root.iterdir()
                   if entry.name.endswith(".toml") and entry.is_file()]
    except ModuleNotFoundError:  # a source checkout that was not installed: read rules/ directly
        root_dir = Path(__file__).resolve().parent.parent / BUILTIN_SOURCE
        entries = [(path.name, path) for path in root_dir.glob("*.toml")]
    if not entries:
        raise RuleError("the built-in rule files are missing",
                        hint="reinstall loss-advisor (package data advisor.builtin_rules/*.toml)")

    def reading_order(item: tuple[str, Any]) -> tuple[int, str]:
        stem = item[0].removesuffix(".toml")
        rank = BUILTIN_ORDER.index(stem) if stem in BUILTIN_ORDER else len(BUILTIN_ORDER)
        return rank, item[0]

    return [(f"{BUILTIN_SOURCE}/{name}", entry.read_bytes())
            for name, entry in sorted(entries, key=reading_order)]


def _rule_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        raise RuleError(f"rule directory {str(directory)!r} does not exist or is not a directory",
                        hint="pass a directory holding *.toml rule files")
    files = sorted(path for path in directory.glob("*.toml") if path.is_file())
    if not files:
        raise RuleError(f"rule directory {str(directory)!r} holds no *.toml files",
                        hint="rule files end in .toml; see docs/rules.md")
    return files


def _parse_source(files: Sequence[tuple[str, bytes]], known_losses: frozenset[str], *,
                  builtin: bool) -> list[Rule]:
    """Parse the files of one source (the built-ins or one directory); ids unique within it."""
    vocabularies = _vocabularies(known_losses)
    engine = _engine()
    data_types = {str: engine.DataType.STRING, float: engine.DataType.FLOAT,
                  bool: engine.DataType.BOOLEAN}
    resolver = engine.type_resolver_from_dict(
        {name: data_types[kind] for name, kind in FACT_TYPES.items()})
    rules: list[Rule] = []
    seen: dict[str, str] = {}
    for name, raw in files:
        for rule in _parse_file(name, raw, known_losses, vocabularies, resolver, builtin=builtin):
            if rule.id in seen:
                where = "twice in this file" if seen[rule.id] == name else f"also in {seen[rule.id]}"
                raise RuleError(f"duplicate rule id ({where})", file=name, rule_id=rule.id,
                                hint="rule ids must be unique; rename one of them")
            seen[rule.id] = name
            rules.append(rule)
    return rules


def _parse_file(name: str, raw: bytes, known_losses: frozenset[str],
                vocabularies: Mapping[str, frozenset[str]], resolver: Any, *,
                builtin: bool) -> list[Rule]:
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
    return [_parse_rule(name, index, table, known_losses, vocabularies, resolver, builtin=builtin)
            for index, table in enumerate(tables, start=1)]


def _parse_rule(name: str, index: int, table: Mapping[str, Any], known_losses: frozenset[str],
                vocabularies: Mapping[str, frozenset[str]], resolver: Any, *,
                builtin: bool) -> Rule:
    rule_id = table.get("id")
    label = rule_id if isinstance(rule_id, str) and rule_id else f"#{index} (no id)"

    def fail(message: str, hint: str | None = None) -> RuleError:
        return RuleError(message, file=name, rule_id=label, hint=hint)

    for key in table:
        if key not in _RULE_KEYS:
            raise fail(f"unknown key {key!r}",
                       _did_you_mean(key, _RULE_KEYS) or f"allowed keys: {', '.join(_RULE_KEYS)}")
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
        _check_template(warn, "warn", fail)
    effects = _parse_effects(table.get("effects", []), known_losses, fail)
    if not effects and warn is None:
        raise fail("the rule has no effects and no warn, so it can never do anything",
                   "add effects = [{ loss = ..., score = ... }] or a warn message")

    condition, facts_used = _compile(when, vocabularies, resolver, fail)
    return Rule(id=rule_id, file=name, when=when, because=because,
                cite=tuple(c.strip() for c in cite), effects=effects, warn=warn,
                builtin=builtin, facts_used=facts_used, _condition=condition)


def _text(value: Any, key: str, fail: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise fail(f"{key!r} must be a non-empty string")
    return " ".join(value.split())


def _parse_effects(raw: Any, known_losses: frozenset[str], fail: Any) -> tuple[Effect, ...]:
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
                           _did_you_mean(key, _EFFECT_KEYS) or "allowed keys: loss, score, veto")
        loss = item.get("loss")
        if not isinstance(loss, str):
            raise fail(f"effect {number}: missing 'loss'")
        if loss not in known_losses:
            raise fail(f"effect {number}: unknown loss {loss!r}",
                       _did_you_mean(loss, known_losses)
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
            _check_template(reason, f"veto of {loss}", fail)
            effects.append(Effect(loss=loss, veto=reason))
        else:
            score = item["score"]
            if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
                raise fail(f"effect {number} ({loss}): score must be a finite number; got {score!r}")
            effects.append(Effect(loss=loss, score=float(score)))
    return tuple(effects)


def _check_template(text: str, what: str, fail: Any) -> None:
    """Messages may name facts as ``{fact}`` or ``{fact:format}``; nothing else."""
    try:
        fields = [parsed[1] for parsed in string.Formatter().parse(text) if parsed[1] is not None]
    except ValueError as exc:
        raise fail(f"{what}: bad placeholder ({exc})", "write literal braces as {{ and }}") from None
    for name in fields:
        if name not in FACT_TYPES:
            raise fail(f"{what}: unknown placeholder {{{name}}}",
                       _did_you_mean(name, FACT_NAMES) or "placeholders name facts, e.g. {target_max:g}")
    try:
        text.format_map({name: _TEMPLATE_DUMMIES[kind] for name, kind in FACT_TYPES.items()})
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise fail(f"{what}: placeholder format does not fit the fact's type ({exc})") from None


# --------------------------------------------------------------------------------------
# conditions
# --------------------------------------------------------------------------------------
def _vocabularies(known_losses: frozenset[str]) -> dict[str, frozenset[str]]:
    """String facts with a closed set of values: a literal outside it is a typo."""
    return {
        "task": frozenset(TASKS),
        "activation": frozenset(ACTIVATIONS) - frozenset(ACTIVATION_ALIASES),
        "framework": frozenset(FRAMEWORKS),
        "metric": frozenset(METRICS),
        "current_loss": known_losses | {""},
    }


def _compile(when: str, vocabularies: Mapping[str, frozenset[str]], resolver: Any,
             fail: Any) -> tuple[Any, tuple[str, ...]]:
    rule_engine = _engine()
    context = rule_engine.Context(type_resolver=resolver)
    try:
        condition = rule_engine.Rule(when, context=context)
    except rule_engine.errors.SyntaxError as exc:  # RuleSyntaxError and bad literals
        raise fail(f"bad condition {when!r}: {exc.message}",
                   "see the rule-engine syntax in docs/rules.md") from None
    except rule_engine.SymbolResolutionError as exc:
        raise fail(f"unknown fact {exc.symbol_name!r} in condition {when!r}",
                   _did_you_mean(exc.symbol_name, FACT_NAMES)
                   or "facts are listed in advisor/facts.py") from None
    except rule_engine.EvaluationError as exc:  # raised while typing the parsed expression
        raise fail(f"type mismatch in condition {when!r}: {exc.message}", _fact_types_hint(when)) from None
    except Exception as exc:  # anything else rule-engine refuses is still this rule's fault
        raise fail(f"cannot compile condition {when!r}: {exc}") from None
    problem = _lint_expression(condition.statement.expression, vocabularies)
    if problem is not None:
        message, hint = problem
        raise fail(f"{message} in condition {when!r}", hint or _fact_types_hint(when))
    result_type = condition.statement.expression.result_type
    if result_type != rule_engine.DataType.BOOLEAN:
        raise fail(f"condition {when!r} gives a {_data_type_name(result_type)}, not a boolean",
                   "compare it, e.g. `imbalance_ratio >= 3`")
    facts_used = tuple(sorted(name for name in context.symbols if name in FACT_TYPES))
    return condition, facts_used


def _data_type_name(kind: Any) -> str:
    """rule-engine type in the words of the fact vocabulary (number, string, boolean)."""
    return {"FLOAT": "number", "STRING": "string", "BOOLEAN": "boolean", "ARRAY": "list"}.get(
        kind.name, kind.name.lower())


def _fact_types_hint(when: str) -> str:
    named = sorted(set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", when)) & FACT_NAMES)
    if not named:
        return "compare facts with values of their own type"
    return "fact types: " + ", ".join(f"{name} is a {_TYPE_NAMES[FACT_TYPES[name]]}" for name in named)


def _children(node: Any) -> Iterable[Any]:
    """Sub-expressions of a rule-engine AST node, whatever its class."""
    names: list[str] = []
    for klass in type(node).__mro__:
        names.extend(getattr(klass, "__slots__", ()))
    names.extend(getattr(node, "__dict__", {}))
    for attribute in dict.fromkeys(names):
        if attribute == "context":
            continue
        value = getattr(node, attribute, None)
        items = value if isinstance(value, (list, tuple)) else (value,)
        for item in items:
            if isinstance(item, _engine().ast.ExpressionBase):
                yield item


def _lint_expression(node: Any, vocabularies: Mapping[str, frozenset[str]]
                     ) -> tuple[str, str | None] | None:
    """Checks rule-engine leaves to run time: ``==``/``in`` across types, non-boolean logic,
    values outside a string fact's vocabulary, non-deterministic built-ins."""
    ast = _engine().ast
    dt = _engine().DataType

    def typed(expr: Any) -> Any:
        result = getattr(expr, "result_type", dt.UNDEFINED)
        return None if result == dt.UNDEFINED or result == dt.NULL else result

    def vocabulary_problem(symbol: Any, literal: Any) -> tuple[str, str | None] | None:
        if (isinstance(symbol, ast.SymbolExpression) and symbol.name in vocabularies
                and isinstance(literal, ast.StringExpression)):
            allowed = vocabularies[symbol.name]
            if literal.value not in allowed:
                return (f"{symbol.name} is never {literal.value!r}",
                        _did_you_mean(literal.value, allowed)
                        or f"{symbol.name} is one of: {', '.join(sorted(v or repr(v) for v in allowed))}")
        return None

    if isinstance(node, ast.SymbolExpression) and node.scope == "built-in" \
            and node.name in _NONDETERMINISTIC_BUILTINS:
        return (f"${node.name} changes from run to run", "rules must be deterministic")
    if isinstance(node, ast.LogicExpression) or (isinstance(node, ast.UnaryExpression) and node.type == "not"):
        operands = (node.left, node.right) if isinstance(node, ast.LogicExpression) else (node.right,)
        for operand in operands:
            kind = typed(operand)
            if kind is not None and kind != dt.BOOLEAN:
                return (f"'{node.type}' applied to a {_data_type_name(kind)}",
                        "combine comparisons, e.g. `a >= 3 and b`")
    elif type(node) is ast.ComparisonExpression:  # == and != (ordered comparisons check themselves)
        left, right = typed(node.left), typed(node.right)
        if left is not None and right is not None and left != right:
            operator = {"eq": "==", "ne": "!="}.get(node.type, node.type)
            return (f"'{operator}' compares a {_data_type_name(left)} with a {_data_type_name(right)}", None)
        problem = vocabulary_problem(node.left, node.right) or vocabulary_problem(node.right, node.left)
        if problem:
            return problem
    elif isinstance(node, ast.ContainsExpression) and isinstance(node.container, ast.ArrayExpression):
        member = typed(node.member)
        for item in node.container.value:
            kind = typed(item)
            if member is not None and kind is not None and kind != member:
                return (f"'in' looks for a {_data_type_name(member)} in a list holding a {_data_type_name(kind)}", None)
            problem = vocabulary_problem(node.member, item)
            if problem:
                return problem
    for child in _children(node):
        problem = _lint_expression(child, vocabularies)
        if problem:
            return problem
    return None


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------
def _digest(rules: Iterable[Rule]) -> str:
    """sha256 of the rules' canonical content in evaluation order (not of their file paths)."""
    payload = json.dumps([rule.canonical() for rule in rules], sort_keys=True,
                         ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    matches = difflib.get_close_matches(str(word), sorted(choices), n=1, cutoff=0.6)
    return f"did you mean {matches[0]!r}?" if matches else None
