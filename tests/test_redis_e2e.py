"""Two and three real ``scrapy crawl`` processes on one real redis-server and the replica.

Standard: every page fetched once across the processes, every record written
once, the kept set and duplicates of a one-process crawl, a killed worker's
requests fetched by another, a Redis outage ridden out, an emptied Redis refused.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from crawlrun import ROOT, Replica, crawl, crawl_cmd
from redisserver import RedisServer

pytestmark = pytest.mark.e2e

BULK = "30"  # synthetic articles per portal, besides the replica's own
CRAWLED = re.compile(r"Crawled \((\d+)\) <GET ([^>]+)>")
SLOW = {"DOWNLOAD_DELAY": "0.3", "DOWNLOAD_DELAY_JITTER": "0"}
BASE = {"PAGE_WORKERS": "0", "LOG_LEVEL": "DEBUG", "REDIS_POLL_SECONDS": "0.1"}


@pytest.fixture(scope="module")
def bulk_replica() -> Iterator[Replica]:
    replica = Replica("--bulk", BULK)
    try:
        yield replica
    finally:
        replica.stop()


class Worker:
    """One ``scrapy crawl SITE`` process of the Redis crawl."""

    def __init__(
        self, site: str, replica: str, work: Path, n: int, settings: dict[str, str]
    ) -> None:
        self.site = site
        self.log_path = work / f"worker-{site}-{n}.log"
        self.log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            crawl_cmd(site, replica, work, settings={**BASE, **settings}),
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    def wait(self, timeout: float = 240) -> int:
        code = self.proc.wait(timeout=timeout)
        self.log.close()
        return code

    def text(self) -> str:
        return self.log_path.read_text("utf-8", "replace")

    def fetched(self) -> list[str]:
        return [
            url
            for status, url in CRAWLED.findall(self.text())
            if not url.endswith("/robots.txt") and status == "200"
        ]

    @property
    def folder(self) -> str:
        return f"{self.site}/{os.uname().nodename}-{self.proc.pid}"


def together(server: RedisServer, start: Any) -> list[Worker]:
    """``start()``'s workers, held at their first write to Redis until all are connected.

    Start-up takes seconds on a loaded machine; without this the first worker
    would often crawl the portal alone before the others are up.
    """
    client = server.client()
    client.client_pause(60_000, all=False)  # write commands wait, reads go on
    try:
        workers: list[Worker] = start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            others = [c for c in client.client_list() if c["cmd"] != "client|list"]
            if len(others) >= len(workers):
                break
            assert all(w.proc.poll() is None for w in workers)
            time.sleep(0.1)
    finally:
        client.client_unpause()
    return workers


def run_all(workers: list[Worker], timeout: float = 300) -> None:
    for w in workers:
        code = w.wait(timeout)
        assert code == 0, f"{w.folder} exited {code}:\n{w.text()[-4000:]}"


def read(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    data = path.read_bytes()
    whole = data[: data.rfind(b"\n") + 1]  # a line still being written is not a record yet
    return [json.loads(line) for line in whole.decode("utf-8").splitlines()]


def records(work: Path, site: str, name: str = "articles") -> list[dict[str, Any]]:
    """Every process folder's records of ``site``."""
    return [r for p in sorted((work / "output" / site).glob(f"*/{name}.jsonl")) for r in read(p)]


def manifest_urls(replica: Replica, site: str) -> set[str]:
    import urllib.request

    with urllib.request.urlopen(f"{replica.url}/_replica/manifest", timeout=10) as resp:
        data = json.loads(resp.read())
    return {a["url"] for a in data["portals"][site]["articles"]}


def settings_for(server: RedisServer, **extra: str) -> dict[str, str]:
    return {"REDIS_URL": server.url, **extra}


def assert_fetched_once(workers: list[Worker]) -> Counter[str]:
    counts = Counter(url for w in workers for url in w.fetched())
    twice = {u: c for u, c in counts.items() if c > 1}
    assert not twice, f"fetched more than once across the workers: {twice}"
    return counts


