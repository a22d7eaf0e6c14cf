"""Per-process portal state when the crawl runs on Redis.

Each ``scrapy crawl SITE`` process writes its own files (so processes on one
machine, and machines sharing a disk, never write the same file):

- ``OUTPUT_DIR/<site>/<host>-<pid>/articles.jsonl``, ``duplicates.jsonl`` and
  ``runs/``: crash-safe as in one process (``pipelines.store``);
- ``STATE_DIR/<site>/<host>-<pid>/`` (run record, move journal) and the lock
  ``STATE_DIR/<site>/<host>-<pid>.lock``.

The seen store of a portal is one Redis set, ``<prefix>:seen:<site>``, of the
url keys every process wrote (``RedisSeenStore``): the incremental middleware
and the store read it as they read the embedded store.  A key is added after
its record is written, as in one process.  When the set is created the url
keys of the portal's output already on this machine (``OUTPUT_DIR/<site>/``
and its process folders) are loaded into it, so a portal crawled in one
process before goes on incrementally.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from crawler.distributed.connection import RedisLink, link_for
from crawler.distributed.workers import worker_id
from crawler.state import (
    ARTICLES_FILE,
    DUPLICATES_FILE,
    PortalLock,
    PortalState,
    SeenOpenInfo,
    SeenStore,
    iter_jsonl_keys,
    site_of,
)

logger = logging.getLogger(__name__)

_LOAD_BATCH = 5000


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

    def add(self, key: str) -> None:
        if key in self.keys:
            return
        self.keys.add(key)  # in memory first, as the embedded store
        # a script: refused by a Redis that lost the crawl's state (no key written there)
        self.link.call(lambda: self._add(args=[self.link.prefix, self.set_key, key]))

    def sync(self) -> None:
        """Nothing to do: Redis holds the keys (its persistence is the server's)."""

    def checkpoint(self) -> None:
        """Nothing to do (see ``sync``)."""

    def close(self) -> None:
        """Nothing to do (see ``sync``)."""


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
