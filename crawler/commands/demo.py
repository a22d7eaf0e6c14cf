"""Start the offline replica, crawl every seed portal with ``scrapy crawl``, print a summary.

Each portal is crawled by its own ``scrapy crawl <site> -s REPLICA_URL=…``
process, one after the other (they share the dedup index in STATE_DIR), with
the project's real settings except the politeness delay, which a loopback
replica does not need.  Run it twice: the second run fetches only list pages
and writes nothing new.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from crawler.portals import load_portals, seeds_dir_from_settings

ROOT = Path(__file__).resolve().parent.parent.parent


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output-dir", default="output", help="OUTPUT_DIR (default: output)")
    parser.add_argument("--state-dir", default="state", help="STATE_DIR (default: state)")
    parser.add_argument("--seeds-dir", default="seeds", help="SEEDS_DIR (default: seeds)")
    parser.add_argument("--site", action="append", help="crawl only this portal (repeatable)")
    parser.add_argument(
        "--timeout", type=float, default=150.0, help="seconds allowed for each portal's crawl"
    )
    parser.add_argument(
        "--progress",
        type=float,
        default=2.0,
        help="seconds between progress lines of each crawl (default: 2)",
    )


def stop_process(proc: subprocess.Popen[Any], timeout: float = 10.0) -> None:
    """Stop ``proc``: SIGTERM, then SIGKILL when it has not ended ``timeout`` s later."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)


def start_replica(*extra: str, timeout: float = 60.0) -> tuple[subprocess.Popen[str], str]:
    """Start ``python -m crawler replica --port 0 [extra…]``; return the process and its URL."""
    proc = subprocess.Popen(  # noqa: S603 - this interpreter running the replica command
        [sys.executable, "-m", "crawler", "replica", "--port", "0", *extra],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                break
            continue
        if "listening on " in line:
            return proc, line.rsplit("listening on ", 1)[1].strip()
    proc.kill()
    raise RuntimeError("the replica did not start")


def _latest_summary(output_dir: Path, site: str) -> dict[str, Any] | None:
    runs = sorted((output_dir / site / "runs").glob("*.json"))
    if not runs:
        return None
    try:
        data = json.loads(runs[-1].read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _count_lines(path: Path) -> int:
    if not path.exists():
        return 0
    with path.open("rb") as fh:
        return sum(1 for _ in fh)


def _row(site: str, summary: dict[str, Any] | None, output_dir: Path, status: int) -> list[str]:
    summary = summary or {}
    pages = summary.get("pages", {})
    articles = summary.get("articles", {})
    duplicates = articles.get("duplicate", {})
    dropped = articles.get("dropped", {})
    errors = summary.get("errors", {})
    total = _count_lines(output_dir / site / "articles.jsonl")
    reprints = _count_lines(output_dir / site / "duplicates.jsonl")
    return [
        site,
        str(pages.get("list", "?")),
        str(pages.get("article", "?")),
        str(articles.get("new", "?")),
        str(articles.get("seen", "?")),
        str(duplicates.get("total", "?")),
        str(sum(dropped.values()) if dropped else 0),
        str(errors.get("total", "?")),
        str(total),
        str(reprints),
        "ok" if status == 0 else f"exit {status}",
    ]


# A log line: "2026-12-01 13:17:00 [logger] LEVEL: message".
_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[([^\]]+)\] (\w+): (.*)$")


def _crawl_showing_progress(cmd: list[str], site: str, env: dict[str, str], timeout: float) -> int:
    """Run one crawl; show its progress lines, warnings, errors and summary line as they come."""
    # argv is this interpreter running scrapy on a validated portal name
    proc = subprocess.Popen(  # noqa: S603
        cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    killer = threading.Timer(timeout, proc.kill)
    killer.start()
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            line = line.rstrip("\n")
            match = _LOG_LINE.match(line)
            if match is None:
                if line.startswith((f"{site}:", "error:")):  # the summary line, an error
                    print(f"  {line}", flush=True)
            elif match.group(1) == "crawler.progress":
                print(f"  {match.group(3)}", flush=True)
            elif match.group(2) in ("WARNING", "ERROR", "CRITICAL"):
                print(f"  {match.group(2).lower()}: {match.group(3)}", flush=True)
        status = proc.wait()
    finally:
        killed = not killer.is_alive() and proc.returncode is not None and proc.returncode < 0
        killer.cancel()
    if killed:
        raise subprocess.TimeoutExpired(cmd, timeout)
    return status


def run(args: argparse.Namespace) -> int:
    output_dir = Path(args.output_dir).resolve()
    state_dir = Path(args.state_dir).resolve()
    portals = load_portals(seeds_dir_from_settings(args.seeds_dir))
    sites = args.site or sorted(portals)
    unknown = [s for s in sites if s not in portals]
    if unknown:
        print(f"error: unknown portal(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    started = time.monotonic()
    replica, base_url = start_replica()
    print(f"offline replica of {len(portals)} portals at {base_url}")
    done_runs: list[tuple[str, int]] = []
    worst = 0
    env = dict(os.environ)
    try:
        for site in sites:
            cmd = [
                sys.executable, "-m", "scrapy", "crawl", site,
                "-s", f"REPLICA_URL={base_url}",
                "-s", f"OUTPUT_DIR={output_dir}",
                "-s", f"STATE_DIR={state_dir}",
                "-s", f"SEEDS_DIR={seeds_dir_from_settings(args.seeds_dir)}",
                "-s", "DOWNLOAD_DELAY=0",
                "-s", "AUTOTHROTTLE_ENABLED=False",
                "-s", "LOG_LEVEL=INFO",
                "-s", f"PROGRESS_INTERVAL={args.progress}",
            ]  # fmt: skip
            print(f"crawling {site} ({portals[site].display_name}) …", flush=True)
            try:
                status = _crawl_showing_progress(cmd, site, env, args.timeout)
            except subprocess.TimeoutExpired:
                status = 124
                print(f"  {site}: timed out after {args.timeout:.0f} s", file=sys.stderr)
            worst = max(worst, status)
            done_runs.append((site, status))
    finally:
        stop_process(replica)
    # totals read once every portal ran: a later portal's origin can move an earlier
    # portal's kept record to its duplicates.jsonl
    rows = [_row(s, _latest_summary(output_dir, s), output_dir, st) for s, st in done_runs]
    header = [
        "site", "list pages", "article pages", "new", "seen", "duplicates", "dropped", "errors",
        "total kept", "total reprints", "",
    ]  # fmt: skip
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    print()
    for row in [header, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    print()
    print(f"records:    {output_dir}/<site>/articles.jsonl")
    print(f"duplicates: {output_dir}/<site>/duplicates.jsonl")
    print(f"summaries:  {output_dir}/<site>/runs/")
    print(f"state:      {state_dir}")
    print(f"done in {time.monotonic() - started:.1f} s")
    return worst
