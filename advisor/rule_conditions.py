"""Rule conditions: compiled once, with a type resolver built from the fact vocabulary.

A condition is a `rule-engine` expression over the facts (:mod:`advisor.facts`). Compiling it
resolves every name and type, and a lint pass adds the checks rule-engine leaves to run
time (``==`` across types, a value outside a string fact's vocabulary, non-deterministic
built-ins), so a wrong condition fails when its file is loaded, never while advising.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from typing import Any

from .facts import FACT_TYPES
from .options import ACTIVATION_ALIASES, ACTIVATIONS, FRAMEWORKS, METRICS, TASKS

_TYPE_NAMES = {str: "string", float: "number", bool: "boolean"}
#: rule-engine built-ins whose value changes from run to run: forbidden (results must be reproducible).
_NONDETERMINISTIC_BUILTINS = frozenset({"now", "today", "random"})


def _engine():
    """rule-engine, imported on first use (with its parser tables shipped, see
    advisor.runtime.rule_parser): a rule base evaluated elsewhere does not need it."""
    from .runtime.rule_parser import import_rule_engine

    return import_rule_engine()


class ConditionCompiler:
    """Compiles the conditions of one rule source against the facts and the known losses.

    ``fact_types`` is the vocabulary (name -> type): the single-target facts by default, the
    facts about a set of targets for the composite's rules (:data:`advisor.facts.COMPOSITE_FACT_TYPES`,
    whose facts are all numbers, so they have no closed string vocabularies)."""

    def __init__(self, known_losses: frozenset[str],
                 fact_types: Mapping[str, type] | None = None) -> None:
        engine = _engine()
        data_types = {str: engine.DataType.STRING, float: engine.DataType.FLOAT,
                      bool: engine.DataType.BOOLEAN}
        self.fact_types = dict(FACT_TYPES if fact_types is None else fact_types)
        self.vocabularies = {name: values for name, values in _vocabularies(known_losses).items()
                             if name in self.fact_types}
        self.resolver = engine.type_resolver_from_dict(
            {name: data_types[kind] for name, kind in self.fact_types.items()})

    def compile(self, when: str, fail: Any) -> tuple[Any, tuple[str, ...]]:
        """The compiled condition and the facts it reads; ``fail(message, hint)`` builds the error."""
        return _compile(when, self.vocabularies, self.resolver, fail, self.fact_types)


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
             fail: Any, fact_types: Mapping[str, type]) -> tuple[Any, tuple[str, ...]]:
    rule_engine = _engine()
    context = rule_engine.Context(type_resolver=resolver)
    try:
        condition = rule_engine.Rule(when, context=context)
    except rule_engine.errors.SyntaxError as exc:  # RuleSyntaxError and bad literals
        raise fail(f"bad condition {when!r}: {exc.message}",
                   "see the rule-engine syntax in docs/rules.md") from None
    except rule_engine.SymbolResolutionError as exc:
        raise fail(f"unknown fact {exc.symbol_name!r} in condition {when!r}",
                   did_you_mean(exc.symbol_name, fact_types)
                   or "facts are listed in advisor/facts.py") from None
    except rule_engine.EvaluationError as exc:  # raised while typing the parsed expression
        raise fail(f"type mismatch in condition {when!r}: {exc.message}",
                   _fact_types_hint(when, fact_types)) from None
    except Exception as exc:  # anything else rule-engine refuses is still this rule's fault
        raise fail(f"cannot compile condition {when!r}: {exc}") from None
    problem = _lint_expression(condition.statement.expression, vocabularies)
    if problem is not None:
        message, hint = problem
        raise fail(f"{message} in condition {when!r}", hint or _fact_types_hint(when, fact_types))
    result_type = condition.statement.expression.result_type
    if result_type != rule_engine.DataType.BOOLEAN:
        raise fail(f"condition {when!r} gives a {_data_type_name(result_type)}, not a boolean",
                   "compare it, e.g. `imbalance_ratio >= 3`")
    facts_used = tuple(sorted(name for name in context.symbols if name in fact_types))
    return condition, facts_used


def _data_type_name(kind: Any) -> str:
    """rule-engine type in the words of the fact vocabulary (number, string, boolean)."""
    return {"FLOAT": "number", "STRING": "string", "BOOLEAN": "boolean", "ARRAY": "list"}.get(
        kind.name, kind.name.lower())


def _fact_types_hint(when: str, fact_types: Mapping[str, type]) -> str:
    named = sorted(set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", when)) & set(fact_types))
    if not named:
        return "compare facts with values of their own type"
    return "fact types: " + ", ".join(f"{name} is a {_TYPE_NAMES[fact_types[name]]}" for name in named)


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
                        did_you_mean(literal.value, allowed)
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


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    matches = difflib.get_close_matches(str(word), sorted(choices), n=1, cutoff=0.6)
    return f"did you mean {matches[0]!r}?" if matches else None
