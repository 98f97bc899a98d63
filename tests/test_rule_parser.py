"""rule-engine imports with the parser tables the advisor ships, and they are its grammar's."""

from __future__ import annotations

import subprocess
import sys

from advisor.runtime import _rule_parser_tables as shipped
from advisor.runtime.rule_parser import build_tables


def test_the_shipped_tables_are_those_of_the_installed_rule_engine():
    built = build_tables()
    stale = [name for name, value in built.items() if getattr(shipped, name) != value]
    assert not stale, f"{stale} differ: regenerate with python -m advisor.runtime.rule_parser"


def test_rule_engine_imports_without_building_its_parser():
    """A fresh interpreter: PLY's table build never runs, and the parser parses."""
    code = """
import sys
built = []
def watch(frame, event, arg):
    if event == "call" and frame.f_code.co_name == "lr_parse_table":
        built.append(frame.f_code.co_filename)
sys.setprofile(watch)
from advisor.runtime.rule_parser import TABLES_MODULE, import_rule_engine
rule_engine = import_rule_engine()
sys.setprofile(None)
rule = rule_engine.Rule("n_rows > 3 and task == 'binary'")
print(built, rule.matches({"n_rows": 5, "task": "binary"}), rule.matches({"n_rows": 1, "task": "binary"}),
      TABLES_MODULE in sys.modules)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["[]", "True", "False", "False"]
    assert result.stderr == ""
