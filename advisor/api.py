"""The library entry point: ``suggest`` runs load -> profile -> rules -> validate -> decide.

It never prints and never exits; every deliberate failure is an :class:`AdvisorError`.
The CLI is a thin layer over :func:`run`, the pipeline for options already checked.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from . import __version__
from .digest import file_sha256
from .examples import EXAMPLE_PREFIX
from .options import FRAMEWORKS, Options, available_cores, metric_for_task
from .schema import (
    Audit,
    Candidate,
    Confidence,
    DataSource,
    DecisionBasis,
    DecisionRule,
    EvidenceVersusPick,
    Notice,
    OutputColumn,
    Outputs,
    ProfileSummary,
    Recommendation,
    Reproducibility,
    RulebaseInfo,
    RuleOverride,
    RunSettings,
    Target,
    significant,
)

#: Files at least this big are read while a side process compiles the rule base.
SIDE_PROCESS_BYTES = 16 * 1024 * 1024

#: How many rule-ranked candidates the validator trains besides the task's default loss.
VALIDATED_CANDIDATES = 4

ProgressCallback = Callable[[int, int, str], None]


def suggest(
    data: Any,
    target: str | Sequence[str] | None = None,
    *,
    y: Any = None,
    task: str | None = None,
    activation: str = "auto",
    framework: str = "pytorch",
    metric: str | None = None,
    loss: str | None = None,
    validate: bool = True,
    budget: float = 60,
    seed: int = 0,
    rules: str | Path | Sequence[str | Path] | None = None,
    label_sep: str | None = None,
    label_noise: bool = False,
    quantiles: Sequence[float] = (),
    positive: str | None = None,
    n_jobs: int | None = None,
    backend: str | None = None,
    event: str | None = None,
    censored: str | None = None,
    sensitive: str | None = None,
    sensitive_as_feature: bool = False,
    judge: str = "all_rows",
    progress: ProgressCallback | None = None,
) -> Recommendation:
    """Recommend, parameterize and (optionally) empirically check a loss for ``data``.

    ``data`` is a CSV/Parquet path, ``"-"`` for stdin, ``"example:NAME"``, a DataFrame, or a
    feature array with the target in ``y``. ``target`` names one or several target columns (default: a column named
    like a target, else the last one). ``loss`` is the loss trained today, audited against the
    advice. ``validate=False`` keeps the rules-only path. A survival target is a duration
    (``target``) with an event indicator: ``event`` (1 = event) or ``censored`` (1 = censored)
    names it, else one named like one is recognised. ``sensitive`` names the column of
    the groups a fairness-aware run measures (the per-group facts, the group-aware candidates,
    the worst-group metric and fairlearn's gaps; the extra ``[fairness]``); it is not a
    feature unless ``sensitive_as_feature``. ``judge="worst_group"`` (with ``sensitive``)
    decides on the user's metric in the worst-off group instead of over all rows. See the
    README for every option.
    """
    # Every option is checked before the data are touched, so a typo fails fast.
    options = Options(task=task, activation=activation, framework=framework, metric=metric,
                      loss=loss, validate=validate, budget=budget, seed=seed, rules=rules,
                      label_sep=label_sep, label_noise=label_noise, quantiles=quantiles,
                      positive=positive, n_jobs=n_jobs, backend=backend, event=event,
                      censored=censored, sensitive=sensitive,
                      sensitive_as_feature=sensitive_as_feature, judge=judge)
    return run(data, target, options, y=y, progress=progress)


def run(data: Any, target: str | Sequence[str] | None, options: Options, *, y: Any = None,
        progress: ProgressCallback | None = None, side_process: bool = False) -> Recommendation:
    """The pipeline for checked ``options`` (see :func:`suggest` for the rest).

    ``side_process`` lets a big file be read while another process compiles the rule base
    (:mod:`advisor.runtime.side_process`); the CLI asks for it, the library runs in-process.
    """
    started = time.perf_counter()
    timing: dict[str, Any] = {}
    if options.sensitive is not None:
        from .experiment.fairness import require_fairlearn

        require_fairlearn()
    command_source = data if isinstance(data, (str, Path)) else None
    if isinstance(data, str) and data.startswith(EXAMPLE_PREFIX):
        from .examples import example_path

        data = example_path(data[len(EXAMPLE_PREFIX):])
    with ExitStack() as stack:
        # The rule base compiles and a data file is hashed while the data are read; both
        # start before pandas and numpy are imported, which keeps one core busy for a good
        # part of a second and leaves the other mostly idle.
        pending_rulebase = _start_rulebase(options.rules, data, stack, side_process)
        sha256 = _start_background(data, options, stack)
        from .load import load_data
        from .losses import CATALOG, losses_for_task
        from .profile import profile_data

        try:
            loaded = load_data(data, target, label_sep=options.label_sep, y=y, sha256=sha256,
                               event=options.event, censored=options.censored, task=options.task,
                               sensitive=options.sensitive,
                               sensitive_as_feature=options.sensitive_as_feature)
        finally:
            rulebase = pending_rulebase()  # a broken rule file wins over a data error
        timing["load"] = time.perf_counter() - started
        from .profile._multitask import split_multitask

        split = split_multitask(loaded, options)
        if split is not None:
            return _composite(data if command_source is None else command_source, loaded, split,
                              options, rulebase, started)
        profile = profile_data(loaded, options)
        timing["profile"] = time.perf_counter() - started - timing["load"]
        applicable = losses_for_task(profile.task)
        outcome, warnings_outcome, activation_fallback = _evaluate(rulebase, profile, applicable)
    params = {loss_id: CATALOG[loss_id].derive(profile, {"quantiles": profile.quantiles})
              for loss_id in applicable}
    validation = _experiment(loaded, profile, outcome, params, options, progress)
    params = _with_searched_values(params, validation)
    from .decide import decide

    decision = decide(outcome, validation)
    timing["total"] = time.perf_counter() - started
    return _recommendation(options, command_source, loaded, profile, rulebase, outcome,
                           warnings_outcome, activation_fallback, params, validation, decision,
                           timing)


def _composite(source, loaded, split, options: Options, rulebase, started: float) -> Recommendation:
    """Several targets of different kinds: :mod:`advisor.composite` answers."""
    from .composite import run_composite

    first = split[0][0].profile
    settings = _settings(options, first)
    command = _command(source if isinstance(source, (str, Path)) else None, loaded, settings,
                       first, options.activation, options.framework)
    return run_composite(loaded, split, options, rulebase, command, _versions(), settings, started)


def _start_background(data: Any, options: Options, stack: ExitStack) -> Callable[[], str] | None:
    """Start one thread for what the run needs besides the table: the digest of a data file
    (its provenance), then, when ``n_jobs`` is not given, the cores available, whose lookup
    imports joblib (``options.workers`` then reads it). Returns the digest's getter, None
    when the data are not a file."""
    pool = stack.enter_context(ThreadPoolExecutor(max_workers=1))
    digest = pool.submit(file_sha256, Path(data)).result if _is_file(data) else None
    if options.n_jobs is None:
        pool.submit(available_cores)
    return digest


def _evaluate(rulebase, profile, applicable: tuple[str, ...]) -> tuple[Any, Any, str | None]:
    """(outcome ranked, outcome whose warnings are shown, activation the ranking set aside).

    When the user's output activation rules out every loss (e.g. relu on negative targets),
    the warnings (from the activation as given) say how to fix the network and the ranking
    is for the fixed, linear output.
    """
    from .facts import rule_facts

    outcome = rulebase.evaluate(profile.facts, applicable)
    activation = profile.facts["activation"]
    if activation == "linear" or not all(loss_id in outcome.vetoes for loss_id in applicable):
        return outcome, outcome, None
    linear = rule_facts(profile.data_facts, {**profile.hints, "activation": "linear"})
    return rulebase.evaluate(linear, applicable), outcome, activation


def _experiment(loaded, profile, outcome, params, options: Options,
                progress: ProgressCallback | None) -> Any:
    """The validator's evidence, None on the rules-only path."""
    if not options.validate:
        return None
    from .validate import validate as run_validation

    return run_validation(loaded, profile, outcome, params=params, budget=options.budget,
                          seed=options.seed, n_jobs=options.workers, backend=options.backend,
                          max_candidates=VALIDATED_CANDIDATES, progress=progress,
                          extra_candidates=(options.loss,) if options.loss else (),
                          judge=options.judge)


def _recommendation(options: Options, command_source, loaded, profile, rulebase, outcome,
                    warnings_outcome, activation_fallback, params, validation, decision,
                    timing: dict[str, Any]) -> Recommendation:
    """The result: ranking with evidence, warnings, provenance and how to reproduce it."""
    from .losses import CATALOG, DEFAULT_LOSS

    activation, framework, validate = options.activation, options.framework, options.validate
    loss = options.loss
    candidates = tuple(
        _candidate(CATALOG[loss_id], rank, outcome, decision, params[loss_id], profile,
                   validation)
        for rank, loss_id in enumerate(decision.order, start=1)
    )
    validation_summary = None
    if validation is not None:
        # Wall-clock figures differ run to run: kept out of the byte-stable JSON.
        timing["validation"] = validation.rounded_timing()
        validation_summary = validation.summary()
    settings = _settings(options, profile)
    return Recommendation(
        task=profile.task,
        task_reason=profile.task_reason,
        target=Target(columns=loaded.target_columns, reason=loaded.target_reason),
        metric=profile.facts["metric"],
        metric_reason=metric_for_task(options.metric, profile.task)[1],
        activation=activation,
        framework=framework,
        profile=_profile_summary(profile, loaded),
        candidates=candidates,
        confidence=Confidence.from_dict(decision.confidence),
        summary=decision.summary,
        decision=DecisionBasis.from_dict(decision.basis_dict()),
        warnings=_notices(warnings_outcome, profile, loaded, validation, validate,
                          activation_fallback, decision),
        default_loss=DEFAULT_LOSS[profile.task],
        audit=_audit(loss, candidates, DEFAULT_LOSS[profile.task]) if loss else None,
        provenance=DataSource.from_dict(loaded.provenance.to_dict()),
        rulebase=RulebaseInfo(digest=rulebase.digest, rules=len(rulebase.rules),
                              fired=tuple(outcome.fired), sources=tuple(rulebase.sources),
                              overrides=tuple(RuleOverride.from_dict(override.to_dict())
                                              for override in rulebase.overrides)),
        settings=RunSettings.from_dict(settings),
        reproducibility=Reproducibility(command=_command(command_source, loaded, settings,
                                                         profile, activation, framework),
                                        versions=_versions()),
        validation=validation_summary,
        timing=timing,
    )


def _settings(options: Options, profile) -> dict[str, Any]:
    """The options as the output records them (the cores looked up, the quantiles as read)."""
    return {
        "validate": options.validate, "budget": options.budget, "seed": options.seed,
        "n_jobs": options.workers, "backend": options.backend or "loky",
        "rules": [str(path) for path in options.rules], "label_sep": options.label_sep,
        "label_noise": options.label_noise, "quantiles": list(profile.quantiles),
        "task_given": options.task, "loss_given": options.loss,
        "positive_given": options.positive,
        **({"sensitive_given": options.sensitive,
            "sensitive_as_feature": options.sensitive_as_feature,
            "judge": options.judge} if options.sensitive else {}),
    }


def _start_rulebase(rule_dirs: tuple[Path, ...], data: Any, stack: ExitStack,
                    side_process: bool) -> Callable[[], Any]:
    """Start compiling the rule base beside the read of ``data``; returns its ``result``.

    Compiling takes about 0.1 s of CPU (rule-engine's import and the rules), in a thread
    that holds the GIL for most of it. With ``side_process``, a process that has not
    imported rule-engine yet and reads a big file compiles in a side process on the other
    core instead. Call it before importing pandas: the import leaves the other core idle.
    """
    if (side_process and _is_file(data) and "rule_engine" not in sys.modules
            and os.path.getsize(data) >= SIDE_PROCESS_BYTES):
        from .runtime.side_process import RuleProcess

        return stack.enter_context(RuleProcess(rule_dirs)).rulebase
    from .rules import load_rulebase

    pool = stack.enter_context(ThreadPoolExecutor(max_workers=1))
    return pool.submit(load_rulebase, rule_dirs).result


def _is_file(data: Any) -> bool:
    """``data`` names a file (not stdin, not in-memory data)."""
    return isinstance(data, (str, Path)) and str(data) != "-" and os.path.isfile(data)


def _with_searched_values(params: dict[str, dict[str, Any]], validation) -> dict[str, dict[str, Any]]:
    """The derived settings, with each searched parameter (poly1's epsilon) at the value the
    experiment chose most often: the recommendation's settings and snippets are what was
    measured."""
    if validation is None:
        return params
    searched = {item.loss: item.search for item in validation.candidates if item.search is not None}
    return {loss_id: ({**values, searched[loss_id].name: searched[loss_id].chosen}
                      if loss_id in searched else values)
            for loss_id, values in params.items()}


def _candidate(loss, rank, outcome, decision, params, profile, validation) -> Candidate:
    """One row of the final ranking: rule trace, derived params, snippets and evidence."""
    measured = validation.evidence_for(loss.id) if validation is not None else None
    evidence = None
    if measured is not None:
        versus = decision.versus.get(loss.id)
        evidence = EvidenceVersusPick(
            **{spec.name: getattr(measured, spec.name) for spec in dataclasses.fields(measured)},
            versus=versus, p_value=versus.p_value if versus else None)
    return Candidate(
        loss=loss.id,
        title=loss.title,
        rank=rank,
        score=round(float(outcome.scores.get(loss.id, 0.0)), 6),
        verdict=decision.verdicts[loss.id],
        params=dict(params),
        reasons=tuple(outcome.trace.get(loss.id, ())),
        snippets={name: loss.snippet(name, params, profile) for name in FRAMEWORKS},
        formula=loss.formula,
        citation=loss.citation,
        vetoed=loss.id in outcome.vetoes,
        evidence=evidence,
        outputs=(Outputs(tuple(OutputColumn(name, meaning) for name, meaning in loss.outputs),
                         loss.prediction) if loss.outputs else None),
        decision=_decision_rule(loss, profile, validation),
    )


def _decision_rule(loss, profile, validation) -> DecisionRule | None:
    """A plan's decision rule: the medians of its tuned values over the splits when the
    experiment trained it, and how to tune it; None for a loss without one."""
    plan = loss.decision
    if plan is None:
        return None
    # the metric the rule is tuned for: the user's when it reads the decision (the snippet's)
    metric = plan.snippet_values(str(profile.facts["metric"]), profile.task)["tuned_metric"]
    evidence = validation.candidate(loss.id) if validation is not None else None
    tuned = evidence.decision if evidence is not None else None
    values = tuple(significant(value, 4) for value in tuned.medians) if tuned is not None else None
    return DecisionRule(
        rule=plan.rule, metric=metric,
        threshold=values if plan.rule == "threshold" else None,
        tau=values[0] if values is not None and plan.rule == "logit_adjustment" else None,
        splits_tuned=len(tuned.folds) if tuned is not None else None,
        splits_plain=tuned.kept_plain if tuned is not None else None,
        how=plan.how.format(metric=metric))


def _profile_summary(profile, loaded) -> ProfileSummary:
    """The profile as reports show it, with a histogram of numeric targets for the plot."""
    import numpy as np

    payload = profile.to_dict()
    payload["n_features_used"] = int(loaded.features.shape[1])
    if profile.task in ("regression", "count", "proportion"):
        values = np.asarray(profile.y, dtype=float)
        values = values.reshape(len(values), -1)[:, 0]
        counts, edges = np.histogram(values, bins=min(40, max(5, int(np.sqrt(len(values))))))
        payload["target_histogram"] = {"edges": [significant(edge) for edge in edges],
                                       "counts": [int(count) for count in counts]}
    return ProfileSummary.from_dict(payload)


def _notices(outcome, profile, loaded, validation, validate: bool,
             activation_fallback: str | None, decision) -> tuple[Notice, ...]:
    """Warnings from the rules (activation bugs), the data, and the experiment."""
    notices = [Notice(code=effect.rule_id, message=effect.explanation)
               for effect in outcome.warnings]
    if activation_fallback:
        notices.append(Notice("activation.rules_out_every_loss",
                              f"a {activation_fallback} output rules out every loss for this "
                              "target: change the output layer as the warnings above say; the "
                              "ranking is for a linear output"))
    facts = profile.facts
    if facts["n_rows"] < 100:
        notices.append(Notice("data.small", f"only {int(facts['n_rows'])} usable rows: the rules "
                              "still apply, but the experiment's evidence is weak"))
    if facts["target_missing_fraction"] > 0:
        notices.append(Notice("data.target_missing",
                              f"{facts['target_missing_fraction']:.1%} of rows had no usable "
                              "target and were left out"))
    for column in dict.fromkeys(name for name, _, _ in profile.stray_text):
        stray = [(text, rows) for name, text, rows in profile.stray_text if name == column]
        shown = ", ".join(f"{text!r} ({rows} {'row' if rows == 1 else 'rows'})" for text, rows in stray)
        notices.append(Notice("data.target_text",
                              f"target {column!r} holds numbers, but some cells hold text: "
                              f"{shown}; those rows were left out as missing: fix them in the "
                              "data to use them"))
    if "--label-sep" in loaded.target_reason:
        notices.append(Notice("data.label_sep", loaded.target_reason))
    if not validate:
        notices.append(Notice("validation.skipped", "rules-only answer: the empirical check "
                              "was not run (--no-validate)"))
    elif validation is not None:
        notices.extend(validation.notices)
        notices.extend(decision.notices)
        if decision.basis == "none":
            notices.append(Notice("decision.no_safe_pick", "no applicable loss trained stably "
                                  "in the experiment: the first one is listed, not recommended; "
                                  "look for far-out feature values or a target to rescale"))
    notices[:0] = loaded.notices
    return tuple(notices)


def _audit(current: str, candidates: tuple[Candidate, ...], default_loss: str) -> Audit:
    """Compare the loss the user trains with today against the recommendation."""
    by_id = {candidate.loss: candidate for candidate in candidates}
    best = candidates[0]
    mine = by_id.get(current)
    if mine is None:
        return Audit(loss=current, applicable=False, rank=None, verdict="not_applicable",
                     vetoed=None, recommended=best.loss, default_loss=default_loss,
                     message=f"{current} does not apply to this task; use {best.loss}")
    if mine.loss == best.loss:
        message = f"{current} is the recommended loss: keep it"
    elif mine.vetoed:
        why = "; ".join(reason.explanation for reason in mine.reasons if reason.kind == "veto")
        message = f"{current} is vetoed here ({why}); switch to {best.loss}"
    else:
        message = (f"{current} ranks #{mine.rank} of {len(candidates)} (verdict {mine.verdict}); "
                   f"the recommendation is {best.loss}")
    return Audit(loss=current, applicable=True, rank=mine.rank, verdict=mine.verdict,
                 vetoed=mine.vetoed, recommended=best.loss, default_loss=default_loss,
                 message=message)


def _command(source: str | Path | None, loaded, settings: dict[str, Any], profile,
             activation: str, framework: str) -> str:
    """The CLI command that reproduces this recommendation (DATA.csv for in-memory data)."""
    words = ["advisor", "suggest", str(source) if source is not None else "DATA.csv"]
    columns = loaded.target_columns[:1] if loaded.event is not None else loaded.target_columns
    for column in columns:
        words += ["--target", column]
    if loaded.event is not None:
        words += ["--censored" if loaded.event.censoring else "--event", loaded.event.name]
    if settings["label_sep"]:
        words += ["--label-sep", settings["label_sep"]]
    if settings["task_given"]:
        words += ["--task", settings["task_given"]]
    if settings["positive_given"] is not None:
        words += ["--positive", str(settings["positive_given"])]
    if activation != "auto":
        words += ["--activation", activation]
    if framework != "pytorch":
        words += ["--framework", framework]
    if profile.facts["metric_given"]:
        words += ["--metric", profile.facts["metric"]]
    if settings["loss_given"]:
        words += ["--loss", settings["loss_given"]]
    for level in settings["quantiles"]:
        words += ["--quantile", f"{level:g}"]
    if settings["label_noise"]:
        words.append("--label-noise")
    if settings.get("sensitive_given"):
        words += ["--sensitive", settings["sensitive_given"]]
        if settings["sensitive_as_feature"]:
            words.append("--sensitive-feature")
        if settings.get("judge") == "worst_group":
            words += ["--judge", "worst-group"]
    for directory in settings["rules"]:
        words += ["--rules", directory]
    if settings["validate"]:
        words += ["--budget", f"{settings['budget']:g}", "--seed", str(settings["seed"]),
                  "--jobs", str(settings["n_jobs"])]
    else:
        words += ["--no-validate", "--seed", str(settings["seed"])]
    return shlex.join(words)


def _versions() -> dict[str, str]:
    """Versions that matter for reproducing the result. pandas and numpy are loaded by now;
    scikit-learn is read from its metadata, so the rules-only path never imports it (each
    metadata lookup scans the installed distributions: a few milliseconds)."""
    from importlib.metadata import version

    import numpy
    import pandas

    return {"advisor": __version__, "python": platform.python_version(),
            "scikit-learn": version("scikit-learn"), "pandas": pandas.__version__,
            "numpy": numpy.__version__}
