"""Terminal rendering: the quick view, a rich table read at a glance.

Works from the typed result (or its saved dict, read back), like every other renderer, so a
saved JSON re-renders identically. Writes to stdout through rich (colour only on a terminal).
"""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from .options import a_or_an
from .report import Result, format_number, recommendation_from
from .report_format import format_decision, format_outputs
from .schema import EvidenceVersusPick

VERDICT_STYLE = {"confirmed": "bold green", "equivalent": "yellow", "overturned": "red",
                 "unstable": "bold red",
                 "failed": "bold red", "not_tested": "dim", "vetoed": "dim red"}


def _console() -> Console:
    """Stdout console; 100 columns when stdout is not a terminal (pipes, logs, CI)."""
    import sys

    width = None if sys.stdout.isatty() else 100
    return Console(highlight=False, soft_wrap=False, width=width)


def format_params(params: dict[str, Any], limit: int = 200) -> str:
    """Compact ``key=value`` text for a table cell; long vectors are shortened."""
    parts = []
    for key, value in params.items():
        if isinstance(value, (list, tuple)):
            shown = ", ".join(format_number(item) for item in value[:4])
            value_text = f"[{shown}{', ...' if len(value) > 4 else ''}]"
        else:
            value_text = format_number(value)
        parts.append(f"{key}={value_text}")
    text = " ".join(parts)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _evidence_cells(evidence: EvidenceVersusPick | None) -> list[str]:
    """The experiment's mean with its interval, and the p-value against the leader."""
    if evidence is None or evidence.mean is None:
        return ["", ""]
    text = f"{evidence.mean:.4g}"
    low, high = evidence.ci_low, evidence.ci_high
    if low is not None and high is not None:  # a t-interval: symmetric around the mean
        text += f" ± {(high - low) / 2:.2g}"
    p_value = evidence.p_value
    return [text, "" if p_value is None else f"{p_value:.2g}"]


def _render_composite(console: Any, composite: Any) -> None:
    """Each target's own loss, then the weighting and what the experiment measured."""
    for part in composite.targets:
        console.print(f"  [bold]{escape(part.column)}[/bold] {part.task}: {part.loss} "
                      f"(judged on {part.metric}; rules' order {', '.join(part.ranking[:3])})")
    console.print(f"[bold]Weighting[/bold] {composite.weighting}: {escape(composite.weighting_reason)}")
    for item in composite.weightings:
        scores = ", ".join(f"{column} {value:.4g} (rank {item.ranks[column]:g})"
                           for column, value in item.scores.items())
        console.print(f"  {item.weighting}: {scores}; mean rank {item.mean_rank:g}")


