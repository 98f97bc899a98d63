"""The ``advisor`` command: a thin layer over the library.

Each command parses its options, calls one library function, and renders the result. Only
the result goes to stdout; progress, warnings and errors go to stderr. An
:class:`~advisor.errors.AdvisorError` becomes a one-line ``error:`` message and exit code 2.
Heavy modules are imported inside the commands so ``advisor --help`` stays instant.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any

import click

from . import __version__
from .errors import AdvisorError
from .options import ACTIVATIONS, FRAMEWORKS, METRICS, TASKS, Options

FORMATS = ("text", "json", "markdown", "html")


def _fail_cleanly(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn library errors into one line on stderr and exit code 2, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except AdvisorError as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo("error: interrupted", err=True)
            sys.exit(130)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="advisor")
def main() -> None:
    """Recommend the loss to train a neural network with, explained and checked on your data.

    \b
    Start with:  advisor suggest train.csv --target y
    A bundled example:  advisor suggest example:poor_health --metric balanced_accuracy
    """


@main.command()
@click.argument("data", metavar="DATA")
@click.option("--target", "-t", "targets", multiple=True,
              help="Target column (repeat for several target columns). Default: a column named "
                   "target/label/y/class/outcome, else the last column.")
@click.option("--event", default=None, metavar="COL",
              help="Survival: the event indicator (1 = event, 0 = censored) of the duration --target.")
@click.option("--censored", default=None, metavar="COL",
              help="Survival: a censoring indicator coded the other way (1 = censored).")
@click.option("--label-sep", default=None, help='Split a delimited label column ("a|b") into a multi-label target.')
@click.option("--task", type=click.Choice(TASKS, case_sensitive=False), default=None,
              help="Override the detected task.")
@click.option("--activation", type=click.Choice(ACTIVATIONS, case_sensitive=False), default="auto",
              show_default=True, help="Output activation of your network (linear = logits).")
@click.option("--framework", type=click.Choice(FRAMEWORKS, case_sensitive=False), default="pytorch",
              show_default=True, help="Framework of the snippets.")
@click.option("--metric", type=click.Choice(METRICS, case_sensitive=False), default=None,
              help="The metric you are judged on. Default: the task's (see README).")
@click.option("--loss", "current_loss", default=None, metavar="NAME",
              help="The loss you train with today: audited against the recommendation.")
@click.option("--quantile", "quantiles", type=float, multiple=True,
              help="Quantile level to predict (repeatable), e.g. --quantile 0.1 --quantile 0.9.")
@click.option("--positive", default=None, metavar="LABEL",
              help="The positive class of a binary target (default: the larger value, True, "
                   "or the label sorted last).")
@click.option("--label-noise", is_flag=True, help="You suspect noisy labels.")
@click.option("--sensitive", default=None, metavar="COL",
              help="Column of the groups (e.g. sex, race) whose worst-off group matters: adds "
                   "per-group facts, group-aware candidates and fairness gaps (needs the "
                   "[fairness] extra). Not a feature unless --sensitive-feature.")
@click.option("--sensitive-feature", "sensitive_as_feature", is_flag=True,
              help="With --sensitive: also give the groups to the model as a feature.")
@click.option("--judge", type=click.Choice(("all-rows", "worst-group"), case_sensitive=False),
              default="all-rows", show_default=True,
              help="What decides between the losses: your metric over all rows, or (with "
                   "--sensitive) in the worst-off group, fold by fold.")
@click.option("--validate/--no-validate", default=True, show_default=True,
              help="Train MLP proxies to confirm or overturn the rule ranking.")
@click.option("--budget", type=float, default=60, show_default=True,
              help="Time budget of the experiment, in seconds.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed (same seed, same answer).")
@click.option("--jobs", "n_jobs", type=int, default=None,
              help="Parallel workers for the experiment (default: the cores available; "
                   "-1 = all cores).")
@click.option("--backend", default=None,
              help="joblib backend for the experiment (loky, threading, dask, ray...).")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="With --backend dask: the Dask scheduler to run on (e.g. tcp://host:8786); "
                   "without it a local Dask cluster of --jobs workers is started.")
@click.option("--rules", "rule_dirs", multiple=True, type=click.Path(file_okay=False),
              help="Directory of extra rule files (adds or overrides built-in rules).")
@click.option("--format", "output_format", type=click.Choice(FORMATS, case_sensitive=False),
              default="text", show_default=True, help="Output format on stdout.")
@click.option("--report", "report_path", default=None, type=click.Path(dir_okay=False),
              help="Also write a report to this path (.html or .md).")
@click.option("--report-format", type=click.Choice(("markdown", "html")), default=None,
              help="Format of --report (default: from its suffix, .html or .md).")
@click.option("--timings", is_flag=True,
              help="Add the measured timings to JSON and reports (they differ run to run, so "
                   "the JSON is then no longer byte-stable).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@_fail_cleanly
def suggest(data: str, targets: tuple[str, ...], event: str | None, censored: str | None,
            label_sep: str | None, task: str | None,
            activation: str, framework: str, metric: str | None, current_loss: str | None,
            quantiles: tuple[float, ...], positive: str | None, label_noise: bool,
            sensitive: str | None, sensitive_as_feature: bool, judge: str, validate: bool,
            budget: float,
            seed: int, n_jobs: int | None, backend: str | None, scheduler: str | None,
            rule_dirs: tuple[str, ...],
            output_format: str, report_path: str | None, report_format: str | None,
            timings: bool, quiet: bool) -> None:
    """Recommend a loss for DATA (a CSV or Parquet file, '-' for stdin, or example:NAME)."""
    from .api import run

    options = Options(task=task, activation=activation, framework=framework, metric=metric,
                      loss=current_loss, validate=validate, budget=budget, seed=seed,
                      rules=rule_dirs, label_sep=label_sep, label_noise=label_noise,
                      quantiles=quantiles, positive=positive, n_jobs=n_jobs, backend=backend,
                      event=event, censored=censored, sensitive=sensitive,
                      sensitive_as_feature=sensitive_as_feature, judge=judge)
    if report_path is not None:  # a bad report path or format fails before the long run
        from .report import resolve_format

        report_format = resolve_format(report_path, report_format)
    target: str | list[str] | None = None
    if len(targets) == 1:
        target = targets[0]
    elif targets:
        target = list(targets)
    if scheduler is not None and backend != "dask":
        raise click.UsageError("--scheduler goes with --backend dask")
    with _dask_client(options, scheduler), \
            _progress_bar(enabled=validate and not quiet) as progress:
        recommendation = run(data, target, options, progress=progress, side_process=True)
    if report_path is not None:
        written = recommendation.save_report(report_path, format=report_format)
        click.echo(f"report written to {written}", err=True)
    # The terminal view always shows where the time went; JSON and reports only when asked.
    payload = recommendation.to_dict(include_timing=timings or output_format == "text")
    _emit(payload, output_format, report_path=report_path)


@main.command()
@click.argument("saved", type=click.Path(dir_okay=False))
@click.option("--format", "output_format", type=click.Choice(("markdown", "html", "text", "json")),
              required=True, help="Format to render.")
@click.option("--output", "-o", default=None, type=click.Path(dir_okay=False),
              help="Write to this file instead of stdout.")
@_fail_cleanly
def report(saved: str, output_format: str, output: str | None) -> None:
    """Re-render a saved JSON recommendation (advisor suggest --format json) without recomputing."""
    from .report import load_saved, save_report

    payload = load_saved(saved)
    if output is not None:
        if output_format not in ("markdown", "html"):
            raise click.UsageError("--output writes markdown or html reports")
        written = save_report(payload, output, format=output_format)
        click.echo(f"report written to {written}", err=True)
        return
    _emit(payload, output_format, report_path=None)


@main.group()
def rules() -> None:
    """Inspect and check rule files."""


@rules.command("list")
@click.option("--rules", "rule_dirs", multiple=True, type=click.Path(file_okay=False),
              help="Also list the rules of this directory.")
@click.option("--format", "output_format", type=click.Choice(("text", "json")), default="text",
              show_default=True, help="Output format.")
@_fail_cleanly
def rules_list(rule_dirs: tuple[str, ...], output_format: str) -> None:
    """List every rule: id, file, condition (then the weighting rules of several targets)."""
    from .render_text import render_rule_list
    from .result import dumps
    from .rules import load_composite_rulebase, load_rulebase

    rulebase, weighting_rules = load_rulebase(rule_dirs), load_composite_rulebase()
    if output_format == "json":
        click.echo(dumps({"digest": rulebase.digest,
                          "rules": [_rule_dict(rule) for rule in rulebase.rules],
                          "composite_digest": weighting_rules.digest,
                          "composite_rules": [_rule_dict(rule) for rule in weighting_rules.rules]}),
                   nl=False)
    else:
        render_rule_list(rulebase)
        render_rule_list(weighting_rules, "weighting rules of several targets")


@rules.command("show")
@click.argument("rule_id")
@click.option("--rules", "rule_dirs", multiple=True, type=click.Path(file_okay=False),
              help="Also look in the rules of this directory.")
@_fail_cleanly
def rules_show(rule_id: str, rule_dirs: tuple[str, ...]) -> None:
    """Show one rule in full."""
    from .render_text import render_rule
    from .rules import load_composite_rulebase, load_rulebase

    weighting_rules = load_composite_rulebase()
    if any(rule.id == rule_id for rule in weighting_rules.rules):
        render_rule(weighting_rules.get(rule_id))
    else:
        render_rule(load_rulebase(rule_dirs).get(rule_id))


@rules.command("check")
@click.argument("directory", type=click.Path(file_okay=False))
@_fail_cleanly
def rules_check(directory: str) -> None:
    """Validate the rule files of DIRECTORY together with the built-in rules."""
    from .rules import check_rule_dir

    rulebase = check_rule_dir(directory)
    own = [rule for rule in rulebase.rules if not rule.builtin]
    click.echo(f"ok: {len(own)} rules in {directory} are valid "
               f"({len(rulebase.rules)} rules in all)")


@main.command()
def examples() -> None:
    """List the bundled example datasets (use them as example:NAME)."""
    from .examples import EXAMPLE_PREFIX, list_examples

    for name, description in list_examples():
        click.echo(f"{EXAMPLE_PREFIX}{name:<20} {description}")


def _rule_dict(rule: Any) -> dict[str, Any]:
    return {"id": rule.id, "file": rule.file, "when": rule.when, "because": rule.because,
            "cite": list(rule.cite)}


def _emit(payload: dict[str, Any], output_format: str, *, report_path: str | None) -> None:
    """Write the result in the asked format to stdout."""
    if output_format == "json":
        from .result import dumps

        click.echo(dumps(payload), nl=False)
    elif output_format == "markdown":
        from .report import render_markdown

        click.echo(render_markdown(payload))
    elif output_format == "html":
        from .report import render_html

        click.echo(render_html(payload), nl=False)
    else:
        from .render_text import render_recommendation

        render_recommendation(payload, report_path=report_path)


class _dask_client:
    """For --backend dask: connect to --scheduler, or start a local cluster, for the run."""

    def __init__(self, options: Options, scheduler: str | None) -> None:
        self.enabled = options.validate and options.backend == "dask"
        self.options = options
        self.scheduler = scheduler
        self._client: Any = None
        self._cluster: Any = None

    def __enter__(self) -> None:
        if not self.enabled:
            return
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise AdvisorError("--backend dask needs dask.distributed",
                               hint="pip install 'loss-advisor[dask]'") from None
        if self.scheduler is None:
            self._cluster = LocalCluster(n_workers=max(1, self.options.workers),
                                         threads_per_worker=1, dashboard_address=None)
            self._client = Client(self._cluster)
        else:
            try:
                self._client = Client(self.scheduler, timeout=10)
            except (OSError, TimeoutError) as error:
                raise AdvisorError(f"cannot reach the Dask scheduler {self.scheduler!r}: {error}",
                                   hint="check the address, or drop --scheduler for a local "
                                        "cluster") from None

    def __exit__(self, *exc_info: object) -> None:
        for resource in (self._client, self._cluster):
            if resource is not None:
                resource.close()


class _progress_bar:
    """A rich progress bar on stderr, shown only when stderr is a terminal."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> Callable[[int, int, str], None] | None:
        if not self.enabled:
            return None
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                  TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                                  console=Console(stderr=True), transient=True)
        self._progress.start()
        self._task = self._progress.add_task("validating", total=None)
        return self.update

    def update(self, done: int, total: int, message: str) -> None:
        assert self._progress is not None and self._task is not None
        self._progress.update(self._task, completed=done, total=total, description=message)

    def __exit__(self, *exc_info: object) -> None:
        if self._progress is not None:
            self._progress.stop()


def console() -> None:
    """The ``advisor`` executable: the command group, then an exit without interpreter teardown
    when no experiment ran.

    Finalising the 800 modules a run imports (pandas, pyarrow, numpy) takes about 0.08 s
    after the output is complete, a sixth of reading a 1M-row CSV. When the experiment did
    not run (``advisor.validate`` was never imported) there is no worker pool or Dask cluster
    whose exit handlers must run, and every file the command wrote is closed by then, so
    the process flushes its output and ends at once. After an experiment it exits normally.
    """
    try:
        main()
        code: int | str | None = 0
    except SystemExit as stop:
        code = stop.code
    if "advisor.validate" in sys.modules or not isinstance(code, (int, type(None))):
        sys.exit(code)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code or 0)


if __name__ == "__main__":  # pragma: no cover
    console()
