"""The Redis connection of one crawl process: keys, outages, a lost server.

One :class:`RedisLink` per crawler (:func:`link_for`), shared by the
scheduler, the seen store and the dedup stage, so an outage is logged once
per process (a WARNING when it starts, an INFO line when Redis answers again)
however many components notice it.

Every key starts with ``REDIS_PREFIX``.  ``<prefix>:meta`` is a hash written
once when the first worker of a crawl starts (``id``: a random crawl id,
``created``): a server restarted without its data has no ``meta``, and every
script of the project refuses to run against it (:class:`RedisStateLost`)
rather than recrawl and rewrite what the lost data recorded.  Each machine
remembers the crawl id it worked for in ``STATE_DIR/redis.json``; a worker
that finds that file but no ``meta`` refuses to start.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from crawler.fsutil import write_atomic

logger = logging.getLogger(__name__)

T = TypeVar("T")
MARKER_FILE = "redis.json"
LOST_REPLY = "ZHENGFA_STATE_LOST"
LAYOUT_REPLY = "ZHENGFA_LAYOUT"  # a script found its keys in a layout it does not read
# Lua prologue of every script: refuse to touch a server that lost the crawl's state.
GUARD = f"""
if redis.call('EXISTS', ARGV[1] .. ':meta') == 0 then
  return redis.error_reply('{LOST_REPLY}')
end
"""
CLOSE_WAIT = 30.0  # seconds a closing process waits for an unreachable Redis
# errors that mean "not reachable now" (BusyLoadingError: loading its dump), worth a retry
UNREACHABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


class RedisStateLost(RuntimeError):
    """Redis answers but holds none of the crawl's state (restarted without its data)."""


def lost_message(url: str, prefix: str, where: str) -> str:
    return (
        f"Redis at {safe_url(url)} holds no crawl state under {prefix!r} ({where}): it was "
        f"restarted or flushed without its data. Refusing to go on, which would fetch and "
        f"write again everything the lost state recorded. Restore its dump (RDB/AOF) and run "
        f"again, or, to start a new crawl on purpose, delete {MARKER_FILE} in STATE_DIR on "
        f'every machine (README "Several machines").'
    )


class RedisLayoutMismatch(RuntimeError):
    """Redis holds the crawl's keys in a layout this version does not read."""


def layout_message(link: RedisLink, found: str, wanted: str) -> str:
    return (
        f"Redis at {safe_url(link.url)} holds the near-duplicate index of crawl "
        f"{link.prefix!r} in key layout {found}; this version reads layout {wanted}. "
        f"Finish that crawl with the version that started it, or start a new one under "
        f"another REDIS_PREFIX (the output already written stays valid: python -m crawler "
        f"dedup merges it)."
    )


def safe_url(url: str) -> str:
    """``url`` without a password."""
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"


