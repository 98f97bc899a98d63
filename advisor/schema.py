"""The result schema's shared rules. Today: the one rounding rule every JSON number follows.

Numbers reach the JSON rounded to a few significant digits, so the same input gives the same
bytes and a reviewer reads 0.123457, not 0.12345678901234. Every stage rounds with
:func:`significant`; what a stage does with a missing or infinite number stays its own call.
"""

from __future__ import annotations

import math
from typing import Any

#: Significant digits of measured figures (scores, facts, p-values).
MEASURED_DIGITS = 6
#: Significant digits of derived loss settings (weights, deltas, quantile levels).
SETTING_DIGITS = 4


def significant(value: Any, digits: int = MEASURED_DIGITS) -> float:
    """``value`` as a float with ``digits`` significant digits; non-finite values unchanged."""
    number = float(value)
    if not math.isfinite(number):
        return number
    return float(f"{number:.{digits}g}")
