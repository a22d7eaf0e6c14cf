"""A Scrapy scheduler whose frontier lives in Redis and loses nothing.

``SCHEDULER`` when ``REDIS_URL`` is set (:mod:`crawler.distributed.addon`).
Written on redis-py rather than on scrapy-redis, whose scheduler marks a
request seen and forgets it when it is popped (``kill -9`` of a worker loses
every request in flight, and the pages only they linked to), has no leases,
closes a worker that finds the queue empty for a moment, and blocks the event
loop with ``BRPOP`` (README "Several machines").

Keys, for a portal ``<site>`` (``P`` = ``REDIS_PREFIX``), ``B`` = ``P:frontier:<site>``:

- ``B:queue`` sorted set of request ids, score ``-priority * 1e9 + id``: higher
  priority first, first in first out within a priority;
- ``B:reqs`` hash id -> the request (``Request.to_dict``, pickled);
- ``B:fps`` set of Scrapy request fingerprints (``crawler.request_fingerprinter``)
  of every request enqueued in this crawl (``dont_filter`` requests skip it);
- ``B:leases`` sorted set id -> deadline (Redis time) of every popped request not
  yet acknowledged; ``B:owner`` id -> worker; ``B:score`` id -> its queue score;
- ``B:workers`` sorted set worker -> deadline of its last heartbeat.

Every call is one Lua script (atomic).  A pop moves the request from the
queue to the leases; the worker renews its leases every tick
(``REDIS_POLL_SECONDS``) and acknowledges a request once the engine is done
with it: downloaded, its callback's requests scheduled and its items through
every pipeline (or a redirect or retry scheduled in its place).  A lease not
renewed for ``REDIS_LEASE_SECONDS`` (its worker was killed, or hangs) goes
back to the queue, and any worker fetches it.  After an outage no worker takes
leases back for ``REDIS_LEASE_SECONDS``, so the workers that survived it can
renew theirs first.

A worker leases a request only when its downloader can start it now: no
request of its waits in a download slot's queue (for ``DOWNLOAD_DELAY``) and
fewer than ``CONCURRENT_REQUESTS_PER_DOMAIN`` are in its downloader; and it
holds at most ``2 * CONCURRENT_REQUESTS_PER_DOMAIN`` leases in all (responses
still in its callbacks and pipelines hold theirs).  Scrapy's engine would
otherwise take up to ``CONCURRENT_REQUESTS`` from the queue into its slot
queue, where they wait out the delay while the other workers find the queue
empty: a list page links to a few requests, and the worker that fetched it
would lease them all.
A worker stays alive while the queue or any lease is not empty: it polls the
queue every tick (no blocking pop, no idle gap), so it picks up what the
others' pages link to.  The last worker to close with both empty deletes the
frontier (the crawl is complete; the next run starts from the start URLs).  A
worker stopped early (Ctrl-C, ``CLOSESPIDER_*``) puts its leases back.

Redis unreachable: requests to enqueue and acknowledgements wait in memory and
are sent when it answers again; the worker pops nothing meanwhile and does not
close.  Redis without the crawl's state (restarted empty): the crawl closes
with reason ``redis_state_lost``.
"""

from __future__ import annotations

import logging
import pickle
import time
from typing import Any, Self

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.utils.defer import deferred_from_coro
from scrapy.utils.request import request_from_dict
from twisted.internet.task import LoopingCall

from crawler.distributed.connection import (
    CLOSE_WAIT,
    UNREACHABLE,
    RedisLink,
    RedisStateLost,
    link_for,
)
from crawler.distributed.workers import worker_id

logger = logging.getLogger(__name__)

LOST_REASON = "redis_state_lost"

_ENQUEUE = """
local b = ARGV[2]
local added = 0
for i = 3, #ARGV, 3 do
  if ARGV[i] == '' or redis.call('SADD', b .. ':fps', ARGV[i]) == 1 then
    local id = redis.call('INCR', b .. ':seq')
    redis.call('HSET', b .. ':reqs', id, ARGV[i + 2])
    redis.call('ZADD', b .. ':queue', -tonumber(ARGV[i + 1]) * 1e9 + id, id)
    added = added + 1
  end
end
return added
"""

_POP = """
local b = ARGV[2]
local got = redis.call('ZPOPMIN', b .. ':queue')
if #got == 0 then return false end
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local id = got[1]
redis.call('ZADD', b .. ':leases', now + tonumber(ARGV[4]), id)
redis.call('HSET', b .. ':owner', id, ARGV[3])
redis.call('HSET', b .. ':score', id, got[2])
return {id, redis.call('HGET', b .. ':reqs', id)}
"""

