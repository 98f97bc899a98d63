"""Golden JSON of every bundled example: a refactor must leave the advice byte-identical.

Each example is recorded twice: rules only, and validated with a small pinned protocol
(pinned choices make the experiment independent of the clock and the machine's load). The
library versions and the folder the examples are installed in are left out of the
comparison; everything else must match to the byte.
Re-record on purpose only, after a deliberate change of behaviour:
``ADVISOR_RECORD_GOLDEN=1 python -m pytest tests/test_golden.py``.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from conftest import pin_protocol

import advisor
from advisor.examples import EXAMPLES, example_path

GOLDEN = Path(__file__).parent / "golden"
RECORD = os.environ.get("ADVISOR_RECORD_GOLDEN") == "1"
#: Small enough to keep the whole file under half a minute, large enough to train every
#: candidate on every split.
PINNED_PROTOCOL = {"sample_rows": 200, "folds": 2, "repeats": 1, "epochs": 8}
#: Options an example needs to be read as its description says.
EXAMPLE_OPTIONS = {"health_flags": {"label_sep": "|"}, "mortgage_denial": {"sensitive": "afam"}}


def _pinned_validation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the library's experiment run the pinned protocol."""
    pin_protocol(monkeypatch, **PINNED_PROTOCOL)


#: The library versions' block: it differs between machines.
VERSIONS = re.compile(r'"versions": \{[^{}]*\}')


def _comparable(text: str, data_dir: str) -> str:
    """``text`` without the library versions, and with the examples' folder (where the
    package is installed) as ``<examples>``: the only parts that differ between machines."""
    assert len(VERSIONS.findall(text)) == 1, "the JSON lost its versions block"
    return VERSIONS.sub('"versions": {}', text).replace(json.dumps(data_dir)[1:-1], "<examples>")


@pytest.mark.parametrize("mode", ["rules", "validated"])
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_json_is_byte_identical_to_its_golden_file(name, mode, monkeypatch):
    if mode == "validated":
        _pinned_validation(monkeypatch)
    recommendation = advisor.suggest(f"example:{name}", validate=mode == "validated",
                                     n_jobs=1, **EXAMPLE_OPTIONS.get(name, {}))
    text = recommendation.to_json() + "\n"
    path = GOLDEN / f"{name}.{mode}.json"
    here = str(example_path(name).parent)
    if RECORD:  # recorded with <examples> for the folder: no machine's path in the repository
        path.write_text(text.replace(json.dumps(here)[1:-1], "<examples>"), encoding="utf-8")
    assert path.is_file(), f"no golden file {path.name}: record it (see this module's docstring)"
    expected = path.read_text(encoding="utf-8")
    recorded_dir = json.loads(expected)["provenance"]["source"].rsplit("/", 1)[0]
    assert _comparable(text, here) == _comparable(expected, recorded_dir), \
        f"{name} ({mode}) no longer prints its golden JSON"
