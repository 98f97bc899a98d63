"""How the reports write values: number filters, Markdown escaping, and the Jinja environments.

Numbers are formatted by these Python filters, never in the templates. Escaping is on by
default in both formats. HTML: autoescape. Markdown: every ``{{ }}`` value goes through
:func:`md_escape` unless a filter built it as Markdown on purpose (``_Md``), so a class label
cannot break a table or inject HTML.
"""

from __future__ import annotations

import functools
import math
import re
from typing import Any, TypeGuard
from urllib.parse import quote

# ----- number formatting: the template filters ------------------------------------------------

def is_number(value: Any) -> TypeGuard[float]:
    """A finite int or float (not a bool): something a filter can format as a number."""
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
    if not is_number(value):
        return format_number(value)
    return ("+" if value > 0 else "") + format_number(value)


def format_percent(value: Any) -> str:
    return f"{value:.1%}" if is_number(value) else format_number(value)


def format_p(value: Any) -> str:
    if not is_number(value):
        return "\u2014"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def format_p_clause(value: Any) -> str:
    """A p-value inside a sentence: ``p = 0.049`` or ``p < 0.001``."""
    text = format_p(value)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def format_interval(low: Any, high: Any) -> str:
    if not (is_number(low) and is_number(high)):
        return "\u2014"
    return f"[{format_number(low)}, {format_number(high)}]"


def format_value(value: Any) -> str:
    """Any JSON value as compact text: lists and dicts inline, numbers formatted."""
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {format_value(item)}" for key, item in value.items()) + "}"
    return format_number(value)


def format_params(params: dict[str, Any] | None) -> str:
    if not params:
        return "no settings"
    return ", ".join(f"{key} = {format_value(value)}" for key, value in params.items())


def format_outputs(outputs: Any) -> str:
    """A multi-output loss's outputs in words: ``outputs: mean (...), log_variance (...);
    prediction: ...`` (empty for one output per target)."""
    if not outputs:
        return ""
    record = outputs if isinstance(outputs, dict) else outputs.to_dict()
    columns = ", ".join(f"{column['name']} ({column['meaning']})" for column in record["columns"])
    return f"outputs: {columns}; prediction: {record['prediction']}"


def format_decision(decision: Any, how: bool = False) -> str:
    """A plan's decision rule in words: ``decision: threshold 0.147 for balanced_accuracy
    (median of 5 splits)``, or, without an experiment, what it is tuned for; ``how`` adds how
    to tune it on one's own validation data. Empty for the plain argmax / 0.5 rule."""
    if not decision:
        return ""
    record = decision if isinstance(decision, dict) else decision.to_dict()
    if record["rule"] == "threshold":
        values = record["threshold"]
        name = "threshold" if values is None or len(values) == 1 else "thresholds"
        shown = None if values is None else ", ".join(f"{value:.3g}" for value in values)
    else:
        name = "logit adjustment tau"
        shown = None if record["tau"] is None else f"{record['tau']:.3g}"
    if shown is None:
        text = f"decision: {name} tuned for {record['metric']} on validation data"
    else:
        plain = record.get("splits_plain") or 0
        text = (f"decision: {name} {shown} for {record['metric']} (median of "
                f"{record['splits_tuned']} splits" + (f", {plain} kept the plain rule" if plain else "")
                + ")")
    return f"{text}; to tune it: {record['how']}" if how else text


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
            "outputs": format_outputs,
            "decision": format_decision,
            "verdict": format_verdict, "css": css_token,
            "interval": lambda row: format_interval(row["low"], row["high"]),
            "difference": lambda row: (
                "\u2014" if row["difference"] is None else
                f"{format_signed(row['difference'])} "
                f"{format_interval(row['difference_low'], row['difference_high'])}")}


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


# ----- the templates' environments -------------------------------------------------------------

@functools.lru_cache(maxsize=2)
def jinja_environment(kind: str) -> Any:
    """The Jinja environment of one format (``html`` or ``markdown``), built once."""
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


def safe_markup(svg: str) -> Any:
    from markupsafe import Markup

    return Markup(svg)  # produced by advisor.plots, which escapes text and refuses active content

