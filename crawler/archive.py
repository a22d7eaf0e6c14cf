"""The WARC archive of a crawl: every response received, as sent (downloader middleware).

``WarcArchiveMiddleware`` (``DOWNLOADER_MIDDLEWARES``, 950) sits closest to the
download handler: above it in the chain, ``HttpCompressionMiddleware`` (590)
inflates bodies, ``RedirectMiddleware`` (600) follows redirects and
``RetryMiddleware`` (550) retries, so every response the crawl receives —
list and article pages, robots.txt, redirects, error pages with a body, each
retry — reaches this middleware with its body as it came off the wire
(still gzip-compressed when the server compressed it, in its own charset).
Chunked transfer encoding is undone by Twisted below the middlewares; that
header is kept as ``X-Archive-Orig-Transfer-Encoding``.  Header names are as
Scrapy gives them (``Content-Type``), values byte for byte.

Each response is written as a WARC/1.1 ``response`` record followed by its
``request`` record (``WARC-Concurrent-To``), one gzip member each, to
``ARCHIVE_DIR`` (default ``OUTPUT_DIR/<site>/warc/``), in files of about
``ARCHIVE_MAX_FILE_MB`` named ``<site>-<UTC time>-<serial>.warc.gz``, each
starting with a ``warcinfo`` record (``isPartOf``: the portal).  Files are
written as ``….open`` and renamed when complete (``crawler.warc``); at start,
with the portal lock held, ``.open`` files a killed run left are recovered
or set aside, with a log line.

The response record's position goes into ``request.meta["archive"]``
(``{"file", "offset", "record_id"}``, ``file`` relative to
``OUTPUT_DIR/<site>/`` when the archive is below it); the spider puts it on
the ``PageItem`` and the record carries it as ``archive``.  The request
``meta["kind"]`` (``list``, ``article``; ``other`` for robots.txt and the like)
and ``list_title`` are written in the record (``Crawler-Page-Kind``,
``Crawler-List-Title``) for ``reprocess``.

Responses served by Scrapy's HTTP cache (``cached`` flag) are not archived: the
cache is a development aid, the archive is what the portal sent.

A failed write (disk full) cuts the partial record, logs one error and closes
the crawl with reason ``archive_write_error`` (exit status 1); records
already archived stay valid.  Off (``NotConfigured``) when ``ARCHIVE_ENABLED``
is False or the spider is not a portal spider (``scrapy fetch``, ``shell``).

Settings: ``ARCHIVE_ENABLED``, ``ARCHIVE_DIR``, ``ARCHIVE_MAX_FILE_MB``, ``OUTPUT_DIR``.
Stats: ``archive/records``, ``archive/bytes``, ``archive/files``,
``archive/recovered``, ``archive/set_aside``, ``archive/write_errors``.
"""

from __future__ import annotations

import errno
import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlsplit

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from scrapy.utils.defer import deferred_from_coro

from crawler.state import portal_state, site_of
from crawler.warc import (
    KIND_FIELD,
    LIST_TITLE_FIELD,
    WarcFileWriter,
    http_headers,
    recover_open_files,
    warcinfo_fields,
)

logger = logging.getLogger(__name__)

ARCHIVE_ERROR_REASON = "archive_write_error"
ARCHIVE_META = "archive"
SOFTWARE = "zhengfa-crawler/0.1 (Scrapy; warcio)"


def archive_dir(settings: Any, site: str) -> Path:
    """``ARCHIVE_DIR`` or, when empty, ``OUTPUT_DIR/<site>/warc``."""
    configured = settings.get("ARCHIVE_DIR")
    if configured:
        return Path(str(configured))
    return Path(settings.get("OUTPUT_DIR") or "output") / site / "warc"


