"""The Markdown and HTML reports: content, escaping, determinism, files.

Every report here is rendered from a recommendation dict and then read back (HTML with
``html.parser``, Markdown line by line) to check that the sections are there in order and
that what they show matches the JSON: the top loss and its settings, the metric, every rule
that fired, the experiment's numbers, the data's sha256, the command.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from advisor.errors import AdvisorError, OptionError, ReportError
from advisor.report import (SECTIONS, format_interval, format_number, format_p, format_params,
                            load_saved, md_escape, render_html, render_markdown, save_report)
from advisor.losses import DEFAULT_LOSS
from advisor.result import Candidate, Notice, Reason, Recommendation

ROOT = Path(__file__).resolve().parent.parent
TASKS = ("binary", "multiclass", "multilabel", "ordinal", "regression", "count", "proportion")
NUMERIC_TASKS = ("regression", "count", "proportion")


# ----- fixtures: result.py's own dataclasses, so the dict has exactly to_dict()'s shape -----

def _reason(rule_id: str, effect: str, because: str, *cite: str) -> Reason:
    return Reason(rule_id=rule_id, effect=effect, because=because,
                  cite=cite or (f"Author et al. on {rule_id}, 2020",))


def _candidate(loss: str, rank: int, score: float, verdict: str, params: dict[str, Any],
               reasons: tuple[Reason, ...], evidence: dict[str, Any] | None = None,
               vetoed: bool = False) -> Candidate:
    return Candidate(loss=loss, title=loss.replace("_", " ").capitalize() + " loss", rank=rank,
                     score=score, verdict=verdict, params=params, reasons=reasons,
                     snippets={"pytorch": f"loss_fn = make_{loss}(**{params!r})",
                               "keras": f"loss = keras_{loss}(**{params!r})"},
                     formula=f"formula of {loss}", citation=f"citation of {loss}",
                     vetoed=vetoed, evidence=evidence)


def _evidence(mean: float, low: float, high: float, p_value: float | None, folds: list[float]):
    return {"mean": mean, "ci_low": low, "ci_high": high, "p_value": p_value, "fold_scores": folds}


def synthetic_recommendation(task: str, *, validated: bool = True, classes: tuple[str, ...] | None = None,
                             target: str = "outcome", histogram: bool = True) -> Recommendation:
    """A plausible recommendation for ``task`` built from result.py's dataclasses."""
    numeric = task in NUMERIC_TASKS
    if classes is None:
        classes = {"binary": ("no", "yes"), "multiclass": ("Adelie", "Chinstrap", "Gentoo"),
                   "multilabel": ("asthma", "diabetes", "heart"),
                   "ordinal": ("1", "2", "3", "4", "5")}.get(task, ())
    counts = tuple(range(150, 150 - 37 * len(classes), -37))[: len(classes)]
    best_loss = "huber" if numeric else "weighted_cross_entropy"
    default_loss = DEFAULT_LOSS[task]
    best_params = {"delta": 1.3452} if numeric else {"class_weight": [0.7512, 1.6868, 0.9251][: max(2, len(classes))]}
    candidates = (
        _candidate(best_loss, 1, 3.0, "confirmed" if validated else "not_tested", best_params,
                   (_reason(f"{task}.shape_rule", "+3", f"the {task} target favours {best_loss}"),
                    _reason("metric.aligned", "+1", "the metric rewards it")),
                   _evidence(0.0812, 0.0731, 0.0893, 0.0123, [0.071, 0.083, 0.079, 0.088, 0.085])
                   if validated else None),
        _candidate(default_loss, 2, 1.0, "overturned" if validated else "not_tested", {},
                   (_reason("task.default", "+1", "the naive default for this task"),
                    _reason("metric.aligned", "+1", "the metric rewards it")),
                   _evidence(0.0934, 0.0851, 0.1017, 0.0123, [0.091, 0.097, 0.089, 0.099, 0.091])
                   if validated else None),
        _candidate("focal" if not numeric else "mae", 3, -0.5, "failed" if validated else "not_tested",
                   {"gamma": 2.0} if not numeric else {},
                   (_reason("metric.calibration_penalty", "-0.5", "it distorts what the metric rewards"),),
                   {"mean": None, "error": "diverged on fold 2"} if validated else None),
        _candidate("poisson" if numeric else "mae", 4, 0.0, "vetoed", {},
                   (_reason("activation.incompatible", "veto", "the network's output cannot feed it",
                            "Framework documentation, 2024"),), None, vetoed=True),
    )
    facts = {"task": task, "n_rows": 333.0, "n_features": 6.0, "imbalance_ratio": 2.2353,
             "minority_fraction": 0.2042, "skewness": 1.9 if numeric else 0.0,
             "kurtosis": 5.2 if numeric else 0.0, "outlier_fraction": 0.036 if numeric else 0.0,
             "target_mean": 3.2 if numeric else 0.0, "integer_valued": task == "count",
             "activation": "auto", "metric": "rmse" if numeric else "log_loss"}
    profile: dict[str, Any] = {"task": task, "task_reason": f"detected as {task}", "facts": facts,
                               "classes": list(classes), "class_counts": list(counts),
                               "robust_scale": 1.25 if numeric else 0.0, "quantiles": []}
    if numeric and histogram:
        profile["target_histogram"] = {"edges": [0.0, 1.0, 2.0, 3.0, 4.0, 6.0, 9.0, 14.0],
                                       "counts": [40, 90, 80, 60, 35, 20, 8]}
    validation = None
    if validated:
        validation = {"protocol": {"sample_rows": 333, "folds": 5, "seeds": [0], "budget": 5.0,
                                   "backend": "loky", "proxy": "MLP(32,)", "metric": facts["metric"]},
                      "kendall_tau": 0.6667}
    return Recommendation(
        task=task, task_reason=f"detected as {task}", target=(target,),
        target_reason=f"column {target!r} given with --target", metric=facts["metric"],
        metric_reason="the task's default", activation="auto", framework="pytorch",
        profile=profile, candidates=candidates,
        confidence={"level": "high" if validated else "low",
                    "reason": "confirmed by the experiment" if validated else "rules only"},
        summary=f"For this {task} target {best_loss} fits the data better than {default_loss}.",
        warnings=(Notice("data.small", "only 333 usable rows: the evidence is weak"),),
        audit=None,
        provenance={"source": "data/example.csv", "format": "csv", "bytes": 12345,
                    "sha256": "0123456789abcdef" * 4, "rows": 344, "columns": 8},
        rulebase={"digest": "fedcba9876543210" * 4, "rules": 42,
                  "fired": [f"{task}.shape_rule", "metric.aligned", "task.default",
                            "metric.calibration_penalty", "activation.incompatible"],
                  "sources": ["rules"]},
        settings={"validate": validated, "budget": 5.0, "seed": 7, "n_jobs": 1, "backend": "loky"},
        reproducibility={"command": f"advisor suggest data/example.csv --target {target} --seed 7",
                         "versions": {"advisor": "0.1.0", "python": "3.11.2",
                                      "scikit-learn": "1.9.1", "pandas": "3.1.0", "numpy": "2.4.0"}},
        validation=validation,
    )


