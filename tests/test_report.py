"""The Markdown and HTML reports: content, escaping, determinism, files.

Reports are rendered from real recommendations on the bundled datasets (one per task type,
rules-only, plus validated runs on two of them), read back (HTML with ``html.parser``,
Markdown by its level-2 sections) and checked against the JSON they came from: the sections
in order, the top loss and its settings, the metric, every rule that fired, the vetoes, a
"why not" for every other candidate, the experiment's numbers, the snippets, the warnings,
the data's sha256, the rule base's digest and the command. A hand-made recommendation,
built from advisor.schema's records, covers what the bundled data do not produce (a
failed candidate, a numeric target saved without its histogram).
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from advisor import suggest
from advisor.errors import AdvisorError, OptionError, ReportError
from advisor.examples import example_path
from advisor.losses import DEFAULT_LOSS
from advisor.report import (
    SECTIONS,
    format_interval,
    format_number,
    format_p,
    format_params,
    format_value,
    load_saved,
    md_escape,
    render_html,
    render_markdown,
    save_report,
)
from advisor.report_view import PROTOCOL_LABELS
from advisor.schema import (
    Candidate,
    ComparisonWithPick,
    Confidence,
    DataSource,
    DecisionBasis,
    Evidence,
    EvidenceVersusPick,
    ExperimentProtocol,
    Notice,
    PracticalEquivalence,
    ProfileSummary,
    Reason,
    Recommendation,
    Reproducibility,
    RulebaseInfo,
    RunSettings,
    Target,
    TargetHistogram,
    ValidationSummary,
)

ROOT = Path(__file__).resolve().parent.parent
TASKS = ("binary", "multiclass", "multilabel", "ordinal", "regression", "count", "proportion")
#: The bundled example for each task type, with the options it needs.
EXAMPLES: dict[str, tuple[str, dict[str, Any]]] = {
    "binary": ("breast_cancer", {}),
    "multiclass": ("penguins", {}),
    "multilabel": ("health_flags", {"label_sep": "|"}),
    "ordinal": ("marriage_rating", {}),
    "regression": ("diabetes", {}),
    "count": ("doctor_visits", {}),
    "proportion": ("school_pass_rate", {}),
}
#: Validated runs are the slow part: two small datasets, a small budget.
VALIDATED_TASKS = ("multiclass", "regression")
VALIDATION_BUDGET = 5.0
CASES = [(task, False) for task in TASKS] + [(task, True) for task in VALIDATED_TASKS]
CASE_IDS = [f"{task}-{'validated' if validated else 'rules'}" for task, validated in CASES]


@functools.cache
def real_recommendation(task: str, validated: bool = False) -> Recommendation:
    """``advisor.suggest`` on the bundled example of ``task`` (cached: runs once per session)."""
    name, options = EXAMPLES[task]
    recommendation = suggest(str(example_path(name)), validate=validated,
                             budget=VALIDATION_BUDGET, seed=0, **options)
    assert recommendation.task == task
    return recommendation


def real_dict(task: str, validated: bool = False) -> dict[str, Any]:
    """The JSON dict, round-tripped through JSON as ``advisor report rec.json`` reads it."""
    return json.loads(real_recommendation(task, validated).to_json())


# ----- reading reports back ---------------------------------------------------------------

class Page(HTMLParser):
    """Elements, section texts, texts by CSS class and table cells of an HTML report."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.section_ids: list[str] = []
        self.comments: list[str] = []
        self.tables: dict[str, list[list[str]]] = {}             # by the table's first class
        self.all_tables: list[list[list[str]]] = []              # in document order
        self.by_class: dict[str, list[str]] = {}
        self._sections: dict[str, list[str]] = {}
        self._section: str | None = None
        self._table: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._open: list[tuple[str, list[str], list[str]]] = []   # (tag, classes, text)
        self._in_style = False
        self.feed(html)
        self.close()

    VOID = frozenset({"meta", "br", "img", "link", "hr", "input", "path", "use", "rect",
                      "stop", "circle", "line", "polyline", "polygon", "ellipse"})

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.elements.append((tag, attributes))
        if tag == "section":
            self._section = attributes.get("id") or ""
            self.section_ids.append(self._section)
            self._sections[self._section] = []
        elif tag == "table":
            self._table = (attributes.get("class") or "").split()[0] if attributes.get("class") else ""
            self.tables[self._table] = []
            self.all_tables.append(self.tables[self._table])
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "style":
            self._in_style = True
        if tag not in self.VOID:
            self._open.append((tag, (attributes.get("class") or "").split(), []))
        if tag == "br" and self._cell is not None:
            self._cell.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            self._section = None
        elif tag == "table":
            self._table = None
        elif tag == "tr" and self._row is not None and self._table is not None:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "style":
            self._in_style = False
        while self._open:
            open_tag, classes, text = self._open.pop()
            for name in classes:
                self.by_class.setdefault(name, []).append(" ".join("".join(text).split()))
            if open_tag == tag:
                break

    def handle_data(self, data: str) -> None:
        if self._in_style:
            return
        if self._section is not None:
            self._sections[self._section].append(data)
        if self._cell is not None:
            self._cell.append(data)
        for _, _, text in self._open:
            text.append(data)

    def handle_comment(self, data: str) -> None:
        self.comments.append(data)

    def text(self, section: str) -> str:
        return " ".join("".join(self._sections[section]).split())

    def row(self, table: str, key: str) -> list[str]:
        """The first row of ``table`` whose first or second cell is ``key`` (or starts with it)."""
        for cells in self.tables[table]:
            if any(cell == key or cell.startswith(key + " ") for cell in cells[:2]):
                return cells
        raise AssertionError(f"no row for {key!r} in table {table!r}")


