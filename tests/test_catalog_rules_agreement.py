"""The catalog and the rule base agree: a loss the catalog cannot pair with an output
activation is vetoed by the rules, on the real profile of every bundled dataset."""

from __future__ import annotations

from pathlib import Path

import pytest

from advisor.load import load_data
from advisor.losses import CATALOG, losses_for_task
from advisor.options import ACTIVATION_ALIASES, ACTIVATIONS
from advisor.profile import profile_data
from advisor.rules import load_rulebase

DATA = Path(__file__).resolve().parent.parent / "data"
DATASETS = {  # one real dataset per task
    "poor_health": {}, "penguins": {}, "health_flags": {"label_sep": "|"},
    "marriage_rating": {}, "diabetes": {}, "tbill_rate_change": {}, "doctor_visits": {},
    "school_pass_rate": {}, "food_expenditure": {},
}
OUTPUTS = [name for name in ACTIVATIONS if name != "auto" and name not in ACTIVATION_ALIASES]


@pytest.mark.parametrize("dataset", sorted(DATASETS))
@pytest.mark.parametrize("activation", OUTPUTS)
def test_every_pair_the_catalog_rejects_is_vetoed(dataset, activation):
    loaded = load_data(DATA / f"{dataset}.csv", label_sep=DATASETS[dataset].get("label_sep"))
    profile = profile_data(loaded, activation=activation)
    applicable = losses_for_task(profile.task)
    outcome = load_rulebase().evaluate(profile.facts, applicable)
    for loss_id in applicable:
        if not CATALOG[loss_id].accepts_activation(profile.task, activation):
            assert loss_id in outcome.vetoes, (
                f"{loss_id} cannot take a {activation} output on a {profile.task} target "
                f"({dataset}), but no rule vetoes it")