def recommendation_dict(task: str, **options: Any) -> dict[str, Any]:
    """The JSON dict, round-tripped through JSON as ``advisor report rec.json`` reads it."""
    return json.loads(synthetic_recommendation(task, **options).to_json())


# ----- reading reports back -------------------------------------------------------------

class Page(HTMLParser):
    """Elements, attributes, section texts and table cells of an HTML report."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.section_ids: list[str] = []
        self.text_by_section: dict[str, list[str]] = {}
        self.tables: dict[str, list[list[str]]] = {}
        self.comments: list[str] = []
        self._section: str | None = None
        self._table: str | None = None
        self._cell: list[str] | None = None
        self._row: list[str] | None = None
        self._skip_style = False
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.elements.append((tag, attributes))
        if tag == "section":
            self._section = attributes.get("id") or ""
            self.section_ids.append(self._section)
            self.text_by_section[self._section] = []
        elif tag == "table":
            self._table = attributes.get("class") or ""
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "style":
            self._skip_style = True

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
            self._skip_style = False

    def handle_data(self, data: str) -> None:
        if self._skip_style:
            return
        if self._section is not None:
            self.text_by_section[self._section].append(data)
        if self._cell is not None:
            self._cell.append(data)

    def handle_comment(self, data: str) -> None:
        self.comments.append(data)

    def text(self, section: str) -> str:
        return " ".join("".join(self.text_by_section[section]).split())

    def row(self, table: str, first_cell_contains: str) -> list[str]:
        for cells in self.tables[table]:
            if any(first_cell_contains == cell or cell.startswith(first_cell_contains + " ")
                   for cell in cells[:2]):
                return cells
        raise AssertionError(f"no row for {first_cell_contains!r} in table {table!r}")


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


# ----- content, both formats, every task ------------------------------------------------

@pytest.mark.parametrize("validated", [True, False], ids=["validated", "rules-only"])
@pytest.mark.parametrize("task", TASKS)
def test_html_report_shows_the_json(task: str, validated: bool) -> None:
    rec = recommendation_dict(task, validated=validated)
    page = Page(render_html(rec))
    best = rec["candidates"][0]

    assert page.section_ids == [section_id for section_id, _ in SECTIONS]
    summary = page.text("summary")
    assert best["title"] in summary and best["loss"] in summary
    assert format_params(best["params"]) in summary
    assert rec["confidence"]["level"] in summary and rec["metric"] in summary
    assert rec["summary"] in summary
    reasoning = page.text("reasoning")
    for rule_id in rec["rulebase"]["fired"]:
        assert page.row("rules", rule_id)[0] == rule_id
    for candidate in rec["candidates"]:
        for reason in candidate["reasons"]:
            assert reason["because"] in reasoning and reason["cite"][0] in reasoning
    assert "the network's output cannot feed it" in page.text("reasoning")   # the veto's reason
    assert f"Why not {rec['candidates'][1]['loss']} (the default)?" in reasoning
    for candidate in rec["candidates"][2:]:
        assert f"Why not {candidate['loss']}?" in reasoning
    ranking = page.row("ranking", "1")
    assert ranking[1].startswith(best["loss"]) and ranking[3] == best["verdict"].replace("_", " ")

    svgs = [tag for tag, _ in page.elements if tag == "svg"]
    experiment = page.text("experiment")
    if validated:
        assert "Not run" not in experiment
        for candidate in rec["candidates"]:
            evidence = candidate["evidence"] or {}
            cells = page.row("evidence", candidate["loss"])
            assert cells[2] == format_number(evidence.get("mean"))
            if evidence.get("ci_low") is not None:
                assert cells[3] == format_interval(evidence["ci_low"], evidence["ci_high"])
                assert cells[4] == format_p(evidence["p_value"])
                assert cells[5] == str(len(evidence["fold_scores"]))
        assert page.row("protocol", "folds")[1] == "5"
        assert page.row("protocol", "kendall tau")[1] == format_number(rec["validation"]["kendall_tau"])
        assert len(svgs) == 2                                   # target distribution + fold scores
    else:
        assert "Not run: this is a rules-only answer" in experiment
        assert "Rules-only answer" in summary
        assert len(svgs) == 1
    snippets = page.text("snippets")
    assert best["snippets"]["pytorch"] in snippets and best["snippets"]["keras"] in snippets
    assert rec["warnings"][0]["message"] in page.text("warnings")
    reproducibility = page.text("reproducibility")
    assert rec["reproducibility"]["command"] in reproducibility
    assert page.row("repro-data", "sha256")[1] == rec["provenance"]["sha256"]
    assert page.row("repro-rules", "digest")[1] == rec["rulebase"]["digest"]
    assert page.row("repro-run", "seed")[1] == "7"
    for name, version in rec["reproducibility"]["versions"].items():
        assert page.row("repro-versions", name)[1] == version
    profile = page.text("profile")
    for label, count in zip(rec["profile"]["classes"], rec["profile"]["class_counts"]):
        assert page.row("classes", label)[1] == str(count)
    assert page.row("facts-table", "n_rows")[1] == "333"
    assert ("target_histogram" in profile) is False


@pytest.mark.parametrize("validated", [True, False], ids=["validated", "rules-only"])
@pytest.mark.parametrize("task", TASKS)
def test_markdown_report_shows_the_json(task: str, validated: bool, tmp_path: Path) -> None:
    rec = recommendation_dict(task, validated=validated)
    markdown = render_markdown(rec, plot_dir=tmp_path / "plots")
    sections = markdown_sections(markdown)
    best = rec["candidates"][0]

    assert list(sections) == [heading for _, heading in SECTIONS]
    assert_tables_intact(markdown)
    summary = sections["Summary"]
    assert f"**Train with {best['title']}** (`{best['loss']}`)" in summary
    assert md_escape(format_params(best["params"])) in summary
    assert md_escape(rec["metric"]) in summary and rec["confidence"]["level"] in summary
    for rule_id in rec["rulebase"]["fired"]:
        assert f"| `{rule_id}` |" in sections["Reasoning"]
    assert "veto `" + rec["candidates"][3]["loss"] + "`" in sections["Reasoning"]
    assert f"**Why not `{rec['candidates'][1]['loss']}` (the default)?**" in sections["Reasoning"]
    assert rec["provenance"]["sha256"] in sections["Reproducibility"]
    assert rec["reproducibility"]["command"] in sections["Reproducibility"]
    assert best["snippets"]["pytorch"] in sections["Snippets"]
    written = sorted(path.name for path in (tmp_path / "plots").iterdir())
    if validated:
        evidence = best["evidence"]
        row = f"| 1 | `{best['loss']}` | {format_number(evidence['mean'])} | " \
              f"{md_escape(format_interval(evidence['ci_low'], evidence['ci_high']))} | " \
              f"{format_p(evidence['p_value'])} | 5 | confirmed |"
        assert row in sections["Experiment"]
        assert written == ["fold-scores.svg", "target-distribution.svg"]
        assert f"]({(tmp_path / 'plots' / 'fold-scores.svg').as_posix()})" in sections["Experiment"]
    else:
        assert "Not run: this is a rules-only answer" in sections["Experiment"]
        assert written == ["target-distribution.svg"]
    assert f"]({(tmp_path / 'plots' / 'target-distribution.svg').as_posix()})" in sections["Data profile"]


def test_markdown_without_plot_dir_writes_nothing_and_says_where_plots_go() -> None:
    markdown = render_markdown(recommendation_dict("binary"))
    assert "![" not in markdown and "--report report.md" in markdown


def test_numeric_target_without_histogram_renders_with_a_note() -> None:
    rec = recommendation_dict("regression", histogram=False)
    page = Page(render_html(rec))
    assert "No distribution plot" in page.text("profile")
    assert len([tag for tag, _ in page.elements if tag == "svg"]) == 1     # only the fold plot


def test_histogram_plot_marks_skew_and_outliers() -> None:
    html = render_html(recommendation_dict("count"))
    assert "skewness 1.90" in html and "outliers 3.6%" in html and "outlier zone" in html


# ----- escaping -------------------------------------------------------------------------

HOSTILE = ("<script>alert(1)</script>", 'say "hi" & {{ 7*7 }}', "a|b", "<img src=x onerror=alert(2)>")


def _assert_no_active_content(html: str) -> Page:
    page = Page(html)
    for tag, attributes in page.elements:
        assert tag not in ("script", "iframe", "object", "embed", "link", "base", "img"), tag
        for name, value in attributes.items():
            assert not name.startswith("on"), (tag, name)
            if name in ("src", "href", "xlink:href", "action"):
                assert value is not None and value.startswith("#"), (tag, name, value)
    for comment in page.comments:
        assert "<" not in comment
    return page


def test_html_escapes_data_strings_in_text_tables_and_plots() -> None:
    rec = recommendation_dict("multiclass", classes=HOSTILE, target='col<b>"&{{x}}')
    html = render_html(rec)
    page = _assert_no_active_content(html)
    for label in HOSTILE:
        assert page.row("classes", label)[0] == label            # shown as the literal text
        if any(character in label for character in "<>&"):
            assert label not in html                              # ...because it was escaped
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    target_svg = html[html.index('id="target-plot"'):html.index("</figure>", html.index('id="target-plot"'))]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in target_svg  # the plot's axis label too
    assert 'say "hi" &amp; {{ 7*7 }}' in target_svg
    assert "49" not in page.text("profile").split("Facts")[0]     # {{ }} was not evaluated
    assert 'col<b>"&{{x}}' in page.text("summary")


def test_markdown_escapes_data_strings() -> None:
    rec = recommendation_dict("multiclass", classes=HOSTILE, target="t|<i>")
    markdown = render_markdown(rec)
    assert_tables_intact(markdown)
    for label in HOSTILE:
        assert label not in markdown
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in markdown
    assert "a\\|b" in markdown and "&lt;img src=x onerror=alert(2)&gt;" in markdown
    assert "say \"hi\" &amp; \\{\\{ 7\\*7 \\}\\}" in markdown
    prose = re.sub(r"```.*?```", "", markdown, flags=re.DOTALL)  # code blocks show it verbatim
    assert "<" not in prose                                      # no raw HTML at all


def test_md_escape_neutralizes_markdown_and_html() -> None:
    assert md_escape("a|b") == "a\\|b"
    assert md_escape("<x> & y") == "&lt;x&gt; &amp; y"
    assert md_escape("*bold* _it_ `code` [link](u)") == "\\*bold\\* \\_it\\_ \\`code\\` \\[link\\](u)"
    assert md_escape("two\nlines") == "two lines"


# ----- the dict is the contract -----------------------------------------------------------

def test_report_renders_from_the_saved_json_alone(tmp_path: Path) -> None:
    recommendation = synthetic_recommendation("binary")
    saved = tmp_path / "rec.json"
    saved.write_text(recommendation.to_json(), encoding="utf-8")
    payload = load_saved(saved)
    assert render_html(payload) == recommendation.to_html()
    assert render_markdown(payload) == recommendation.to_markdown()


def test_same_input_gives_the_same_bytes_in_a_new_process() -> None:
    rec = recommendation_dict("count")
    here = render_html(rec)
    assert render_html(rec) == here
    code = ("import json, sys; from advisor.report import render_html; "
            "sys.stdout.write(render_html(json.loads(sys.stdin.read())))")
    there = subprocess.run([sys.executable, "-c", code], input=json.dumps(rec), cwd=ROOT,
                           capture_output=True, text=True, check=True,
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
    rec = recommendation_dict("binary")
    rec["schema_version"] = "2.0"
    saved = tmp_path / "rec.json"
    saved.write_text(json.dumps(rec), encoding="utf-8")
    with pytest.raises(ReportError, match="schema '2.0' is not supported"):
        load_saved(saved)
    with pytest.raises(ReportError, match="not found"):
        load_saved(tmp_path / "missing.json")


# ----- files --------------------------------------------------------------------------

def test_save_report_html_and_markdown_with_plots_beside(tmp_path: Path) -> None:
    rec = recommendation_dict("multiclass")
    html_path = save_report(rec, tmp_path / "report.html")
    assert html_path == str(tmp_path / "report.html")
    assert (tmp_path / "report.html").read_text(encoding="utf-8") == render_html(rec)
    md_path = save_report(rec, tmp_path / "review.md")
    markdown = Path(md_path).read_text(encoding="utf-8")
    assert "](review-target-distribution.svg)" in markdown and "](review-fold-scores.svg)" in markdown
    assert (tmp_path / "review-fold-scores.svg").read_text(encoding="utf-8").startswith("<svg")
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "report.html", "review-fold-scores.svg", "review-target-distribution.svg", "review.md"]
    assert oct((tmp_path / "report.html").stat().st_mode & 0o777) != oct(0o600)


def test_save_report_format_must_be_given_or_agree_with_the_suffix(tmp_path: Path) -> None:
    rec = recommendation_dict("binary")
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
    rec = recommendation_dict("binary")
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
    rec = recommendation_dict("binary")
    with pytest.raises(ReportError, match="does not exist"):
        save_report(rec, tmp_path / "missing" / "report.html")
    (tmp_path / "dir.html").mkdir()
    with pytest.raises(ReportError, match="is a directory"):
        save_report(rec, tmp_path / "dir.html")
    with pytest.raises(AdvisorError):
        save_report({"not": "a recommendation"}, tmp_path / "x.html")


def test_recommendation_methods_delegate_to_the_report(tmp_path: Path) -> None:
    recommendation = synthetic_recommendation("ordinal")
    assert recommendation.to_html() == render_html(recommendation.to_dict())
    assert recommendation.to_markdown() == render_markdown(recommendation.to_dict())
    written = recommendation.save_report(str(tmp_path / "r.md"))
    assert Path(written).read_text(encoding="utf-8").startswith("# Loss report: outcome")
