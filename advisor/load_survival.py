"""Choosing a survival target: the duration column and its event indicator.

A survival target is a pair: a non-negative duration and a 0/1 (or boolean) indicator. The
indicator is given (``--event COL``: 1 = the event happened; ``--censored COL``: 1 = censored)
or recognised by its name beside a duration named like one: ``event``, ``status``, ``dead``,
``death``, ``churned``, ``failure``... (1 = event), ``censored`` / ``censor`` (1 = censored).
Nothing else is guessed: a 0/1 column of another name stays a feature, and an indicator
coded the other way round must be named so or declared.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import TargetError

#: Words of a column name that make it an event indicator (1 = the event happened).
EVENT_WORDS = frozenset({
    "event", "events", "status", "dead", "death", "died", "deceased", "churn", "churned",
    "failure", "failed", "fail", "relapse", "relapsed", "recurrence", "arrest", "arrested",
    "observed",
})
#: Words of a column name that make it a censoring indicator (1 = censored).
CENSOR_WORDS = frozenset({"censored", "censor", "censoring"})
#: Words of a column name that make it a duration.
DURATION_WORDS = frozenset({
    "time", "times", "duration", "durations", "futime", "survival", "tenure", "lifetime",
    "followup", "follow", "week", "weeks", "day", "days", "month", "months", "year", "years",
})


@dataclass(frozen=True)
class EventColumn:
    """The indicator of a survival target: its name, whether 1 means censored, and why."""

    name: str
    censoring: bool
    reason: str


def _words(name: str) -> set[str]:
    return {word for word in re.split(r"[^0-9a-z]+", name.lower()) if word}


def _is_zero_one(column: pd.Series) -> bool:
    present = column.dropna()
    if present.empty:
        return False
    if present.dtype == bool:
        return True
    values = pd.to_numeric(present, errors="coerce")
    return bool(values.notna().all() and np.isin(values.to_numpy(dtype=float), (0.0, 1.0)).all())


def _named_indicator(table: pd.DataFrame, duration: str) -> EventColumn | None:
    """The first 0/1 column named like an event or censoring indicator, other than ``duration``."""
    for name in table.columns:
        words = _words(str(name))
        if name == duration or not words & (EVENT_WORDS | CENSOR_WORDS):
            continue
        if not _is_zero_one(table[name]):
            continue
        censoring = bool(words & CENSOR_WORDS)
        coded = "1 = censored" if censoring else "1 = event"
        return EventColumn(str(name), censoring,
                           f"column {name!r} is a 0/1 indicator named like "
                           f"{'a censoring' if censoring else 'an event'} indicator ({coded})")
    return None


def declared_indicator(columns: Sequence[str], event: str | None,
                       censored: str | None) -> EventColumn | None:
    """The indicator given with ``--event`` / ``--censored`` (checked to exist), or None."""
    if event is not None and censored is not None:
        raise TargetError("an event indicator was given twice, with --event and --censored",
                          hint="give one: --event COL (1 = event) or --censored COL (1 = censored)")
    name = event if event is not None else censored
    if name is None:
        return None
    if name not in columns:
        raise TargetError(f"unknown {'event' if event is not None else 'censoring'} column {name!r}",
                          hint=f"available columns: {', '.join(map(repr, list(columns)[:20]))}")
    option = "--event" if event is not None else "--censored"
    coded = "1 = censored" if censored is not None else "1 = event"
    return EventColumn(name, censored is not None, f"column {name!r} given with {option} ({coded})")


def survival_target(table: pd.DataFrame, target: str | Sequence[str] | None, event: str | None,
                    censored: str | None, task: str | None) -> tuple[str, EventColumn] | None:
    """(duration column, indicator) of a survival target, or None when the table's target is
    not one. A declared indicator needs one duration column (given, or named like one)."""
    columns = [str(column) for column in table.columns]
    declared = declared_indicator(columns, event, censored)
    if declared is None and task not in (None, "survival"):
        return None
    single = target if isinstance(target, str) else (
        target[0] if isinstance(target, (list, tuple)) and len(target) == 1 else None)
    if target is not None and single is None:
        if declared is not None:
            raise TargetError("--event / --censored go with one duration column",
                              hint="give the duration with --target and the indicator with --event")
        return None
    if single is not None:
        duration = str(single)
        named_like = bool(_words(duration) & DURATION_WORDS)
        if duration not in columns or (declared is None and task is None and not named_like):
            return None
    else:
        named = [column for column in columns if _words(column) & DURATION_WORDS
                 and (declared is None or column != declared.name)]
        if not named:
            if declared is not None:
                raise TargetError("no duration column: give it with --target",
                                  hint="--event / --censored name the indicator, --target the duration")
            return None
        duration = named[0]
    indicator = declared or _named_indicator(table, duration)
    if indicator is None:
        return None
    if indicator.name == duration:
        raise TargetError(f"column {duration!r} cannot be both the duration and the indicator",
                          hint="give the duration with --target and the indicator with --event")
    return duration, indicator