def markdown_sections(markdown: str) -> dict[str, str]:
    """Level-2 heading -> its body."""
    sections: dict[str, list[str]] = {}
    current = None
    for line in markdown.splitlines():
        if line.startswith("## "):
            current = line[3:].strip()
            sections[current] = []
        elif current is not None:
            sections[current].append(line)
    return {name: "\n".join(lines) for name, lines in sections.items()}


def unescaped_pipes(line: str) -> int:
    count, escaped = 0, False
    for character in line:
        if character == "|" and not escaped:
            count += 1
        escaped = character == "\\" and not escaped
    return count


def assert_tables_intact(markdown: str) -> None:
    """Every row of every Markdown table has as many cells as its header."""
    lines = markdown.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("|") and index + 1 < len(lines) and lines[index + 1].startswith("|---"):
            width = unescaped_pipes(line)
            for row in lines[index + 1:]:
                if not row.startswith("|"):
                    break
                assert unescaped_pipes(row) == width, f"broken table row: {row!r}"


def squash(text: str) -> str:
    return " ".join(str(text).split())


# ----- content, both formats, every task type, real data ----------------------------------

@pytest.mark.parametrize("task, validated", CASES, ids=CASE_IDS)
def test_html_report_shows_the_json(task: str, validated: bool) -> None:
    rec = real_dict(task, validated)
    page = Page(render_html(rec))
    best = rec["candidates"][0]

    assert page.section_ids == [section_id for section_id, _ in SECTIONS]
    summary = page.text("summary")
    assert page.by_class["top-loss"] == [best["title"]] and page.by_class["loss-id"] == [best["loss"]]
    assert page.by_class["settings"] == [squash(format_params(best["params"]))]
    assert rec["confidence"]["level"] in summary and squash(rec["confidence"]["reason"]) in summary
    assert rec["metric"] in summary and squash(rec["summary"]) in summary

    reasoning = page.text("reasoning")
    assert set(rec["rulebase"]["fired"]) <= set(page.by_class["rule-id"])
    for candidate in rec["candidates"]:
        ranking = page.row("ranking", str(candidate["rank"]))
        assert ranking[1].startswith(candidate["loss"]) and ranking[2] == ("+" if candidate["score"] > 0 else "") + format_number(candidate["score"])
        for reason in candidate["reasons"]:
            assert squash(reason["because"]) in reasoning
            assert all(squash(citation) in reasoning for citation in reason["cite"])
            if reason["effect"] == "veto":
                assert f"{candidate['loss']} vetoed by {reason['rule_id']}" in reasoning
        if candidate is not best:
            default = " (the default)" if candidate["loss"] == DEFAULT_LOSS[task] else ""
            assert f"Why not {candidate['loss']}{default}?" in reasoning

    experiment = page.text("experiment")
    svgs = [attributes for tag, attributes in page.elements if tag == "svg"]
    if validated:
        protocol = rec["validation"]["protocol"]
        assert page.row("protocol", "folds")[1] == format_number(protocol["folds"])
        assert page.row("protocol", "rows used")[1] == format_number(protocol["sample_rows"])
        for reason in protocol["reasons"]:
            assert squash(reason) in experiment
        tested = [candidate for candidate in rec["candidates"] if candidate["evidence"]]
        assert len(tested) >= 2
        for candidate in tested:
            evidence = candidate["evidence"]
            cells = page.row("evidence", candidate["loss"])
            roles = [role for role in evidence["roles"] if role != "rules"]
            assert cells[1] == " ".join([candidate["loss"], *roles])
            assert cells[2] == format_number(evidence["mean"])
            assert cells[3] == format_interval(evidence["ci_low"], evidence["ci_high"])
            assert cells[5] == format_p(evidence["p_value"])
            assert cells[6] == str(len(evidence["fold_scores"]))
            assert cells[7].startswith(candidate["verdict"].replace("_", " "))
        agreement = rec["validation"]["agreement"]
        if agreement:
            assert f"Kendall tau {format_number(agreement['kendall_tau'])}" in experiment
        assert [svg.get("aria-label") for svg in svgs] == ["target-classes plot" if task == "multiclass"
                                                          else "target-histogram plot", "folds plot"]
    else:
        assert "Not run: this is a rules-only answer" in experiment and "Rules-only answer" in summary
        assert len(svgs) == 1

    snippets = page.text("snippets")
    for code in best["snippets"].values():
        assert squash(code) in snippets
    for warning in rec["warnings"]:
        assert squash(warning["message"]) in page.text("warnings")
    assert squash(rec["reproducibility"]["command"]) in page.text("reproducibility")
    assert page.row("repro-data", "sha256")[1] == rec["provenance"]["sha256"]
    assert page.row("repro-rules", "digest")[1] == rec["rulebase"]["digest"]
    assert page.row("repro-run", "seed")[1] == "0"
    for name, version in rec["reproducibility"]["versions"].items():
        assert page.row("repro-versions", name)[1] == version

    for label, count in zip(rec["profile"]["classes"], rec["profile"]["class_counts"]):
        assert page.row("classes", label)[1] == str(count)
    for name, value in rec["profile"]["facts"].items():
        assert page.row("facts-table", name)[1] == squash(format_number(value))


