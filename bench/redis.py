"""The Redis crawl: the duplicate stage on Redis against the embedded index, and crawl
rate with one, two and three processes, side by side in one run.

1. **Duplicate stage.**  ``--docs`` synthetic articles (paragraphs drawn from
   the labelled pairs of ``tests/data/dedup/``, a fifth of them reprints with a
   paragraph dropped) are prepared once (signatures are computed in the
   worker in both modes, so they are not timed), then decided by the
   embedded :class:`crawler.dedup.engine.Deduplicator` and by
   :class:`crawler.distributed.dedup.RedisIndex` on a ``redis-server`` this
   script starts on a free loopback port: batches of 100 (the bench's and the
   offline command's shape) and of 1 (the crawl's: one item at a time).
   Prints documents/s, the ratio, the verdicts' agreement, the Redis commands
   a document costs (a figure the machine's load does not move), and Redis's
   memory per document (``used_memory``), scaled to a million articles.
   ``--no-crawl`` runs this part alone.
2. **Crawl rate.**  The replica with ``--bulk`` articles per portal; one
   portal crawled by 1, 2 and 3 ``scrapy crawl`` processes at once on one
   Redis (a fresh prefix each time), held at their first Redis write until all
   are connected.  Pages/s is responses over the time from the first crawl's
   start to the last one's finish (Scrapy's ``start_time``/``finish_time``:
   imports and start-up not counted); CPU is the children's user+sys.

   Each series runs with one ``DOWNLOAD_DELAY`` (``--delays``, default ``0,0.1``):
   0 is as fast as the CPU allows (two cores gain nothing from more
   processes), a delay makes politeness the limit, as on real portals (one
   process then sends one request per delay, and every process more adds as
   many).

    python bench/redis.py [--docs 20000] [--bulk 300] [--site scfzw] [--delays 0,0.1]
                          [--no-dedup | --no-crawl]
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
# this file's folder first on the path would make ``import redis`` import this script
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "tests"))  # the tests' synthetic articles and redis-server

import numpy as np  # noqa: E402
import redis  # noqa: E402
from redisserver import BINARY, RedisServer  # noqa: E402
from synthetic import articles  # noqa: E402

from crawler import settings as S  # noqa: E402
from crawler.commands.demo import start_replica, stop_process  # noqa: E402
from crawler.dedup.engine import Deduplicator, Prepared, prepare  # noqa: E402
from crawler.dedup.index import DedupIndex  # noqa: E402
from crawler.distributed.connection import RedisLink  # noqa: E402
from crawler.distributed.dedup import RedisIndex  # noqa: E402
from crawler.ids import record_id, url_key  # noqa: E402
from pipelines.dedup import params_from_settings  # noqa: E402

PARAMS = params_from_settings()


def cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def redis_cpu(client: redis.Redis) -> float:
    info = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def bench_dedup(n_docs: int, port: int, workdir: Path) -> None:
    texts = articles(n_docs)
    urls = [f"http://www.site{i % 5}.gov.cn/xw/{i}.html" for i in range(n_docs)]
    ids = [record_id(u) for u in urls]
    prep = prepare(texts, urls, [None] * n_docs, PARAMS)
    threshold = S.DEDUP_THRESHOLD
    print(f"duplicate stage: {n_docs} documents, {PARAMS.bands} bands x {PARAMS.rows} rows")
    print(f"{'index':18} {'docs/s':>9} {'wall s':>8} {'CPU s':>7} {'redis CPU s':>11}")

    def sl(a: int, b: int) -> Prepared:  # a slice of the prepared batch
        return Prepared(
            prep.sigs[a:b], prep.bands[a:b], prep.hash_keys[a:b], prep.url_keys[a:b],
            prep.content_hashes[a:b],
        )  # fmt: skip

    warm = Deduplicator(DedupIndex(None, PARAMS), threshold)  # compiled kernels loaded first
    warm.decide(sl(0, 100), ids[:100], urls[:100])
    t0, c0 = time.perf_counter(), cpu()
    dd = Deduplicator(DedupIndex(None, PARAMS), threshold)
    want: list[str | None] = []
    for a in range(0, n_docs, 100):
        want += [v.match for v in dd.decide(sl(a, a + 100), ids[a : a + 100], urls[a : a + 100])]
    embedded = n_docs / (time.perf_counter() - t0)
    print(f"{'embedded (100)':18} {embedded:9.0f} {time.perf_counter() - t0:8.2f} "
          f"{cpu() - c0:7.2f} {'-':>11}")  # fmt: skip
    client = redis.Redis(port=port)
    rates = {}
    for batch in (100, 1):
        client.flushall()
        link = RedisLink(f"redis://127.0.0.1:{port}/0", "bench")
        (workdir / str(batch)).mkdir()
        link.join(workdir / str(batch))
        index = RedisIndex(link, PARAMS, threshold)
        base_mem = int(client.info("memory")["used_memory"])
        client.config_resetstat()
        t0, c0, r0 = time.perf_counter(), cpu(), redis_cpu(client)
        got: list[str | None] = []
        for a in range(0, n_docs, batch):
            b = min(n_docs, a + batch)
            recs = [
                {"id": ids[i], "url": urls[i], "cluster": ids[i], "site": f"site{i % 5}",
                 "owner": "bench/h-1"}
                for i in range(a, b)
            ]  # fmt: skip
            got += [d.match for d in index.decide(sl(a, b), recs)]
        wall = time.perf_counter() - t0
        rates[batch] = n_docs / wall
        print(f"{f'redis ({batch})':18} {rates[batch]:9.0f} {wall:8.2f} {cpu() - c0:7.2f} "
              f"{redis_cpu(client) - r0:11.2f}")  # fmt: skip
        agree = sum(x == y for x, y in zip(want, got, strict=True))
        print(f"  verdicts equal to the embedded index's: {agree}/{n_docs}")
        stats = client.info("commandstats")
        scripts = sum(v["calls"] for k, v in stats.items() if k.startswith("cmdstat_evalsha"))
        inner = sum(v["calls"] for k, v in stats.items() if not k.startswith("cmdstat_eval"))
        print(f"  {scripts} script calls, {inner / n_docs:.1f} Redis commands a document "
              f"(CPU-time independent of the machine's load)")  # fmt: skip
        if batch == 100:
            mem = int(client.info("memory")["used_memory"]) - base_mem
            kept = sum(m is None for m in got)
            print(f"  Redis memory: {mem / 2**20:.1f} MiB for {kept} kept + "
                  f"{n_docs - kept} duplicates: {mem / n_docs:.0f} bytes a document "
                  f"({mem / kept:.0f} a kept one), "
                  f"{mem / n_docs * 1e6 / 2**30:.2f} GiB per million articles")  # fmt: skip
    client.flushall()
    base_mem = int(client.info("memory")["used_memory"])
    keys = [
        url_key(f"http://www.scfzw.net/shzl/2023-06/30/{90000 + i}.html") for i in range(n_docs)
    ]
    for a in range(0, n_docs, 1000):
        client.sadd("bench:seen:scfzw", *keys[a : a + 1000])
    mem = int(client.info("memory")["used_memory"]) - base_mem
    print(f"seen set: {mem / n_docs:.0f} bytes an article ({mem / n_docs * 1e6 / 2**20:.0f} MiB "
          f"per million)")  # fmt: skip
    print(f"ratio redis(100)/embedded: {rates[100] / embedded:.2f}; "
          f"redis(1)/embedded: {rates[1] / embedded:.3f}")  # fmt: skip


def _stamp(args: str) -> float:
    """Seconds of ``datetime.datetime(y, m, d, H, M, S, us, tzinfo=…)`` as Scrapy logs it."""
    import datetime as dt

    parts = [int(x) for x in args.split(", tzinfo")[0].split(", ")]
    return dt.datetime(*parts, tzinfo=dt.UTC).timestamp()


def bench_crawl(site: str, bulk: int, port: int, delay: float) -> None:
    client = redis.Redis(port=port)
    proc, replica = start_replica("--bulk", str(bulk))
    rates: dict[int, float] = {}
    try:
        bound = "CPU-bound" if not delay else f"each process at most {1 / delay:.0f} pages/s"
        print(f"\ncrawl: {site} on the replica, +{bulk} articles a portal, one Redis, "
              f"DOWNLOAD_DELAY={delay:g} ({bound})")  # fmt: skip
        print(f"{'processes':>9} {'pages':>6} {'wall s':>7} {'pages/s':>8} {'CPU s':>7}")
        for n in (1, 2, 3):
            with tempfile.TemporaryDirectory() as tmp:
                cmd = [sys.executable, "-m", "scrapy", "crawl", site, "-a", "max_pages=10000"]
                settings = {
                    "REDIS_URL": f"redis://127.0.0.1:{port}/0",
                    "REDIS_PREFIX": f"crawl{n}-{delay:g}",
                    "REPLICA_URL": replica,
                    "OUTPUT_DIR": f"{tmp}/output",
                    "STATE_DIR": f"{tmp}/state",
                    "DOWNLOAD_DELAY": f"{delay:g}",
                    "DOWNLOAD_DELAY_JITTER": "0",
                    "AUTOTHROTTLE_ENABLED": "False",
                    "CONCURRENT_REQUESTS_PER_DOMAIN": "8" if not delay else "1",
                    "PAGE_WORKERS": "0",
                    "ARCHIVE_ENABLED": "False",
                    "LOG_LEVEL": "INFO",
                }
                for key, value in settings.items():
                    cmd += ["-s", f"{key}={value}"]
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                base = len(client.client_list())
                client.client_pause(120_000, all=False)  # all start crawling at once
                procs = [
                    subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
                    for _ in range(n)
                ]  # fmt: skip
                deadline = time.monotonic() + 120
                while len(client.client_list()) < base + n:
                    ended = [p for p in procs if p.poll() is not None]
                    if ended or time.monotonic() > deadline:
                        client.client_unpause()
                        for p in procs:
                            p.kill()
                        err = ended[0].communicate()[1][-2000:] if ended else ""
                        raise SystemExit(f"a crawl did not connect to Redis within 120 s\n{err}")
                    time.sleep(0.05)
                client.client_unpause()
                outs = [p.communicate(timeout=1800)[1] for p in procs]
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                pages, starts, ends = 0, [], []
                for out in outs:
                    found = re.search(r"'response_received_count': (\d+)", out)
                    pages += int(found.group(1)) if found else 0
                    starts += [
                        _stamp(m)
                        for m in re.findall(r"'start_time': datetime\.datetime\(([^)]*)", out)
                    ]
                    ends += [
                        _stamp(m)
                        for m in re.findall(r"'finish_time': datetime\.datetime\(([^)]*)", out)
                    ]
                wall = max(ends) - min(starts)
                used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
                rates[n] = pages / wall
                print(f"{n:9d} {pages:6d} {wall:7.1f} {rates[n]:8.1f} {used:7.1f}")
    finally:
        stop_process(proc)
    print(
        f"ratio 2/1: {rates[2] / rates[1]:.2f}; 3/1: {rates[3] / rates[1]:.2f} "
        f"(on {__import__('os').cpu_count()} cores shared with the replica and Redis)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=20000, help="documents for the dedup stage")
    parser.add_argument("--bulk", type=int, default=300, help="synthetic articles per portal")
    parser.add_argument("--site", default="scfzw", help="the portal crawled")
    parser.add_argument("--no-crawl", action="store_true", help="the duplicate stage only")
    parser.add_argument("--no-dedup", action="store_true", help="the crawl rates only")
    parser.add_argument(
        "--delays",
        default="0,0.1",
        help="DOWNLOAD_DELAY of each crawl series, comma-separated (0: as fast as the CPU "
        "allows; a delay: what politeness, not the CPU, limits)",
    )
    args = parser.parse_args()
    np.random.seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        if not shutil.which(BINARY):
            raise SystemExit(f"{BINARY} not installed (Debian package redis-server)")
        server = RedisServer(Path(tmp) / "redis")
        port = server.port
        try:
            if not args.no_dedup:
                bench_dedup(args.docs, port, Path(tmp))
            if not args.no_crawl:
                for delay in (float(x) for x in args.delays.split(",")):
                    bench_crawl(args.site, args.bulk, port, delay)
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
