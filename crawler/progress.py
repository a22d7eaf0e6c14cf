"""A progress line every ``PROGRESS_INTERVAL`` seconds during a crawl (like Scrapy's LogStats).

``ProgressExtension`` (``EXTENSIONS``) logs, for the portal being crawled::

    scfzw: 12 list pages, articles 3 new / 41 seen / 1 duplicate / 0 dropped, 0 errors (20 s)

from the crawl's stats: list pages fetched, articles written, skipped as
already written, duplicates, dropped (validation, ``since``, already in the
output) and errors (failed downloads, HTTP errors, extraction errors) so far.
``PROGRESS_INTERVAL = 0`` turns it off.  The one-line summary at the end is
``crawler.extensions``'s.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Self

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from twisted.internet import task

logger = logging.getLogger(__name__)

_DROPPED_PREFIXES = ("validate/dropped/",)
_DROPPED_KEYS = ("incremental/before_since", "store/skipped_seen")
_ERROR_PREFIXES = ("errors/download/", "errors/http/")
_ERROR_KEYS = ("page/errors", "spider_exceptions/count", "store/write_errors")


def _sum(stats: dict[str, Any], prefixes: tuple[str, ...], keys: tuple[str, ...]) -> int:
    total = sum(int(stats.get(k) or 0) for k in keys)
    for key, value in stats.items():
        if key.startswith(prefixes) and "/" not in key.split("/", 2)[-1]:
            total += int(value or 0)
    return total


def progress_line(site: str, stats: dict[str, Any], seconds: float) -> str:
    """The progress line for ``site`` from a crawl's stats."""

    def stat(key: str) -> int:
        return int(stats.get(key) or 0)

    lists = stat("fetch/list")
    duplicates = stat("store/duplicates")
    return (
        f"{site}: {lists} list page{'' if lists == 1 else 's'}, articles "
        f"{stat('store/articles')} new / {stat('incremental/seen_skipped')} seen / "
        f"{duplicates} duplicate{'' if duplicates == 1 else 's'} / "
        f"{_sum(stats, _DROPPED_PREFIXES, _DROPPED_KEYS)} dropped, "
        f"{_sum(stats, _ERROR_PREFIXES, _ERROR_KEYS)} errors ({seconds:.0f} s)"
    )


class ProgressExtension:
    def __init__(self, crawler: Crawler, interval: float) -> None:
        self.crawler = crawler
        self.interval = interval
        self.task: task.LoopingCall | None = None
        self.t0 = time.monotonic()
        crawler.signals.connect(self._opened, signal=signals.spider_opened)
        crawler.signals.connect(self._closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        interval = crawler.settings.getfloat("PROGRESS_INTERVAL")
        if interval <= 0:
            raise NotConfigured("PROGRESS_INTERVAL is 0")
        return cls(crawler, interval)

    def _opened(self, spider: Any) -> None:
        self.t0 = time.monotonic()
        self.task = task.LoopingCall(self.log)
        self.task.start(self.interval, now=False)

    def log(self) -> None:
        spider = self.crawler.spider
        site = str(getattr(spider, "site", "") or getattr(spider, "name", "?"))
        stats = dict(self.crawler.stats.get_stats())
        logger.info(progress_line(site, stats, time.monotonic() - self.t0))

    def _closed(self, spider: Any, reason: str) -> None:
        if self.task is not None and self.task.running:
            self.task.stop()
