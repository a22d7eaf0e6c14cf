"""Per-process portal state when the crawl runs on Redis.

Each ``scrapy crawl SITE`` process writes its own files (so processes on one
machine, and machines sharing a disk, never write the same file):

- ``OUTPUT_DIR/<site>/<host>-<pid>/articles.jsonl``, ``duplicates.jsonl`` and
  ``runs/``: crash-safe as in one process (``pipelines.store``);
- ``STATE_DIR/<site>/<host>-<pid>/`` (run record, move journal) and the lock
  ``STATE_DIR/<site>/<host>-<pid>.lock``.

The seen store of a portal is one Redis set, ``<prefix>:seen:<site>``, of the
url keys every process wrote (``RedisSeenStore``): the incremental middleware
and the store read it as they read the embedded store.

A record is claimed before it is written: one script adds its key to the set
(refused when the key is there: another process wrote it) and keeps the record
line in ``<prefix>:pending:<site>`` (key -> ``<host>-<pid>``, file, line) until
it is on disk; the entry is deleted with the next claim or at close.  A process
killed between the claim and the end of the write leaves its entry; the worker
that fetches the page again finds the key and writes nothing, and the next
crawl process of that portal opening or closing on the same host, holding the
dead process's lock, appends the line to the dead process's file when it is not
there.  So a ``kill -9`` neither writes a record twice nor loses one.  When the
set is created the url
keys of the portal's output already on this machine (``OUTPUT_DIR/<site>/``
and its process folders) are loaded into it, so a portal crawled in one
process before goes on incrementally.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from crawler.distributed.connection import CLOSE_WAIT, UNREACHABLE, RedisLink, link_for
from crawler.distributed.workers import worker_id
from crawler.state import (
    ARTICLES_FILE,
    DUPLICATES_FILE,
    PortalLock,
    PortalLocked,
    PortalState,
    SeenOpenInfo,
    SeenStore,
    iter_jsonl_keys,
    repair_jsonl_tail,
    site_of,
)

logger = logging.getLogger(__name__)

_LOAD_BATCH = 5000

# claim a record's key: ARGV = prefix, seen set, pending hash, key, entry, keys written since
_CLAIM = """
for i = 6, #ARGV do redis.call('HDEL', ARGV[3], ARGV[i]) end
if redis.call('SADD', ARGV[2], ARGV[4]) == 0 then return 0 end
redis.call('HSET', ARGV[3], ARGV[4], ARGV[5])
return 1
"""
_RELEASE = """
redis.call('SREM', ARGV[2], ARGV[4])
redis.call('HDEL', ARGV[3], ARGV[4])
return 1
"""
# delete a pending entry if it is still the one read
_DROP = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  return redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0
"""


def process_outputs(site_dir: Path) -> list[Path]:
    """The JSONL files of a portal: its own folder's and every process folder's."""
    found: list[Path] = []
    for name in (ARTICLES_FILE, DUPLICATES_FILE):
        found += [p for p in [site_dir / name] if p.exists()]
        found += sorted(site_dir.glob(f"*/{name}"))
    return found


