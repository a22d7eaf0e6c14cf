"""Crawl throughput: bare Scrapy against the full pipeline, side by side in one run.

Starts the offline replica with a synthetic corpus (``--bulk`` articles added
to every portal), then crawls every portal twice with real ``scrapy crawl``
processes and the same settings:

- **bare**: the same spiders following the same links, ``ITEM_PIPELINES={}``
  (pages are fetched and yielded, nothing is done with them);
- **full**: the project's pipelines (decode, repair, extract, metadata,
  validate, dedup, JSONL store), page work in ``PAGE_WORKERS`` processes,
  the WARC archive off (``ARCHIVE_ENABLED=False``);
- **archive**: the same with the WARC archive on (the default).

The three modes alternate portal by portal.  Then the archive's size per
1,000 pages, and ``python -m crawler reprocess`` of the archive runs' WARC
files with ``-j 1`` and ``-j 2`` (article pages over the command's whole
run, plan and start-up included).

Pages/s is responses received over the crawl's elapsed time (Scrapy's
``elapsed_time_seconds``; process start-up and imports are not counted, the
page workers' start-up is).  Prints both figures and their ratio.  Beside it,
the CPU time (user + system) of the crawl's whole process tree (the crawl and
its page workers, from ``getrusage(RUSAGE_CHILDREN)``) per page, start-up
included: on a machine that other work loads, wall-clock rates swing with
that work, CPU time per page much less, so the archive's cost is also given
as the ratio of CPU per page.

    python bench/crawl.py [--bulk 300] [--rounds 1] [--workers 2] [--no-reprocess]
"""

from __future__ import annotations

import argparse
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crawler.commands.demo import start_replica, stop_process  # noqa: E402
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
) -> tuple[int, float, float]:
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
    settings["ARCHIVE_ENABLED"] = str(mode == "archive")
    cmd = [sys.executable, "-m", "scrapy", "crawl", site, "-a", "full=1", "-a", "max_pages=10000"]
    for key, value in settings.items():
        cmd += ["-s", f"{key}={value}"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    responses = re.search(r"'response_received_count': (\d+)", done.stderr)
    elapsed = re.search(r"'elapsed_time_seconds': ([\d.]+)", done.stderr)
    if not responses or not elapsed:
        raise RuntimeError(f"{mode} crawl of {site} printed no stats:\n{done.stderr[-3000:]}")
    return int(responses.group(1)), float(elapsed.group(1)), cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bulk", type=int, default=300, help="synthetic articles per portal")
    parser.add_argument("--rounds", type=int, default=1, help="bare/full pairs per portal")
    parser.add_argument("--workers", type=int, default=2, help="PAGE_WORKERS for the full run")
    parser.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE", help="a setting for both runs"
    )
    parser.add_argument(
        "--no-reprocess", action="store_true", help="skip the reprocess runs of the archive"
    )
    args = parser.parse_args()
    extra = dict(item.split("=", 1) for item in args.set)

    sites = sorted(load_portals(seeds_dir_from_settings("seeds")))
    proc, replica = start_replica("--bulk", str(args.bulk))
    modes = ("bare", "full", "archive")
    totals = {mode: [0, 0.0, 0.0] for mode in modes}
    kept = Path(tempfile.mkdtemp(prefix="bench-warc-"))
    archive_bytes = 0
    try:
        print(f"replica at {replica}: {len(sites)} portals, +{args.bulk} articles each")
        if extra:
            print("settings: " + " ".join(f"{k}={v}" for k, v in extra.items()))
        head = f"{'site':8} {'mode':7} {'pages':>6} {'seconds':>8} {'pages/s':>8}"
        print(f"{head} {'cpu ms/page':>11}")
        for round_no in range(args.rounds):
            for site in sites:
                for mode in modes:
                    with tempfile.TemporaryDirectory() as tmp:
                        pages, seconds, cpu = crawl(
                            site, replica, Path(tmp), mode, args.workers, extra
                        )
                        if mode == "archive":
                            for path in (Path(tmp) / "output").glob("*/warc/*.warc.gz"):
                                archive_bytes += path.stat().st_size
                                if round_no == 0:
                                    shutil.copy(path, kept / path.name)
                    totals[mode][0] += pages
                    totals[mode][1] += seconds
                    totals[mode][2] += cpu
                    print(f"{site:8} {mode:7} {pages:6d} {seconds:8.2f} {pages / seconds:8.1f} "
                          f"{cpu / pages * 1000:11.2f}")  # fmt: skip
    finally:
        stop_process(proc)
    rates = {mode: pages / seconds for mode, (pages, seconds, _) in totals.items()}
    cpu_ms = {mode: cpu / pages * 1000 for mode, (pages, _, cpu) in totals.items()}
    print()
    print(f"bare Scrapy:             {rates['bare']:7.1f} pages/s ({totals['bare'][0]} pages)")
    print(f"full pipeline:           {rates['full']:7.1f} pages/s ({totals['full'][0]} pages)")
    n = totals["archive"][0]
    print(f"full pipeline + archive: {rates['archive']:7.1f} pages/s ({n} pages)")
    print(f"ratio full/bare: {rates['full'] / rates['bare']:.2f} (goal >= 0.50)")
    print(f"ratio archive/full: {rates['archive'] / rates['full']:.2f} (goal >= 0.90)")
    print(f"CPU per page: bare {cpu_ms['bare']:.2f} ms, full {cpu_ms['full']:.2f} ms, "
          f"full + archive {cpu_ms['archive']:.2f} ms; "
          f"ratio full/archive {cpu_ms['full'] / cpu_ms['archive']:.2f} "
          "(goal >= 0.90)")  # fmt: skip
    per_k = archive_bytes / max(int(totals["archive"][0]), 1) * 1000
    print(f"archive: {archive_bytes / 2**20:.1f} MiB for {totals['archive'][0]} responses, "
          f"{per_k / 2**20:.2f} MiB per 1,000")  # fmt: skip
    if not args.no_reprocess:
        for workers in (1, 2):
            with tempfile.TemporaryDirectory() as out:
                started = time.monotonic()
                done = subprocess.run(
                    [sys.executable, "-m", "crawler", "reprocess", str(kept), "--out", out,
                     "-j", str(workers)],
                    cwd=ROOT, capture_output=True, text=True, timeout=1800, check=False,
                )  # fmt: skip
                seconds = time.monotonic() - started
            found = re.search(r"(\d+) article pages", done.stderr)
            if done.returncode != 0 or not found:
                raise RuntimeError(f"reprocess -j {workers} failed:\n{done.stderr[-3000:]}")
            pages = int(found.group(1))
            print(f"reprocess -j {workers}: {pages} article pages in {seconds:.1f} s, "
                  f"{pages / seconds:.1f} pages/s")  # fmt: skip
    shutil.rmtree(kept, ignore_errors=True)
    return 0


if __name__ == "__main__":
    started = time.monotonic()
    status = main()
    print(f"benchmark took {time.monotonic() - started:.0f} s")
    sys.exit(status)
