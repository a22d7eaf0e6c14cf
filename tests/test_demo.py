"""``python -m crawler demo`` (what ``make demo`` runs), twice in a row."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent
SITES = ["cri", "dali", "docin", "lnzf", "scfzw"]
# the government CMS portals (crawler.replica.cms): Hanweb jpage lists, TRS multi-page articles
CMS_SITES = {"dongshan_sft": 10, "qinglan": 6}


def run_demo(tmp_path: Path, progress: bool = False) -> dict[str, dict[str, str]]:
    done = subprocess.run(
        [
            sys.executable, "-m", "crawler", "demo",
            "--output-dir", str(tmp_path / "output"), "--state-dir", str(tmp_path / "state"),
            "--progress", "0.5",
        ],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    lines = done.stdout.splitlines()
    # each portal's progress line as it goes, before its summary line (a first run lasts
    # seconds; a second one ends before its first progress line is due)
    for site in SITES if progress else []:
        progress = [i for i, ln in enumerate(lines) if ln.startswith(f"  {site}: ") and " / " in ln]
        summary = [i for i, ln in enumerate(lines) if ln.startswith(f"  {site}: ") and "→" in ln]
        assert progress, done.stdout[-3000:]
        assert summary
        assert summary[0] > progress[0]
    start = next(i for i, line in enumerate(lines) if line.startswith("site "))
    header = [
        "site", "list", "article", "new", "seen", "duplicates", "dropped", "errors", "kept",
        "reprints",
    ]  # fmt: skip
    table = {}
    for line in lines[start + 1 : start + 1 + len(SITES) + len(CMS_SITES)]:
        cells = line.split()
        table[cells[0]] = dict(zip(header, cells, strict=False))
    assert f"records:    {tmp_path / 'output'}/<site>/articles.jsonl" in done.stdout
    return table


def test_demo_twice(tmp_path: Path) -> None:
    first = run_demo(tmp_path, progress=True)
    assert sorted(first) == sorted(SITES + list(CMS_SITES))
    cms = {site: first.pop(site) for site in CMS_SITES}
    for site, kept in CMS_SITES.items():
        assert int(cms[site]["kept"]) == kept, site
        assert cms[site]["errors"] == "0", site
    assert sum(int(row["kept"]) for row in first.values()) == 29  # the replica's ground truth
    assert sum(int(row["reprints"]) for row in first.values()) == 4
    for row in first.values():
        assert int(row["list"]) == 3
        assert int(row["new"]) >= 5
        assert row["errors"] == "0"

    second = run_demo(tmp_path)
    for site in CMS_SITES:
        row = second.pop(site)
        # one list page per start URL: its entries were all written before
        assert row["list"] == {"dongshan_sft": "2", "qinglan": "1"}[site], site
        assert row["article"] == "0", site
        assert row["new"] == "0", site
    for site, row in second.items():
        # Only the first list page is fetched: every article on it was written before.
        assert row["list"] == "1", site
        assert row["article"] == "0", site
        assert row["new"] == "0", site
        assert int(row["seen"]) >= 2, site
        assert row["kept"] == first[site]["kept"], site
        assert row["reprints"] == first[site]["reprints"], site