def test_two_workers_share_one_portal(
    bulk_replica: Replica, redis_server: RedisServer, tmp_path: Path
) -> None:
    site = "scfzw"
    workers = together(
        redis_server,
        lambda: [
            Worker(site, bulk_replica.url, tmp_path, n, settings_for(redis_server, **SLOW))
            for n in (1, 2)
        ],
    )
    run_all(workers)
    assert_fetched_once(workers)
    assert all(w.fetched() for w in workers), "a worker fetched nothing"
    recs = records(tmp_path, site)
    urls = [r["url"] for r in recs]
    assert len(urls) == len(set(urls)), "a record written twice"
    assert set(urls) == manifest_urls(bulk_replica, site)
    for w in workers:  # each wrote its own folder
        assert (tmp_path / "output" / w.folder / "articles.jsonl").exists()
    # the crawl is complete: its frontier is gone, its seen store and index stay
    client = redis_server.client()
    assert client.keys(f"zhengfa:frontier:{site}:*") == []
    assert client.scard(f"zhengfa:seen:{site}") == len(urls)
    # a second run on the same Redis finds every article written: nothing new
    again = Worker(site, bulk_replica.url, tmp_path, 3, settings_for(redis_server))
    run_all([again])
    assert not [u for u in again.fetched() if u in set(urls)]
    assert records(tmp_path, site) == recs