class RedisLink:
    """A client plus the process's view of whether Redis is reachable."""

    def __init__(self, url: str, prefix: str, retry_max: float = 10.0) -> None:
        self.url = url
        self.prefix = prefix
        self.retry_max = retry_max
        # no retries inside the client: outages are handled (and logged) here
        self.client = redis.Redis.from_url(
            url,
            socket_timeout=5.0,
            socket_connect_timeout=2.0,
            retry=Retry(NoBackoff(), 0),
            health_check_interval=0,
        )
        self.down_since: float | None = None
        self.outages = 0
        self.crawl_id = ""

    def key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    # -- outages ---------------------------------------------------------------
    def failed(self, exc: BaseException) -> None:
        """Note that a call failed with ``exc`` (logged once per outage)."""
        if self.down_since is None:
            self.down_since = time.monotonic()
            self.outages += 1
            logger.warning(
                "Redis at %s unreachable (%s): pausing, retrying with backoff up to %.0f s; "
                "nothing is lost meanwhile",
                safe_url(self.url),
                exc,
                self.retry_max,
            )

    def recovered(self) -> None:
        if self.down_since is not None:
            logger.warning(
                "Redis at %s answers again after %.1f s: going on",
                safe_url(self.url),
                time.monotonic() - self.down_since,
            )
            self.down_since = None

    @property
    def up(self) -> bool:
        return self.down_since is None

    def call(self, fn: Callable[[], T], give_up: float | None = None) -> T:
        """``fn()``, retried with backoff while Redis is unreachable (blocks meanwhile).

        Raises :class:`RedisStateLost` when a script refuses a server without state, and
        the connection error once ``give_up`` seconds have passed (when given).
        """
        delay = 0.05
        started = time.monotonic()
        while True:
            try:
                result = fn()
            except UNREACHABLE as exc:
                self.failed(exc)
                if give_up is not None and time.monotonic() - started >= give_up:
                    raise
                time.sleep(delay)
                delay = min(self.retry_max, delay * 2)
                continue
            except redis.exceptions.ResponseError as exc:
                raise self.translate(exc) from None
            self.recovered()
            return result

    def translate(self, exc: redis.exceptions.ResponseError) -> Exception:
        if LOST_REPLY in str(exc):
            return RedisStateLost(lost_message(self.url, self.prefix, "found mid-crawl"))
        if LAYOUT_REPLY in str(exc):  # "<reply> <found> <wanted>"
            found, wanted = [*str(exc).split(LAYOUT_REPLY, 1)[1].split(), "?", "?"][:2]
            return RedisLayoutMismatch(layout_message(self, found, wanted))
        return exc

    def script(self, source: str) -> Any:
        """A registered Lua script (run with EVALSHA, loaded again after a restart)."""
        return self.client.register_script(GUARD + source)

    # -- the crawl's identity ----------------------------------------------------------
    def join(self, state_root: Path) -> str:
        """Join (or start) the crawl Redis holds; refuse a server that lost it."""
        marker = state_root / MARKER_FILE
        known: dict[str, Any] = {}
        try:
            data = json.loads(marker.read_bytes())
            if isinstance(data, dict):
                known = data.get(self.prefix) or {}
        except (FileNotFoundError, ValueError):
            data = {}
        meta = self.key("meta")
        crawl_id = self.call(lambda: self.client.hget(meta, "id"))
        if crawl_id is None:
            if known.get("id"):
                raise RedisStateLost(
                    lost_message(
                        self.url, self.prefix, f"this machine worked for crawl {known['id']}"
                    )
                )
            new = uuid.uuid4().hex
            self.call(lambda: self.client.hsetnx(meta, "id", new))
            self.call(lambda: self.client.hsetnx(meta, "created", time.time()))
            crawl_id = self.call(lambda: self.client.hget(meta, "id"))
        self.crawl_id = crawl_id.decode() if isinstance(crawl_id, bytes) else str(crawl_id)
        if known.get("id") != self.crawl_id:
            if known.get("id"):
                logger.warning(
                    "Redis at %s holds crawl %s; this machine worked for crawl %s before",
                    safe_url(self.url),
                    self.crawl_id,
                    known["id"],
                )
            data = data if isinstance(data, dict) else {}
            data[self.prefix] = {"id": self.crawl_id, "url": safe_url(self.url)}
            write_atomic(marker, json.dumps(data, indent=1).encode())
        return self.crawl_id


_LINKS: weakref.WeakKeyDictionary[Any, RedisLink] = weakref.WeakKeyDictionary()


def link_for(crawler: Any) -> RedisLink:
    """The crawler's :class:`RedisLink` (made on first call, crawl joined)."""
    found = _LINKS.get(crawler)
    if found is None:
        settings = crawler.settings
        found = RedisLink(
            settings.get("REDIS_URL"),
            settings.get("REDIS_PREFIX"),
            settings.getfloat("REDIS_RETRY_MAX_SECONDS"),
        )
        state_root = Path(settings.get("STATE_DIR") or "state")
        state_root.mkdir(parents=True, exist_ok=True)
        found.join(state_root)
        _LINKS[crawler] = found
    return found
