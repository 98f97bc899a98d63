"""The result schema: the records' one dict conversion, and the JSON Schema generated from them.

Every golden JSON and every result these tests produce (rules only, validated, with an audit,
with timings) validates against ``docs/schema.json``, which must be what the generator writes
today; the schema is strict enough to refuse a missing, misspelt or mistyped key, and so is
``Recommendation.from_dict``, which reads every golden file back to the same bytes.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import advisor
from advisor.record_codec import SchemaError
from advisor.schema import Reason, Recommendation, result_json_schema, result_json_schema_text

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = sorted((ROOT / "tests" / "golden").glob("*.json"))
SCHEMA_FILE = ROOT / "docs" / "schema.json"

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_report import real_dict, synthetic_recommendation  # noqa: E402


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _errors(validator: jsonschema.protocols.Validator, payload: dict[str, Any]) -> list[str]:
    return [f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
            for error in validator.iter_errors(payload)]


def test_docs_schema_is_what_the_generator_writes() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == result_json_schema_text(), \
        "docs/schema.json is stale: python -m advisor.schema > docs/schema.json"


def test_the_module_prints_the_schema() -> None:
    printed = subprocess.run([sys.executable, "-m", "advisor.schema"], cwd=ROOT, check=True,
                             capture_output=True, text=True, encoding="utf-8").stdout
    assert json.loads(printed) == result_json_schema()


@pytest.mark.parametrize("path", GOLDEN, ids=[path.stem for path in GOLDEN])
def test_every_golden_json_validates_and_reads_back_to_the_same_bytes(path: Path, validator) -> None:
    text = path.read_text(encoding="utf-8")
    payload = json.loads(text)
    assert _errors(validator, payload) == []
    assert Recommendation.from_dict(payload).to_json() + "\n" == text


def _produced() -> dict[str, dict[str, Any]]:
    audited = advisor.suggest("example:poor_health", loss="cross_entropy", validate=False)
    not_applicable = advisor.suggest("example:poor_health", loss="poisson", validate=False)
    return {
        "rules": real_dict("binary"),
        "validated": real_dict("regression", True),
        "audit": json.loads(audited.to_json()),
        "audit-not-applicable": json.loads(not_applicable.to_json()),
        "timing": json.loads(audited.to_json(include_timing=True)),
        "synthetic": json.loads(synthetic_recommendation(histogram=True).to_json()),
    }


@pytest.fixture(scope="module")
def produced() -> dict[str, dict[str, Any]]:
    return _produced()


@pytest.mark.parametrize("name", ["rules", "validated", "audit", "audit-not-applicable", "timing",
                                  "synthetic"])
def test_results_produced_here_validate(name: str, produced, validator) -> None:
    payload = produced[name]
    assert _errors(validator, payload) == []
    assert Recommendation.from_dict(payload).to_dict(include_timing="timing" in payload) == payload


def test_the_audit_keeps_its_two_shapes(produced) -> None:
    assert produced["audit"]["audit"]["vetoed"] is False
    assert "vetoed" not in produced["audit-not-applicable"]["audit"]
    assert produced["audit-not-applicable"]["audit"]["applicable"] is False


def _break(payload: dict[str, Any], path: tuple[Any, ...], how: str) -> dict[str, Any]:
    broken = copy.deepcopy(payload)
    holder = broken
    for step in path[:-1]:
        holder = holder[step]
    key = path[-1]
    if how == "drop":
        del holder[key]
    elif how == "misspell":
        holder[key + "s"] = holder.pop(key)
    else:
        holder[key] = "not a number"
    return broken


BROKEN = [
    (("task",), "drop"),
    (("candidates", 0, "verdict"), "misspell"),
    (("candidates", 0, "evidence", "ci_low"), "drop"),
    (("candidates", 1, "evidence", "versus", "practical", "rope"), "misspell"),
    (("validation", "protocol", "greater_is_better"), "drop"),
    (("validation", "comparisons", 0, "p_value"), "retype"),
    (("profile", "class_counts"), "misspell"),
    (("rulebase", "digest"), "drop"),
    (("settings", "seed"), "retype"),
    (("reproducibility", "command"), "misspell"),
    (("warnings",), "misspell"),
]


@pytest.mark.parametrize("path, how", BROKEN, ids=[f"{how}-{'.'.join(map(str, path))}" for path, how in BROKEN])
def test_a_missing_misspelt_or_mistyped_key_fails(path: tuple[Any, ...], how: str, validator) -> None:
    payload = json.loads((ROOT / "tests" / "golden" / "health_flags.validated.json").read_text(encoding="utf-8"))
    broken = _break(payload, path, how)
    assert _errors(validator, broken), f"the schema accepted {how} {path}"
    with pytest.raises(SchemaError):
        Recommendation.from_dict(broken)


def test_a_result_saved_before_the_judge_keys_reads_as_judged_on_all_rows(validator) -> None:
    # keys added after the schema shipped (ADDED): a result an earlier release saved still
    # loads (advisor report re-renders it), read as that release decided
    payload = json.loads((ROOT / "tests" / "golden" / "health_flags.validated.json").read_text(encoding="utf-8"))
    older = _break(_break(payload, ("decision", "judge"), "drop"),
                   ("validation", "protocol", "judge"), "drop")
    assert not _errors(validator, older)
    record = Recommendation.from_dict(older)
    assert record.decision.judge == "all_rows"
    assert record.validation.protocol.judge == "all_rows"
    assert json.loads(record.to_json()) == payload


def test_from_dict_names_the_bad_key() -> None:
    payload = json.loads(GOLDEN[0].read_text(encoding="utf-8"))
    with pytest.raises(SchemaError, match=r"Recommendation\.candidates\[0\]: missing key 'loss'"):
        Recommendation.from_dict(_break(payload, ("candidates", 0, "loss"), "drop"))
    with pytest.raises(SchemaError, match=r"Recommendation\.settings\.seed: expected integer, got string"):
        Recommendation.from_dict(_break(payload, ("settings", "seed"), "retype"))
    payload["recommendation"] = "not_the_first_candidate"
    with pytest.raises(SchemaError, match="does not match the record"):
        Recommendation.from_dict(payload)


def test_one_reason_reads_as_the_rules_wrote_it() -> None:
    veto = Reason("activation.relu", "mse", "veto", 0.0, "relu is never negative", ("A, 2020",),
                  "targets go below 0")
    score = Reason("shape.outliers", "huber", "score", 2.5, "outliers", (), "")
    assert veto.to_dict() == {"rule_id": "activation.relu", "effect": "veto",
                              "because": "targets go below 0", "cite": ["A, 2020"]}
    assert score.effect == "+2.5" and score.score_change == 2.5 and veto.score_change is None
    read = Reason.from_dict(score.to_dict())
    assert (read.kind, read.delta, read.explanation) == ("score", 2.5, "outliers")
    with pytest.raises(SchemaError, match="not a score change"):
        Reason.from_dict({**score.to_dict(), "effect": "a lot"})