def render_recommendation(result: Result, *, report_path: str | None = None) -> None:
    """Print the ranked table, the winner's settings and snippet, its reasons and warnings."""
    rec = recommendation_from(result)
    console = _console()
    best = rec.best
    target = ", ".join(rec.target.columns)
    console.print(f"[bold]Target[/bold] {escape(target)}: {escape(rec.target.reason)}")
    console.print(f"[bold]Task[/bold] {rec.task}: {escape(rec.task_reason)}")
    console.print(f"[bold]Metric[/bold] {rec.metric}: {escape(rec.metric_reason)}")
    if rec.composite is not None:
        _render_composite(console, rec.composite)
    console.print()

    from .report_view import judged_on

    validated = rec.validation is not None
    table = Table(title=f"Losses ranked for {a_or_an(rec.task)} target, judged on {judged_on(rec)}",
                  title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("loss", no_wrap=True)
    table.add_column("rules", justify="right")
    table.add_column("verdict", no_wrap=True)
    if validated:
        rows = " (all rows)" if rec.decision.judge == "worst_group" else ""
        table.add_column(f"{rec.metric}{rows} ± 95% CI", no_wrap=True)
        table.add_column("p vs pick", justify="right")
    for candidate in rec.candidates:
        style = VERDICT_STYLE.get(candidate.verdict, "")
        row = [str(candidate.rank), candidate.loss, f"{candidate.score:+.2f}",
               f"[{style}]{candidate.verdict}[/{style}]" if style else candidate.verdict]
        if validated:
            row += _evidence_cells(candidate.evidence)
        table.add_row(*row)
    console.print(table)
    for candidate in rec.candidates:  # a plan's rule, with its values when it was tuned
        if candidate.decision is not None and candidate.decision.splits_tuned:
            console.print(f"{candidate.loss}: {escape(format_decision(candidate.decision))}")
    if rec.validation is not None:
        _print_calibration(console, rec)
    _print_fairness(console, rec)

    settings = format_params(best.params) or "none"
    if best.outputs is not None:
        settings += "; " + format_outputs(best.outputs)
    if best.decision is not None:
        settings += "; " + format_decision(best.decision, how=True)
    console.print(Panel(
        f"[bold]{best.loss}[/bold] ({escape(best.title)}), confidence "
        f"[bold]{rec.confidence.level}[/bold]: {escape(rec.confidence.reason)}\n"
        f"settings: {escape(settings)}\n"
        f"{escape(rec.summary)}",
        title="Recommendation", title_align="left"))
    console.print(f"[bold]{rec.framework} snippet[/bold] (settings derived from your data):")
    # Plain text, never cropped to the terminal width: it is meant to be copied.
    console.out(best.snippets[rec.framework], highlight=False)
    console.print("[bold]Why[/bold]")
    for reason in best.reasons:
        console.print(f"  {reason.effect:>5}  [cyan]{escape(reason.rule_id)}[/cyan]: "
                      f"{escape(reason.explanation)}")
    if rec.audit is not None:
        console.print(f"[bold]Your loss[/bold]: {escape(rec.audit.message)}")
    if rec.warnings:
        console.print("[bold yellow]Warnings[/bold yellow]")
        for warning in rec.warnings:
            console.print(f"  [yellow]![/yellow] {escape(warning.message)} "
                          f"[dim]({escape(warning.code)})[/dim]")
    timing = rec.timing                       # measured figures, present when asked for
    if timing.get("total") is not None:
        experiment = (timing.get("validation") or {}).get("total_seconds")
        line = f"Took {timing['total']:.1f} s"
        if experiment is not None:
            line += (f", of which the experiment {experiment:.1f} s "
                     f"(budget {rec.settings.budget:g} s)")
        console.print(f"[dim]{line}[/dim]")
    if report_path:
        console.print(f"Full report: {escape(report_path)}")
    else:
        console.print("[dim]Full report with the evidence: add --report report.html[/dim]")


def _print_fairness(console: Console, rec: Any) -> None:
    """With a sensitive column: each trained candidate's metric, its worst group's, and
    fairlearn's gaps (advisor.report_view.fairness_rows)."""
    from .report_view import fairness_rows

    rows = fairness_rows(rec)
    if not rows:
        return
    table = Table(title="Fairness across the groups (means over the folds)", title_justify="left",
                  box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for heading in ("loss", rec.metric, "worst group", f"worst-group {rec.metric}",
                    "DP difference", "EO difference"):
        table.add_column(heading, justify="left" if heading in ("loss", "worst group") else "right")
    for row in rows:
        table.add_row(row["loss"], format_number(row["mean"]), escape(str(row["worst_group_name"])),
                      format_number(row["worst_group"]), format_number(row["dp"]),
                      format_number(row["eo"]))
    console.print(table)


def _print_calibration(console: Console, rec: Any) -> None:
    """The trained candidates' primary metric, log loss, Brier and ECE, in a borderless table
    (classification tasks only; see advisor.report_view.calibration_table)."""
    from .report_view import calibration_table

    calibration = calibration_table(rec, rec.validation)
    if calibration is None:
        return
    table = Table(title="Calibration (means over the folds; ↓ lower is better)",
                  title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("loss", no_wrap=True)
    table.add_column(calibration["headings"][0], justify="right")
    for heading in calibration["headings"][1:]:
        table.add_column(f"{heading} ↓", justify="right")
    for row in calibration["rows"]:
        table.add_row(row["loss"], *(format_number(value) for value in row["values"]))
    console.print(table)


def render_rule_list(rulebase: Any, what: str = "rules") -> None:
    """``advisor rules list``: one row per rule."""
    table = Table(title=f"{len(rulebase.rules)} {what} (digest {rulebase.digest[:12]})",
                  title_justify="left")
    table.add_column("id")
    table.add_column("file")
    table.add_column("when")
    for rule in rulebase.rules:
        table.add_row(escape(rule.id), escape(rule.file), escape(rule.when))
    _console().print(table)


def render_rule(rule: Any) -> None:
    """``advisor rules show ID``: the whole rule."""
    console = _console()
    console.print(f"[bold]{escape(rule.id)}[/bold]  ({escape(rule.file)})")
    console.print(f"[bold]when[/bold]    {escape(rule.when)}")
    console.print(f"[bold]because[/bold] {escape(rule.because)}")
    for effect in rule.effects:
        console.print(f"[bold]effect[/bold]  {escape(str(effect))}")
    if rule.warn:
        console.print(f"[bold]warn[/bold]    {escape(rule.warn)}")
    for citation in rule.cite:
        console.print(f"[bold]cite[/bold]    {escape(citation)}")
