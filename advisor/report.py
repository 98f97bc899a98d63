"""Reports for reviewers: GitHub Markdown and one self-contained HTML file.

Both render from the typed result alone (:class:`~advisor.schema.Recommendation`, or the dict
``Recommendation.to_dict()`` wrote, read back with ``Recommendation.from_dict``), so
``advisor report rec.json`` re-renders a saved result without recomputing anything.
:mod:`advisor.report_view` builds the format-neutral view, the Jinja2 templates in
``advisor/templates`` lay it out, :mod:`advisor.report_format` formats and escapes the values,
and this module draws the plots (matplotlib SVG, see :mod:`advisor.plots`; inlined in HTML,
written beside the Markdown file) and writes the files.

Files are written atomically (temporary file in the same directory, then ``os.replace``);
the format is never guessed from a file name: it is given, or read from a known suffix.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from .errors import OptionError, ReportError
from .record_codec import SchemaError
from .report_format import (
    format_interval,
    format_number,
    format_p,
    format_params,
    format_value,
    jinja_environment,
    md_escape,
    safe_markup,
)
from .report_view import SECTIONS, build_view, fold_scores_of, interval_of, mean_of
from .schema import SCHEMA_VERSION, Recommendation

REPORT_FORMATS: tuple[str, ...] = ("markdown", "html")
FORMAT_ALIASES = {"md": "markdown", "htm": "html"}
SUFFIX_FORMATS: dict[str, str] = {".md": "markdown", ".markdown": "markdown",
                                  ".html": "html", ".htm": "html"}

#: Plot file names (Markdown) and the keys the templates use.
PLOT_FILES: dict[str, str] = {"target": "target-distribution.svg", "folds": "fold-scores.svg"}

_REQUIRED_KEYS = ("task", "metric", "candidates", "profile")
_SUPPORTED_SCHEMA_MAJOR = SCHEMA_VERSION.split(".")[0]

#: What the renderers take: the result itself, or its dict (checked and read back first).
Result = Recommendation | dict[str, Any]


# ----- public API ---------------------------------------------------------------------------

def render_html(rec: Result) -> str:
    """One self-contained HTML page: inline CSS and SVG, no script, nothing fetched."""
    view = build_view(recommendation_from(rec))
    view["plots"] = {name: safe_markup(svg) for name, svg in _plots(view).items()}
    return jinja_environment("html").get_template("report.html.j2").render(view=view)


def render_markdown(rec: Result, *, plot_dir: str | os.PathLike[str] | None = None) -> str:
    """GitHub-flavoured Markdown. With ``plot_dir``, the plots are written there as SVG files
    (the directory is created if needed) and linked by that path; without it, no plot."""
    rec = recommendation_from(rec)
    if plot_dir is None:
        return _render_markdown(rec, plot_files=None)[0]
    directory = Path(plot_dir)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ReportError(f"cannot create the plot directory {str(directory)!r}: "
                          f"{error.strerror or error}") from None
    text, plot_outputs = _render_markdown(
        rec, plot_files={key: (directory / name, (directory / name).as_posix())
                         for key, name in PLOT_FILES.items()})
    for file, svg in plot_outputs:
        _atomic_write(file, svg, overwrite=True)
    return text


def save_report(rec: Result, path: str | os.PathLike[str], *, format: str | None = None,
                overwrite: bool = True) -> str:
    """Write the report to ``path`` atomically and return the path written.

    ``format`` is ``markdown`` or ``html``; when omitted, a ``.md``/``.markdown`` or
    ``.html``/``.htm`` suffix decides, and any other suffix is an error (never a guess).
    An existing file is replaced only when ``overwrite`` is true (the caller named it).
    Markdown plots are written beside the report as ``<stem>-<plot>.svg``.
    """
    rec = recommendation_from(rec)
    target = Path(path)
    chosen = resolve_format(target, format)
    if target.is_dir():
        raise ReportError(f"report path {str(target)!r} is a directory", hint="give a file name")
    directory = target.parent
    if not directory.is_dir():
        raise ReportError(f"directory {str(directory)!r} of the report does not exist",
                          hint="create it first or choose another path")
    if chosen == "html":
        outputs = [(target, render_html(rec))]
    else:
        plot_files = {key: (directory / f"{target.stem}-{name}", f"{target.stem}-{name}")
                      for key, name in PLOT_FILES.items()}
        text, plot_outputs = _render_markdown(rec, plot_files=plot_files)
        outputs = plot_outputs + [(target, text)]
    if not overwrite:
        for file, _ in outputs:
            if file.exists():
                raise ReportError(f"{str(file)!r} already exists",
                                  hint="choose another path or allow overwriting")
    for file, text in outputs:                       # plots first: the report never links to a
        _atomic_write(file, text, overwrite=overwrite)  # file that is not there yet
    return str(target)


def resolve_format(path: str | os.PathLike[str], format: str | None) -> str:
    """The report format: the one given (checked against a known suffix), else the suffix's."""
    suffix = Path(path).suffix.lower()
    from_suffix = SUFFIX_FORMATS.get(suffix)
    if format is None:
        if from_suffix is None:
            raise ReportError(f"cannot tell the report format of {str(path)!r} "
                              f"(suffix {suffix or 'none'!r})",
                              hint="name it .html or .md, or give the format (markdown or html)")
        return from_suffix
    normalized = str(format).strip().lower()
    normalized = FORMAT_ALIASES.get(normalized, normalized)
    if normalized not in REPORT_FORMATS:
        raise OptionError("format", format, REPORT_FORMATS)
    if from_suffix is not None and from_suffix != normalized:
        raise ReportError(f"format {normalized} does not match the suffix of {str(path)!r} "
                          f"({from_suffix})", hint="change the suffix or the format")
    return normalized


