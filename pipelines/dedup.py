"""Scrapy pipeline: exact and near-duplicate reprints, one record per article.

Enabled by ``DEDUP_ENABLED`` (``NotConfigured`` when False).  Reads
``DEDUP_SHINGLE_SIZE``, ``DEDUP_NUM_PERM``, ``DEDUP_SEED``, ``DEDUP_SCHEME``,
``DEDUP_LSH_THRESHOLD``, ``DEDUP_THRESHOLD``, ``DEDUP_SAVE_EVERY``,
``STATE_DIR`` and ``OUTPUT_DIR``.

For each :class:`~crawler.items.ArticleItem`, in order: same URL key as a
kept record → dropped (stats ``dedup/url``); same ``content_hash`` →
``dedup/content_hash``; an LSH candidate whose estimated Jaccard similarity is
at least ``DEDUP_THRESHOLD`` → ``dedup/near_duplicate``; otherwise the item
is inserted in the index and passed on (``dedup/kept``) as a new cluster
(``cluster`` = its id).  A copy of a known cluster is compared with the
cluster's kept record by the origin rule (:mod:`crawler.dedup.origin`: the
copy another names as 来源, else the earliest published, else the first
seen): when it is the better origin it is passed on as the cluster's kept
record (``dedup/origin_replaced``) and the record kept until then is moved to
its portal's ``duplicates.jsonl`` through the move journal
(:mod:`crawler.journal`, applied by the store pipeline).  Otherwise the item
becomes a :class:`~crawler.items.DuplicateItem` (``duplicate_of``,
``similarity``, ``match``, ``cluster``) sent with the
``crawler.signals.duplicate_found`` signal, logged on one INFO line naming
both URLs, then dropped with ``DropItem`` so reprints never reach feed exports.
Portal names and aliases come from the portal files (``SEEDS_DIR``).

The index lives in ``STATE_DIR/dedup/`` (see :mod:`crawler.dedup.index`); at
open it is reopened, replayed or rebuilt from ``OUTPUT_DIR``
(:mod:`crawler.dedup.state`); it is saved every ``DEDUP_SAVE_EVERY`` inserts,
once no kept item is still on its way to the store, and at close.  Portals
crawled at the same time share it safely: opening and saving take
``STATE_DIR/dedup.lock``, and every save first replays all portals' JSONL
(``crawler.dedup.state.save_shared``).  Before each decision the records other
portals' runs appended since are read into the index (one ``stat`` per file
when nothing changed), and every save (at close at the latest) decides the
other portals' kept records again under the lock: two copies two runs kept at
the same moment are reconciled by the origin rule and the loser moved through
the journal, so portals crawled at once end with the kept set of a sequential
crawl.

There is no per-request ``meta`` switch: items do not carry request meta, and
a reprint let through for one request would break "one record per article"
for every later run; set ``DEDUP_ENABLED=False`` for a run instead.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any, NoReturn

from scrapy import signals as scrapy_signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem, NotConfigured
from scrapy.settings import Settings

from crawler import settings as defaults  # the one place of the defaults
from crawler import signals
from crawler.dedup.engine import Deduplicator, prepare
from crawler.dedup.index import DedupIndex, IndexParams
from crawler.dedup.origin import Names, better_origin, portal_names
from crawler.dedup.state import Op, open_index, record_meta, save_shared, sync
from crawler.items import ArticleItem, DuplicateItem
from crawler.journal import demote_op
from crawler.portals import PortalError, load_portals, seeds_dir_from_settings
from crawler.state import site_of

logger = logging.getLogger(__name__)

STAT_KEYS = {
    "url": "dedup/url",
    "content_hash": "dedup/content_hash",
    "minhash": "dedup/near_duplicate",
}


def params_from_settings(settings: Any = None) -> IndexParams:
    """The index parameters named by the DEDUP_* settings (None: the project's defaults)."""
    if settings is None:
        settings = Settings()
    return IndexParams(
        shingle_size=settings.getint("DEDUP_SHINGLE_SIZE", defaults.DEDUP_SHINGLE_SIZE),
        num_perm=settings.getint("DEDUP_NUM_PERM", defaults.DEDUP_NUM_PERM),
        seed=settings.getint("DEDUP_SEED", defaults.DEDUP_SEED),
        scheme=settings.get("DEDUP_SCHEME", defaults.DEDUP_SCHEME),
        lsh_threshold=settings.getfloat("DEDUP_LSH_THRESHOLD", defaults.DEDUP_LSH_THRESHOLD),
    )


def drop_duplicate(
    crawler: Crawler,
    item: ArticleItem,
    kept_id: str,
    kept_url: str | None,
    match: str,
    similarity: float,
    cluster: str,
) -> NoReturn:
    """Report ``item`` as a copy of the kept record (stats, ``duplicate_found``, one INFO
    line) and drop it: the end of both dedup stages (embedded and Redis)."""
    crawler.stats.inc_value(STAT_KEYS[match])
    dup = make_duplicate(item, kept_id, similarity, match, cluster)
    crawler.signals.send_catch_log(signal=signals.duplicate_found, item=dup)
    logger.info(
        "duplicate (%s, similarity %.2f): %s is a reprint of %s",
        match,
        similarity,
        item.url,
        kept_url,
    )
    raise DropItem(f"{match} duplicate of {kept_id} ({kept_url})")


def make_duplicate(
    item: ArticleItem, kept_id: str, similarity: float, match: str, cluster: str = ""
) -> DuplicateItem:
    """A :class:`DuplicateItem` with every field of ``item``."""
    fields = asdict(item)
    for key in ("duplicate_of", "similarity", "match"):
        fields.pop(key, None)
    fields["cluster"] = cluster or fields.get("cluster") or kept_id
    return DuplicateItem(
        **fields, duplicate_of=kept_id, similarity=round(similarity, 4), match=match
    )


def names_from_settings(settings: Any) -> Names:
    """Display names and aliases of the portals in ``SEEDS_DIR`` (empty when unreadable)."""
    try:
        return portal_names(load_portals(seeds_dir_from_settings(settings.get("SEEDS_DIR"))))
    except PortalError:
        return {}


def item_fields(item: ArticleItem) -> dict[str, Any]:
    """The fields of ``item`` the origin rule reads."""
    return {
        "id": item.id,
        "url": item.url,
        "site": item.site,
        "site_name": item.site_name,
        "source": item.source,
        "published_at": item.published_at,
        "published_precision": getattr(item, "published_precision", None),
        "fetched_at": item.fetched_at,
        "cluster": item.cluster,
    }


class DedupPipeline:
    """Drops reprints (see the module docstring)."""

    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        if not settings.getbool("DEDUP_ENABLED", defaults.DEDUP_ENABLED):
            raise NotConfigured("DEDUP_ENABLED is False")
        self.crawler = crawler
        self.params = params_from_settings(settings)
        self.threshold = settings.getfloat("DEDUP_THRESHOLD", defaults.DEDUP_THRESHOLD)
        self.save_every = settings.getint("DEDUP_SAVE_EVERY", defaults.DEDUP_SAVE_EVERY)
        self.state_dir = Path(settings.get("STATE_DIR", defaults.STATE_DIR))
        self.output_dir = Path(settings.get("OUTPUT_DIR", defaults.OUTPUT_DIR))
        self.stats = crawler.stats
        self.names = names_from_settings(settings)
        self.site = ""
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
        if self.crawler.spider is not None:
            self.site = site_of(self.crawler.spider)
        self.index = open_index(
            self.state_dir, self.output_dir, self.params, names=self.names, threshold=self.threshold
        )
        self.dedup = Deduplicator(self.index, self.threshold)

    def close_spider(self) -> None:
        if self.index is not None:
            if self.index.moves:
                moves, self.index.moves = self.index.moves, []
                self._send_moves(moves)
            self._save()

    def _save(self) -> None:
        assert self.index is not None
        self._since_save = 0
        try:
            ops = save_shared(
                self.index, self.state_dir, self.output_dir, self.names, self.threshold
            )
        except OSError as exc:
            self.stats.inc_value("dedup/save_errors")
            if not self.stats.get_value("state/error"):
                where = exc.filename or self.state_dir / "dedup"
                self.stats.set_value("state/error", f"{where}: {exc.strerror or exc}")
            if self.stats.get_value("dedup/save_errors") == 1:  # the summary reports it
                logger.warning(
                    "dedup index not saved (%s: %s); the next run brings it up to date from "
                    "the JSONL, nothing written is lost",
                    exc.filename or self.state_dir / "dedup",
                    exc.strerror or exc,
                )
            return
        self._send_moves(ops)

    def _send_moves(self, ops: list[Op]) -> None:
        if ops:
            self.stats.inc_value("dedup/reconciled", sum(op["op"] == "demote" for _, op in ops))
            self.crawler.signals.send_catch_log(signal=signals.moves_found, ops=ops)

    def _sync_others(self) -> None:
        """Read what other portals' runs wrote since the last look (decided, not trusted)."""
        assert self.index is not None
        if self.index.moves:  # found at open, sent once the store is open
            moves, self.index.moves = self.index.moves, []
            self._send_moves(moves)
        rep = sync(
            self.index,
            self.output_dir,
            self.names,
            decide=True,
            threshold=self.threshold,
            skip_site=self.site or None,
        )
        self._send_moves(rep.ops)

    def _item_done(self, item: Any, **kwargs: Any) -> None:
        if getattr(item, "_dedup_kept", False):
            self._in_flight = max(0, self._in_flight - 1)
        if self._since_save >= self.save_every and self._in_flight == 0 and self.index:
            self._save()

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, ArticleItem) or isinstance(item, DuplicateItem):
            return item
        assert self.dedup is not None
        assert self.index is not None
        self._sync_others()
        prep = prepare([item.text], [item.url], [item.content_hash or None], self.params)
        fields = item_fields(item)
        verdict = self.dedup.decide(prep, [item.id], [item.url], [record_meta(fields)])[0]
        if verdict.match is None:
            item.cluster = verdict.cluster
            return self._kept(item)
        cluster = verdict.cluster
        kept = self.index.kept_record(verdict.row)
        if (
            verdict.match != "url"
            and kept["id"] != item.id
            and better_origin(fields, kept, self.names, self.index.cited.get(cluster, []))
        ):
            return self._replace(item, fields, kept, cluster, verdict.similarity, verdict.match)
        self.index.add_cited(cluster, item.source)
        drop_duplicate(
            self.crawler,
            item,
            verdict.kept_id,
            verdict.kept_url,
            verdict.match,
            verdict.similarity,
            cluster,
        )

    def _kept(self, item: ArticleItem) -> ArticleItem:
        self.stats.inc_value("dedup/kept")
        self._since_save += 1
        self._in_flight += 1
        item._dedup_kept = True  # type: ignore[attr-defined]  # not a field: never exported
        return item

    def _replace(
        self,
        item: ArticleItem,
        fields: dict[str, Any],
        kept: dict[str, Any],
        cluster: str,
        similarity: float,
        match: str,
    ) -> ArticleItem:
        """``item`` is the better origin of ``cluster``: kept; the former kept record moves."""
        assert self.index is not None
        item.cluster = cluster
        self.index.set_kept({**fields, "cluster": cluster})
        self.index.add_cited(cluster, kept.get("source"))
        op = demote_op(kept["id"], item.id, similarity, match, cluster)
        # applied by the store once the item is written, never before
        item._dedup_moves = [(str(kept["site"]), op)]  # type: ignore[attr-defined]
        self.stats.inc_value("dedup/origin_replaced")
        logger.info(
            "origin found: %s replaces %s as the kept copy (the reprint moves to %s's "
            "duplicates.jsonl)",
            item.url,
            kept["url"],
            kept["site"],
        )
        return self._kept(item)
