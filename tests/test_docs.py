"""The README stays true: its reference tables match the code, every command is documented."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from advisor.cli import main
from advisor.docs import END, START, reference_block

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_reference_tables_match_the_code():
    start, end = README.index(START), README.index(END) + len(END)
    assert README[start:end] == reference_block(), "run: python -m advisor.docs --write README.md"


def test_readme_opens_with_the_two_commands():
    blocks = re.findall(r"```bash\n(.*?)\n```", README, flags=re.S)
    assert len(blocks[0].splitlines()) == 1 and "advisor suggest" in blocks[0]
    assert len(blocks[1].splitlines()) == 1 and "pytest" in blocks[1] and "[test]" in blocks[1]


def _commands(group: click.Group, prefix: str = ""):
    for name, command in group.commands.items():
        yield f"{prefix}{name}", command
        if isinstance(command, click.Group):
            yield from _commands(command, f"{prefix}{name} ")


@pytest.mark.parametrize("name,command", list(_commands(main)))
def test_every_command_has_help_and_is_in_the_readme(name, command):
    assert command.help, f"advisor {name} has no help text"
    assert f"advisor {name}" in README, f"advisor {name} is not documented in the README"
    for option in command.params:
        if isinstance(option, click.Option) and option.name != "help":
            assert option.help, f"advisor {name} {option.opts[0]} has no help text"


def test_the_readme_counts_the_built_in_rules():
    from advisor.losses import GENERATED_RULES_FILE
    from advisor.rules import load_composite_rulebase, load_rulebase

    found = re.search(r"(\d+) built-in rules: (\d+) in (\w+) files.*?(\d+) activation vetoes.*?"
                      r"(\d+) in\s+`rules/composite.toml`", README, flags=re.S)
    assert found, "the README's rule count line is missing"
    total, in_files, files, vetoes, composite = found.groups()
    rules = load_rulebase().rules
    generated = [rule for rule in rules if rule.file == GENERATED_RULES_FILE]
    numbers = {"thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16}
    assert int(vetoes) == len(generated)
    assert int(in_files) == len(rules) - len(generated)
    assert numbers[files] == len({rule.file for rule in rules} - {GENERATED_RULES_FILE})
    assert int(composite) == len(load_composite_rulebase().rules)
    assert int(total) == len(rules) + int(composite)
