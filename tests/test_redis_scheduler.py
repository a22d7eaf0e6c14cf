"""The Redis frontier against a real redis-server: fingerprints, order, leases, faults.

Each scheduler here is one worker; two schedulers on one server are two
worker processes as far as Redis can tell (different worker names).
"""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from redisserver import RedisServer
from scrapy import Request, Spider
from scrapy.core.engine import _Slot
from scrapy.settings import Settings
from scrapy.statscollectors import MemoryStatsCollector
from scrapy.utils.request import RequestFingerprinter

from crawler import settings as project_settings
from crawler.distributed import connection
from crawler.distributed.connection import RedisStateLost
from crawler.distributed.scheduler import LOST_REASON, RedisScheduler


class FakeNextcall:
    def __init__(self) -> None:
        self.scheduled = 0

    def schedule(self) -> None:
        self.scheduled += 1


class FakeSlot:
    """Scrapy's ``engine._Slot`` as the scheduler uses it (its real methods, no reactor)."""

    add_request = _Slot.add_request
    remove_request = _Slot.remove_request
    _maybe_fire_closing = _Slot._maybe_fire_closing

    def __init__(self) -> None:
        self.inprogress: set[Request] = set()
        self.closing = None
        self.nextcall = FakeNextcall()


class FakeEngine:
    """The parts of Scrapy's engine the scheduler touches (its slot, close_spider_async)."""

    def __init__(self) -> None:
        self.closed: list[str] = []
        self._slot = FakeSlot()

    def close_spider_async(self, reason: str) -> None:  # not awaited: recorded
        self.closed.append(reason)


class FakeCrawler:
    def __init__(self, url: str, state: Path, **overrides: Any) -> None:
        values = {k: getattr(project_settings, k) for k in dir(project_settings) if k.isupper()}
        values.update(
            REDIS_URL=url,
            STATE_DIR=str(state),
            REDIS_LEASE_SECONDS=1.0,
            REDIS_POLL_SECONDS=0,
            CONCURRENT_REQUESTS_PER_DOMAIN=8,
        )
        values.update(overrides)
        self.settings = Settings(values)
        self.stats = MemoryStatsCollector(self)  # type: ignore[arg-type]
        self.request_fingerprinter = RequestFingerprinter(self)  # type: ignore[arg-type]
        self.engine = FakeEngine()
        self.spider: Spider | None = None


class PortalSpider(Spider):
    name = "scfzw"

    def parse(self, response: Any) -> Any:
        return None


def worker(server: RedisServer, tmp_path: Path, name: str, **overrides: Any) -> RedisScheduler:
    crawler = FakeCrawler(server.url, tmp_path / "state", **overrides)
    spider = PortalSpider()
    crawler.spider = spider
    sched = RedisScheduler(crawler)  # type: ignore[arg-type]
    sched.worker = name
    sched.open(spider)
    return sched


def pop_all(sched: RedisScheduler) -> list[Request]:
    out = []
    while (req := sched.next_request()) is not None:
        out.append(req)
    return out


def done(sched: RedisScheduler, request: Request) -> None:
    """What the engine does when it is finished with a request."""
    slot = sched.crawler.engine._slot  # type: ignore[attr-defined]
    slot.add_request(request)
    slot.remove_request(request)


def test_one_fingerprint_set_for_all_workers(redis_server: RedisServer, tmp_path: Path) -> None:
    a = worker(redis_server, tmp_path, "a")
    b = worker(redis_server, tmp_path, "b")
    assert a.enqueue_request(Request("http://www.scfzw.net/a.html"))
    assert not b.enqueue_request(Request("http://www.scfzw.net/a.html"))
    # Scrapy's fingerprinter: the same URL with its query in another order is the same request
    assert a.enqueue_request(Request("http://www.scfzw.net/l?x=1&y=2"))
    assert not b.enqueue_request(Request("http://www.scfzw.net/l?y=2&x=1"))
    # dont_filter requests (retries) are always queued
    assert b.enqueue_request(Request("http://www.scfzw.net/a.html", dont_filter=True))
    urls = [r.url for r in pop_all(b)]
    assert sorted(urls) == sorted(
        ["http://www.scfzw.net/a.html"] * 2 + ["http://www.scfzw.net/l?x=1&y=2"]
    )
    assert pop_all(a) == []


def test_priority_first_then_first_in_first_out(redis_server: RedisServer, tmp_path: Path) -> None:
    a = worker(redis_server, tmp_path, "a")
    for i, prio in enumerate([0, 0, 5, -3, 5, 0]):
        a.enqueue_request(Request(f"http://www.scfzw.net/{i}.html", priority=prio))
    got = [r.url.rsplit("/", 1)[1] for r in pop_all(a)]
    assert got == ["2.html", "4.html", "0.html", "1.html", "5.html", "3.html"]


