"""Rebuild the output from WARC archives: the crawl's item pipelines, without crawling.

``python -m crawler reprocess ARCHIVE... --out DIR`` (``crawler.commands.reprocess``)
runs in two passes:

1. **Plan** (``plan``): every response record of every file is looked at once
   (its head; bodies are not kept).  A record is a page to process when its
   status is 2xx, its Content-Type is a page type (the test the spider makes)
   and it is an article page: ``Crawler-Page-Kind: article`` in this project's
   archives; in other crawlers' archives, a URL matching the portal's article
   rules, or any page for a site without a portal file.  Its site is
   ``--site``, else the file's ``warcinfo`` ``isPartOf`` (this project's
   archives), else the portal whose ``allowed_domains`` has the URL's host,
   else the host (as the generic spider names it).  Sites are processed in the
   order their first record was fetched, so reprints are decided as the crawl
   decided them (first seen is kept).
2. **Process**: per site, a Scrapy crawler runs a spider whose ``start()``
   yields one ``PageItem`` per planned record, through the project's own
   ``ITEM_PIPELINES`` (``PagePipeline`` with ``-j`` workers, validation,
   ``since``, duplicate detection, the JSONL store) into ``DIR/<site>/``, with
   the state (seen store, dedup index) in ``--state-dir``.  The body is
   de-chunked when the archive kept chunked framing and inflated by Scrapy's
   own ``HttpCompressionMiddleware`` (with ``DOWNLOAD_MAXSIZE``), so the page
   pipeline gets the bytes the crawl's spider got.  ``fetched_at`` is the
   record's ``WARC-Date`` in China time; ``archive`` points to the record read.
   Records reach duplicate detection in archive order (``ArchiveOrderPipeline``),
   whatever order the workers finish in, so the copy of a reprint kept is the
   one the crawl received first.

A file that is cut short or corrupt stops being read at the first bad record:
the records before it are processed, the error names the file and the offset,
and the exit status is 1.
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware
from scrapy.exceptions import CloseSpider, IgnoreRequest
from scrapy.http import Headers, Response
from warcio.bufferedreaders import ChunkedDataReader

from crawler.portals import Portal
from crawler.spiders.base import CHINA_TZ, BaseNewsSpider, is_page_type, portal_spider_class
from crawler.warc import (
    KIND_FIELD,
    LIST_TITLE_FIELD,
    ArchivedResponse,
    WarcError,
    WarcInfo,
    iter_records,
)

logger = logging.getLogger(__name__)


@dataclass
class SitePlan:
    """The records of one site, in archive order: ``(file, offset)`` each."""

    site: str
    site_name: str
    first_date: str
    records: list[tuple[Path, int]] = field(default_factory=list)


@dataclass
class Plan:
    sites: dict[str, SitePlan] = field(default_factory=dict)
    responses: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    errors: list[WarcError] = field(default_factory=list)

    def skip(self, why: str) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + 1

    def ordered(self) -> list[SitePlan]:
        return sorted(self.sites.values(), key=lambda s: s.first_date)


def host_site(url: str) -> str:
    """The site name the generic spider gives a host."""
    host = (urlsplit(url).hostname or "unknown").lower()
    return re.sub(r"[^a-z0-9_.-]", "_", host)


def _portal_for_host(portals: dict[str, Portal], host: str) -> Portal | None:
    for portal in portals.values():
        for domain in portal.allowed_domains:
            if host == domain or host.endswith("." + domain):
                return portal
    return None


def is_article(record: ArchivedResponse, portal: Portal | None) -> bool:
    kind = record.warc_fields.get(KIND_FIELD)
    if kind is not None:
        return kind == "article"
    if portal is None:
        return True
    url = record.url
    return any(p.search(url) for p in portal.article_patterns) and not any(
        p.search(url) for p in portal.deny_patterns
    )


def plan(paths: list[Path], portals: dict[str, Portal], site: str | None = None) -> Plan:
    """Pass 1: which records to process, by site (see the module doc)."""
    result = Plan()
    for path in paths:
        part_of: str | None = None
        part_name: str | None = None
        try:
            for record in iter_records(path):
                if isinstance(record, WarcInfo):
                    part_of = record.fields.get("isPartOf") or None
                    part_name = record.fields.get("description") or None
                    continue
                result.responses += 1
                if not 200 <= record.status < 300:
                    result.skip("status")
                    continue
                if not is_page_type(record.header("Content-Type")):
                    result.skip("not_a_page")
                    continue
                host = (urlsplit(record.url).hostname or "").lower()
                name = site or part_of
                portal = portals.get(name) if name else _portal_for_host(portals, host)
                if name is None:
                    name = portal.name if portal else host_site(record.url)
                if not is_article(record, portal):
                    result.skip("not_an_article")
                    continue
                display = portal.display_name if portal else (part_name or name)
                when = record.date.isoformat()
                entry = result.sites.setdefault(name, SitePlan(name, display, when))
                entry.first_date = min(entry.first_date, when)
                entry.records.append((path, record.offset))
        except WarcError as exc:
            result.errors.append(exc)
    return result


class BodyDecoder:
    """The body and Content-Type the crawl's spider saw: de-chunked, then inflated by Scrapy.

    Scrapy's own ``HttpCompressionMiddleware`` does the inflating (gzip, deflate, br,
    zstd as installed), with ``DOWNLOAD_MAXSIZE``: a body inflating past it raises
    ``IgnoreRequest``, as in the crawl.
    """

    def __init__(self, crawler: Crawler | None = None) -> None:
        if crawler is None:  # outside a crawl (show, extract): the settings, no stats kept
            from types import SimpleNamespace

            from scrapy.signalmanager import SignalManager
            from scrapy.statscollectors import DummyStatsCollector
            from scrapy.utils.project import get_project_settings

            settings = get_project_settings()
            standalone: Any = SimpleNamespace(settings=settings, signals=SignalManager())
            standalone.stats = DummyStatsCollector(standalone)
            crawler = standalone
        self.middleware = HttpCompressionMiddleware.from_crawler(crawler)

    def __call__(self, record: ArchivedResponse) -> tuple[bytes, str | None]:
        body = record.body
        framing = (record.header("Transfer-Encoding") or "").lower()
        if "chunked" in framing:
            body = ChunkedDataReader(io.BytesIO(body)).read()
        headers = Headers()
        for name, value in record.headers:
            headers.appendlist(name, value.encode("latin-1", "replace"))
        response = Response(record.url, status=record.status, headers=headers, body=body)
        processed = self.middleware.process_response(Request(record.url), response)
        assert isinstance(processed, Response)
        ctype = processed.headers.get(b"Content-Type")
        return processed.body, ctype.decode("latin-1") if ctype else None


class ReprocessMixin:
    """``start()`` yields the planned records as ``PageItem``s (no request is made)."""

    records: list[tuple[Path, int]]
    out_site_dir: Path
    max_in_flight: int
    crawler: Crawler
    logger: Any
    site: str
    site_name: str
    charset: str | None
    selectors: dict[str, Any]

    def _archive_ref(self, record: ArchivedResponse) -> dict[str, Any]:
        try:
            file = str(record.path.resolve().relative_to(self.out_site_dir.resolve()))
        except ValueError:
            file = str(record.path.resolve())
        return {"file": file, "offset": record.offset, "record_id": record.record_id}

    async def start(self) -> AsyncIterator[Any]:
        from crawler.items import PageItem

        stats = self.crawler.stats
        in_flight = [0]

        def done(**kwargs: Any) -> None:
            in_flight[0] -= 1

        for sig in (signals.item_scraped, signals.item_dropped, signals.item_error):
            self.crawler.signals.connect(done, signal=sig, weak=False)
        decode = BodyDecoder(self.crawler)
        self.sequence: dict[tuple[str, int], int] = {}  # archive order (ArchiveOrderPipeline)
        by_file: dict[Path, set[int]] = {}
        order: list[Path] = []
        for path, offset in self.records:
            if path not in by_file:
                by_file[path] = set()
                order.append(path)
            by_file[path].add(offset)
        for path in order:
            wanted = by_file[path]
            last = max(wanted)
            try:
                for record in iter_records(path):
                    if not isinstance(record, ArchivedResponse) or record.offset not in wanted:
                        if isinstance(record, ArchivedResponse) and record.offset > last:
                            break
                        continue
                    try:
                        body, ctype = decode(record)
                    except IgnoreRequest as exc:
                        stats.inc_value("reprocess/skipped_too_large")
                        self.logger.warning("%s: %s", record.url, exc)
                        continue
                    stats.inc_value("reprocess/pages")
                    while in_flight[0] >= self.max_in_flight:
                        await asyncio.sleep(0.005)
                    in_flight[0] += 1
                    ref = self._archive_ref(record)
                    self.sequence[(ref["file"], ref["offset"])] = len(self.sequence)
                    yield PageItem(
                        url=record.url,
                        body=body,
                        site=self.site,
                        site_name=self.site_name,
                        fetched_at=record.date.astimezone(CHINA_TZ).isoformat(timespec="seconds"),
                        content_type=ctype,
                        charset=self.charset,
                        selectors=dict(self.selectors),
                        list_title=record.warc_fields.get(LIST_TITLE_FIELD),
                        archive=ref,  # type: ignore[arg-type]
                    )
                    if record.offset >= last:
                        break
            except WarcError as exc:  # already reported by the plan; records before it done
                self.logger.debug("%s", exc)
        # Every page handed over: close as soon as the last one is through the pipelines
        # (the engine would otherwise notice it is idle only at its next heartbeat).  The
        # item signals are sent before Scrapy's scraper takes an item from start() off its
        # count, and the scraper does not look again whether it may close when that count
        # falls: closing while it is not yet zero would wait for ever.  So the scraper's
        # own slot must be idle too.
        engine = self.crawler.engine
        slot = engine.scraper.slot if engine is not None else None
        while in_flight[0] > 0 or (slot is not None and not slot.is_idle()):
            await asyncio.sleep(0.005)
        raise CloseSpider("finished")


class ArchiveOrderPipeline:
    """Lets records on to duplicate detection in archive order, whatever order workers finish in.

    Only in ``reprocess`` (``ITEM_PIPELINES`` 150, after ``PagePipeline``): the first
    copy of a reprint in the archive — the first the crawl received — is the one kept,
    with any ``-j``.  Each record waits until every record yielded before it has passed
    or was dropped; the spider numbers them (``ReprocessMixin.sequence``), keyed by the
    record's ``archive`` position.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.passed: set[int] = set()
        self.next = 0
        self.moved = asyncio.Event()
        for sig in (signals.item_dropped, signals.item_error):
            crawler.signals.connect(self._gone, signal=sig)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArchiveOrderPipeline:
        return cls(crawler)

    def _number(self, item: Any) -> int | None:
        ref = getattr(item, "archive", None)
        sequence = getattr(self.crawler.spider, "sequence", None)
        if not isinstance(ref, dict) or sequence is None:
            return None
        number = sequence.get((ref.get("file"), ref.get("offset")))
        return number if isinstance(number, int) else None

    def _done(self, number: int) -> None:
        self.passed.add(number)
        while self.next in self.passed:
            self.passed.discard(self.next)
            self.next += 1
        self.moved.set()

    def _gone(self, item: Any, **kwargs: Any) -> None:
        # dropped or failed before reaching this stage (page errors): its turn is over
        number = self._number(item)
        if number is not None and number >= self.next and number not in self.passed:
            self._done(number)

    async def process_item(self, item: Any) -> Any:
        number = self._number(item)
        if number is None:
            return item
        while self.next < number:
            self.moved.clear()
            await self.moved.wait()
        self._done(number)
        return item