class RedisSeenStore(SeenStore):
    """The url keys written for one portal by every process: a Redis set."""

    def __init__(self, link: RedisLink, site: str, state_dir: Path, output_dir: Path) -> None:
        super().__init__(state_dir, output_dir)
        self.link = link
        self.site = site
        self.set_key = link.key("seen", site)
        self.log_path = Path(f"redis:{self.set_key}")  # named in messages
        self._add = link.script("return redis.call('SADD', ARGV[2], ARGV[3])")
        self.pending_key = link.key("pending", site)
        self.worker = state_dir.name  # the process's folders are named <host>-<pid>
        self._claim = link.script(_CLAIM)
        self._release = link.script(_RELEASE)
        self._written: list[str] = []  # claimed and on disk: pending entries to delete
        self._claimed: set[str] = set()  # claimed, not yet on disk
        self._drop = link.client.register_script(_DROP)

    def __contains__(self, key: object) -> bool:
        if key in self.keys:  # written by this process
            return True
        client = self.link.client
        return bool(self.link.call(lambda: client.sismember(self.set_key, str(key))))

    def __len__(self) -> int:
        client = self.link.client
        return int(self.link.call(lambda: client.scard(self.set_key)))

    def open(self) -> SeenOpenInfo:
        self.dir.mkdir(parents=True, exist_ok=True)
        client = self.link.client
        loaded_key = self.link.key("seen-loaded", self.site)
        if self.link.call(lambda: client.set(loaded_key, self.link.crawl_id, nx=True)):
            self._load_local(self.output_dir.parent)
        self.finish_dead_writes()
        return SeenOpenInfo(keys=len(self))

    def _load_local(self, site_dir: Path) -> None:
        client = self.link.client
        total = 0
        for path in process_outputs(site_dir):
            batch: list[str] = []
            for key in iter_jsonl_keys(path):
                batch.append(key)
                if len(batch) >= _LOAD_BATCH:
                    self.link.call(lambda b=batch: client.sadd(self.set_key, *b))  # type: ignore[misc]
                    total += len(batch)
                    batch = []
            if batch:
                self.link.call(lambda b=batch: client.sadd(self.set_key, *b))  # type: ignore[misc]
                total += len(batch)
        if total:
            logger.info(
                "%s: %d url keys of the output in %s loaded into Redis", self.site, total, site_dir
            )

    def claim(self, key: str, file: str, line: bytes) -> bool:
        """Add ``key`` to the set and keep ``line`` pending; False when it was there."""
        if key in self.keys:
            return False
        entry = b"\n".join((self.worker.encode(), file.encode(), line))
        done, self._written = self._written, []
        args = [self.link.prefix, self.set_key, self.pending_key, key, entry, *done]
        if not self.link.call(lambda: self._claim(args=args)):
            return False
        self._claimed.add(key)
        return True

    def release(self, key: str) -> None:
        """The claimed write failed: the key and its pending entry go."""
        self._claimed.discard(key)
        args = [self.link.prefix, self.set_key, self.pending_key, key]
        self.link.call(lambda: self._release(args=args))

    def add(self, key: str) -> None:
        if key in self.keys:
            return
        self.keys.add(key)  # in memory first, as the embedded store
        if key in self._claimed:  # in the set since the claim: only its entry to delete
            self._claimed.discard(key)
            self._written.append(key)
            return
        # a script: refused by a Redis that lost the crawl's state (no key written there)
        self.link.call(lambda: self._add(args=[self.link.prefix, self.set_key, key]))

    def sync(self) -> None:
        """Nothing to do: Redis holds the keys (its persistence is the server's)."""

    def checkpoint(self) -> None:
        """Nothing to do (see ``sync``)."""

    def close(self) -> None:
        """Delete this process's pending entries; finish the writes of dead processes.

        Redis unreachable for ``CLOSE_WAIT`` seconds: the entries stay (the next
        process on this host finds their records in the files and deletes them).
        """
        client = self.link.client
        try:
            if self._written:
                done, self._written = self._written, []
                self.link.call(lambda: client.hdel(self.pending_key, *done), give_up=CLOSE_WAIT)
            self.finish_dead_writes(give_up=CLOSE_WAIT)
        except UNREACHABLE as exc:
            logger.warning(
                "%s: Redis unreachable at close (%s): the records being written stay listed in "
                "%s until the next crawl process on this host",
                self.site,
                exc,
                self.pending_key,
            )

    def finish_dead_writes(self, give_up: float | None = None) -> int:
        """Append the pending records of this host's dead processes missing from their files.

        Each dead process's folder is taken under its lock (a process still
        running holds it, and is left alone); returns the records appended.
        """
        client = self.link.client
        entries: dict[Any, Any] = self.link.call(
            lambda: client.hgetall(self.pending_key), give_up=give_up
        )
        host = self.worker.rsplit("-", 1)[0]
        appended = 0
        for raw_key, value in entries.items():
            wid_b, file_b, line = value.split(b"\n", 2)
            wid, file = wid_b.decode(), file_b.decode()
            if wid == self.worker or wid.rsplit("-", 1)[0] != host or "/" in wid + file:
                continue
            lock = PortalLock(self.dir.parent / f"{wid}.lock", self.site)
            try:
                lock.acquire()
            except PortalLocked:
                continue  # its process is running: it deletes the entry itself
            try:
                key = raw_key.decode()
                path = self.output_dir.parent / wid / file
                path.parent.mkdir(parents=True, exist_ok=True)
                repair_jsonl_tail(path)
                if key not in set(iter_jsonl_keys(path)):
                    with path.open("ab") as fh:
                        fh.write(line)
                        fh.flush()
                        os.fsync(fh.fileno())
                    appended += 1
                    logger.warning(
                        "%s: a record its process had claimed but not written when it "
                        "ended is written now (%s)",
                        path,
                        key,
                    )
                self._drop_entry(raw_key, value, give_up)
            finally:
                lock.release()
        return appended

    def _drop_entry(self, key: bytes, value: bytes, give_up: float | None) -> None:
        self.link.call(
            lambda: self._drop(keys=[self.pending_key], args=[key, value]), give_up=give_up
        )


def redis_portal_state(crawler: Any) -> PortalState:
    """The ``PortalState`` of one process of a Redis crawl (see the module docstring)."""
    if crawler.spider is None:
        raise RuntimeError("portal state needs the crawler's spider")
    link = link_for(crawler)
    site = site_of(crawler.spider)
    wid = worker_id()
    out_root = Path(crawler.settings.get("OUTPUT_DIR") or "output")
    state_root = Path(crawler.settings.get("STATE_DIR") or "state")
    output_dir = out_root / site / wid
    state_dir = state_root / site / wid
    return PortalState(
        site=site,
        output_dir=output_dir,
        state_dir=state_dir,
        lock=PortalLock(state_root / site / f"{wid}.lock", site),
        seen=RedisSeenStore(link, site, state_dir, output_dir),
        state_root=state_dir,
    )