@pytest.mark.parametrize("task, validated", CASES, ids=CASE_IDS)
def test_markdown_report_shows_the_json(task: str, validated: bool, tmp_path: Path) -> None:
    rec = real_dict(task, validated)
    markdown = render_markdown(rec, plot_dir=tmp_path / "plots")
    sections = markdown_sections(markdown)
    best = rec["candidates"][0]

    assert list(sections) == [heading for _, heading in SECTIONS]
    assert_tables_intact(markdown)
    summary = sections["Summary"]
    assert f"**Train with {md_escape(best['title'])}** (`{best['loss']}`)" in summary
    assert f"**Settings:** {md_escape(format_params(best['params']))}" in summary
    assert md_escape(rec["metric"]) in summary and md_escape(rec["summary"]) in summary
    for rule_id in rec["rulebase"]["fired"]:
        assert f"| `{rule_id}` |" in sections["Reasoning"]
    for candidate in rec["candidates"][1:]:
        default = " (the default)" if candidate["loss"] == DEFAULT_LOSS[task] else ""
        assert f"**Why not `{candidate['loss']}`{default}?**" in sections["Reasoning"]
        if candidate["vetoed"]:
            assert f"- `{candidate['loss']}` vetoed by `" in sections["Reasoning"]
    assert f"| sha256 | {rec['provenance']['sha256']} |" in sections["Reproducibility"]
    assert rec["reproducibility"]["command"] in sections["Reproducibility"]
    for code in best["snippets"].values():
        assert code.rstrip("\n") in sections["Snippets"]
    written = sorted(path.name for path in (tmp_path / "plots").iterdir())
    if validated:
        for candidate in rec["candidates"]:
            evidence = candidate["evidence"]
            if evidence:
                assert (f"| {candidate['rank']} | `{candidate['loss']}` | {md_escape(', '.join(evidence['roles']))} | "
                        f"{format_number(evidence['mean'])} | "
                        f"{md_escape(format_interval(evidence['ci_low'], evidence['ci_high']))} |"
                        ) in sections["Experiment"]
        assert written == ["fold-scores.svg", "target-distribution.svg"]
        assert f"]({(tmp_path / 'plots' / 'fold-scores.svg').as_posix()})" in sections["Experiment"]
    else:
        assert "Not run: this is a rules-only answer" in sections["Experiment"]
        assert written == ["target-distribution.svg"]
    assert f"]({(tmp_path / 'plots' / 'target-distribution.svg').as_posix()})" in sections["Data profile"]
    for label, count in zip(rec["profile"]["classes"], rec["profile"]["class_counts"]):
        assert f"| {md_escape(label)} | {count} |" in sections["Data profile"]


