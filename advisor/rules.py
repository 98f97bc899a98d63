"""Stage 3, rules: a declarative rule base that scores, vetoes and lints candidate losses.

Rules live in TOML files (``rules/*.toml``, shipped as ``advisor.builtin_rules``, plus any
``--rules DIR``). Nothing in a rule file is executed: a condition is a `rule-engine`
expression over the fact vocabulary (:mod:`advisor.facts`), compiled once at load with a
type resolver, so an unknown fact, a type mismatch or a misspelled option value fails when
the file is loaded, with the file, the rule id and a suggestion. The format is documented
in ``docs/rules.md``.

The activation vetoes are not in a file: the loss catalog states them, and they join the
built-in rules at load (:func:`advisor.losses.activation_veto_tables`).

This module is the rule base: the reading order, ``--rules`` overrides, evaluation and the
outcome. Reading and checking a rule file is :mod:`advisor.rule_files`; compiling a
condition is :mod:`advisor.rule_conditions`.

Public API: :func:`load_rulebase`, :func:`check_rule_dir`, :class:`RuleBase` (whose
:meth:`RuleBase.evaluate` returns a :class:`RuleOutcome`), and the frozen records
:class:`Rule`, :class:`Effect`, :class:`Reason`, :class:`Override`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import numbers
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .errors import RuleError
from .facts import FACT_TYPES
from .rule_conditions import did_you_mean
from .rule_files import BUILTIN_ORDER, BUILTIN_SOURCE, Effect, Rule, builtin_files, parse_source, rule_files
from .schema import Reason  # the trace's record is the result's (one Reason)

__all__ = [
    "Effect", "Rule", "Reason", "Override", "RuleOutcome", "RuleBase",
    "load_rulebase", "load_composite_rulebase", "check_rule_dir", "BUILTIN_SOURCE", "BUILTIN_ORDER",
]


# --------------------------------------------------------------------------------------
# records
# --------------------------------------------------------------------------------------
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
    #: The vocabulary the facts must hold: the single-target facts, or the composite's.
    fact_types: Mapping[str, type] = field(default_factory=lambda: MappingProxyType(FACT_TYPES),
                                           compare=False, repr=False)

    def get(self, rule_id: str) -> Rule:
        """The rule with this id; RuleError with a suggestion when there is none."""
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise RuleError(f"no rule with id {rule_id!r}",
                        hint=did_you_mean(rule_id, [rule.id for rule in self.rules])
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
        values = _normalize_facts(facts, self.fact_types)
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


def _normalize_facts(facts: Mapping[str, Any], fact_types: Mapping[str, type] = FACT_TYPES,
                     ) -> dict[str, Any]:
    """Exactly the fact vocabulary, each value as its declared plain Python type."""
    names = set(fact_types)
    missing = sorted(names - set(facts))
    if missing:
        raise ValueError(f"facts missing: {', '.join(missing)}")
    extra = sorted(set(facts) - names)
    if extra:
        raise ValueError(f"unknown facts: {', '.join(extra)} (the vocabulary is advisor.facts)")
    values: dict[str, Any] = {}
    for name, kind in fact_types.items():
        value = facts[name]
        if kind is bool:
            if not (isinstance(value, bool) or getattr(value, "dtype", None) == "bool"):  # numpy's bool_ too
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
    default ``advisor.losses.CATALOG``. The activation vetoes always come from that catalog's
    specs, so ``loss_ids`` must hold its losses. The built-in load is cached.
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
        files = rule_files(Path(directory))
        parsed = parse_source([(str(path), path.read_bytes()) for path in files], known,
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
    from .losses import GENERATED_RULES_FILE, activation_veto_tables  # lazy: numpy and the catalog

    known = frozenset(loss for loss, _ in loss_key)
    files = builtin_files()
    rules = parse_source(files, known, builtin=True, generated=activation_veto_tables(),
                         generated_file=GENERATED_RULES_FILE)
    return RuleBase(rules=tuple(rules), digest=_digest(rules), sources=tuple(name for name, _ in files),
                    loss_tasks=MappingProxyType({loss: frozenset(tasks) for loss, tasks in loss_key}))


@functools.cache
def load_composite_rulebase() -> RuleBase:
    """The built-in rules about a set of targets (``rules/composite.toml``): conditions over
    :data:`advisor.facts.COMPOSITE_FACTS`, effects on the weightings as ``composite_<name>``
    (:data:`advisor.composite.math.WEIGHTINGS`). The multitask pipeline evaluates it once to
    choose the weighting the combination starts from."""
    from .composite.math import WEIGHTINGS  # lazy: numpy and the loss math
    from .facts import COMPOSITE_FACT_TYPES

    ids = {f"composite_{name}": frozenset({"multitask"}) for name in WEIGHTINGS}
    files = builtin_files(composite=True)
    rules = parse_source(files, frozenset(ids), builtin=True, fact_types=COMPOSITE_FACT_TYPES)
    return RuleBase(rules=tuple(rules), digest=_digest(rules), sources=tuple(name for name, _ in files),
                    loss_tasks=MappingProxyType(ids), fact_types=MappingProxyType(COMPOSITE_FACT_TYPES))


def _digest(rules: Iterable[Rule]) -> str:
    """sha256 of the rules' canonical content in evaluation order (not of their file paths)."""
    payload = json.dumps([rule.canonical() for rule in rules], sort_keys=True,
                         ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()
