"""Property: whatever table comes in, load -> profile -> rules (with the derived parameters,
the snippets and the final ranking) ends in a recommendation or an AdvisorError.

Generated tables mix dtypes, NaN and inf, constant and near-constant columns, odd unicode
names, and one to several target columns; some go through a CSV file, some stay in memory.
Any other exception is a bug.
"""

from __future__ import annotations

import json
import math
import os
import tempfile

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from advisor.decide import decide
from advisor.errors import AdvisorError
from advisor.facts import FACT_NAMES, FACT_TYPES
from advisor.load import load_data
from advisor.losses import CATALOG, losses_for_task
from advisor.options import TASKS
from advisor.profile import Profile, profile_data
from advisor.rules import load_rulebase

NAMES = st.one_of(
    st.sampled_from(["y", "target", "Label", "class", "x", "a b", "", " ", "ß", "名前", "😀", "a|b", "1"]),
    st.text(min_size=0, max_size=6),
)
FLOATS = st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                   st.sampled_from([0.0, 1.0, 0.5, -1.0, 1e308, -1e-308, np.nan, np.inf]))
TEXTS = st.one_of(st.sampled_from(["a", "b", "", " ", "1", "2", "1.5", "a|b", "x;y", "é", "nan", "inf"]),
                  st.text(max_size=4))
# strategies built once (building them inside each draw costs more than the test itself)
FLOAT_POOL = st.lists(FLOATS, min_size=1, max_size=4)
TEXT_POOL = st.lists(st.one_of(TEXTS, st.none()), min_size=1, max_size=6)
MIXED_POOL = st.lists(st.one_of(TEXTS, st.integers(-5, 5), FLOATS, st.booleans(), st.none()),
                      min_size=1, max_size=6)
ANY_VALUE = st.one_of(FLOATS, TEXTS)
SEEDS = st.integers(0, 2**32 - 1)
SHARES = st.sampled_from([0.0, 0.1, 0.5, 1.0])
TEXT_DTYPES = st.sampled_from([object, "str"])
KINDS = ["float", "int", "bool", "text", "mixed", "category", "ordered", "constant",
         "near_constant", "zero_one", "small_int", "counts", "unit"]
KIND = st.sampled_from(KINDS)


@st.composite
def column(draw, n: int):
    """One column of ``n`` values: a kind, a few special values drawn by hypothesis, and a
    seeded numpy generator for the bulk (cheap to draw, still reproducible and shrinkable)."""
    kind = draw(KIND)
    rng = np.random.default_rng(draw(SEEDS))
    share = draw(SHARES)  # how many cells take a special value
    special = rng.random(n) < share

    def mix(bulk: np.ndarray, pool: list) -> list:
        picks = rng.integers(0, len(pool), n) if pool else np.zeros(n, dtype=int)
        return [pool[pick] if is_special and pool else value
                for value, pick, is_special in zip(bulk.tolist(), picks, special)]

    if kind == "float":
        pool = draw(FLOAT_POOL)
        return pd.Series(mix(rng.normal(0, 10.0 ** rng.integers(-3, 6), n), pool), dtype="float64")
    if kind == "int":
        return pd.Series(rng.integers(-10**12, 10**12, n), dtype="int64")
    if kind == "bool":
        return pd.Series(rng.random(n) < 0.5, dtype=bool)
    if kind == "text":
        pool = draw(TEXT_POOL)
        values = [pool[i] for i in rng.integers(0, len(pool), n)]
        return pd.Series(values, dtype=draw(TEXT_DTYPES))
    if kind == "mixed":
        pool = draw(MIXED_POOL)
        return pd.Series([pool[i] for i in rng.integers(0, len(pool), n)], dtype=object)
    if kind in ("category", "ordered"):
        categories = ["lo", "mid", "hi", ""]
        values = [None if i == 4 else categories[i] for i in rng.integers(0, 5, n)]
        return pd.Series(pd.Categorical(values, categories=categories, ordered=kind == "ordered"))
    if kind == "constant":
        return pd.Series([draw(ANY_VALUE)] * n)
    if kind == "near_constant":
        values = [7.0] * n
        if n:
            values[draw(st.integers(0, n - 1))] = draw(FLOATS)
        return pd.Series(values)
    if kind == "zero_one":
        return pd.Series(mix(rng.integers(0, 2, n).astype(float), [np.nan]))
    if kind == "small_int":
        return pd.Series(rng.integers(draw(st.integers(-3, 1)), draw(st.integers(2, 12)), n))
    if kind == "counts":
        return pd.Series(rng.negative_binomial(1, 0.2, n))
    return pd.Series(mix(rng.random(n), [0.0, 1.0, np.nan]))  # unit interval


@st.composite
def case(draw):
    n = draw(st.sampled_from([20, 12, 10, 30, 40, 9, 3, 0]))  # mostly enough rows to profile
    width = draw(st.sampled_from([3, 2, 4, 5, 1]))
    names = draw(st.lists(NAMES, min_size=width, max_size=width))
    if draw(st.sampled_from([True, True, True, False])):  # unique names, most of the time
        names = [name if name not in names[:index] else f"{name}_{index}" for index, name in enumerate(names)]
    frame = pd.DataFrame({index: draw(column(n)) for index in range(width)})
    frame.columns = names  # may repeat a name: duplicated columns are part of the test
    target = draw(st.sampled_from(["default", "one", "one", "several", "any"]))
    if target == "default":
        target = None
    elif target == "one":
        target = draw(st.sampled_from(names))
    elif target == "several":
        target = draw(st.lists(st.sampled_from(names), min_size=1, max_size=3))
    else:
        target = draw(NAMES)
    label_sep = draw(st.sampled_from([None, None, None, "|", ";"]))
    task = draw(st.one_of(st.none(), st.none(), st.sampled_from(TASKS)))
    via_csv = draw(st.sampled_from([False, False, True]))
    return frame, target, label_sep, task, via_csv


def _check_profile(profile: Profile) -> None:
    assert set(profile.facts) == FACT_NAMES
    for name, value in profile.facts.items():
        assert type(value) is FACT_TYPES[name], (name, value)
        assert not isinstance(value, float) or math.isfinite(value), (name, value)
    json.dumps(profile.to_dict(), allow_nan=False)
    assert len(profile.y) == int(profile.row_mask.sum()) >= 10
    assert profile.task in TASKS


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case())
def test_any_table_profiles_or_fails_cleanly(example):
    frame, target, label_sep, task, via_csv = example
    try:
        if via_csv:
            handle, path = tempfile.mkstemp(suffix=".csv")
            try:
                with os.fdopen(handle, "w", encoding="utf-8", errors="surrogatepass") as stream:
                    frame.to_csv(stream, index=False)
                loaded = load_data(path, target, label_sep=label_sep)
            finally:
                os.unlink(path)
        else:
            loaded = load_data(frame, target, label_sep=label_sep)
        profile = profile_data(loaded, task=task)
        _check_profile(profile)
        applicable = losses_for_task(profile.task)
        outcome = load_rulebase().evaluate(profile.facts, applicable)
        for loss_id in applicable:
            params = CATALOG[loss_id].derive(profile, {"quantiles": profile.quantiles})
            for framework in ("pytorch", "keras"):
                assert CATALOG[loss_id].snippet(framework, params, profile)
        decision = decide(outcome, None)
    except AdvisorError as error:
        assert str(error) and "\n" not in str(error)
        return
    assert sorted(decision.order) == sorted(applicable)