def test_three_workers_two_portals_decide_duplicates_as_one_process(
    bulk_replica: Replica, redis_server: RedisServer, tmp_path: Path
) -> None:
    # one process, embedded, the portals one after the other: the reference
    ref = tmp_path / "ref"
    for site in ("scfzw", "dali"):
        done = crawl(site, bulk_replica.url, ref, settings={"PAGE_WORKERS": "0"})
        assert done.returncode == 0, done.stderr[-3000:]
    want_kept = {r["url"] for s in ("scfzw", "dali") for r in done.records(s)}
    want_dups = {
        (r["url"], r["duplicate_of"])
        for s in ("scfzw", "dali")
        for r in done.records(s, "duplicates")
    }
    assert want_dups, "the replica has reprints across these portals"
    work = tmp_path / "redis"
    work.mkdir()
    workers = together(
        redis_server,
        lambda: [
            Worker(site, bulk_replica.url, work, n, settings_for(redis_server, **SLOW))
            for n, site in enumerate(("scfzw", "dali", "scfzw"))
        ],
    )
    run_all(workers)
    assert_fetched_once(workers)
    kept = [r for s in ("scfzw", "dali") for r in records(work, s)]
    dups = [r for s in ("scfzw", "dali") for r in records(work, s, "duplicates")]
    urls = [r["url"] for r in kept + dups]
    assert len(urls) == len(set(urls)), "a record written twice"
    assert {r["url"] for r in kept} == want_kept
    assert {(r["url"], r["duplicate_of"]) for r in dups} == want_dups
    # a duplicate found in one process of a record another process wrote
    owner = {
        r["id"]: p.parent.name
        for s in ("scfzw", "dali")
        for p in (work / "output" / s).glob("*/articles.jsonl")
        for r in read(p)
    }
    dup_owner = {
        r["duplicate_of"]: p.parent.name
        for s in ("scfzw", "dali")
        for p in (work / "output" / s).glob("*/duplicates.jsonl")
        for r in read(p)
    }
    assert any(owner.get(k) not in (None, v) for k, v in dup_owner.items())
    # merging every process's files gives what one process wrote
    inputs = sorted((work / "output").glob("*/*/articles.jsonl"))
    inputs += sorted((work / "output").glob("*/*/duplicates.jsonl"))
    merged = tmp_path / "merged"
    done_merge = subprocess.run(
        [sys.executable, "-m", "crawler", "dedup", *map(str, inputs), "--out", str(merged)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done_merge.returncode == 0, done_merge.stderr[-3000:]
    assert {r["url"] for r in read(merged / "articles.jsonl")} == want_kept
    assert {(r["url"], r["duplicate_of"]) for r in read(merged / "duplicates.jsonl")} == want_dups


def wait_records(
    work: Path, site: str, n: int, workers: list[Worker], timeout: float = 120
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(records(work, site)) >= n:
            return
        if all(w.proc.poll() is not None for w in workers):
            pytest.fail("the workers ended before the fault")
        time.sleep(0.05)
    pytest.fail(f"no {n} records within {timeout} s")


def kill_holding_a_lease(server: RedisServer, site: str, victim: Worker) -> None:
    """``kill -9`` the victim at a moment it holds a lease.

    A worker leases only what its downloader sends at once, so it often holds
    none; writes are paused while the owners are read, so the victim cannot
    acknowledge its lease between the look and the kill.
    """
    client = server.client()
    name = victim.folder.split("/", 1)[1].encode()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        client.client_pause(5_000, all=False)
        try:
            if name in client.hvals(f"zhengfa:frontier:{site}:owner"):
                os.kill(victim.proc.pid, signal.SIGKILL)
                victim.wait()
                return
        finally:
            client.client_unpause()
        assert victim.proc.poll() is None, victim.text()[-3000:]
        time.sleep(0.01)
    pytest.fail("the victim held no lease within 60 s")


def test_killed_worker_requests_are_fetched_by_another(
    bulk_replica: Replica, redis_server: RedisServer, tmp_path: Path
) -> None:
    site = "scfzw"
    conf = settings_for(redis_server, REDIS_LEASE_SECONDS="3", **SLOW)
    victim, survivor = together(
        redis_server, lambda: [Worker(site, bulk_replica.url, tmp_path, n, conf) for n in (1, 2)]
    )
    # the victim is at work (its own records written, more requests leased)
    own = tmp_path / "output" / victim.folder / "articles.jsonl"
    deadline = time.monotonic() + 120
    while len(read(own)) < 4 and time.monotonic() < deadline:
        assert victim.proc.poll() is None, victim.text()[-3000:]
        time.sleep(0.02)
    kill_holding_a_lease(redis_server, site, victim)
    run_all([survivor])
    text = survivor.text()
    assert "expired lease(s) of a stopped worker back in the queue" in text
    urls = [r["url"] for r in records(tmp_path, site)]
    assert len(urls) == len(set(urls)), "a record written twice"
    assert set(urls) == manifest_urls(bulk_replica, site), "a page of the killed worker is lost"


def test_redis_stopped_mid_crawl_pauses_and_goes_on(
    bulk_replica: Replica, redis_server: RedisServer, tmp_path: Path
) -> None:
    site = "scfzw"
    redis_server.stop()
    redis_server.start(persist=True)
    conf = settings_for(redis_server, REDIS_RETRY_MAX_SECONDS="1", **SLOW)
    workers = together(
        redis_server, lambda: [Worker(site, bulk_replica.url, tmp_path, n, conf) for n in (1, 2)]
    )
    wait_records(tmp_path, site, 6, workers)
    redis_server.stop(save=True)
    time.sleep(4)
    redis_server.start(persist=True)
    run_all(workers)
    for w in workers:
        text = w.text()
        assert text.count("unreachable") >= 1
        assert "answers again" in text
    urls = [r["url"] for r in records(tmp_path, site)]
    assert len(urls) == len(set(urls)), "a record written twice"
    assert set(urls) == manifest_urls(bulk_replica, site)


def test_redis_restarted_empty_is_refused(
    bulk_replica: Replica, redis_server: RedisServer, tmp_path: Path
) -> None:
    site = "scfzw"
    conf = settings_for(redis_server, **SLOW)
    workers = together(
        redis_server, lambda: [Worker(site, bulk_replica.url, tmp_path, n, conf) for n in (1, 2)]
    )
    wait_records(tmp_path, site, 4, workers)
    redis_server.stop()
    redis_server.start()  # no persistence: empty
    for w in workers:
        assert w.wait() == 1
        assert "restarted or flushed without its data" in w.text()
    before = records(tmp_path, site)
    late = Worker(site, bulk_replica.url, tmp_path, 3, conf)
    assert late.wait() == 1
    assert "restarted or flushed without its data" in late.text()
    assert records(tmp_path, site) == before
    assert not late.fetched()
