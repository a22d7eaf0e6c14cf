"""The README stays current: every setting, command and record field is documented."""

from __future__ import annotations

import ast
import dataclasses
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import crawlrun
import pytest

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


# --- "Analysing the output": every block runs as written against a real crawl ---------------


def analysis_blocks() -> list[str]:
    section = README.split("## Analysing the output\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, re.S)


@pytest.fixture(scope="module")
def crawled(replica_url: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("analysis")
    for site in ("dali", "lnzf"):  # they share reprints, so duplicates.jsonl is not empty
        done = crawlrun.crawl(site, replica_url, work, settings={"PAGE_WORKERS": "0"})
        assert done.returncode == 0, done.stderr[-2000:]
    return work


def test_the_analysis_section_has_pandas_duckdb_and_jq() -> None:
    blocks = analysis_blocks()
    assert len(blocks) == 3
    assert "import glob, pandas as pd" in blocks[0]
    assert "import duckdb" in blocks[1]
    assert blocks[2].startswith("jq ")


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("index", "expected"),
    [
        (0, ["dali  2020-06", "lnzf  2020-06"]),
        (1, ["│ dali    │", "reprinted_on", "kept_on"]),
        (2, ['"site": "lnzf"', "\tdali\t", "\tlnzf\t"]),
    ],
    ids=["pandas", "duckdb", "jq"],
)
def test_analysis_block_runs_as_written(crawled: Path, index: int, expected: list[str]) -> None:
    block = analysis_blocks()[index]
    if block.startswith("jq ") and shutil.which("jq") is None:
        pytest.skip("jq is not installed (Debian package jq, in TEST_DEBS)")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(
        ["bash", "-e", "-c", block],
        cwd=crawled,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    for words in expected:
        assert words in done.stdout, done.stdout[-3000:]
