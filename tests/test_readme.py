"""The README stays current: every setting, command and record field is documented."""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path

from crawler.__main__ import COMMANDS
from crawler.items import DuplicateItem

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def setting_names() -> list[str]:
    tree = ast.parse((ROOT / "crawler" / "settings.py").read_text(encoding="utf-8"))
    return [
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name) and target.id.isupper()
    ]


def test_every_setting_is_in_the_readme() -> None:
    missing = [name for name in setting_names() if f"`{name}`" not in README]
    assert not missing, f"settings missing from README.md: {missing}"


def test_every_command_is_in_the_readme() -> None:
    missing = [name for name in COMMANDS if not re.search(rf"`{name}[ `]", README)]
    assert not missing, f"commands missing from README.md: {missing}"


def test_every_record_field_is_in_the_readme() -> None:
    fields = [f.name for f in dataclasses.fields(DuplicateItem)]
    missing = [name for name in fields if f"`{name}`" not in README]
    assert not missing, f"record fields missing from README.md: {missing}"


def test_no_placeholder_is_left() -> None:
    assert not re.search(r"[A-Z_]+_PLACEHOLDER", README)
