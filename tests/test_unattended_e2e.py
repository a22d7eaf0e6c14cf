"""Unattended runs as cron sees them: causes named, exit statuses, Ctrl-C of the process group."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from crawlrun import ROOT, crawl, crawl_cmd

from crawler.extensions import EXIT_UNREACHABLE

pytestmark = pytest.mark.e2e

SITE = "scfzw"


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def last_summary(work: Path, site: str = SITE) -> dict[str, Any]:
    runs = sorted((work / "output" / site / "runs").glob("*.json"))
    assert runs, "no run summary written"
    data: dict[str, Any] = json.loads(runs[-1].read_text("utf-8"))
    return data


@pytest.mark.parametrize(
    ("replica", "cause"),
    [
        ("http://127.0.0.1:{port}", "connection refused to www.scfzw.net, 3 tries"),
        ("127.0.0.1:{port}", "REPLICA_URL '127.0.0.1:{port}' has no scheme"),
    ],
    ids=["closed-port", "no-scheme"],
)
def test_unreachable_portal_is_named(tmp_path: Path, replica: str, cause: str) -> None:
    port = closed_port()
    done = crawl(SITE, replica.format(port=port), tmp_path, settings={"LOG_LEVEL": "WARNING"})
    assert done.returncode == EXIT_UNREACHABLE, done.stderr[-2000:]
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith(f"{SITE}: portal unreachable ("), line
    assert cause.format(port=port) in line
    assert "check the portal definition" not in done.stderr
    summary = last_summary(tmp_path)
    assert summary["exit_status"] == EXIT_UNREACHABLE
    assert summary["errors"]["unreachable"] >= 1
    assert summary["errors"]["total"] >= 1
    assert summary["problems"] == [line.split(": ", 1)[1]]


def test_http_errors_log_status_and_url(tmp_path: Path, replica_url: str) -> None:
    url = "http://faults.test/status/503"
    done = crawl("portal", replica_url, tmp_path, "-a", f"url={url}")
    assert f"HTTP 503 for list page: {url}" in done.stderr
    assert "Ignoring non-200 response" not in done.stderr.replace("HTTP 503", "")
    summary = last_summary(tmp_path, "faults.test")
    assert summary["errors"]["http"] == {"503": 1}
    assert "check the portal definition" not in " ".join(summary["problems"])
    assert "no list page could be fetched (HTTP 503: 1 time)" in summary["problems"]


SLOW = {
    "DOWNLOAD_DELAY": "0.4",
    "DOWNLOAD_DELAY_JITTER": "0",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "1",
    "PAGE_WORKERS": "2",
}


def whole_lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_in_a_terminal(replica_url: str, tmp_path: Path, presses: int) -> None:
    """Ctrl-C as a terminal sends it: SIGINT to the whole process group, workers included."""
    articles = tmp_path / "output" / SITE / "articles.jsonl"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with (tmp_path / "run.log").open("wb") as log:
        proc = subprocess.Popen(
            crawl_cmd(SITE, replica_url, tmp_path, settings=SLOW),
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=log,
            env=env,
            start_new_session=True,  # its own process group, as a shell gives a job
        )
        try:
            deadline = time.monotonic() + 60
            while whole_lines(articles) < 2 and time.monotonic() < deadline:
                assert proc.poll() is None, "the crawl ended before two records"
                time.sleep(0.01)
            for _ in range(presses):
                os.killpg(proc.pid, signal.SIGINT)
                time.sleep(0.3)
            status = proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
    stderr = (tmp_path / "run.log").read_text("utf-8", "replace")
    assert status == 128 + signal.SIGINT, stderr[-3000:]
    assert articles.read_bytes().endswith(b"\n")
    for line in articles.read_bytes().splitlines():
        json.loads(line)
    assert "KeyboardInterrupt" not in stderr
    assert "BrokenProcessPool" not in stderr
    if presses == 1:
        summary = last_summary(tmp_path)
        assert summary["finish_reason"] == "shutdown"
        assert summary["exit_status"] == 130
        assert summary["errors"]["total"] == 0, summary["errors"]
        assert summary["errors"]["extraction"] == 0
        assert summary["articles"]["new"] == whole_lines(articles)
        assert "reason: shutdown, SIGINT" in stderr


def run_slow_until(
    replica_url: str, work: Path, stop: signal.Signals | None, settings: dict[str, str]
) -> tuple[int, str]:
    """A slow crawl, sent ``stop`` once it wrote a record (or left to its own end)."""
    articles = work / "output" / SITE / "articles.jsonl"
    work.mkdir()
    with (work / "run.log").open("wb") as log:
        proc = subprocess.Popen(
            crawl_cmd(SITE, replica_url, work, settings={**SLOW, **settings}),
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )
        try:
            if stop is not None:
                deadline = time.monotonic() + 60
                while whole_lines(articles) < 1 and time.monotonic() < deadline:
                    assert proc.poll() is None, "the crawl ended before its first record"
                    time.sleep(0.01)
                proc.send_signal(stop)
            status = proc.wait(timeout=90)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
    return status, (work / "run.log").read_text("utf-8", "replace")


def test_sigterm_exits_143_and_a_closespider_limit_exits_0(
    replica_url: str, tmp_path: Path
) -> None:
    status, log = run_slow_until(replica_url, tmp_path / "term", signal.SIGTERM, {})
    assert status == 128 + signal.SIGTERM, log[-3000:]
    summary = last_summary(tmp_path / "term")
    assert summary["exit_status"] == 143
    assert summary["problems"] == ["the run did not finish (reason: shutdown, SIGTERM)"]
    status, log = run_slow_until(
        replica_url, tmp_path / "limit", None, {"CLOSESPIDER_ITEMCOUNT": "2"}
    )
    assert status == 0, log[-3000:]
    summary = last_summary(tmp_path / "limit")
    assert summary["finish_reason"] == "closespider_itemcount"
    assert summary["exit_status"] == 0
