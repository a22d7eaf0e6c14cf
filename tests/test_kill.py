"""Killed runs: SIGKILL at several points, Ctrl-C once and twice, then a resumed run.

Standard (docs reliability 17, 18): every record accepted before the fault is
in the output afterwards exactly once, every line parses, and the seen store
agrees with the output.  A real ``scrapy crawl`` process crawls the replica
with a download delay, so records arrive about 0.4 s apart and the kill lands
between known records.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from test_incremental_e2e import ROOT, SITE, crawl, crawl_cmd, manifest, read_jsonl

from crawler.ids import url_key

pytestmark = pytest.mark.e2e

SLOW = {
    "DOWNLOAD_DELAY": "0.4",
    "DOWNLOAD_DELAY_JITTER": "0",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "1",
}


def complete_lines(path: Path) -> list[bytes]:
    """The whole lines of ``path`` now (a reader never trusts a line without its newline)."""
    if not path.exists():
        return []
    data = path.read_bytes()
    return data[: data.rfind(b"\n") + 1].splitlines()


def start_slow(replica: str, work: Path, log: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        crawl_cmd(SITE, replica, work, **SLOW),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )


def wait_for_records(proc: subprocess.Popen[bytes], path: Path, n: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if len(complete_lines(path)) >= n:
            return
        if proc.poll() is not None:
            pytest.fail(f"the crawl ended (status {proc.returncode}) before {n} records")
        time.sleep(0.01)
    pytest.fail(f"no {n} records within 60 s")


def check_resumed(work: Path, replica: str, accepted: list[bytes]) -> dict[str, Any]:
    """Resume; check exactly-once output and the seen store; return the run summary."""
    resumed = crawl(SITE, replica, work)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    out = work / "output" / SITE
    records = read_jsonl(out / "articles.jsonl")  # fails on a partial line
    urls = [r["url"] for r in records]
    assert len(urls) == len(set(urls)), "a record was written twice"
    before = [json.loads(line)["url"] for line in accepted]
    assert set(before) <= set(urls), "a record accepted before the kill was lost"
    assert urls[: len(before)] == before  # kept in place, in order
    expected = {a["url"] for a in manifest(replica)["portals"][SITE]["articles"]}
    assert set(urls) == expected
    dups = read_jsonl(out / "duplicates.jsonl")
    seen = (work / "state" / SITE / "seen").read_text("utf-8").split()
    assert sorted(seen) == sorted(url_key(u) for u in urls + [d["url"] for d in dups])
    runs = sorted((out / "runs").glob("*.json"))
    summary: dict[str, Any] = json.loads(runs[-1].read_text("utf-8"))
    assert summary["articles"]["new"] == len(expected) - len(before)
    return summary


@pytest.mark.parametrize("after", [1, 3])
def test_sigkill_after_n_records_then_resume(replica_url: str, tmp_path: Path, after: int) -> None:
    articles = tmp_path / "output" / SITE / "articles.jsonl"
    with (tmp_path / "killed.log").open("wb") as log:
        proc = start_slow(replica_url, tmp_path, log)
        try:
            wait_for_records(proc, articles, after)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
    accepted = complete_lines(articles)
    assert len(accepted) >= after
    assert articles.read_bytes().endswith(b"\n")  # one write per line: never a half line
    summary = check_resumed(tmp_path, replica_url, accepted)
    # the killed run left no checkpoint past its start: its records were replayed from the JSONL
    assert summary["seen_store"]["replayed"] == len(accepted)
    assert summary["seen_store"]["rebuilt"] is False


def test_sigkill_before_any_record_then_resume(replica_url: str, tmp_path: Path) -> None:
    lock = tmp_path / "state" / f"{SITE}.lock"
    with (tmp_path / "killed.log").open("wb") as log:
        proc = start_slow(replica_url, tmp_path, log)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not (lock.exists() and lock.read_text()):
                time.sleep(0.01)
            time.sleep(0.2)  # the lock is held and the first list page is on its way
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
    check_resumed(
        tmp_path, replica_url, complete_lines(tmp_path / "output" / SITE / "articles.jsonl")
    )


def test_torn_last_line_is_cut_and_its_article_fetched_again(
    replica_url: str, tmp_path: Path
) -> None:
    """A write cut short (power loss, full disk in another process) leaves a partial line."""
    articles = tmp_path / "output" / SITE / "articles.jsonl"
    with (tmp_path / "killed.log").open("wb") as log:
        proc = start_slow(replica_url, tmp_path, log)
        try:
            wait_for_records(proc, articles, 2)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
    accepted = complete_lines(articles)
    whole = articles.read_bytes()
    last = accepted[-1]
    # the last record becomes a torn line: its article must come back, whole, exactly once
    articles.write_bytes(whole[: len(whole) - len(last) - 1] + last[: len(last) // 2])
    summary = check_resumed(tmp_path, replica_url, accepted[:-1])
    assert summary["seen_store"]["repaired_bytes"] == len(last) // 2
    assert summary["articles"]["new"] >= 1


def test_sigkill_during_the_resumed_run_too(replica_url: str, tmp_path: Path) -> None:
    articles = tmp_path / "output" / SITE / "articles.jsonl"
    for n in (1, 3):
        with (tmp_path / f"killed{n}.log").open("wb") as log:
            proc = start_slow(replica_url, tmp_path, log)
            try:
                wait_for_records(proc, articles, n)
            finally:
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=30)
    check_resumed(tmp_path, replica_url, complete_lines(articles))


@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_once_or_twice(replica_url: str, tmp_path: Path, presses: int) -> None:
    articles = tmp_path / "output" / SITE / "articles.jsonl"
    with (tmp_path / "interrupted.log").open("wb") as log:
        proc = start_slow(replica_url, tmp_path, log)
        try:
            wait_for_records(proc, articles, 2)
            for _ in range(presses):
                proc.send_signal(signal.SIGINT)
                time.sleep(0.05)
            status = proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
    assert status != 0
    accepted = complete_lines(articles)
    assert articles.read_bytes().endswith(b"\n")
    assert status == 128 + signal.SIGINT
    if presses == 1:  # graceful: summary written, reason shutdown, exit 130
        runs = sorted((tmp_path / "output" / SITE / "runs").glob("*.json"))
        summary = json.loads(runs[-1].read_text("utf-8"))
        assert summary["finish_reason"] == "shutdown"
        assert summary["exit_status"] == 128 + signal.SIGINT
        assert summary["articles"]["new"] == len(accepted)
    time.sleep(1.1)
    check_resumed(tmp_path, replica_url, accepted)
