"""Amounts against counts: whole-number prices are not counts.

Whole-number prices (diamonds 326..18823, houses in steps of 100) are not counts, and a
log-link count loss extrapolates badly on them. Counts are mostly small, so only a target
whose non-zero values have a median of at least AMOUNT_MIN_SCALE can be an amount, and then
one of two clues decides: the column is named like money (a word such as price, cost,
amount, salary, income, revenue, sales, value, fee, usd), or at least 95 % of its non-zero
values are multiples of 10, 100 or 1000 (counted things do not come in round steps; prices
and salaries do). A count word in the name (count, cnt, n, num, number, qty...) wins over
both: `n_sales` is a count.
"""

from __future__ import annotations

import re

import numpy as np

#: Words of a column name (split at non-letters and camelCase; a plural "s" allowed) that name
#: an amount of money; the stems also count inside a compound word ("saleprice", "loanamount").
AMOUNT_WORDS = frozenset({
    "price", "cost", "amount", "amt", "salary", "wage", "income", "revenue", "sales", "value",
    "fee", "spend", "spending", "expenditure", "earnings", "payment", "rent", "usd", "eur",
    "euro", "gbp", "dollar",
})
AMOUNT_STEMS = ("price", "cost", "amount", "salary", "income", "revenue", "expenditure",
                "earning", "payment", "dollar")
#: Words that name a count: they win over every amount clue ("n_sales", "num_price_changes").
COUNT_WORDS = frozenset({"count", "counts", "cnt", "n", "num", "number", "nb", "qty",
                         "quantity", "units", "freq", "frequency"})
#: Tasks whose target may be an amount of money (the looks_like_amount fact).
AMOUNT_TASKS = frozenset({"regression", "count"})
#: Counts are mostly small: an amount's non-zero values have at least this median.
AMOUNT_MIN_SCALE = 20.0
#: Round steps: this share of at least AMOUNT_MIN_ROUND_VALUES non-zero values are multiples
#: of one of AMOUNT_STEPS (largest first).
AMOUNT_STEPS = (1000, 100, 10)
AMOUNT_ROUND_SHARE = 0.95
AMOUNT_MIN_ROUND_VALUES = 10


def _name_words(name: str) -> list[str]:
    """A column name as lowercase words: split at non-letters and camelCase ("SalePrice")."""
    return [word.lower() for word in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+", name)]


def amount_clue(name: str, values: np.ndarray) -> str | None:
    """Why a numeric target looks like an amount of money rather than a count, or None.

    A count word in ``name`` (COUNT_WORDS) means a count. Otherwise the non-zero values
    must have a median of at least AMOUNT_MIN_SCALE (counts are mostly small), and then
    either a word of ``name`` names money (AMOUNT_WORDS, or AMOUNT_STEMS inside a compound
    word) or AMOUNT_ROUND_SHARE of the non-zero values are multiples of a round step.
    """
    words = _name_words(name)
    if any(word in COUNT_WORDS for word in words):
        return None
    nonzero = np.abs(values[values != 0])
    if not nonzero.size or float(np.median(nonzero)) < AMOUNT_MIN_SCALE:
        return None
    for word in words:
        if (word in AMOUNT_WORDS or (word.endswith("s") and word[:-1] in AMOUNT_WORDS)
                or any(stem in word for stem in AMOUNT_STEMS)):
            return f"named like an amount of money ({name!r})"
    if nonzero.size >= AMOUNT_MIN_ROUND_VALUES:
        for step in AMOUNT_STEPS:
            share = float(np.mean(np.fmod(nonzero, step) == 0))
            if share >= AMOUNT_ROUND_SHARE:
                every = "every non-zero value" if share == 1 else f"{share:.0%} of the non-zero values"
                return f"in round steps of {step} ({every} a multiple of {step}), like prices"
    return None
