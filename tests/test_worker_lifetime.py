"""Page workers die with their crawl: ``kill -9`` of a real ``scrapy crawl`` leaves nothing.

The crawl runs with the default ``PAGE_WORKERS`` (two spawn workers, which also
start multiprocessing's resource tracker).  Its descendants are read from
``/proc`` once records are being written, the crawl is killed with SIGKILL,
and every one of those processes must be gone within a bounded wait (a zombie
waiting to be reaped counts as gone: it holds no memory and runs nothing).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from crawlrun import ROOT, crawl_cmd

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)"),
]

SITE = "scfzw"


def _stat(pid: int) -> list[str] | None:
    """Fields of ``/proc/<pid>/stat`` after the command name, or None when gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()


def descendants(root: int) -> dict[int, str]:
    """Every live descendant of ``root``: pid -> start time (tells a reused pid apart)."""
    children: dict[int, list[int]] = {}
    starts: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        fields = _stat(pid)
        if fields is None:
            continue
        children.setdefault(int(fields[1]), []).append(pid)
        starts[pid] = fields[19]
    found: dict[int, str] = {}
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        if pid in found or pid not in starts:
            continue
        found[pid] = starts[pid]
        todo += children.get(pid, [])
    return found


def cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def alive(pid: int, start: str) -> bool:
    fields = _stat(pid)
    return fields is not None and fields[19] == start and fields[0] != "Z"


def test_kill_9_of_the_crawl_ends_its_page_workers(replica_url: str, tmp_path: Path) -> None:
    articles = tmp_path / "output" / SITE / "articles.jsonl"
    cmd = crawl_cmd(
        SITE,
        replica_url,
        tmp_path,
        settings={"PAGE_WORKERS": "2", "DOWNLOAD_DELAY": "0.4", "DOWNLOAD_DELAY_JITTER": "0"},
    )
    with (tmp_path / "crawl.log").open("wb") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log)
        try:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and proc.poll() is None:
                if articles.exists() and articles.stat().st_size > 0:
                    break
                time.sleep(0.05)
            assert proc.poll() is None, "the crawl ended before it could be killed"
            assert articles.exists(), "no record within 90 s"
            before = descendants(proc.pid)
            commands = {pid: cmdline(pid) for pid in before}
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
    # The page workers (spawned as needed, up to PAGE_WORKERS) and the resource tracker.
    assert any(b"spawn_main" in c for c in commands.values()), commands
    assert any(b"resource_tracker" in c for c in commands.values()), commands
    deadline = time.monotonic() + 20
    left = before
    while time.monotonic() < deadline:
        left = {pid: start for pid, start in before.items() if alive(pid, start)}
        if not left:
            break
        time.sleep(0.1)
    for pid in left:  # do not leave them to the next test
        os.kill(pid, signal.SIGKILL)
    assert not left, f"processes of the killed crawl still running: {[commands[p] for p in left]}"


def test_a_worker_whose_parent_is_gone_ends(tmp_path: Path) -> None:
    """The parent-death guard on its own: a process that spawned a worker pool is killed."""
    script = tmp_path / "pool.py"
    script.write_text(
        "import os, sys, concurrent.futures as cf, multiprocessing as mp\n"
        "from pipelines.page import worker_init\n"
        "if __name__ == '__main__':\n"
        "    pool = cf.ProcessPoolExecutor(1, mp_context=mp.get_context('spawn'),\n"
        "        initializer=worker_init, initargs=(os.getpid(), False))\n"
        "    print(pool.submit(os.getpid).result(), flush=True)\n"
        "    sys.stdin.read()\n",
        encoding="utf-8",
    )
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert proc.stdout is not None
        worker = int(proc.stdout.readline())
        fields = _stat(worker)
        assert fields is not None
        start = fields[19]
    finally:
        proc.kill()
        proc.wait(timeout=30)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and alive(worker, start):
        time.sleep(0.05)
    still = alive(worker, start)
    if still:
        os.kill(worker, signal.SIGKILL)
    assert not still, "the worker outlived its parent"


def test_without_the_parent_death_signal_the_watchdog_ends_the_worker(tmp_path: Path) -> None:
    """Where ``prctl`` is not available (not Linux), the watchdog thread alone does it."""
    child = (
        "import os, sys, time\n"
        "sys.platform = 'darwin'  # as on a platform without PR_SET_PDEATHSIG\n"
        "from pipelines.page import die_with_parent\n"
        "die_with_parent(os.getppid())\n"
        "time.sleep(120)\n"
    )
    parent = (
        "import subprocess, sys\n"
        f"c = subprocess.Popen([sys.executable, '-c', {child!r}])\n"
        "print(c.pid, flush=True)\n"
        "sys.stdin.read()\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", parent],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert proc.stdout is not None
        worker = int(proc.stdout.readline())
        time.sleep(0.5)  # the child is past its start-up check
        fields = _stat(worker)
        assert fields is not None, "the child ended while its parent lived"
        start = fields[19]
    finally:
        proc.kill()
        proc.wait(timeout=30)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and alive(worker, start):
        time.sleep(0.05)
    still = alive(worker, start)
    if still:
        os.kill(worker, signal.SIGKILL)
    assert not still, "the watchdog did not end the orphaned worker"


def test_a_worker_whose_parent_died_before_it_started_ends_at_once() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "from pipelines.page import die_with_parent\n"
         "die_with_parent(1)\nprint('still running')"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert "still running" not in done.stdout