def test_markdown_without_plot_dir_writes_nothing_and_says_where_plots_go() -> None:
    markdown = render_markdown(real_dict("binary"))
    assert "![" not in markdown and "--report report.md" in markdown


def test_histogram_plot_marks_skew_and_outliers() -> None:
    rec = real_dict("count")
    facts = rec["profile"]["facts"]
    html = render_html(rec)
    assert f"skewness {facts['skewness']:.2f}" in html
    assert f"outliers {facts['outlier_fraction']:.1%}" in html and "outlier zone" in html
    assert "rows (log scale)" in html                      # a long-tailed count


# ----- hand-made recommendations for what the bundled data do not produce -------------------

def _reason(rule_id: str, delta: float, because: str) -> Reason:
    return Reason(rule_id, None, "score", delta, because, (f"Author on {rule_id}, 2020",), "")


def _candidate(loss: str, rank: int, score: float, verdict: str, reasons: tuple[Reason, ...],
               evidence: EvidenceVersusPick | None = None, vetoed: bool = False) -> Candidate:
    return Candidate(loss=loss, title=f"{loss} loss", rank=rank, score=score, verdict=verdict,
                     params={"delta": 1.345} if loss == "huber" else {}, reasons=reasons,
                     snippets={"pytorch": f"loss_fn = {loss}()", "keras": f"loss = {loss}()"},
                     formula=f"formula of {loss}", citation=f"citation of {loss}",
                     vetoed=vetoed, evidence=evidence)


def _evidence(loss: str, mean: float | None, folds: list[float], roles: tuple[str, ...],
              p_value: float | None = None, error: str | None = None) -> EvidenceVersusPick:
    low = None if mean is None else mean - 0.1
    high = None if mean is None else mean + 0.1
    versus = None
    if p_value is not None:
        versus = ComparisonWithPick(
            a=loss, b="huber", n_folds=len(folds), mean_difference=-0.2, standardized_difference=-2.0,
            ci_low=-0.3, ci_high=-0.1, t_statistic=-4.0, p_value=p_value, wilcoxon_p=None,
            significant=True, better="huber",
            practical=PracticalEquivalence(rope=0.0075, better=0.01, equivalent=0.02, worse=0.97))
    return EvidenceVersusPick(
        loss=loss, rule_rank=None, roles=roles, status="failed" if error else "tested",
        error=error, unstable=None, metric="rmse", mean=mean, std=None if mean is None else 0.1,
        ci_low=low, ci_high=high, fold_scores=tuple(folds),
        means={} if mean is None else {"rmse": mean, "mae": mean / 2},
        folds={} if mean is None else {"rmse": tuple(folds)}, epochs_run=(), epoch_cap_folds=0,
        versus=versus, p_value=p_value)


def _protocol() -> ExperimentProtocol:
    return ExperimentProtocol(
        task="regression", metric="rmse", greater_is_better=False, metrics=("rmse", "mae"),
        candidates=("huber", "mse", "poisson"), rows_available=150, sample_rows=150,
        stratified_on="target quantiles", folds=3, repeats=1, splits_planned=3, splits_used=3,
        test_train_ratio=0.5, epochs=40, hidden=(32,), solver="adam", seed=3, alpha=0.05,
        budget=60.0, backend="loky", n_jobs=1, workers=1, within_budget=True,
        reasons=("rows: all 150",))


