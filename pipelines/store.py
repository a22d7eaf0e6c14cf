"""Crash-safe JSONL output: ``OUTPUT_DIR/<site>/articles.jsonl`` and ``duplicates.jsonl``.

``JsonlStorePipeline`` (``ITEM_PIPELINES``, last) appends each kept
``ArticleItem`` to ``articles.jsonl`` and each ``DuplicateItem`` sent with the
``crawler.signals.duplicate_found`` signal to ``duplicates.jsonl``: UTF-8,
``ensure_ascii=False``, every dataclass field, one record a line.

Crash safety:

- a line is handed to the kernel whole, with one ``write`` on an unbuffered
  ``O_APPEND`` file, as soon as the item arrives, so ``kill -9`` loses at most
  the item being written, never a line already accepted;
- the files, the seen log and its checkpoint are ``fsync``-ed every
  ``STORE_FSYNC_EVERY`` records and at close (power loss then costs at most
  that many records, and they are fetched again by the next run because the
  seen store follows the JSONL);
- at start, while the portal lock is held and before any pipeline opens the
  files, a partial or unreadable last line is cut (``crawler.state``; stats
  ``store/repaired_bytes``);
- a failed write (disk full, I/O error) cuts what it wrote of the line, logs
  one clear error, and closes the crawl with reason ``store_write_error``
  (exit status 1); the records already written stay valid.

The url key of every written record goes to the seen store
(``crawler.state.SeenStore``), which the incremental middleware reads.  A
record whose url key is already there (a ``-a full=1`` recrawl, a reprint of
an article already written) is not written again (``store/skipped_seen``).  A
duplicate whose ``duplicate_of`` is its own id while its URL was never written
is the original itself (the dedup index learnt it in a run that could not write
it): it goes to ``articles.jsonl`` (``store/recovered``).

Moves (``crawler.journal``): a kept item that replaced another portal's (or
this portal's) kept record as its cluster's origin carries the move of that
record; once the item is written, the move is recorded in the journal of the
record's portal and applied at once when that portal is this one (the JSONL
files rewritten, the appenders reopened) or when no run holds its lock; else
the portal's running or next run applies it.  Moves the dedup stage found by
reading other portals' output (``crawler.signals.moves_found``) go the same
way.  At close the portal's journal is applied once more.  Every written
record carries ``cluster`` (its own id when the dedup stage gave none).

``SinceFilterPipeline`` (before the dedup stage) drops articles published
before ``-a since=YYYY-MM-DD`` (stats ``incremental/before_since``); articles
with no known date are kept.

Stats: ``store/articles``, ``store/duplicates``, ``store/duplicates/<match>``,
``store/skipped_seen``, ``store/recovered``, ``store/write_errors``, ``store/fsyncs``,
``store/repaired_bytes``, ``seen/keys_at_start``, ``seen/rebuilt``, ``seen/replayed``,
``store/moved`` (records of this portal moved to ``duplicates.jsonl``), ``store/moves_waiting``.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import logging
import os
from pathlib import Path
from typing import Any, Protocol, Self

from itemadapter import ItemAdapter
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.utils.defer import deferred_from_coro

from crawler import journal
from crawler import signals as project_signals
from crawler.ids import record_id, url_key
from crawler.items import ArticleItem, DuplicateItem
from crawler.state import PortalState, apply_pending, portal_state

logger = logging.getLogger(__name__)

STORE_ERROR_REASON = "store_write_error"


class RawFile(Protocol):
    """The part of ``io.FileIO`` the appender uses (tests pass failing fakes)."""

    def write(self, data: bytes | memoryview, /) -> int | None: ...
    def truncate(self, size: int | None = ..., /) -> int: ...
    def seek(self, offset: int, whence: int = ..., /) -> int: ...
    def fileno(self) -> int: ...
    def close(self) -> None: ...


def encode_record(item: Any) -> bytes:
    """One JSONL line for ``item``: every field, UTF-8, ``ensure_ascii=False``, ``\\n`` last.

    An empty ``cluster`` (a record the dedup stage did not see) is the record's own id.
    """
    fields = ItemAdapter(item).asdict()
    if "cluster" in fields and not fields["cluster"]:
        fields["cluster"] = fields.get("id")
    line = json.dumps(fields, ensure_ascii=False)
    return (line + "\n").encode("utf-8")


class JsonlAppender:
    """Appends whole lines to one JSONL file, or nothing.

    ``raw`` defaults to ``open(path, "ab", buffering=0)``: every ``append`` is
    one ``write`` system call, so a killed process leaves either the whole line
    or none of it in the page cache.
    """

    def __init__(self, path: Path, raw: RawFile | None = None):
        self.path = path
        if raw is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            raw = io.FileIO(path, "ab")
        self.raw = raw
        self.size = raw.seek(0, os.SEEK_END)
        self.unsynced = 0

    def append(self, line: bytes) -> None:
        """Write ``line`` whole; on error cut the part written and raise ``OSError``."""
        start = self.size
        view = memoryview(line)
        try:
            while view:
                n = self.raw.write(view)
                if not n:  # a regular file never returns 0 unless it cannot grow
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.path))
                view = view[n:]
        except OSError:
            self._cut(start)
            raise
        self.size = start + len(line)
        self.unsynced += 1

    def _cut(self, size: int) -> None:
        try:
            self.raw.truncate(size)
        except OSError as exc:
            logger.critical(
                "%s: could not cut a partial record at byte %d (%s); it will be cut at the "
                "next start",
                self.path,
                size,
                exc,
            )

    def sync(self) -> None:
        if self.unsynced:
            os.fsync(self.raw.fileno())
            self.unsynced = 0

    def close(self) -> None:
        try:
            self.sync()
        finally:
            self.raw.close()


class JsonlStorePipeline:
    """Writes kept records and duplicates of one portal crash-safely (see module doc).

    Settings: ``OUTPUT_DIR``, ``STATE_DIR``, ``STORE_FSYNC_EVERY``.
    """

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.stats = crawler.stats
        self.fsync_every = crawler.settings.getint("STORE_FSYNC_EVERY")
        # taking the lock and repairing the tails happens here at the latest (the run
        # extension normally did it already, before any pipeline was built)
        self.state: PortalState = portal_state(crawler)
        self.articles: JsonlAppender | None = None
        self.duplicates: JsonlAppender | None = None
        self.failed: OSError | None = None
        self._closing: Any = None
        self._since_sync = 0
        crawler.signals.connect(self.duplicate_found, signal=project_signals.duplicate_found)
        crawler.signals.connect(self.moves_found, signal=project_signals.moves_found)
        # the portal's journal folder: STATE_DIR, or a process's own one (a Redis crawl)
        self.state_root = self.state.state_root or Path(
            crawler.settings.get("STATE_DIR") or "state"
        )
        self.output_root = Path(crawler.settings.get("OUTPUT_DIR") or "output")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def open_spider(self) -> None:
        state = self.state
        for name, cut in state.repaired.items():
            self.stats.inc_value("store/repaired_bytes", cut)
            self.stats.inc_value(f"store/repaired/{name}")
        info = state.seen_info
        if info is not None:
            self.stats.set_value("seen/keys_at_start", info.keys)
            if info.rebuilt:
                self.stats.set_value("seen/rebuilt", 1)
            if info.replayed:
                self.stats.set_value("seen/replayed", info.replayed)
        self.articles = JsonlAppender(state.articles_path)
        self.duplicates = JsonlAppender(state.duplicates_path)

    def close_spider(self) -> None:
        self._close_appenders()
        if self.failed is None:
            try:
                done = self.state.apply_journal(keep_missing=False)
                self.stats.inc_value("store/moved", len(done.demoted))
            except OSError as exc:
                logger.error("%s: the move journal could not be applied: %s", self.state.site, exc)
        try:
            self.state.seen.close()
        except OSError as exc:
            # after a write error the cause is reported already
            logger.log(
                logging.WARNING if self.failed is not None else logging.ERROR,
                "%s: could not save the seen store (%s); it is rebuilt from the output "
                "at the next start",
                self.state.seen.log_path,
                exc,
            )

    def _close_appenders(self) -> None:
        for appender in (self.articles, self.duplicates):
            if appender is None:
                continue
            try:
                appender.close()
            except OSError as exc:
                logger.error("%s: closing failed: %s", appender.path, exc)

    # -- moves -------------------------------------------------------------------
    def moves_found(self, ops: list[tuple[str, dict[str, Any]]], **kwargs: Any) -> None:
        """``crawler.signals.moves_found`` handler: journal and apply (see module doc)."""
        by_site: dict[str, list[dict[str, Any]]] = {}
        for site, op in ops:
            by_site.setdefault(site, []).append(op)
        try:
            for site, site_ops in by_site.items():
                journal.record(self.state_root, site, site_ops)
                if self.failed is not None:
                    continue  # recorded: applied by the next run that holds the portal
                if site == self.state.site:
                    self._apply_own()
                elif not apply_pending(self.state_root, self.output_root, site):
                    self.stats.inc_value("store/moves_waiting", len(site_ops))
                    logger.info(
                        "%s: %d move(s) recorded in its journal; its running crawl applies them",
                        site,
                        len(site_ops),
                    )
        except OSError as exc:
            # a move not recorded leaves both copies in an articles.jsonl: nothing is lost,
            # and ``clusters`` lists both under the cluster (match "kept")
            logger.warning("move journal not written (%s): %d move(s) not made", exc, len(ops))
            self._fail(Path(exc.filename) if exc.filename else self.state_root / "journal", exc)

    def _apply_own(self) -> None:
        """Apply this portal's journal now: the files are replaced, so reopen them."""
        for appender in (self.articles, self.duplicates):
            if appender is not None:
                appender.sync()
        self.state.seen.checkpoint()
        done = self.state.apply_journal(keep_missing=True)
        if done.demoted or done.relabelled:
            self._close_appenders()
            self.articles = JsonlAppender(self.state.articles_path)
            self.duplicates = JsonlAppender(self.state.duplicates_path)
        self.stats.inc_value("store/moved", len(done.demoted))

    # -- writing ---------------------------------------------------------------
    def process_item(self, item: Any) -> Any:
        if isinstance(item, DuplicateItem) or not isinstance(item, ArticleItem):
            return item
        assert self.articles is not None, "pipeline not opened"
        if self._write(self.articles, item):
            self.stats.inc_value("store/articles")
            moves = getattr(item, "_dedup_moves", None)
            if moves:
                self.moves_found(moves)
        return item

    def duplicate_found(self, item: DuplicateItem, **kwargs: Any) -> None:
        """``crawler.signals.duplicate_found`` handler: append to ``duplicates.jsonl``."""
        if self.duplicates is None or self.articles is None:
            return
        if item.duplicate_of == record_id(item.url) and url_key(item.url) not in self.state.seen:
            # "a duplicate of itself" that was never written: the dedup index learnt the
            # record in a run that could not write it (disk full); it is the original
            original = ArticleItem(
                **{k: getattr(item, k) for k in ArticleItem.__dataclass_fields__}
            )
            with contextlib.suppress(DropItem):
                self._write(self.articles, original)
                self.stats.inc_value("store/articles")
                self.stats.inc_value("store/recovered")
                logger.warning("%s: in the dedup index but never written; written now", item.url)
            return
        try:
            written = self._write(self.duplicates, item)
        except DropItem:
            return
        if written:
            self.stats.inc_value("store/duplicates")
            self.stats.inc_value(f"store/duplicates/{getattr(item, 'match', '') or 'unknown'}")

    def _write(self, appender: JsonlAppender, item: ArticleItem) -> bool:
        """Append ``item``; False when its URL was written before; DropItem when stopped."""
        if self.failed is not None:
            raise DropItem(
                f"output not writable ({self.failed}); {item.url} not written", log_level="DEBUG"
            )
        key = url_key(item.url)
        line = encode_record(item)
        if not self.state.seen.claim(key, appender.path.name, line):
            self.stats.inc_value("store/skipped_seen")
            raise DropItem(f"already written for this portal: {item.url}", log_level="DEBUG")
        try:
            try:
                appender.append(line)
            except OSError:
                self.state.seen.release(key)  # not written: the claim goes
                raise
            self.state.seen.add(key)
        except OSError as exc:
            self._fail(appender.path, exc)
            raise DropItem(
                f"write failed ({exc}); {item.url} not written", log_level="DEBUG"
            ) from exc
        self._since_sync += 1
        if self.fsync_every and self._since_sync >= self.fsync_every:
            self.sync()
        return True

    def sync(self) -> None:
        """fsync both files, then the seen log and its checkpoint."""
        try:
            for appender in (self.articles, self.duplicates):
                if appender is not None:
                    appender.sync()
            self.state.seen.checkpoint()
        except OSError as exc:
            self._fail(Path(exc.filename) if exc.filename else self.state.seen.log_path, exc)
            return
        self._since_sync = 0
        self.stats.inc_value("store/fsyncs")

    def _fail(self, path: Path, exc: OSError) -> None:
        if self.failed is not None:
            return
        self.failed = exc
        self.stats.inc_value("store/write_errors")
        self.stats.set_value("store/error", f"{path}: {exc.strerror or exc}")
        what = "disk full" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else "write error"
        logger.error(
            "%s writing %s: %s. Records written before are intact (an unfinished one was "
            "removed). Stopping the crawl (reason %s); free space and run again.",
            what,
            path,
            exc.strerror or exc,
            STORE_ERROR_REASON,
        )
        try:
            engine = self.crawler.engine
        except RuntimeError:  # no engine (the pipeline used on its own)
            return
        self._closing = deferred_from_coro(engine.close_spider_async(reason=STORE_ERROR_REASON))


class SinceFilterPipeline:
    """Drops articles published before the spider's ``since`` (``-a since=YYYY-MM-DD``).

    Articles whose date is unknown are kept (their date cannot be compared).
    Stats: ``incremental/before_since``.
    """

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.stats = crawler.stats
        self.since: str | None = None
        crawler.signals.connect(self._opened, signal=signals.spider_opened)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def _opened(self, spider: Any) -> None:
        self.since = getattr(spider, "since", None) or None

    def process_item(self, item: Any) -> Any:
        if not self.since or not isinstance(item, ArticleItem) or not item.published_at:
            return item
        day = item.published_at[:10]
        if day < self.since:
            self.stats.inc_value("incremental/before_since")
            raise DropItem(
                f"published {day}, before since={self.since}: {item.url}", log_level="DEBUG"
            )
        return item
