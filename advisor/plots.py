"""Report plots: small matplotlib figures turned into SVG that is safe to inline in HTML.

Why SVG strings: the HTML report is one file that fetches nothing, so each plot is inlined
as ``<svg>``; the Markdown report writes the same strings to ``.svg`` files beside it.

Determinism: the same input gives the same bytes. The figure is drawn without pyplot
(no global backend or state; the Agg canvas only measures text), ``svg.hashsalt`` fixes
matplotlib's hashed ids, the metadata block (creator, date) is removed, and every id is
prefixed with the plot's name so several plots can share one HTML document.

Safety: text is written as SVG ``<text>`` (``svg.fonttype: none``), which matplotlib
escapes; mathtext is off (``text.parse_math``), so a label such as ``$x$`` stays literal.
:func:`_clean_svg` also drops comments, the XML prolog and the metadata, and refuses any
SVG that carries a script, an event handler or an external reference.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .schema import ProfileSummary, TargetHistogram

#: Colours: muted for the field, one strong colour for the recommendation.
BASE_COLOR = "#8aa4c8"
STRONG_COLOR = "#1f5fa8"
ACCENT_COLOR = "#c0392b"
MUTED_COLOR = "#9a9a9a"

#: At most this many classes / labels are drawn; the rest are summarized in the title.
MAX_BARS = 30
#: Histogram counts spanning this ratio (largest / smallest non-empty bin) get a log axis.
LOG_SCALE_RATIO = 100.0
#: Longest label drawn on an axis, in characters (the tables show the full label).
MAX_LABEL = 28

_RC: dict[str, Any] = {
    "svg.fonttype": "none",          # text stays text: small, searchable, escaped by matplotlib
    "text.parse_math": False,        # a '$' in a class label is a dollar, not mathtext
    "font.size": 9,
    "font.family": "sans-serif",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 10,
    "axes.titlelocation": "left",
    "figure.dpi": 72,                # 1 inch = 72 pt = the SVG's user units
}


@dataclass(frozen=True)
class FoldSeries:
    """One candidate's fold scores for the experiment plot."""

    label: str
    scores: tuple[float, ...]
    mean: float | None = None
    low: float | None = None
    high: float | None = None
    highlight: bool = False          # the recommended loss
    note: str = ""                   # e.g. "failed" when there is nothing to draw


def target_distribution_svg(profile: ProfileSummary, task: str) -> str | None:
    """The target's distribution: class bars, label prevalence, or a histogram.

    Returns None when the profile holds nothing to draw (e.g. a numeric target saved without
    ``target_histogram``); the report then says so instead of showing an empty plot.
    """
    classes = [str(label) for label in profile.classes]
    counts = [int(count) for count in profile.class_counts]
    if task == "multilabel" and classes and len(classes) == len(counts):
        n_rows = float(profile.facts.get("n_rows") or 0)
        if n_rows > 0:
            return _prevalence_svg(classes, counts, n_rows)
    if classes and len(classes) == len(counts):
        return _class_bars_svg(classes, counts, keep_order=(task == "ordinal"))
    histogram = profile.target_histogram
    if histogram is not None and histogram.edges and histogram.counts:
        return _histogram_svg(histogram, profile.facts, float(profile.robust_scale or 0.0))
    return None


