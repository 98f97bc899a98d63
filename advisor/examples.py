"""The bundled example datasets, addressable as ``example:NAME`` from the CLI.

The files live in the top-level ``data/`` folder, installed as the package
``advisor.example_data``; ``data/README.md`` gives each one's source and licence.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from .errors import DataLoadError

#: ``example:NAME`` names a bundled dataset wherever a data path is accepted.
EXAMPLE_PREFIX = "example:"

#: name -> what a user should know before running it (target, task, suggested options).
EXAMPLES: dict[str, str] = {
    "penguins": "Palmer penguins species (multiclass, text features, missing values)",
    "breast_cancer": "Wisconsin breast cancer diagnosis (binary, mildly imbalanced)",
    "poor_health": "RAND HIE self-rated poor health (binary, ~1.5% positive); try --metric balanced_accuracy",
    "doctor_visits": "RAND HIE doctor visits (over-dispersed count); try --metric poisson_deviance",
    "health_flags": "RAND HIE health conditions (multi-label); use --label-sep '|'",
    "marriage_rating": "Fair's marriage rating 1..5 (ordinal); try --metric mae",
    "party_id": "ANES 1996 party identification 0..6 (ordinal)",
    "affairs": "Fair's affairs (zeros and positive values: Tweedie)",
    "school_pass_rate": "California schools' pass rate (proportion)",
    "diabetes": "Diabetes progression (regression with whole-number values)",
    "food_expenditure": "Engel food expenditure (strictly positive, skewed)",
    "tbill_rate_change": "US T-bill rate quarterly change (heavy-tailed regression); try --metric mae",
    "rossi": "Rossi recidivism: weeks to re-arrest, censored at 52 (survival; needs the survival extra)",
    "mortgage_denial": "Boston HMDA mortgage denial (binary) with the applicant's race; try --sensitive afam",
}


def _data_dir() -> Any:
    """The installed example folder (importlib.resources imported here: ``advisor suggest``
    on a file of one's own does not need it)."""
    from importlib.resources import files

    return files("advisor.example_data")


def list_examples() -> list[tuple[str, str]]:
    """(name, description) of every example whose file is installed."""
    present = {entry.name for entry in _data_dir().iterdir()}
    return [(name, text) for name, text in EXAMPLES.items() if f"{name}.csv" in present]


def example_path(name: str) -> Path:
    """The file of a bundled example; a clear error naming the known examples otherwise."""
    resource = _data_dir() / f"{name}.csv"
    if name not in EXAMPLES or not resource.is_file():
        known = [known_name for known_name, _ in list_examples()]
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"did you mean example:{close[0]}?" if close else "run 'advisor examples' to list them"
        raise DataLoadError(f"no bundled example named {name!r}", hint=hint)
    from importlib.resources import as_file

    with as_file(resource) as path:  # a real file for installed packages (not zipped)
        return Path(path)