def synthetic_recommendation(*, histogram: bool = False) -> Recommendation:
    """A regression result with a failed candidate and, by default, no target histogram."""
    profile = ProfileSummary(
        task="regression", task_reason="numbers", classes=(), class_counts=(), robust_scale=1.0,
        quantiles=(), n_features_used=2,
        facts={"n_rows": 150.0, "skewness": 0.4, "outlier_fraction": 0.01, "target_mean": 2.0},
        target_histogram=TargetHistogram(edges=(0.0, 1.0, 2.0, 3.0, 4.0), counts=(10, 50, 60, 30))
        if histogram else None)
    candidates = (
        _candidate("huber", 1, 2.0, "confirmed", (_reason("shape.outliers", 2, "outliers"),),
                   _evidence("huber", 1.5, [1.4, 1.6, 1.5], ("rules",))),
        _candidate("mse", 2, 1.0, "overturned", (_reason("task.default", 1, "the default"),),
                   _evidence("mse", 1.7, [1.6, 1.8, 1.7], ("rules", "default"), p_value=0.012)),
        _candidate("poisson", 3, 0.5, "failed", (),
                   _evidence("poisson", None, [], ("rules",), error="diverged on split 2")),
    )
    validation = ValidationSummary(
        protocol=_protocol(), metric="rmse", rule_choice="huber", rule_order=("huber", "mse"),
        empirical_order=("huber", "mse"), agreement=None,
        candidates=tuple(Evidence(**{name: getattr(candidate.evidence, name)
                                     for name in Evidence.__dataclass_fields__})
                         for candidate in candidates if candidate.evidence is not None),
        comparisons=(), notices=())
    return Recommendation(
        task="regression", task_reason="numbers", target=Target(columns=("y",), reason="last column"),
        metric="rmse", metric_reason="default", activation="auto", framework="keras",
        profile=profile, candidates=candidates, confidence=Confidence(level="high", reason="won"),
        decision=DecisionBasis(basis="evidence", leader="huber", margin=0.0075, metric="rmse"),
        summary="huber beat mse.", warnings=(Notice("data.small", "only 150 rows"),),
        default_loss="mse", audit=None,
        provenance=DataSource(source="<dataframe>", format="dataframe", bytes=None,
                              sha256="ab" * 32, rows=150, columns=3),
        rulebase=RulebaseInfo(digest="cd" * 32, rules=2, fired=("shape.outliers", "task.default"),
                              sources=("rules/shape.toml",), overrides=()),
        settings=RunSettings(validate=True, budget=60.0, seed=3, n_jobs=1, backend="loky", rules=(),
                             label_sep=None, label_noise=False, quantiles=(), task_given=None,
                             loss_given=None, positive_given=None),
        reproducibility=Reproducibility(command="advisor suggest DATA.csv --seed 3",
                                        versions={"advisor": "0.1.0"}),
        validation=validation, timing={"validation": {"total_seconds": 1.234}})


def test_failed_candidate_and_missing_histogram() -> None:
    rec = json.loads(synthetic_recommendation().to_json())
    page = Page(render_html(rec))
    assert "No distribution plot" in page.text("profile")
    assert [attributes.get("aria-label") for tag, attributes in page.elements if tag == "svg"] == ["folds plot"]
    assert page.row("evidence", "poisson")[7] == "failed diverged on split 2"
    assert "its proxy failed in the experiment: diverged on split 2" in page.text("reasoning")
    assert page.row("evidence", "mse")[1] == "mse default"
    assert page.row("evidence", "mse")[4] == "-0.2 [-0.3, -0.1]"
    assert "Mean rmse 1.5 (interval [1.4, 1.6]) against 1.7 for the default mse (p = 0.012)" in page.text("summary")
    assert "1.234" not in render_html(json.loads(synthetic_recommendation().to_json(include_timing=True)))
    assert page.text("snippets").index("Keras") < page.text("snippets").index("PyTorch")


def test_numeric_histogram_without_outlier_zone_when_scale_is_zero() -> None:
    recommendation = synthetic_recommendation(histogram=True)
    rec = json.loads(recommendation.to_json())
    rec["profile"]["robust_scale"] = 0.0
    html = render_html(rec)
    assert "outlier zone" not in html and "skewness 0.40" in html


# ----- escaping: a dataset whose names and labels are hostile -------------------------------

HOSTILE_LABELS = ("<script>alert(1)</script>", 'say "hi" & {{ 7*7 }}', "a|b",
                  "<img src=x onerror=alert(2)>")
HOSTILE_TARGET = '<script>t</script> & "{{ y }}"'


