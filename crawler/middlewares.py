"""Incremental crawling (spider middleware) and fetch statistics (downloader middleware).

``IncrementalMiddleware`` — turn on with ``SPIDER_MIDDLEWARES``; off
(``NotConfigured``) when ``INCREMENTAL_ENABLED`` is False.  On the output of a
list page (``meta["kind"] == "list"``) it

- drops article Requests (``meta["kind"] == "article"``) whose
  ``crawler.ids.url_key`` is in the portal's seen store: articles already
  written (stats ``incremental/seen_skipped``);
- counts the page's new article links; after ``LIST_PAGES_WITHOUT_NEW`` list
  pages in a row with none along one pagination chain, drops the
  next-list-page Request (the watermark: stats
  ``incremental/pagination_stopped``).  A link already requested earlier in
  the same run is not new.  The spider's ``max_pages`` still caps the chain;
- with ``-a since=YYYY-MM-DD``: drops the next-list-page Request when every
  article link of the page is dated before ``since`` (stats
  ``incremental/since_stopped``).  A link's date is ``meta["list_date"]``
  (``YYYY-MM-DD``, when the spider reads dates off the list) or else the date
  in the article URL (``/art/2020/7/16/``, ``t20210902_…``, ``/202109/…``);
  a page with any undated link is never taken as older.  Articles themselves
  are filtered after extraction (``pipelines.store.SinceFilterPipeline``).

The watermark is off for a catch-up run, after a run that did not read its
list pages to the end (killed, stopped, list-page errors: see
``crawler.state``); seen articles are still skipped then.

``-a full=1`` (``spider.full``) turns off the seen skip and the watermark; the
store still writes no URL twice.  ``meta["incremental"] = False`` on a list
Request exempts its page from the watermark; on an article Request, from the
seen skip.  The watermark, per start URL, is kept in the portal state for the
run summary.

Stats also: ``incremental/article_links`` (article links seen on list
pages), ``incremental/new_links``.

``FetchStatsMiddleware`` — a downloader middleware placed just below
``RetryMiddleware`` (so it only sees final outcomes, after retries): counts
pages by kind (``fetch/list``, ``fetch/article``), HTTP error responses
(``errors/http/<code>``) and download failures given up on
(``errors/download/<exception>``) of requests the spiders marked with
``meta["kind"]`` (robots.txt fetches are left out), and connection-level
failures of every request, robots.txt included (``crawler.diagnose``:
``unreachable/failures``, ``unreachable/cause``).
"""

from __future__ import annotations

import calendar
import logging
import re
from collections.abc import AsyncIterator, Iterable
from datetime import date
from typing import Any, Self
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Response

from crawler.diagnose import (
    UNREACHABLE_CAUSE_STAT,
    UNREACHABLE_FAILURES_STAT,
    UNREACHABLE_ROBOTS_STAT,
    describe,
    unreachable_cause,
)
from crawler.ids import url_key
from crawler.state import PortalState, portal_state

logger = logging.getLogger(__name__)

STREAK_META = "incremental_pages_without_new"

# Dates in article URLs of Chinese CMSs (TRS, Hanweb, PHPCMS, DedeCMS…).  Hand-written: no
# library reads these path conventions.  Each gives year, month and, when present, day.
_URL_DATE_PATTERNS = (
    re.compile(r"/t(20\d{2})(\d{2})(\d{2})_\d+"),  # TRS: /202109/t20210902_123.html
    # /art/2020/7/16/, /2021-09/02/
    re.compile(r"/(20\d{2})[-_/](\d{1,2})[-_/](\d{1,2})(?:/|_|\.)"),
    re.compile(r"/(20\d{2})(\d{2})/(\d{2})/"),  # /202109/02/
    re.compile(r"/(20\d{2})/(\d{2})(\d{2})/"),  # /2021/0902/
    re.compile(r"/(20\d{2})(\d{2})(\d{2})/"),  # /20210902/
    re.compile(r"/(20\d{2})-?(\d{2})/"),  # /202109/, /2021-09/ (month only)
)


def url_date(url: str) -> date | None:
    """The latest day an article URL's date allows (end of month when only the month shows)."""
    path = url.split("?", 1)[0]
    for pattern in _URL_DATE_PATTERNS:
        m = pattern.search(path)
        if not m:
            continue
        year, month = int(m.group(1)), int(m.group(2))
        if not 1 <= month <= 12:
            continue
        last_day = calendar.monthrange(year, month)[1]
        day = int(m.group(3)) if m.re.groups >= 3 else last_day
        try:
            return date(year, month, day)
        except ValueError:
            continue
    return None


def _link_date(request: Request) -> date | None:
    listed = request.meta.get("list_date")
    if isinstance(listed, str):
        try:
            return date.fromisoformat(listed[:10])
        except ValueError:
            pass
    return url_date(request.url)


