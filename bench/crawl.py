"""Crawl throughput: bare Scrapy against the full pipeline, side by side in one run.

Starts the offline replica with a synthetic corpus (``--bulk`` articles added
to every portal), then crawls every portal twice with real ``scrapy crawl``
processes and the same settings:

- **bare**: the same spiders following the same links, ``ITEM_PIPELINES={}``
  (pages are fetched and yielded, nothing is done with them);
- **full**: the project's pipelines (decode, repair, extract, metadata,
  validate, dedup, JSONL store), page work in ``PAGE_WORKERS`` processes.

Pages/s is responses received over the crawl's elapsed time (Scrapy's
``elapsed_time_seconds``; process start-up and imports are not counted, the
page workers' start-up is).  Prints both figures and their ratio.

    python bench/crawl.py [--bulk 300] [--rounds 1] [--workers 2]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crawler.commands.demo import start_replica  # noqa: E402
from crawler.portals import load_portals, seeds_dir_from_settings  # noqa: E402

SETTINGS = {
    "DOWNLOAD_DELAY": "0",
    "AUTOTHROTTLE_ENABLED": "False",
    "CONCURRENT_REQUESTS": "16",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "8",
    "LOG_LEVEL": "INFO",
}


def crawl(
    site: str, replica: str, workdir: Path, mode: str, workers: int, extra: dict[str, str]
) -> tuple[int, float]:
    settings = {
        **SETTINGS,
        **extra,
        "REPLICA_URL": replica,
        "OUTPUT_DIR": str(workdir / "output"),
        "STATE_DIR": str(workdir / "state"),
        "PAGE_WORKERS": str(workers),
    }
    if mode == "bare":
        settings["ITEM_PIPELINES"] = "{}"
    cmd = [sys.executable, "-m", "scrapy", "crawl", site, "-a", "full=1", "-a", "max_pages=10000"]
    for key, value in settings.items():
        cmd += ["-s", f"{key}={value}"]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900, check=False)
    responses = re.search(r"'response_received_count': (\d+)", done.stderr)
    elapsed = re.search(r"'elapsed_time_seconds': ([\d.]+)", done.stderr)
    if not responses or not elapsed:
        raise RuntimeError(f"{mode} crawl of {site} printed no stats:\n{done.stderr[-3000:]}")
    return int(responses.group(1)), float(elapsed.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bulk", type=int, default=300, help="synthetic articles per portal")
    parser.add_argument("--rounds", type=int, default=1, help="bare/full pairs per portal")
    parser.add_argument("--workers", type=int, default=2, help="PAGE_WORKERS for the full run")
    parser.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE", help="a setting for both runs"
    )
    args = parser.parse_args()
    extra = dict(item.split("=", 1) for item in args.set)

    sites = sorted(load_portals(seeds_dir_from_settings("seeds")))
    proc, replica = start_replica("--bulk", str(args.bulk))
    totals = {"bare": [0, 0.0], "full": [0, 0.0]}
    try:
        print(f"replica at {replica}: {len(sites)} portals, +{args.bulk} articles each")
        if extra:
            print("settings: " + " ".join(f"{k}={v}" for k, v in extra.items()))
        print(f"{'site':8} {'mode':5} {'pages':>6} {'seconds':>8} {'pages/s':>8}")
        for _ in range(args.rounds):
            for site in sites:
                for mode in ("bare", "full"):
                    with tempfile.TemporaryDirectory() as tmp:
                        pages, seconds = crawl(site, replica, Path(tmp), mode, args.workers, extra)
                    totals[mode][0] += pages
                    totals[mode][1] += seconds
                    print(f"{site:8} {mode:5} {pages:6d} {seconds:8.2f} {pages / seconds:8.1f}")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    rates = {mode: pages / seconds for mode, (pages, seconds) in totals.items()}
    print()
    print(f"bare Scrapy:   {rates['bare']:7.1f} pages/s ({totals['bare'][0]} pages)")
    print(f"full pipeline: {rates['full']:7.1f} pages/s ({totals['full'][0]} pages)")
    print(f"ratio full/bare: {rates['full'] / rates['bare']:.2f} (goal >= 0.50)")
    return 0


if __name__ == "__main__":
    started = time.monotonic()
    status = main()
    print(f"benchmark took {time.monotonic() - started:.0f} s")
    sys.exit(status)