@functools.cache
def hostile_dict() -> dict[str, Any]:
    rng = np.random.default_rng(0)
    rows = 160
    frame = pd.DataFrame({
        'x "1" & <b>': rng.normal(size=rows),
        "{{ x2 }}": rng.normal(size=rows),
        HOSTILE_TARGET: np.array(HOSTILE_LABELS, dtype=object)[np.arange(rows) % len(HOSTILE_LABELS)],
    })
    recommendation = suggest(frame, target=HOSTILE_TARGET, validate=False)
    assert set(recommendation.profile.classes) == set(HOSTILE_LABELS)
    return json.loads(recommendation.to_json())


def _assert_no_active_content(html: str) -> Page:
    page = Page(html)
    for tag, attributes in page.elements:
        assert tag not in ("script", "iframe", "object", "embed", "link", "base", "img", "form",
                           "foreignobject"), tag
        for name, value in attributes.items():
            assert not name.startswith("on"), (tag, name)
            if name in ("src", "href", "xlink:href", "action", "formaction"):
                assert value is not None and value.startswith("#"), (tag, name, value)
    for comment in page.comments:
        assert "<" not in comment and ">" not in comment
    return page


def test_html_shows_hostile_names_and_labels_as_text() -> None:
    rec = hostile_dict()
    html = render_html(rec)
    page = _assert_no_active_content(html)
    for label in HOSTILE_LABELS:
        assert page.row("classes", label)[0] == label              # the literal text is shown
        if any(character in label for character in "<>&"):
            assert label not in html                                # ...because it was escaped
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    start = html.index('id="target-plot"')
    target_svg = html[start:html.index("</figure>", start)]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in target_svg    # the plot's tick label too
    assert 'say "hi" &amp; {{ 7*7 }}' in target_svg
    assert "49" not in page.text("profile").split("Facts")[0]       # {{ }} was not evaluated
    assert HOSTILE_TARGET in page.text("summary")
    assert HOSTILE_TARGET in " ".join(page.by_class["command"])     # inside <pre>, still as text


def test_markdown_shows_hostile_names_and_labels_as_text() -> None:
    markdown = render_markdown(hostile_dict())
    assert_tables_intact(markdown)
    prose = re.sub(r"```.*?```", "", markdown, flags=re.DOTALL)    # code blocks show it verbatim
    for label in HOSTILE_LABELS:
        assert label not in prose
    assert "<" not in prose and ">" not in prose.replace(" > ", "")  # no raw HTML at all
    assert "| &lt;script&gt;alert(1)&lt;/script&gt; |" in markdown
    assert "| a\\|b |" in markdown and "| &lt;img src=x onerror=alert(2)&gt; |" in markdown
    assert '| say "hi" &amp; \\{\\{ 7\\*7 \\}\\} |' in markdown


def test_markdown_read_by_a_commonmark_parser_shows_the_labels_as_text() -> None:
    from markdown_it import MarkdownIt  # installed with rich

    html = MarkdownIt("commonmark").enable("table").render(render_markdown(hostile_dict()))
    page = _assert_no_active_content(html)
    classes = page.all_tables[0]
    assert classes[0] == ["class", "rows", "share"]
    assert sorted(row[0] for row in classes[1:]) == sorted(HOSTILE_LABELS)
    assert all(len(row) == 3 for row in classes)


def test_md_escape_neutralizes_markdown_and_html() -> None:
    assert md_escape("a|b") == "a\\|b"
    assert md_escape("<x> & y") == "&lt;x&gt; &amp; y"
    assert md_escape("*bold* _it_ `code` [link](u)") == "\\*bold\\* \\_it\\_ \\`code\\` \\[link\\](u)"
    assert md_escape("two\nlines") == "two lines"


def test_number_filters() -> None:
    assert format_number(0.123456789) == "0.1235" and format_number(3.0) == "3"
    assert format_number(None) == "\u2014" and format_number(True) == "true"
    assert format_p(0.0004) == "< 0.001" and format_p(0.04891) == "0.049"
    assert format_value({"a": [0.5, 1.25], "b": None}) == "{a: [0.5, 1.25], b: \u2014}"


# ----- the dict is the contract ----------------------------------------------------------------

