"""End-to-end helpers: the replica and ``scrapy crawl`` as real processes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crawler.commands.demo import start_replica, stop_process

ROOT = Path(__file__).resolve().parent.parent

# Settings that make a crawl of the loopback replica fast; everything else is the real config.
FAST = {
    "DOWNLOAD_DELAY": "0",
    "AUTOTHROTTLE_ENABLED": "False",
    "LOG_LEVEL": "INFO",
}


class Replica:
    """``python -m crawler replica --port 0`` in a subprocess (as ``make demo`` starts it)."""

    def __init__(self, *extra: str) -> None:
        self.proc, self.url = start_replica(*extra, timeout=30.0)

    def stop(self) -> None:
        stop_process(self.proc)


@dataclass
class CrawlResult:
    returncode: int
    stdout: str
    stderr: str
    output_dir: Path

    def records(self, site: str, name: str = "articles") -> list[dict[str, Any]]:
        path = self.output_dir / site / f"{name}.jsonl"
        if not path.exists():
            return []
        lines = path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines]


def crawl_cmd(
    site: str, replica_url: str, workdir: Path, *args: str, settings: dict[str, str] | None = None
) -> list[str]:
    """``scrapy crawl SITE`` against the replica, OUTPUT_DIR and STATE_DIR in ``workdir``."""
    merged = {
        **FAST,
        "REPLICA_URL": replica_url,
        "OUTPUT_DIR": str(workdir / "output"),
        "STATE_DIR": str(workdir / "state"),
        **(settings or {}),
    }
    cmd = [sys.executable, "-m", "scrapy", "crawl", site, *args]
    for key, value in merged.items():
        cmd += ["-s", f"{key}={value}"]
    return cmd


def crawl(
    site: str,
    replica_url: str,
    workdir: Path,
    *args: str,
    settings: dict[str, str] | None = None,
    timeout: float = 240.0,
) -> CrawlResult:
    """Run :func:`crawl_cmd` to its end."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    done = subprocess.run(
        crawl_cmd(site, replica_url, workdir, *args, settings=settings),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=env,
    )
    return CrawlResult(done.returncode, done.stdout, done.stderr, workdir / "output")


def stat(result: CrawlResult, name: str) -> int:
    """A counter from the stats Scrapy dumped at the end of a crawl (0 when absent)."""
    match = re.search(rf"'{re.escape(name)}': (\d+)", result.stderr)
    return int(match.group(1)) if match else 0