def test_request_round_trip_keeps_callback_meta_and_priority(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    a = worker(redis_server, tmp_path, "a")
    spider = a.spider
    assert spider is not None
    req = Request(
        "http://www.scfzw.net/x.html",
        callback=spider.parse,
        meta={"kind": "article", "list_title": "标题"},
        priority=3,
        headers={"Referer": "http://www.scfzw.net/"},
    )
    a.enqueue_request(req)
    got = a.next_request()
    assert got is not None
    assert got.callback == spider.parse
    assert got.meta["kind"] == "article"
    assert got.meta["list_title"] == "标题"
    assert got.priority == 3
    assert got.headers["Referer"] == b"http://www.scfzw.net/"


def test_popped_request_is_leased_until_acknowledged(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    a = worker(redis_server, tmp_path, "a")
    b = worker(redis_server, tmp_path, "b")
    a.enqueue_request(Request("http://www.scfzw.net/1.html"))
    req = a.next_request()
    assert req is not None
    client = redis_server.client()
    assert client.zcard(f"{a.base}:leases") == 1
    assert client.zcard(f"{a.base}:queue") == 0
    # another worker finds nothing to pop but does not close: a lease is out
    assert b.next_request() is None
    assert b.has_pending_requests()
    done(a, req)
    assert client.zcard(f"{a.base}:leases") == 0
    assert client.hlen(f"{a.base}:reqs") == 0
    assert not b.has_pending_requests()
    assert not a.has_pending_requests()


def test_lease_of_a_dead_worker_goes_to_another(redis_server: RedisServer, tmp_path: Path) -> None:
    a = worker(redis_server, tmp_path, "a")
    b = worker(redis_server, tmp_path, "b")
    a.enqueue_request(Request("http://www.scfzw.net/1.html"))
    a.enqueue_request(Request("http://www.scfzw.net/2.html"))
    held = a.next_request()
    assert held is not None
    # a stops renewing (killed); b ticks on until the lease expires (1 s)
    deadline = time.monotonic() + 5
    reclaimed = 0
    while time.monotonic() < deadline and not reclaimed:
        b._tick()
        reclaimed = int(b.stats.get_value("redis/leases_reclaimed") or 0)
        time.sleep(0.05)
    assert reclaimed == 1
    urls = sorted(r.url for r in pop_all(b))
    assert urls == ["http://www.scfzw.net/1.html", "http://www.scfzw.net/2.html"]


def test_renewed_lease_is_not_taken_back(redis_server: RedisServer, tmp_path: Path) -> None:
    a = worker(redis_server, tmp_path, "a")
    b = worker(redis_server, tmp_path, "b")
    a.enqueue_request(Request("http://www.scfzw.net/1.html"))
    assert a.next_request() is not None
    end = time.monotonic() + 2.5  # more than twice the lease
    while time.monotonic() < end:
        a._tick()
        b._tick()
        time.sleep(0.05)
    assert not b.stats.get_value("redis/leases_reclaimed")
    assert b.next_request() is None
    assert b.has_pending_requests()


def test_outage_buffers_then_sends_everything(redis_server: RedisServer, tmp_path: Path) -> None:
    redis_server.stop()
    redis_server.start(persist=True)
    a = worker(redis_server, tmp_path, "a", REDIS_RETRY_MAX_SECONDS=0.2)
    a.enqueue_request(Request("http://www.scfzw.net/1.html"))
    req = a.next_request()
    assert req is not None
    redis_server.stop(save=True)
    # Redis down: new requests wait in memory, the acknowledgement too; nothing closes
    assert a.enqueue_request(Request("http://www.scfzw.net/2.html"))
    done(a, req)
    assert a.next_request() is None
    assert a.has_pending_requests()
    assert a.pending
    assert a.acks
    redis_server.start()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and (a.pending or a.acks):
        a._tick()
        time.sleep(0.05)
    assert not a.pending
    assert not a.acks
    urls = [r.url for r in pop_all(a)]
    assert urls == ["http://www.scfzw.net/2.html"]  # 1.html was acknowledged, not lost


def test_outage_is_logged_once(
    redis_server: RedisServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    a = worker(redis_server, tmp_path, "a", REDIS_RETRY_MAX_SECONDS=0.1)
    redis_server.stop(save=True)
    for _ in range(20):
        a.enqueue_request(Request(f"http://www.scfzw.net/{_}.html"))
        a._retry_at = 0.0
        a._tick()
        a.next_request()
    downs = [r for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(downs) == 1
    redis_server.start(persist=True)
    a._retry_at = 0.0
    a._tick()
    assert [r for r in caplog.records if "answers again" in r.getMessage()]


def test_restarted_empty_closes_the_crawl(redis_server: RedisServer, tmp_path: Path) -> None:
    a = worker(redis_server, tmp_path, "a")
    a.enqueue_request(Request("http://www.scfzw.net/1.html"))
    redis_server.client().flushall()  # as a restart without persistence leaves it
    assert a.next_request() is None
    assert a.lost
    assert a.has_pending_requests()  # not idle: closing for the reason below
    assert a.crawler.engine.closed == [LOST_REASON]  # type: ignore[attr-defined]
    assert not a.enqueue_request(Request("http://www.scfzw.net/2.html"))
    assert redis_server.client().keys("*") == []  # nothing written to the empty server


def test_machine_that_worked_for_a_crawl_refuses_an_empty_redis(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    first = connection.RedisLink(redis_server.url, "zhengfa")
    crawl_id = first.join(state)
    assert connection.RedisLink(redis_server.url, "zhengfa").join(state) == crawl_id
    redis_server.client().flushall()
    with pytest.raises(RedisStateLost, match="restarted or flushed without its data"):
        connection.RedisLink(redis_server.url, "zhengfa").join(state)
    # a machine that never worked for it starts a new crawl
    fresh = tmp_path / "other"
    fresh.mkdir()
    assert connection.RedisLink(redis_server.url, "zhengfa").join(fresh) != crawl_id


def test_last_worker_out_deletes_the_finished_frontier(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    a = worker(redis_server, tmp_path, "a")
    b = worker(redis_server, tmp_path, "b")
    a.enqueue_request(Request("http://www.scfzw.net/1.html"))
    req = a.next_request()
    assert req is not None
    a._tick()
    b._tick()
    b.close("finished")  # a is alive with a lease: the frontier stays
    client = redis_server.client()
    assert client.exists(f"{a.base}:fps")
    done(a, req)
    a.close("finished")
    assert client.keys(f"{a.base}:*") == []


def test_worker_stopped_early_puts_its_leases_back(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    a = worker(redis_server, tmp_path, "a")
    b = worker(redis_server, tmp_path, "b")
    a.enqueue_request(Request("http://www.scfzw.net/1.html"))
    assert a.next_request() is not None
    a.close("shutdown")
    # the next run's seeds are known: it goes on with the frontier left
    assert not b.enqueue_request(Request("http://www.scfzw.net/1.html"))
    got = b.next_request()
    assert got is not None
    assert got.url == "http://www.scfzw.net/1.html"


def test_engine_slot_still_has_the_hooked_method() -> None:
    """The acknowledgement hook wraps ``_Slot.remove_request``: fail loudly if Scrapy drops it."""
    assert callable(getattr(_Slot, "remove_request", None))


class FakeDownloader:
    """``Downloader.active`` and its slots' ``transferring`` sets, as the scheduler reads them."""

    def __init__(self) -> None:
        self.active: set[Request] = set()
        self.slots = {"www.scfzw.net": SimpleNamespace(transferring=set())}

    def hand_over(self, request: Request) -> None:  # engine -> downloader middlewares
        self.active.add(request)

    def send(self, request: Request) -> None:  # the slot's delay is over
        self.slots["www.scfzw.net"].transferring.add(request)


def test_a_worker_leases_only_what_its_downloader_sends_at_once(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    a = worker(redis_server, tmp_path, "a", CONCURRENT_REQUESTS_PER_DOMAIN=2)
    b = worker(redis_server, tmp_path, "b", CONCURRENT_REQUESTS_PER_DOMAIN=2)
    downloader = FakeDownloader()
    a.crawler.engine.downloader = downloader  # type: ignore[attr-defined]
    for n in range(4):
        a.enqueue_request(Request(f"http://www.scfzw.net/{n}.html"))
    first = a.next_request()
    assert first is not None
    downloader.hand_over(first)
    # waiting for the portal's delay: nothing more for this worker, the other takes work
    assert a.next_request() is None
    assert b.next_request() is not None
    downloader.send(first)
    second = a.next_request()
    assert second is not None
    downloader.hand_over(second)
    downloader.send(second)
    # CONCURRENT_REQUESTS_PER_DOMAIN in transfer: full
    assert a.next_request() is None
    assert b.next_request() is not None


def test_downloader_still_has_what_the_scheduler_reads() -> None:
    """The lease rule reads ``Downloader.active`` and ``Slot.transferring``: fail if they go."""
    from scrapy.core.downloader import Downloader, Slot

    assert "active" in Downloader.__init__.__code__.co_names
    assert "transferring" in Slot.__init__.__code__.co_names