# acknowledge: the request is done (wherever it is now: leased, or back in the queue)
_ACK = """
local b = ARGV[2]
for i = 3, #ARGV do
  local id = ARGV[i]
  redis.call('ZREM', b .. ':leases', id)
  redis.call('ZREM', b .. ':queue', id)
  redis.call('HDEL', b .. ':reqs', id)
  redis.call('HDEL', b .. ':owner', id)
  redis.call('HDEL', b .. ':score', id)
end
return #ARGV - 2
"""

# heartbeat: renew this worker's leases; ARGV[5] == '1' also takes expired leases back
_TICK = """
local b = ARGV[2]
local worker = ARGV[3]
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local deadline = now + tonumber(ARGV[4])
redis.call('ZADD', b .. ':workers', deadline, worker)
for i = 6, #ARGV do
  if redis.call('HGET', b .. ':owner', ARGV[i]) == worker then
    redis.call('ZADD', b .. ':leases', 'XX', deadline, ARGV[i])
  end
end
local reclaimed = 0
if ARGV[5] == '1' then
  local expired = redis.call('ZRANGEBYSCORE', b .. ':leases', '-inf', now, 'LIMIT', 0, 1000)
  for _, id in ipairs(expired) do
    local score = redis.call('HGET', b .. ':score', id) or 0
    redis.call('ZADD', b .. ':queue', score, id)
    redis.call('ZREM', b .. ':leases', id)
    redis.call('HDEL', b .. ':owner', id)
    reclaimed = reclaimed + 1
  end
end
return {redis.call('ZCARD', b .. ':queue'), redis.call('ZCARD', b .. ':leases'), reclaimed}
"""

_PENDING = """
local b = ARGV[2]
return redis.call('ZCARD', b .. ':queue') + redis.call('ZCARD', b .. ':leases')
"""

# a worker closing: its leases back to the queue; the frontier deleted when all is done
_LEAVE = """
local b = ARGV[2]
local worker = ARGV[3]
for i = 4, #ARGV do
  if redis.call('HGET', b .. ':owner', ARGV[i]) == worker then
    redis.call('ZADD', b .. ':queue', redis.call('HGET', b .. ':score', ARGV[i]) or 0, ARGV[i])
    redis.call('ZREM', b .. ':leases', ARGV[i])
    redis.call('HDEL', b .. ':owner', ARGV[i])
  end
end
redis.call('ZREM', b .. ':workers', worker)
local t = redis.call('TIME')
local live = redis.call('ZCOUNT', b .. ':workers', tonumber(t[1]), '+inf')
if live == 0 and redis.call('ZCARD', b .. ':queue') == 0
   and redis.call('ZCARD', b .. ':leases') == 0 then
  redis.call('DEL', b .. ':fps', b .. ':reqs', b .. ':seq', b .. ':owner', b .. ':score',
             b .. ':workers', b .. ':queue', b .. ':leases')
  return 1
end
return 0
"""


def frontier_key(link: RedisLink, site: str) -> str:
    return link.key("frontier", site)


