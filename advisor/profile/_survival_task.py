"""A survival target: the duration and the event indicator, checked and encoded.

The refusals are one line each: a negative duration, an indicator that is not 0/1, a target
without any event, a task forced to survival without an indicator.
"""

from __future__ import annotations

import numpy as np

from ..errors import TargetError
from ..load import LoadedData
from ._column import Column
from ._task import Target


def detect_survival(columns: list[Column], loaded: LoadedData, forced: str | None) -> Target:
    """The (duration, 0/1 event) target of the rows kept, with its reason."""
    indicator = loaded.event
    if indicator is None:
        raise TargetError("--task survival needs an event indicator besides the duration",
                          hint="name it with --event COL (1 = event) or --censored COL (1 = censored)")
    if forced not in (None, "survival"):
        raise TargetError(f"column {indicator.name!r} makes the target a survival target, not "
                          f"{forced}", hint="leave --event / --censored out for another task")
    duration, flag = columns
    if duration.kind not in ("number", "bool") or flag.kind not in ("number", "bool"):
        bad = duration if duration.kind not in ("number", "bool") else flag
        raise TargetError(f"survival column {bad.name!r} holds text, not numbers",
                          hint="give a numeric duration and a 0/1 indicator")
    time = duration.numbers.astype(np.float64)
    if time.min() < 0:
        raise TargetError(f"duration {duration.name!r} goes down to {time.min():g}: durations "
                          "cannot be negative", hint="give the time from the start of follow-up")
    values = flag.numbers.astype(np.float64)
    if not np.isin(values, (0.0, 1.0)).all():
        other = values[~np.isin(values, (0.0, 1.0))][0]
        raise TargetError(f"indicator {flag.name!r} holds {other:g}: an event indicator is 0/1",
                          hint="code it 1 = event, 0 = censored (or True/False)")
    event = 1.0 - values if indicator.censoring else values
    n_events = int(event.sum())
    if n_events == 0:
        raise TargetError(f"indicator {flag.name!r} records no event: every row is censored, "
                          "nothing to learn", hint="check the coding (--event or --censored)")
    censored = 1.0 - n_events / len(event)
    reason = (f"{indicator.reason}; duration {duration.name!r} from {time.min():.4g} to "
              f"{time.max():.4g} with {n_events} events ({censored:.1%} censored): survival")
    y = np.column_stack([time, event])
    return Target("survival", reason, y, numeric=time.reshape(-1, 1),
                  n_distinct=int(np.unique(time).size))