def fold_scores_svg(series: Sequence[FoldSeries], metric: str, *,
                    higher_is_better: bool | None) -> str | None:
    """Fold scores per candidate (dots), with the mean and its interval (bar)."""
    drawable = [item for item in series if item.scores or item.note]
    if not drawable:
        return None
    height = 1.0 + 0.42 * len(drawable)
    with _rc_context("advisor-folds"):
        figure = _figure(7.2, height)
        axes = figure.add_subplot()
        positions = list(range(len(drawable)))[::-1]       # first candidate on top
        finite = [score for item in drawable for score in item.scores if math.isfinite(score)]
        for position, item in zip(positions, drawable):
            color = STRONG_COLOR if item.highlight else BASE_COLOR
            scores = [score for score in item.scores if math.isfinite(score)]
            if scores:
                offsets = _jitter(len(scores))
                axes.scatter(scores, [position + offset for offset in offsets], s=16,
                             color=color, alpha=0.75, linewidths=0, zorder=3)
            if item.mean is not None and math.isfinite(item.mean):
                low = item.low if item.low is not None and math.isfinite(item.low) else item.mean
                high = item.high if item.high is not None and math.isfinite(item.high) else item.mean
                axes.errorbar([item.mean], [position], xerr=[[item.mean - low], [high - item.mean]],
                              fmt="D", color="#222222" if item.highlight else "#555555",
                              markersize=5, capsize=3, linewidth=1.2, zorder=4)
            if item.note and not scores:
                anchor = min(finite) if finite else 0.0
                axes.text(anchor, position, item.note, va="center", ha="left",
                          color=ACCENT_COLOR, fontsize=8)
        axes.set_yticks(positions, [_short(item.label) for item in drawable])
        for tick, item in zip(axes.get_yticklabels(), drawable):
            if item.highlight:
                tick.set_fontweight("bold")
        direction = {True: " (higher is better)", False: " (lower is better)", None: ""}
        axes.set_xlabel(f"{metric}{direction[higher_is_better]}")
        axes.set_title("Fold scores per candidate: dots are folds, diamond and bar the mean "
                       "and its interval", fontsize=9)
        axes.grid(axis="x", color="#e5e5e5", linewidth=0.8)
        axes.set_axisbelow(True)
        axes.set_ylim(-0.6, len(drawable) - 0.4)
        shown = finite + [item.mean for item in drawable
                          if item.mean is not None and math.isfinite(item.mean)]
        if shown:                       # frame the scores; a wider interval is cut at the edge
            low, high = min(shown), max(shown)
            span = (high - low) or (abs(high) * 0.1) or 1.0
            axes.set_xlim(low - 0.3 * span, high + 0.3 * span)
        return _to_svg(figure, "folds")


def fairness_svg(rows: Sequence[dict[str, Any]], metric: str) -> str | None:
    """The fairness trade-off: each candidate's metric over all rows against its worst
    group's (the pick in the strong colour)."""
    points = [row for row in rows if row["mean"] is not None and row["worst_group"] is not None]
    if not points:
        return None
    with _rc_context("advisor-fairness"):
        figure = _figure(6.0, 3.6)
        axes = figure.add_subplot()
        for row in points:
            color = STRONG_COLOR if row["best"] else BASE_COLOR
            axes.scatter([row["mean"]], [row["worst_group"]], s=36, color=color, zorder=3)
            axes.annotate(_short(row["loss"]), (row["mean"], row["worst_group"]),
                          textcoords="offset points", xytext=(5, 4), fontsize=8,
                          fontweight="bold" if row["best"] else "normal")
        axes.set_xlabel(f"{metric}, all rows")
        axes.set_ylabel(f"{metric}, worst group")
        axes.set_title("Fairness trade-off: overall against worst-group score", fontsize=9)
        axes.grid(color="#e5e5e5", linewidth=0.8)
        axes.set_axisbelow(True)
        return _to_svg(figure, "fairness")


# ----- the three target plots ----------------------------------------------------------

def _class_bars_svg(classes: list[str], counts: list[int], *, keep_order: bool) -> str:
    total = sum(counts) or 1
    pairs = list(zip(classes, counts))
    title = f"Class counts ({len(pairs)} classes, {total} rows)"
    if not keep_order:
        pairs.sort(key=lambda pair: -pair[1])               # stable: ties keep the profile order
    if len(pairs) > MAX_BARS:
        pairs = sorted(pairs, key=lambda pair: -pair[1])[:MAX_BARS]
        title = f"Class counts: the {MAX_BARS} largest of {len(classes)} classes ({total} rows)"
    labels = [label for label, _ in pairs]
    values = [count for _, count in pairs]
    smallest = min(values)
    colors = [ACCENT_COLOR if value == smallest and len(values) > 1 else BASE_COLOR
              for value in values]
    annotations = [f"{value} ({value / total:.1%})" for value in values]
    return _bars(labels, values, annotations, colors, title=title, xlabel="rows",
                 salt="target-classes")