def test_report_renders_from_the_saved_json_alone(tmp_path: Path) -> None:
    recommendation = real_recommendation("ordinal")
    saved = tmp_path / "rec.json"
    saved.write_text(recommendation.to_json(), encoding="utf-8")
    payload = load_saved(saved)
    assert render_html(payload) == recommendation.to_html()
    assert render_markdown(payload) == recommendation.to_markdown()


def test_the_live_result_and_its_saved_json_render_the_same() -> None:
    recommendation = real_recommendation("regression", True)
    rec = real_dict("regression", True)
    assert recommendation.to_html() == render_html(rec)
    assert recommendation.to_markdown() == render_markdown(rec)


def test_every_protocol_field_has_a_label_in_the_report() -> None:
    shown_elsewhere = {"task", "reasons"}                   # the summary, the list below the table
    assert set(PROTOCOL_LABELS) == set(ExperimentProtocol.__dataclass_fields__) - shown_elsewhere


def test_load_saved_refuses_a_misspelt_key(tmp_path: Path) -> None:
    rec = real_dict("binary")
    rec["candidates"][0]["verdicts"] = rec["candidates"][0].pop("verdict")
    saved = tmp_path / "rec.json"
    saved.write_text(json.dumps(rec), encoding="utf-8")
    with pytest.raises(ReportError, match=r"candidates\[0\]: unknown key 'verdicts'"):
        load_saved(saved)


def test_same_input_gives_the_same_bytes_in_a_new_process() -> None:
    rec = real_dict("multiclass", True)
    here = render_html(rec)
    assert render_html(rec) == here
    code = ("import json, sys; from advisor.report import render_html; "
            "sys.stdout.write(render_html(json.loads(sys.stdin.read())))")
    there = subprocess.run([sys.executable, "-c", code], input=json.dumps(rec), cwd=ROOT,
                           capture_output=True, text=True, check=True, encoding="utf-8",
                           env={**os.environ, "PYTHONHASHSEED": "123"}).stdout
    assert there == here


@pytest.mark.parametrize("text, message", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "expected a JSON object"),
    ('{"schema_version": "1.0", "task": "binary"}', "missing metric, candidates, profile"),
])
def test_load_saved_refuses_what_is_not_a_recommendation(tmp_path: Path, text: str, message: str) -> None:
    saved = tmp_path / "rec.json"
    saved.write_text(text, encoding="utf-8")
    with pytest.raises(ReportError, match=message):
        load_saved(saved)


def test_load_saved_refuses_another_schema_major_and_a_missing_file(tmp_path: Path) -> None:
    rec = real_dict("binary")
    rec["schema_version"] = "3.0"
    saved = tmp_path / "rec.json"
    saved.write_text(json.dumps(rec), encoding="utf-8")
    with pytest.raises(ReportError, match="schema '3.0' is not supported"):
        load_saved(saved)
    with pytest.raises(ReportError, match="not found"):
        load_saved(tmp_path / "missing.json")


# ----- files ----------------------------------------------------------------------------------

def test_save_report_html_and_markdown_with_plots_beside(tmp_path: Path) -> None:
    rec = real_dict("multiclass", True)
    html_path = save_report(rec, tmp_path / "report.html")
    assert html_path == str(tmp_path / "report.html")
    assert (tmp_path / "report.html").read_text(encoding="utf-8") == render_html(rec)
    md_path = save_report(rec, tmp_path / "review.md")
    markdown = Path(md_path).read_text(encoding="utf-8")
    assert "](review-target-distribution.svg)" in markdown and "](review-fold-scores.svg)" in markdown
    assert (tmp_path / "review-fold-scores.svg").read_text(encoding="utf-8").startswith("<svg")
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "report.html", "review-fold-scores.svg", "review-target-distribution.svg", "review.md"]
    assert (tmp_path / "report.html").stat().st_mode & 0o044    # readable like any new file


def test_save_report_format_must_be_given_or_agree_with_the_suffix(tmp_path: Path) -> None:
    rec = real_dict("binary")
    assert save_report(rec, tmp_path / "out.txt", format="markdown").endswith("out.txt")
    assert save_report(rec, tmp_path / "page.htm").endswith("page.htm")
    with pytest.raises(ReportError, match="cannot tell the report format"):
        save_report(rec, tmp_path / "report.txt")
    with pytest.raises(ReportError, match="cannot tell the report format"):
        save_report(rec, tmp_path / "report")
    with pytest.raises(ReportError, match="does not match the suffix"):
        save_report(rec, tmp_path / "report.html", format="markdown")
    with pytest.raises(OptionError, match="format must be one of html, markdown"):
        save_report(rec, tmp_path / "report.pdf", format="pdf")
    assert not (tmp_path / "report.html").exists() and not (tmp_path / "report.txt").exists()