class RedisScheduler:
    """Scrapy scheduler on Redis with leases (see the module docstring).

    Settings: ``REDIS_URL``, ``REDIS_PREFIX``, ``REDIS_LEASE_SECONDS``,
    ``REDIS_POLL_SECONDS``, ``REDIS_RETRY_MAX_SECONDS``.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.link = link_for(crawler)
        self.lease = crawler.settings.getfloat("REDIS_LEASE_SECONDS")
        self.poll = crawler.settings.getfloat("REDIS_POLL_SECONDS")
        self.worker = worker_id()
        # leases held at once: what the portal's download slot can start soon (a process
        # crawls one portal), not all CONCURRENT_REQUESTS, so workers share the queue
        settings = crawler.settings
        self.max_leases = max(
            1,
            min(
                settings.getint("CONCURRENT_REQUESTS"),
                2 * settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN"),
            ),
        )
        self.slot_concurrency = max(1, settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN"))
        self.base = ""
        self.spider: Spider | None = None
        self.leases: dict[Request, str] = {}  # popped here, not yet acknowledged
        self.pending: list[tuple[str, int, bytes]] = []  # enqueued while Redis was away
        self.acks: list[str] = []  # acknowledgements not yet sent
        self.lost = False
        self.known_pending = True  # queue or leases non-empty at the last look
        self._retry_at = 0.0
        self._delay = 0.05
        self._grace_until = 0.0  # no lease taken back before (after an outage)
        self._outages = self.link.outages
        self._loop: Any = None
        self._scripts = {
            name: self.link.script(src)
            for name, src in (
                ("enqueue", _ENQUEUE),
                ("pop", _POP),
                ("ack", _ACK),
                ("tick", _TICK),
                ("pending", _PENDING),
                ("leave", _LEAVE),
            )
        }

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    # -- Redis calls ------------------------------------------------------------------
    def _run(self, name: str, *args: Any) -> Any:
        """Run a script now; raise the redis error when unreachable (caller decides)."""
        try:
            result = self._scripts[name](args=[self.link.prefix, self.base, *args])
        except UNREACHABLE as exc:
            self.link.failed(exc)
            now = time.monotonic()
            self._retry_at = now + self._delay
            self._delay = min(self.link.retry_max, self._delay * 2)
            raise
        except Exception as exc:
            if isinstance(exc, RedisStateLost):
                raise
            from redis.exceptions import ResponseError

            if isinstance(exc, ResponseError):
                translated = self.link.translate(exc)
                if isinstance(translated, RedisStateLost):
                    self._lose(translated)
                raise translated from None
            raise
        self._delay = 0.05
        self.link.recovered()
        return result

    def _waiting(self) -> bool:
        """True while Redis is known unreachable and the next retry is not due."""
        return not self.link.up and time.monotonic() < self._retry_at

    def _lose(self, exc: RedisStateLost) -> None:
        if self.lost:
            return
        self.lost = True
        logger.error("%s", exc)
        self.stats.set_value("redis/state_lost", 1)
        engine = self.crawler.engine
        if engine is not None:
            deferred_from_coro(engine.close_spider_async(reason=LOST_REASON))

    # -- the scheduler interface -----------------------------------------------------------
    def open(self, spider: Spider) -> None:
        self.spider = spider
        site = str(getattr(spider, "site", "") or spider.name)
        self.base = frontier_key(self.link, site)
        self._hook_engine()
        if self.poll > 0:  # 0: ticks driven by the caller (tests)
            self._loop = LoopingCall(self._tick)
            self._loop.start(self.poll, now=True)

    def close(self, reason: str) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        if self.lost:
            return
        self._retry_at = 0.0
        self._flush()
        try:
            cleared = self.link.call(
                lambda: self._scripts["leave"](
                    args=[self.link.prefix, self.base, self.worker, *self.leases.values()]
                ),
                give_up=CLOSE_WAIT,
            )
        except RedisStateLost as exc:
            logger.error("%s", exc)
            return
        except UNREACHABLE:
            logger.warning(
                "Redis unreachable at close: %d lease(s) of this worker go back to the queue "
                "when they expire (REDIS_LEASE_SECONDS), %d request(s) found here are fetched "
                "again from their pages then",
                len(self.leases),
                len(self.pending),
            )
            return
        if self.leases:
            logger.info("%d request(s) in flight put back in the Redis queue", len(self.leases))
        if cleared:
            logger.info("frontier complete: %s deleted (the next run starts afresh)", self.base)

    def has_pending_requests(self) -> bool:
        if self.lost:
            return True  # closing with reason redis_state_lost, not "finished"
        if self.pending or self.acks or self._waiting():
            return True
        try:
            count = int(self._run("pending"))
        except UNREACHABLE:
            return True
        except RedisStateLost:
            return True
        self.known_pending = count > 0  # the queue, or leases (this worker's or others')
        return self.known_pending

    def __len__(self) -> int:
        try:
            return int(self.link.client.zcard(f"{self.base}:queue"))
        except UNREACHABLE:
            return len(self.pending)

    def enqueue_request(self, request: Request) -> bool:
        assert self.spider is not None
        fp = "" if request.dont_filter else self.crawler.request_fingerprinter.fingerprint(request)
        entry = (
            fp.hex() if isinstance(fp, bytes) else fp,
            int(request.priority),
            pickle.dumps(request.to_dict(spider=self.spider), protocol=5),
        )
        if self.lost:
            return False
        if self.pending or self._waiting():
            self.pending.append(entry)
            self.stats.inc_value("redis/enqueue_buffered")
            return True
        try:
            added = int(self._run("enqueue", *entry))
        except UNREACHABLE:
            self.pending.append(entry)
            self.stats.inc_value("redis/enqueue_buffered")
            return True
        except RedisStateLost:
            return False
        if added:
            self.stats.inc_value("scheduler/enqueued/redis")
            self.known_pending = True
            return True
        self.stats.inc_value("dupefilter/filtered")
        return False

    def next_request(self) -> Request | None:
        assert self.spider is not None
        if self.lost or self._waiting() or len(self.leases) >= self.max_leases:
            return None
        if not self._downloader_has_room():
            return None
        if self.pending or self.acks:
            self._flush()
            if self.pending:
                return None
        try:
            got = self._run("pop", self.worker, self.lease)
        except (RedisStateLost, *UNREACHABLE):
            return None
        if not got:
            return None
        lease_id = got[0].decode() if isinstance(got[0], bytes) else str(got[0])
        if got[1] is None:  # acknowledged by another worker meanwhile
            self.acks.append(lease_id)
            return None
        request = request_from_dict(pickle.loads(got[1]), spider=self.spider)  # noqa: S301 - our own queue
        self.leases[request] = lease_id
        self.stats.inc_value("scheduler/dequeued/redis")
        return request

    def _downloader_has_room(self) -> bool:
        """True when a request popped now would be sent at once (see the module docstring).

        A request is in ``Downloader.active`` from the moment the engine hands it
        over, but reaches a slot (and its ``transferring`` set, see
        :mod:`crawler.downloader`) only after the downloader middlewares and the
        slot's delay: every active request not transferring is one waiting.
        """
        engine = self.crawler.engine
        downloader = getattr(engine, "downloader", None)
        if downloader is None:
            return True
        active = len(downloader.active)
        transferring = sum(len(slot.transferring) for slot in downloader.slots.values())
        return active == transferring and active < self.slot_concurrency

    # -- acknowledgements --------------------------------------------------------------------
    def _hook_engine(self) -> None:
        """Acknowledge a request when the engine removes it from its slot.

        Scrapy signals nothing once a response's callback output and items are all
        processed; the engine's slot learns it (``_Slot.remove_request``, called after
        ``_handle_downloader_output``), so the scheduler wraps that method of its own
        engine's slot.  ``tests/test_redis_scheduler.py`` fails if Scrapy changes it.
        """
        engine = self.crawler.engine
        slot = getattr(engine, "_slot", None) if engine is not None else None
        if slot is None or not hasattr(slot, "remove_request"):
            raise RuntimeError("Scrapy's engine has no slot.remove_request to hook")
        original = slot.remove_request

        def remove_request(request: Request) -> None:
            self._done(request)
            original(request)

        slot.remove_request = remove_request

    def _done(self, request: Request) -> None:
        lease_id = self.leases.pop(request, None)
        if lease_id is None:
            return
        self.acks.append(lease_id)
        if not self._waiting():
            self._flush()

    def _flush(self) -> None:
        """Send what waited in memory: enqueued requests first, then acknowledgements."""
        try:
            while self.pending:
                batch = self.pending[:100]
                added = int(self._run("enqueue", *(x for entry in batch for x in entry)))
                del self.pending[: len(batch)]
                self.stats.inc_value("scheduler/enqueued/redis", added)
            if self.acks:
                acks = self.acks[:]
                self._run("ack", *acks)
                del self.acks[: len(acks)]
        except (RedisStateLost, *UNREACHABLE):
            return

    # -- the heartbeat -------------------------------------------------------------------
    def _tick(self) -> None:
        if self.lost or self._waiting():
            return
        now = time.monotonic()
        if self.link.outages != self._outages:  # an outage happened since the last tick
            self._outages = self.link.outages
            self._grace_until = now + self.lease
        self._flush()
        try:
            queued, leased, reclaimed = self._run(
                "tick",
                self.worker,
                self.lease,
                "1" if now >= self._grace_until else "0",
                *self.leases.values(),
            )
        except (RedisStateLost, *UNREACHABLE):
            return
        if reclaimed:
            self.stats.inc_value("redis/leases_reclaimed", int(reclaimed))
            logger.info("%d expired lease(s) of a stopped worker back in the queue", int(reclaimed))
        self.known_pending = bool(queued or leased)
        engine = self.crawler.engine
        slot = getattr(engine, "_slot", None)
        if slot is not None and slot.closing is None:
            slot.nextcall.schedule()  # pop what others queued, or close when all is done
