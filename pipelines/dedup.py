"""Scrapy pipeline: exact and near-duplicate reprints, one record per article.

Enabled by ``DEDUP_ENABLED`` (``NotConfigured`` when False).  Reads
``DEDUP_SHINGLE_SIZE``, ``DEDUP_NUM_PERM``, ``DEDUP_SEED``, ``DEDUP_SCHEME``,
``DEDUP_LSH_THRESHOLD``, ``DEDUP_THRESHOLD``, ``DEDUP_SAVE_EVERY``,
``STATE_DIR`` and ``OUTPUT_DIR``.

For each :class:`~crawler.items.ArticleItem`, in order: same URL key as a
kept record → dropped (stats ``dedup/url``); same ``content_hash`` →
``dedup/content_hash``; an LSH candidate whose estimated Jaccard similarity is
at least ``DEDUP_THRESHOLD`` → ``dedup/near_duplicate``; otherwise the item
is inserted in the index and passed on (``dedup/kept``).  The first record
seen is kept.  Each dropped item becomes a :class:`~crawler.items.DuplicateItem`
(``duplicate_of``, ``similarity``, ``match``) sent with the
``crawler.signals.duplicate_found`` signal, logged on one INFO line naming
both URLs, then dropped with ``DropItem`` so reprints never reach feed exports.

The index lives in ``STATE_DIR/dedup/`` (see :mod:`crawler.dedup.index`); at
open it is reopened, replayed or rebuilt from ``OUTPUT_DIR``
(:mod:`crawler.dedup.state`); it is saved every ``DEDUP_SAVE_EVERY`` inserts,
once no kept item is still on its way to the store, and at close.  Portals
crawled at the same time share it safely: opening and saving take
``STATE_DIR/dedup.lock``, and every save first replays all portals' JSONL
(``crawler.dedup.state.save_shared``).  A reprint crawled
by one portal while another portal's run is writing the original (both runs
open at once) is kept by both; ``python -m crawler dedup`` on the output finds
such pairs.

There is no per-request ``meta`` switch: items do not carry request meta, and
a reprint let through for one request would break "one record per article"
for every later run; set ``DEDUP_ENABLED=False`` for a run instead.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

from scrapy import signals as scrapy_signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem, NotConfigured

from crawler import signals
from crawler.dedup.engine import Deduplicator, prepare
from crawler.dedup.index import DedupIndex, IndexParams
from crawler.dedup.state import open_index, save_shared
from crawler.items import ArticleItem, DuplicateItem

logger = logging.getLogger(__name__)

STAT_KEYS = {
    "url": "dedup/url",
    "content_hash": "dedup/content_hash",
    "minhash": "dedup/near_duplicate",
}


def params_from_settings(settings: Any) -> IndexParams:
    """The index parameters named by the DEDUP_* settings."""
    return IndexParams(
        shingle_size=settings.getint("DEDUP_SHINGLE_SIZE", 5),
        num_perm=settings.getint("DEDUP_NUM_PERM", 64),
        seed=settings.getint("DEDUP_SEED", 1),
        scheme=settings.get("DEDUP_SCHEME", "affine32"),
        lsh_threshold=settings.getfloat("DEDUP_LSH_THRESHOLD", 0.4),
    )


def make_duplicate(item: ArticleItem, kept_id: str, similarity: float, match: str) -> DuplicateItem:
    """A :class:`DuplicateItem` with every field of ``item``."""
    fields = asdict(item)
    for key in ("duplicate_of", "similarity", "match"):
        fields.pop(key, None)
    return DuplicateItem(
        **fields, duplicate_of=kept_id, similarity=round(similarity, 4), match=match
    )


class DedupPipeline:
    """Drops reprints (see the module docstring)."""

    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        if not settings.getbool("DEDUP_ENABLED", True):
            raise NotConfigured("DEDUP_ENABLED is False")
        self.crawler = crawler
        self.params = params_from_settings(settings)
        self.threshold = settings.getfloat("DEDUP_THRESHOLD", 0.5)
        self.save_every = settings.getint("DEDUP_SAVE_EVERY", 10000)
        self.state_dir = Path(settings.get("STATE_DIR", "state"))
        self.output_dir = Path(settings.get("OUTPUT_DIR", "output"))
        self.stats = crawler.stats
        self.index: DedupIndex | None = None
        self.dedup: Deduplicator | None = None
        self._since_save = 0
        self._in_flight = 0  # kept items not yet through the later pipelines
        crawler.signals.connect(self._item_done, signal=scrapy_signals.item_scraped)
        crawler.signals.connect(self._item_done, signal=scrapy_signals.item_dropped)
        crawler.signals.connect(self._item_done, signal=scrapy_signals.item_error)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DedupPipeline:
        return cls(crawler)

    def open_spider(self) -> None:
        self.index = open_index(self.state_dir, self.output_dir, self.params)
        self.dedup = Deduplicator(self.index, self.threshold)

    def close_spider(self) -> None:
        if self.index is not None:
            self._save()

    def _save(self) -> None:
        assert self.index is not None
        save_shared(self.index, self.state_dir, self.output_dir)
        self._since_save = 0

    def _item_done(self, item: Any, **kwargs: Any) -> None:
        if getattr(item, "_dedup_kept", False):
            self._in_flight = max(0, self._in_flight - 1)
        if self._since_save >= self.save_every and self._in_flight == 0 and self.index:
            self._save()

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, ArticleItem) or isinstance(item, DuplicateItem):
            return item
        assert self.dedup is not None
        prep = prepare([item.text], [item.url], [item.content_hash or None], self.params)
        verdict = self.dedup.decide(prep, [item.id], [item.url])[0]
        if verdict.match is None:
            self.stats.inc_value("dedup/kept")
            self._since_save += 1
            self._in_flight += 1
            item._dedup_kept = True  # type: ignore[attr-defined]  # not a field: never exported
            return item
        self.stats.inc_value(STAT_KEYS[verdict.match])
        dup = make_duplicate(item, verdict.kept_id, verdict.similarity, verdict.match)
        self.crawler.signals.send_catch_log(signal=signals.duplicate_found, item=dup)
        logger.info(
            "duplicate (%s, similarity %.2f): %s is a reprint of %s",
            verdict.match,
            verdict.similarity,
            item.url,
            verdict.kept_url,
        )
        raise DropItem(f"{verdict.match} duplicate of {verdict.kept_id} ({verdict.kept_url})")