def _prevalence_svg(labels: list[str], counts: list[int], n_rows: float) -> str:
    pairs = sorted(zip(labels, counts), key=lambda pair: -pair[1])
    title = f"Label prevalence ({len(pairs)} labels, {int(n_rows)} rows)"
    if len(pairs) > MAX_BARS:
        pairs = pairs[:MAX_BARS]
        title = f"Label prevalence: the {MAX_BARS} most frequent of {len(labels)} labels"
    values = [100.0 * count / n_rows for _, count in pairs]
    smallest = min(values)
    colors = [ACCENT_COLOR if value == smallest and len(values) > 1 else BASE_COLOR
              for value in values]
    annotations = [f"{value:.1f}% ({count})" for value, (_, count) in zip(values, pairs)]
    return _bars([label for label, _ in pairs], values, annotations, colors, title=title,
                 xlabel="% of rows with the label", salt="target-labels")


def _bars(labels: list[str], values: Sequence[float], annotations: list[str],
          colors: list[str], *, title: str, xlabel: str, salt: str) -> str:
    height = 1.1 + 0.3 * len(labels)
    with _rc_context(f"advisor-{salt}"):
        figure = _figure(7.2, height)
        axes = figure.add_subplot()
        positions = list(range(len(labels)))[::-1]
        axes.barh(positions, values, color=colors, height=0.7)
        axes.set_yticks(positions, [_short(label) for label in labels])
        peak = max(values) if values else 1.0
        for position, value, text in zip(positions, values, annotations):
            axes.text(value + peak * 0.01, position, text, va="center", fontsize=8,
                      color="#333333")
        axes.set_xlim(0, peak * 1.22 if peak > 0 else 1)
        axes.set_xlabel(xlabel)
        axes.set_title(title)
        axes.grid(axis="x", color="#e5e5e5", linewidth=0.8)
        axes.set_axisbelow(True)
        return _to_svg(figure, salt)


def _histogram_svg(histogram: TargetHistogram, facts: dict[str, Any], robust_scale: float) -> str:
    edges = [float(edge) for edge in histogram.edges]
    counts = [float(count) for count in histogram.counts]
    with _rc_context("advisor-target-histogram"):
        figure = _figure(7.2, 3.2)
        axes = figure.add_subplot()
        axes.stairs(counts, edges, fill=True, color=BASE_COLOR)
        positive = [count for count in counts if count > 0]
        log_scale = bool(positive) and max(positive) / min(positive) >= LOG_SCALE_RATIO
        if log_scale:                   # a long tail would be invisible on a linear axis
            axes.set_yscale("log")
        median = _histogram_median(edges, counts)
        if median is not None and robust_scale > 0:
            low, high = median - 3.5 * robust_scale, median + 3.5 * robust_scale
            for start, stop in ((edges[0], low), (high, edges[-1])):
                if stop > start:
                    axes.axvspan(start, stop, color=ACCENT_COLOR, alpha=0.08, linewidth=0)
            axes.axvline(median, color="#333333", linewidth=1, linestyle=":",
                         label="median (from the histogram)")
        mean = facts.get("target_mean")
        if isinstance(mean, (int, float)) and math.isfinite(mean):
            axes.axvline(float(mean), color=STRONG_COLOR, linewidth=1.2, linestyle="--",
                         label="mean")
        marks = []
        for name, label in (("skewness", "skewness"), ("kurtosis", "excess kurtosis"),
                            ("outlier_fraction", "outliers"), ("zero_fraction", "zeros")):
            value = facts.get(name)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                marks.append(f"{label} {value:.1%}" if name.endswith("fraction")
                             else f"{label} {value:.2f}")
        axes.set_title("Target distribution" + (": " + ", ".join(marks) if marks else ""),
                       fontsize=9)
        if median is not None and robust_scale > 0:
            axes.plot([], [], color=ACCENT_COLOR, alpha=0.3, linewidth=6,
                      label="outlier zone (|modified z| > 3.5)")
        if axes.get_legend_handles_labels()[0]:
            axes.legend(fontsize=7.5, frameon=False, loc="upper right")
        axes.set_xlabel("target value")
        axes.set_ylabel("rows (log scale)" if log_scale else "rows")
        axes.set_xlim(edges[0], edges[-1])
        return _to_svg(figure, "target-histogram")