class IncrementalMiddleware:
    """Skips articles already written and stops pagination at the watermark (module doc).

    Settings: ``INCREMENTAL_ENABLED``, ``LIST_PAGES_WITHOUT_NEW``.  Spider
    attributes: ``full``, ``since``.  Meta: ``kind``, ``start_url``,
    ``list_page``, ``list_date``, ``incremental``.
    """

    def __init__(self, crawler: Crawler):
        if not crawler.settings.getbool("INCREMENTAL_ENABLED"):
            raise NotConfigured("INCREMENTAL_ENABLED is False")
        self.crawler = crawler
        self.stats = crawler.stats
        self.pages_without_new = max(1, crawler.settings.getint("LIST_PAGES_WITHOUT_NEW"))
        self.state: PortalState = portal_state(crawler)
        self.requested: set[str] = set()  # article url keys requested in this run
        if self.state.catch_up:
            self.stats.set_value("incremental/catch_up", 1)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    # -- the spider middleware interface ---------------------------------------
    def process_spider_output(self, response: Response, result: Iterable[Any]) -> Iterable[Any]:
        if not self._is_list(response):
            yield from result
            return
        yield from self._filter(response, list(result))

    async def process_spider_output_async(
        self, response: Response, result: AsyncIterator[Any]
    ) -> AsyncIterator[Any]:
        if not self._is_list(response):
            async for obj in result:
                yield obj
            return
        collected = [obj async for obj in result]
        for obj in self._filter(response, collected):
            yield obj

    # -- the logic ---------------------------------------------------------------
    @staticmethod
    def _is_list(response: Response | None) -> bool:
        return response is not None and response.meta.get("kind") == "list"

    def _spider(self) -> Any:
        return self.crawler.spider

    def _filter(self, response: Response, output: list[Any]) -> list[Any]:
        spider = self._spider()
        full = bool(getattr(spider, "full", False))
        since = getattr(spider, "since", None)
        page_incremental = response.meta.get("incremental", True) is not False
        kept: list[Any] = []
        next_pages: list[Request] = []
        links = new = 0
        dates: list[date | None] = []
        for obj in output:
            if not isinstance(obj, Request):
                kept.append(obj)
                continue
            kind = obj.meta.get("kind")
            if kind == "list":
                next_pages.append(obj)
                continue
            if kind != "article":
                kept.append(obj)
                continue
            links += 1
            dates.append(_link_date(obj))
            key = url_key(obj.url)
            skip = not full and obj.meta.get("incremental", True) is not False
            if skip and key in self.state.seen:
                self.stats.inc_value("incremental/seen_skipped")
                continue
            if key not in self.requested:
                self.requested.add(key)
                new += 1
            kept.append(obj)
        self.stats.inc_value("incremental/article_links", links)
        self.stats.inc_value("incremental/new_links", new)
        mark = self._mark(response)
        streak = 0 if new else int(response.meta.get(STREAK_META, 0)) + 1
        for request in next_pages:
            if since and links and all(d is not None and d.isoformat() < since for d in dates):
                self.stats.inc_value("incremental/since_stopped")
                mark.update(stopped_at=request.url, stop=f"list page older than since={since}")
                logger.info("since=%s: %s is older; pagination stops", since, response.url)
                continue
            if (
                not full
                and not self.state.catch_up
                and page_incremental
                and streak >= self.pages_without_new
            ):
                self.stats.inc_value("incremental/pagination_stopped")
                mark.update(stopped_at=request.url, stop="no new articles")
                logger.debug(
                    "watermark: %d list page(s) without new articles; not following %s",
                    streak,
                    request.url,
                )
                continue
            request.meta[STREAK_META] = streak
            kept.append(request)
        if not next_pages and mark["stop"] is None:
            cap = int(getattr(spider, "max_pages", 0) or 0)
            page = int(response.meta.get("list_page") or 1)
            mark["stop"] = "max_pages" if cap and page >= cap else "last list page"
        return kept

    def _mark(self, response: Response) -> dict[str, Any]:
        """The watermark record of the response's pagination chain, updated for this page."""
        start = str(response.meta.get("start_url") or response.url)
        page = int(response.meta.get("list_page") or 1)
        mark = self.state.watermark.setdefault(
            start, {"list_pages": 0, "last_page": 0, "stopped_at": None, "stop": None}
        )
        mark["list_pages"] += 1
        mark["last_page"] = max(mark["last_page"], page)
        return mark


class FetchStatsMiddleware:
    """Counts final fetch outcomes of list and article pages (module doc).

    Place it just below ``RetryMiddleware`` (550) in ``DOWNLOADER_MIDDLEWARES``.
    """

    def __init__(self, crawler: Crawler):
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def process_response(self, request: Request, response: Response) -> Response:
        kind = request.meta.get("kind")
        if kind in ("list", "article"):
            if response.status >= 400:
                self.stats.inc_value(f"errors/http/{response.status}")
                self.stats.inc_value(f"errors/{kind}")
            elif not 300 <= response.status < 400:
                self.stats.inc_value(f"fetch/{kind}")
        return response

    def process_exception(self, request: Request, exception: Exception) -> None:
        kind = request.meta.get("kind")
        if kind in ("list", "article") and not isinstance(exception, IgnoreRequest):
            self.stats.inc_value(f"errors/download/{type(exception).__name__}")
            self.stats.inc_value(f"errors/{kind}")
        cause = unreachable_cause(exception)
        if cause is not None:  # robots.txt fetches too: often the first and only request
            self.stats.inc_value(UNREACHABLE_FAILURES_STAT)
            if kind not in ("list", "article"):
                self.stats.inc_value(UNREACHABLE_ROBOTS_STAT)
            if not self.stats.get_value(UNREACHABLE_CAUSE_STAT):
                host = urlsplit(request.url).hostname or request.url
                tries = int(request.meta.get("retry_times") or 0) + 1
                self.stats.set_value(UNREACHABLE_CAUSE_STAT, describe(cause, host, tries))
        return None
