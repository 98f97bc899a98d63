"""The installed package is the source tree: every package directory is listed in setup.cfg,
so a non-editable install (what the README's commands do) ships it."""

from __future__ import annotations

import configparser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_of_the_source_tree_is_listed_in_setup_cfg():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    listed = set(config["options"]["packages"].split())
    found = {".".join(path.parent.relative_to(ROOT).parts)
             for path in (ROOT / "advisor").rglob("__init__.py")}
    mapped = {"advisor.builtin_rules", "advisor.example_data"}  # package_dir: rules/ and data/
    assert found <= listed, sorted(found - listed)
    assert mapped <= listed