def _histogram_median(edges: list[float], counts: list[float]) -> float | None:
    """The median read off the histogram, interpolated inside its bin."""
    total = sum(counts)
    if total <= 0 or len(edges) != len(counts) + 1:
        return None
    half, running = total / 2.0, 0.0
    for left, right, count in zip(edges, edges[1:], counts):
        if count > 0 and running + count >= half:
            return left + (right - left) * (half - running) / count
        running += count
    return edges[-1]


# ----- helpers ---------------------------------------------------------------------------

def _rc_context(salt: str) -> Any:
    """matplotlib's settings for one plot: the shared style, and a salt that fixes its ids."""
    settings: Any = {**_RC, "svg.hashsalt": salt}      # rc_context's keys are typed as literals
    return matplotlib.rc_context(settings)


def _figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)       # Agg measures text for the layout; nothing global is touched
    return figure


def _jitter(count: int) -> list[float]:
    """Deterministic vertical spread of fold dots, so equal scores do not hide each other."""
    if count <= 1:
        return [0.0] * count
    return [-0.18 + 0.36 * index / (count - 1) for index in range(count)]


def _short(label: str) -> str:
    text = " ".join(str(label).split())
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "\u2026"


_PROLOG = re.compile(r"\A.*?(?=<svg\b)", re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.DOTALL)
_ID = re.compile(r'\bid="([^"]+)"')
_URL_REF = re.compile(r"url\(#([^)]+)\)")
_HREF_REF = re.compile(r'href="#([^"]+)"')
_ALLOWED_TAGS = frozenset({"svg", "defs", "style", "g", "path", "use", "text", "tspan",
                           "clippath", "rect", "circle", "ellipse", "line", "polyline",
                           "polygon", "lineargradient", "radialgradient", "stop", "pattern",
                           "image", "mask", "title", "desc"})


class _ActiveContentCheck(HTMLParser):
    """Collects anything in an SVG that could run or fetch: unknown tags (script,
    foreignObject...), event-handler attributes, and references that leave the document."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _ALLOWED_TAGS:
            self.problems.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"{tag} {name}")
            if name in ("href", "xlink:href", "src") and not (value or "").startswith("#"):
                self.problems.append(f"{tag} {name}={value}")

    handle_startendtag = handle_starttag


def _to_svg(figure: Figure, name: str) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    return _clean_svg(buffer.getvalue(), name)


def _clean_svg(svg: str, name: str) -> str:
    """Inline-ready SVG: no prolog, comments or metadata; ids unique to this plot."""
    svg = _PROLOG.sub("", svg, count=1)
    svg = _COMMENT.sub("", svg)
    svg = _METADATA.sub("", svg, count=1)
    prefix = f"advisor-{name}-"
    svg = _ID.sub(lambda match: f'id="{prefix}{match.group(1)}"', svg)
    svg = _URL_REF.sub(lambda match: f"url(#{prefix}{match.group(1)})", svg)
    svg = _HREF_REF.sub(lambda match: f'href="#{prefix}{match.group(1)}"', svg)
    svg = svg.replace("<svg ", f'<svg class="plot" role="img" aria-label="{name} plot" ', 1)
    check = _ActiveContentCheck()
    check.feed(svg)
    check.close()
    if check.problems:             # matplotlib never writes these; refuse if that ever changes
        raise RuntimeError(f"refusing to inline the {name} plot: unexpected SVG content "
                           f"{', '.join(check.problems[:3])}")
    return svg.strip() + "\n"
