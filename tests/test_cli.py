"""The ``advisor`` command: results on stdout, one-line errors and exit code 2 on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import run_cli

from advisor.options import available_cores

DATA = Path(__file__).resolve().parent.parent / "data"


def assert_clean_error(result, *fragments: str) -> None:
    """Exit code 2, one line on stderr starting with 'error:', naming the problem, no traceback."""
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment.lower() in lines[0].lower(), lines[0]
    assert result.stdout == ""


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def small_csv(tmp_path: Path, target_values: list[str], name: str = "d.csv") -> str:
    rows = [f"{i},{i * 0.5},{value}" for i, value in enumerate(target_values)]
    return write(tmp_path, name, "a,b,y\n" + "\n".join(rows) + "\n")


# ----- bad input -------------------------------------------------------------------------
def test_missing_file(tmp_path):
    assert_clean_error(run_cli("suggest", str(tmp_path / "nope.csv"), "--no-validate"), "nope.csv")


def test_empty_file(tmp_path):
    assert_clean_error(run_cli("suggest", write(tmp_path, "e.csv", ""), "--no-validate"), "empty")


def test_header_only_file(tmp_path):
    assert_clean_error(run_cli("suggest", write(tmp_path, "h.csv", "a,b,y\n"), "--no-validate"))


def test_unknown_target_column(tmp_path):
    path = small_csv(tmp_path, ["0", "1"] * 10)
    assert_clean_error(run_cli("suggest", path, "--target", "why", "--no-validate"), "why")


def test_single_class(tmp_path):
    path = small_csv(tmp_path, ["cat"] * 20)
    assert_clean_error(run_cli("suggest", path, "--no-validate"), "single")


def test_constant_numeric_target(tmp_path):
    path = small_csv(tmp_path, ["3.5"] * 20)
    assert_clean_error(run_cli("suggest", path, "--no-validate"), "single")


def test_all_missing_target(tmp_path):
    path = small_csv(tmp_path, [""] * 20)
    assert_clean_error(run_cli("suggest", path, "--no-validate"), "missing")


def test_text_where_numbers_belong(tmp_path):
    path = small_csv(tmp_path, ["red", "green", "blue"] * 7)
    assert_clean_error(run_cli("suggest", path, "--task", "regression", "--no-validate"),
                       "needs numbers", "'red'")


def test_a_few_text_cells_in_a_numeric_target_are_dropped_with_a_warning(tmp_path):
    values = [f"{10 + (i % 17) * 0.37:.2f}" for i in range(60)] + ["#VALUE!"]
    result = run_cli("suggest", small_csv(tmp_path, values), "--no-validate", "--format", "json")
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["task"] == "regression"
    assert payload["profile"]["facts"]["n_rows"] == 60
    warning = next(w for w in payload["warnings"] if w["code"] == "data.target_text")
    assert "'#VALUE!' (1 row)" in warning["message"]


def test_a_row_identifier_as_the_last_column(tmp_path):
    rows = "\n".join(f"{i * 0.1},{i % 3},{1000 + i}" for i in range(50))
    path = write(tmp_path, "ids.csv", "a,b,customer_id\n" + rows + "\n")
    assert_clean_error(run_cli("suggest", path, "--no-validate"), "customer_id", "row identifier",
                       "--target")


def test_three_row_dataset(tmp_path):
    path = small_csv(tmp_path, ["0", "1", "0"])
    assert_clean_error(run_cli("suggest", path, "--no-validate"), "10")


def test_unknown_loss_name(tmp_path):
    path = small_csv(tmp_path, ["0", "1"] * 10)
    assert_clean_error(run_cli("suggest", path, "--loss", "cross_entropi", "--no-validate"), "cross_entropi")


@pytest.mark.parametrize("args, message", [
    (("--jobs", "0"), "jobs must be a non-zero integer"),
    (("--quantile", "1.5"), "quantile must be a number strictly between 0 and 1; got 1.5"),
    (("--budget", "-3"), "budget must be a positive number of seconds; got -3.0"),
    (("--seed", "-1"), "seed must be a non-negative integer; got -1"),
    (("--label-sep", ""), "label_sep must be a non-empty string"),
])
def test_a_value_out_of_range_is_a_clean_error_before_the_data_are_read(tmp_path, args, message):
    assert_clean_error(run_cli("suggest", str(tmp_path / "never_read.csv"), *args, "--no-validate"),
                       message)


@pytest.mark.parametrize("option", ["--activation", "--metric", "--framework", "--task"])
def test_unknown_choice_is_a_usage_error(tmp_path, option):
    path = small_csv(tmp_path, ["0", "1"] * 10)
    result = run_cli("suggest", path, option, "nonsense", "--no-validate")
    assert result.exit_code == 2
    assert "nonsense" in result.stderr and "Traceback" not in result.output


def test_metric_that_does_not_fit_the_task(tmp_path):
    path = small_csv(tmp_path, ["0", "1"] * 10)
    assert_clean_error(run_cli("suggest", path, "--metric", "poisson_deviance", "--no-validate"),
                       "metric")


def test_broken_rule_dir(tmp_path):
    rule_dir = tmp_path / "rules"
    rule_dir.mkdir()
    (rule_dir / "bad.toml").write_text(
        '[[rule]]\nid = "x.bad"\nwhen = "imbalance_ratoi > 3"\nbecause = "b"\ncite = ["c"]\n'
        'effects = [{ loss = "focal", score = 1.0 }]\n')
    path = small_csv(tmp_path, ["0", "1"] * 10)
    assert_clean_error(run_cli("suggest", path, "--rules", str(rule_dir), "--no-validate"),
                       "bad.toml", "x.bad")
    assert_clean_error(run_cli("rules", "check", str(rule_dir)), "bad.toml", "x.bad")


def test_unknown_example():
    assert_clean_error(run_cli("suggest", "example:penguin", "--no-validate"), "penguins")


# ----- results ---------------------------------------------------------------------------
def test_json_is_byte_identical_across_runs():
    args = ("suggest", str(DATA / "penguins.csv"), "--no-validate", "--format", "json")
    first, second = run_cli(*args), run_cli(*args)
    assert first.exit_code == 0, first.stderr
    assert first.stdout == second.stdout
    payload = json.loads(first.stdout)
    assert payload["schema_version"] == "2.0"
    assert payload["candidates"][0]["loss"] == payload["recommendation"]
    assert payload["validation"] is None
    assert payload["target"]["columns"] == ["species"]


def test_stdin_input():
    text = (DATA / "breast_cancer.csv").read_text()
    result = run_cli("suggest", "-", "--target", "diagnosis", "--no-validate", "--format", "json",
                 input=text)
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["task"] == "binary"
    assert payload["provenance"]["source"] == "<stdin>"


def test_text_output_names_the_winner_and_its_snippet():
    result = run_cli("suggest", "example:poor_health", "--metric", "balanced_accuracy",
                 "--no-validate")
    assert result.exit_code == 0, result.stderr
    assert "weighted_cross_entropy" in result.stdout
    assert "BCEWithLogitsLoss(pos_weight=" in result.stdout
    assert "rules-only" in result.stdout


def test_positive_class_sets_the_weights_and_the_command():
    args = ("suggest", "example:breast_cancer", "--no-validate", "--format", "json")
    default = json.loads(run_cli(*args).stdout)
    chosen = json.loads(run_cli(*args, "--positive", "benign").stdout)
    assert default["profile"]["classes"] == ["benign", "malignant"]
    assert chosen["profile"]["classes"] == ["malignant", "benign"]

    def pos_weight(payload):
        weighted = next(c for c in payload["candidates"] if c["loss"] == "weighted_cross_entropy")
        return weighted["params"]["pos_weight"]

    assert pos_weight(default) == pytest.approx(357 / 212, rel=1e-3)
    assert pos_weight(chosen) == pytest.approx(212 / 357, rel=1e-3)
    assert "--positive benign" in chosen["reproducibility"]["command"]


def test_loss_audit_flags_the_users_loss():
    result = run_cli("suggest", "example:poor_health", "--metric", "balanced_accuracy",
                 "--loss", "cross_entropy", "--no-validate", "--format", "json")
    payload = json.loads(result.stdout)
    assert payload["audit"]["loss"] == "cross_entropy"
    assert payload["audit"]["recommended"] == "weighted_cross_entropy"
    assert "weighted_cross_entropy" in payload["audit"]["message"]


def test_rules_list_show_check(tmp_path):
    listed = run_cli("rules", "list", "--format", "json")
    rules = json.loads(listed.stdout)["rules"]
    assert len(rules) >= 35
    shown = run_cli("rules", "show", rules[0]["id"])
    assert shown.exit_code == 0 and rules[0]["id"] in shown.stdout
    # the weighting rules of several targets are listed and shown too
    weighting = json.loads(listed.stdout)["composite_rules"]
    assert {rule["file"] for rule in weighting} == {"rules/composite.toml"}
    shown = run_cli("rules", "show", "composite.many_targets")
    assert shown.exit_code == 0 and "n_targets >= 3" in shown.stdout and "GradNorm" in shown.stdout
    assert "weighting rules of several targets" in run_cli("rules", "list").stdout
    good = tmp_path / "good"
    good.mkdir()
    (good / "mine.toml").write_text(
        '[[rule]]\nid = "mine.prefer_huber"\nwhen = "task == \'regression\'"\n'
        'because = "We always prefer Huber."\ncite = ["Our team, 2026"]\n'
        'effects = [{ loss = "huber", score = 9.0 }]\n')
    checked = run_cli("rules", "check", str(good))
    assert checked.exit_code == 0 and "1 rules" in checked.stdout
    result = run_cli("suggest", str(DATA / "diabetes.csv"), "--rules", str(good), "--no-validate",
                 "--format", "json")
    payload = json.loads(result.stdout)
    assert payload["recommendation"] == "huber"
    assert "mine.prefer_huber" in payload["rulebase"]["fired"]


def test_rules_show_unknown_id():
    assert_clean_error(run_cli("rules", "show", "no.such.rule"), "no.such.rule")


def test_examples_lists_bundled_data():
    result = run_cli("examples")
    assert "example:poor_health" in result.stdout and "example:penguins" in result.stdout


def test_help_does_not_import_heavy_modules():
    code = ("import sys, advisor.cli; heavy = [m for m in ('pandas', 'sklearn', 'numpy', "
            "'matplotlib', 'rich', 'rule_engine') if m in sys.modules]; print(heavy)")
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True).stdout.strip()
    assert output == "[]"


@pytest.mark.usefixtures("machine_at_model_speed")
def test_validated_json_is_byte_identical_across_runs():
    """The experiment is planned from a cost model, not from wall-clock jitter: same bytes.
    (On a machine at the model's speed: what a slower or loaded one changes, the slow-machine
    notice and an extension the clock cuts, has tests of its own in test_validate.)"""
    args = ("suggest", "example:breast_cancer", "--metric", "balanced_accuracy", "--budget", "6",
            "--format", "json", "--quiet")
    first, second = run_cli(*args), run_cli(*args)
    assert first.exit_code == 0, first.stderr
    assert first.stdout == second.stdout
    payload = json.loads(first.stdout)
    assert payload["validation"]["protocol"]["splits_used"] >= 2
    assert "timing" not in payload["validation"]
    # the default --jobs is the cores this process may use, pinned in the reproduce command
    cores = available_cores()
    assert payload["settings"]["n_jobs"] == cores
    assert f"--jobs {cores}" in payload["reproducibility"]["command"]


def test_timings_only_when_asked():
    base = ("suggest", "example:penguins", "--no-validate", "--format", "json")
    assert "timing" not in json.loads(run_cli(*base).stdout)
    timed = json.loads(run_cli(*base, "--timings").stdout)
    assert timed["timing"]["total"] > 0 and timed["timing"]["load"] > 0


def test_scheduler_needs_the_dask_backend():
    result = run_cli("suggest", "example:penguins", "--scheduler", "tcp://127.0.0.1:8786",
                 "--budget", "5")
    assert result.exit_code == 2 and "--backend dask" in result.stderr


def test_the_executable_flushes_its_output_and_exit_code_when_it_skips_teardown(tmp_path):
    """The console entry point ends without interpreter teardown after a rules-only run: the
    JSON, the report file and the exit code must all be complete. (Run outside the checkout,
    so the installed package is the one imported.)"""
    report = tmp_path / "report.md"
    done = subprocess.run([sys.executable, "-m", "advisor.cli", "suggest", "example:penguins",
                           "--no-validate", "--format", "json", "--report", str(report)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["candidates"][0]["loss"] == "cross_entropy"
    assert report.read_text(encoding="utf-8").rstrip().splitlines()[-1] == "| positive given | — |"
    assert (tmp_path / "report-target-distribution.svg").read_text(encoding="utf-8").rstrip().endswith("</svg>")
    failed = subprocess.run([sys.executable, "-m", "advisor.cli", "suggest", str(tmp_path / "missing.csv")],
                            capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert failed.returncode == 2
    assert failed.stderr.strip().splitlines() == [f"error: file not found: {tmp_path / 'missing.csv'}; check the path"]