def _request_head(request: Request) -> Any:
    parts = urlsplit(request.url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers: list[tuple[bytes, bytes]] = [(b"Host", parts.netloc.encode("idna"))]
    for name, values in request.headers.items():
        headers += [(name, v) for v in values]
    return http_headers(f"{request.method} {target}", headers, "HTTP/1.1")


def _response_head(response: Response) -> Any:
    from http import HTTPStatus

    try:
        phrase = HTTPStatus(response.status).phrase
    except ValueError:
        phrase = ""
    headers: list[tuple[bytes, bytes]] = []
    for name, values in response.headers.items():
        headers += [(name, v) for v in values]
    protocol = response.protocol or "HTTP/1.1"
    return http_headers(f"{response.status} {phrase}".strip(), headers, protocol)


class WarcArchiveMiddleware:
    """Writes every response the crawl receives to the WARC archive (see the module doc)."""

    def __init__(self, crawler: Crawler):
        settings = crawler.settings
        if not settings.getbool("ARCHIVE_ENABLED"):
            raise NotConfigured("ARCHIVE_ENABLED is False")
        spider = crawler.spider
        if spider is None or not (hasattr(spider, "full") and hasattr(spider, "since")):
            raise NotConfigured("not a portal spider (no full/since arguments)")
        self.crawler = crawler
        self.stats = crawler.stats
        site = site_of(spider)
        self.site_dir = Path(settings.get("OUTPUT_DIR") or "output") / site
        self.directory = archive_dir(settings, site)
        # the portal lock is held from here on: no other run writes this portal's files
        state = portal_state(crawler)
        if not settings.get("ARCHIVE_DIR") and state.output_dir != self.site_dir:
            self.directory = state.output_dir / "warc"  # a process folder (a Redis crawl)
        for path, what in recover_open_files(self.directory, site):
            self.stats.inc_value(f"archive/{what}")
            del path
        max_mb = settings.getfloat("ARCHIVE_MAX_FILE_MB")
        self.writer = WarcFileWriter(
            self.directory,
            site,
            int(max_mb * 1024 * 1024),
            warcinfo_fields(site, str(getattr(spider, "site_name", "") or site), SOFTWARE),
        )
        self.failed: OSError | None = None
        self._closing: Any = None
        self._names: dict[Path, str] = {}
        crawler.signals.connect(self._spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def _relative(self, path: Path) -> str:
        name = self._names.get(path)
        if name is None:  # once per file: resolve() costs a system call per path component
            try:
                name = str(path.resolve().relative_to(self.site_dir.resolve()))
            except ValueError:
                name = str(path.resolve())
            self._names[path] = name
        return name

    def process_response(self, request: Request, response: Response) -> Response:
        if self.failed is not None or "cached" in response.flags:
            return response
        extra: dict[str, str] = {}
        kind = request.meta.get("kind")
        extra[KIND_FIELD] = kind if isinstance(kind, str) else "other"
        title = request.meta.get("list_title")
        if isinstance(title, str) and title:
            extra[LIST_TITLE_FIELD] = " ".join(title.split())
        try:
            written = self.writer.write_exchange(
                response.url,
                _request_head(request),
                _response_head(response),
                response.body,
                datetime.now(UTC),
                ip_address=str(response.ip_address) if response.ip_address else None,
                extra=extra,
            )
        except OSError as exc:
            self._fail(exc)
            return response
        request.meta[ARCHIVE_META] = {
            "file": self._relative(written.path),
            "offset": written.offset,
            "record_id": written.record_id,
        }
        self.stats.inc_value("archive/records")
        self.stats.inc_value("archive/bytes", written.size)
        return response

    def _close_file(self) -> None:
        try:
            if self.writer.close_file() is not None:
                self.stats.inc_value("archive/files")
        except OSError as exc:
            logger.error("%s: could not finish the WARC file: %s", self.directory, exc)

    def _spider_closed(self, spider: Any, reason: str) -> None:
        self._close_file()

    def _fail(self, exc: OSError) -> None:
        if self.failed is not None:
            return
        self.failed = exc
        self.stats.inc_value("archive/write_errors")
        what = "disk full" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else "write error"
        logger.error(
            "%s writing the WARC archive in %s: %s. The unfinished record was removed; "
            "records archived before are intact. Stopping the crawl (reason %s); free space "
            "and run again.",
            what,
            self.directory,
            os.strerror(exc.errno) if exc.errno else exc,
            ARCHIVE_ERROR_REASON,
        )
        self._close_file()
        try:
            engine = self.crawler.engine
        except RuntimeError:
            return
        if engine is not None:
            self._closing = deferred_from_coro(
                engine.close_spider_async(reason=ARCHIVE_ERROR_REASON)
            )
