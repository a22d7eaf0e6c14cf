"""STATE_DIR on a real full filesystem (a 1 MiB tmpfs): one clear message, exit 1, nothing lost.

The output stays on the ordinary disk; only the state (seen stores, index, run
records, locks) is on the small filesystem.  Mounting needs root: elsewhere the
tests skip and say why.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_incremental_e2e import ROOT, SITE, crawl, crawl_cmd, manifest, read_jsonl
from test_kill import SLOW, complete_lines, wait_for_records

pytestmark = pytest.mark.e2e


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs mounted at ``tmp_path/state``."""
    mount = tmp_path / "state"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        reason = f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode})"
        print(reason, file=sys.stderr)
        pytest.skip(reason)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(fs: Path) -> None:
    """Take every free block of ``fs``."""
    with (fs.parent / "fill.log").open("wb") as log:
        subprocess.run(
            ["dd", "if=/dev/zero", f"of={fs / 'filler'}", "bs=4k"],
            stdout=log,
            stderr=log,
            check=False,
        )
    assert shutil.disk_usage(fs).free < 4096


def temporaries(work: Path) -> list[str]:
    found = [p for p in work.rglob(".*") if p.name.endswith(".tmp") or p.name.startswith(".seg")]
    found += [p for p in (work / "output").rglob("runs/*.json") if p.stat().st_size == 0]
    return sorted(str(p.relative_to(work)) for p in found)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if " ERROR: " in line or line.startswith("error:")]


def test_a_full_state_disk_at_start_stops_before_fetching(replica_url: str, small_fs: Path) -> None:
    work = small_fs.parent
    first = crawl(SITE, replica_url, work)
    assert first.returncode == 0, first.stderr[-3000:]
    fill(small_fs)
    again = crawl("cri", replica_url, work)  # a portal with no state yet
    assert again.returncode == 1
    assert "Traceback" not in again.stderr, again.stderr[-3000:]
    errors = error_lines(again.stderr)
    assert errors
    assert all("disk full" in line for line in errors), errors
    assert "free space and run again" in errors[0]
    assert not (work / "output" / "cri" / "articles.jsonl").exists()  # nothing fetched
    same = crawl(SITE, replica_url, work)  # the portal that has state: same message
    assert same.returncode == 1
    assert "Traceback" not in same.stderr, same.stderr[-3000:]
    assert len(read_jsonl(work / "output" / SITE / "articles.jsonl")) == len(
        read_jsonl(first.work / "output" / SITE / "articles.jsonl")
    )


def test_a_state_disk_filling_mid_run_then_freed(replica_url: str, small_fs: Path) -> None:
    work = small_fs.parent
    articles = work / "output" / SITE / "articles.jsonl"
    with (work / "full.log").open("wb") as log:
        proc = subprocess.Popen(
            crawl_cmd(SITE, replica_url, work, STORE_FSYNC_EVERY="1", **SLOW),
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        try:
            wait_for_records(proc, articles, 2)
            fill(small_fs)
            code = proc.wait(timeout=120)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=30)
    stderr = (work / "full.log").read_text("utf-8")
    assert code == 1, stderr[-3000:]
    assert "Traceback" not in stderr, stderr[-5000:]
    errors = error_lines(stderr)
    assert 1 <= len(errors) <= 2, errors  # the cause, and the run summary's problem
    assert all("No space left on device" in line for line in errors), errors
    accepted = [json.loads(line)["url"] for line in complete_lines(articles)]
    assert accepted

    (small_fs / "filler").unlink()
    resumed = crawl(SITE, replica_url, work)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert temporaries(work) == []
    records = read_jsonl(articles) + read_jsonl(work / "output" / SITE / "duplicates.jsonl")
    urls = [r["url"] for r in records]
    assert len(urls) == len(set(urls)), "a record was written twice"
    expected = {a["url"] for a in manifest(replica_url)["portals"][SITE]["articles"]}
    assert set(urls) == expected
    summary = json.loads(sorted((work / "output" / SITE / "runs").glob("*.json"))[-1].read_text())
    # only what the full disk kept from being written is fetched again
    assert summary["pages"]["article"] == len(expected) - len(set(accepted))