def load_saved(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a recommendation saved with ``--format json``: checked against the schema (it
    reads back as a :class:`Recommendation`), never recomputed."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReportError(f"saved recommendation {str(path)!r} not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ReportError(f"cannot read {str(path)!r}: {error}") from None
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as error:
        raise ReportError(f"{str(path)!r} is not valid JSON (line {error.lineno}: {error.msg})",
                          hint="save it with: advisor suggest DATA --format json > rec.json") from None
    recommendation_from(payload)
    return payload


def recommendation_from(rec: Result) -> Recommendation:
    """The typed result a renderer reads: ``rec`` itself, or the dict read back (ReportError
    when it is not a recommendation of a schema this version reads)."""
    if isinstance(rec, Recommendation):
        return rec
    check_payload(rec)
    try:
        return Recommendation.from_dict(rec)
    except SchemaError as error:
        raise ReportError(f"not a loss-advisor recommendation: {error}",
                          hint="save one with: advisor suggest DATA --format json") from None


def check_payload(rec: Any) -> None:
    """Refuse a dict that is not a recommendation of a schema this version reads."""
    if not isinstance(rec, dict):
        raise ReportError("not a loss-advisor recommendation: expected a JSON object")
    missing = [key for key in _REQUIRED_KEYS if key not in rec]
    if missing:
        raise ReportError(f"not a loss-advisor recommendation: missing {', '.join(missing)}",
                          hint="save one with: advisor suggest DATA --format json")
    version = str(rec.get("schema_version", ""))
    if version.split(".")[0] != _SUPPORTED_SCHEMA_MAJOR:
        raise ReportError(f"recommendation schema {version or 'unknown'!r} is not supported "
                          f"(this advisor reads {_SUPPORTED_SCHEMA_MAJOR}.x)",
                          hint="re-run advisor suggest with this version")
    if not isinstance(rec["candidates"], list) or not rec["candidates"]:
        raise ReportError("not a loss-advisor recommendation: no candidates")


# ----- the plots ------------------------------------------------------------------------------

def _plots(view: dict[str, Any]) -> dict[str, str]:
    """The SVG of every plot the view can draw (missing data: no entry), drawn for this call."""
    from . import plots

    rec: Recommendation = view["rec"]
    series = []
    if view["experiment"] is not None:
        for candidate in rec.candidates:
            if candidate.evidence is None and candidate.verdict != "failed":
                continue
            low, high = interval_of(candidate.evidence)
            series.append(plots.FoldSeries(
                label=candidate.loss, scores=tuple(fold_scores_of(candidate.evidence)),
                mean=mean_of(candidate), low=low, high=high, highlight=candidate is rec.best,
                note=candidate.verdict if candidate.verdict in ("failed", "unstable") else ""))
    drawn: dict[str, str] = {}
    target_svg = plots.target_distribution_svg(rec.profile, rec.task)
    if target_svg:
        drawn["target"] = target_svg
    folds_svg = plots.fold_scores_svg(series, rec.metric,
                                      higher_is_better=view["higher_is_better"]) if series else None
    if folds_svg:
        drawn["folds"] = folds_svg
    fairness = view["experiment"]["fairness"] if view["experiment"] is not None else []
    fairness_svg = plots.fairness_svg(fairness, rec.metric) if fairness else None
    if fairness_svg:
        drawn["fairness"] = fairness_svg
    return drawn


def _render_markdown(rec: Recommendation, *, plot_files: dict[str, tuple[Path, str]] | None
                     ) -> tuple[str, list[tuple[Path, str]]]:
    """The Markdown text and the plot files to write (key -> (file, link) in ``plot_files``)."""
    view = build_view(rec)
    links: dict[str, str] = {}
    plot_outputs: list[tuple[Path, str]] = []
    if plot_files is not None:
        for key, svg in _plots(view).items():
            file, link = plot_files[key]
            links[key] = link
            plot_outputs.append((file, svg))
    view["plot_links"] = links
    view["plots_requested"] = plot_files is not None
    text = jinja_environment("markdown").get_template("report.md.j2").render(view=view)
    return text.strip() + "\n", plot_outputs


# ----- files --------------------------------------------------------------------------------------

def _atomic_write(path: Path, text: str, *, overwrite: bool) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same directory.

    With ``overwrite`` false the final step is a hard link, which fails if the path
    appeared in the meantime, so an existing file is never clobbered.
    """
    directory = path.parent
    try:
        handle, temporary = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:
        raise ReportError(f"cannot write in {str(directory)!r}: {error.strerror or error}") from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o666 & ~_umask())
        if overwrite:
            os.replace(temporary, path)
        else:
            try:
                os.link(temporary, path)
            except FileExistsError:
                raise ReportError(f"{str(path)!r} already exists",
                                  hint="choose another path or allow overwriting") from None
            except OSError:                           # no hard links here: check, then replace
                if path.exists():
                    raise ReportError(f"{str(path)!r} already exists",
                                      hint="choose another path or allow overwriting") from None
                os.replace(temporary, path)
    except OSError as error:
        raise ReportError(f"cannot write the report {str(path)!r}: {error.strerror or error}") from None
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def _umask() -> int:
    """The process umask, so a report gets the mode of any new file (mkstemp makes 0600)."""
    try:                                   # Linux: read it without changing it
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)                 # elsewhere: the classic set-and-restore
    os.umask(mask)
    return mask


__all__ = ["render_html", "render_markdown", "save_report", "load_saved", "resolve_format",
           "check_payload", "recommendation_from", "build_view", "REPORT_FORMATS", "SECTIONS",
           "format_number", "format_interval", "format_p", "format_params", "format_value",
           "md_escape"]