def spider_class(site: SitePlan, portals: dict[str, Portal]) -> type[BaseNewsSpider]:
    """The spider for one site: the portal's own class (name, charset, selectors) + replay."""
    portal = portals.get(site.site)
    base: type[BaseNewsSpider] = portal_spider_class(portal) if portal else BaseNewsSpider
    attrs: dict[str, Any] = {"__module__": __name__, "name": site.site, "site": site.site}
    if portal is None:
        attrs.update(site_name=site.site_name, start_urls=[])
    return type(f"Reprocess_{base.__name__}", (ReprocessMixin, base), attrs)


@dataclass
class SiteResult:
    site: str
    stats: dict[str, Any]


def run_plan(
    the_plan: Plan,
    portals: dict[str, Portal],
    out: Path,
    state_dir: Path,
    workers: int,
    since: str | None,
    settings: dict[str, Any],
    progress: Callable[[int, int], None] | None = None,
) -> list[SiteResult]:
    """Pass 2: every site through the item pipelines, one crawler after the other."""
    from scrapy.crawler import AsyncCrawlerProcess
    from scrapy.utils.project import get_project_settings

    project = get_project_settings()
    pipelines = dict(project.getdict("ITEM_PIPELINES"))
    pipelines["crawler.reprocess.ArchiveOrderPipeline"] = 150
    project.setdict(
        {
            "OUTPUT_DIR": str(out),
            "STATE_DIR": str(state_dir),
            "PAGE_WORKERS": workers,
            "DOWNLOADER_MIDDLEWARES": {"crawler.archive.WarcArchiveMiddleware": None},
            "EXTENSIONS": {"crawler.extensions.PortalRunExtension": None},
            "ITEM_PIPELINES": pipelines,
            "LOG_LEVEL": "WARNING",
            "ROBOTSTXT_OBEY": False,
            **settings,
        },
        priority="cmdline",
    )
    process = AsyncCrawlerProcess(project)
    results: list[SiteResult] = []
    total = sum(len(s.records) for s in the_plan.sites.values())
    done = [0]

    def tick(**kwargs: Any) -> None:
        done[0] += 1
        if progress is not None:
            progress(done[0], total)

    crawlers: list[tuple[str, Crawler]] = []
    pending = iter(the_plan.ordered())

    def start_next(**kwargs: Any) -> None:
        # one crawler after the other: the next starts once the previous engine stopped
        # (its pipelines closed, the dedup index saved), in the same event loop
        site = next(pending, None)
        if site is None:
            return
        crawler = process.create_crawler(spider_class(site, portals))
        for sig in (signals.item_scraped, signals.item_dropped, signals.item_error):
            crawler.signals.connect(tick, signal=sig, weak=False)
        crawler.signals.connect(start_next, signal=signals.engine_stopped, weak=False)
        crawlers.append((site.site, crawler))
        process.crawl(
            crawler,
            since=since,
            full="1",
            records=site.records,
            out_site_dir=out / site.site,
            max_in_flight=max(4, 4 * max(workers, 1)),
        )

    start_next()
    process.start()
    # Each portal's state is closed once every crawler ran (the crawl's run extension,
    # which closes it there, is off): its lock released and the moves recorded for it
    # after its own crawler finished (a later portal's origin replacing its kept
    # reprint) applied, as the next crawl of that portal would.
    from crawler.state import close_portal_state

    for _, crawler in crawlers:
        close_portal_state(crawler)
    for name, crawler in crawlers:
        assert crawler.stats is not None
        results.append(SiteResult(name, dict(crawler.stats.get_stats())))
    return results


class Progress:
    """A one-line progress bar on a terminal (stderr), at most every 0.2 s."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.started = time.monotonic()
        self._last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if not self.enabled or (now - self._last < 0.2 and done < total):
            return
        self._last = now
        width = 30
        filled = int(width * done / total) if total else width
        rate = done / max(now - self.started, 1e-6)
        bar = "#" * filled + "-" * (width - filled)
        sys.stderr.write(f"\r[{bar}] {done}/{total} pages, {rate:.0f} pages/s")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()