def test_save_report_replaces_only_when_asked(tmp_path: Path) -> None:
    rec = real_dict("binary")
    path = tmp_path / "report.html"
    path.write_text("keep me", encoding="utf-8")
    with pytest.raises(ReportError, match="already exists"):
        save_report(rec, path, overwrite=False)
    assert path.read_text(encoding="utf-8") == "keep me"
    (tmp_path / "notes-target-distribution.svg").write_text("mine", encoding="utf-8")
    with pytest.raises(ReportError, match="notes-target-distribution.svg' already exists"):
        save_report(rec, tmp_path / "notes.md", overwrite=False)
    assert not (tmp_path / "notes.md").exists()
    save_report(rec, path)                                     # overwrite=True is the ask
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert sorted(entry.name for entry in tmp_path.iterdir()) == [
        "notes-target-distribution.svg", "report.html"]        # no temporary file left behind


def test_save_report_bad_places_are_report_errors(tmp_path: Path) -> None:
    rec = real_dict("binary")
    with pytest.raises(ReportError, match="does not exist"):
        save_report(rec, tmp_path / "missing" / "report.html")
    (tmp_path / "dir.html").mkdir()
    with pytest.raises(ReportError, match="is a directory"):
        save_report(rec, tmp_path / "dir.html")
    with pytest.raises(AdvisorError):
        save_report({"not": "a recommendation"}, tmp_path / "x.html")


def test_recommendation_methods_delegate_to_the_report(tmp_path: Path) -> None:
    recommendation = real_recommendation("proportion")
    assert recommendation.to_html() == render_html(recommendation.to_dict())
    assert recommendation.to_markdown() == render_markdown(recommendation.to_dict())
    written = recommendation.save_report(str(tmp_path / "r.md"))
    assert Path(written).read_text(encoding="utf-8").startswith("# Loss report: pass\\_rate")


def test_validated_classification_reports_show_the_calibration_table(tmp_path: Path, capsys) -> None:
    from advisor.render_text import render_recommendation
    from advisor.report_view import CALIBRATION_NOTE

    rec = real_dict("multiclass", True)
    assert rec["metric"] == "log_loss"
    trained = [candidate for candidate in rec["candidates"] if candidate["evidence"]]
    assert len(trained) >= 2
    assert "Judged on log loss, a proper scoring rule" in rec["summary"]
    experiment = markdown_sections(render_markdown(rec, plot_dir=tmp_path))["Experiment"]
    assert "### Calibration of the probabilities" in experiment
    assert "| loss | role | log loss (primary) | Brier | ECE |" in experiment
    assert md_escape(CALIBRATION_NOTE) in experiment
    page = Page(render_html(rec))
    for candidate in trained:
        means = candidate["evidence"]["means"]
        values = [format_number(means[name]) for name in ("log_loss", "brier", "ece")]
        roles = md_escape(", ".join(candidate["evidence"]["roles"]))
        assert f"| `{candidate['loss']}` | {roles} | {' | '.join(values)} |" in experiment
        assert page.row("calibration", candidate["loss"])[2:] == values
    # the calibration metrics are not repeated in the other metrics table
    other = experiment.split("### Other metrics", 1)[1].split("\n\n", 2)[1]
    assert "ECE" not in other and "brier" not in other and "accuracy" in other
    render_recommendation(real_recommendation("multiclass", True))
    terminal = capsys.readouterr().out
    assert "Calibration (means over the folds" in terminal
    for candidate in trained:
        line = next(row for row in terminal.splitlines() if row.split()[:1] == [candidate["loss"]]
                    and "ECE" not in row and len(row.split()) == 4)
        assert line.split()[1:] == [format_number(candidate["evidence"]["means"][name])
                                    for name in ("log_loss", "brier", "ece")]


def test_regression_reports_have_no_calibration_table(tmp_path: Path) -> None:
    rec = real_dict("regression", True)
    assert "Calibration of the probabilities" not in render_markdown(rec, plot_dir=tmp_path)
    assert 'class="calibration"' not in render_html(rec)
