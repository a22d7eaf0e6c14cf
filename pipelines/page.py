"""Item pipeline: turn each fetched ``PageItem`` into an ``ArticleItem``.

Runs ``crawler.page.process_page`` — decode and repair (charset, mojibake,
script), extraction and metadata, one module per stage in ``pipelines/`` — in
``PAGE_WORKERS`` worker processes, so the ~10 ms of parsing and extraction per
page stays off the crawl's event loop and uses the second core.
``PAGE_WORKERS = 0`` runs it in the crawl process (simplest to debug).

A page not processed ``PAGE_TIMEOUT`` seconds after it was handed to the
pool (a huge or pathological page) is abandoned: its worker is killed, the pool started
again, the page dropped and counted (``page/timeouts``); pages that were in
the killed pool are sent to the new one.  A worker that dies (killed, out of
memory) is handled the same way (``page/worker_restarts``).

Workers die with the crawl: each one asks the kernel for SIGKILL when its
parent dies (``prctl(PR_SET_PDEATHSIG)`` on Linux) and runs a watchdog thread
that ends it once its parent pid changes (every platform), so a crawl killed
with ``kill -9`` or by the OOM killer leaves no worker behind, and with the
workers gone multiprocessing's resource tracker sees its pipe close and ends too.

Pages over ``PAGE_MAX_BYTES`` or ``PAGE_MAX_ELEMENTS`` are not parsed and text is cut at
``TEXT_MAX_CHARS`` (``crawler.page.process_page`` applies both; flags
``too_large``, ``text_truncated``; ``pipelines.validate`` drops ``too_large``).

Settings: ``PAGE_WORKERS``, ``PAGE_TIMEOUT``, ``PAGE_MAX_BYTES``,
``PAGE_MAX_ELEMENTS``, ``TEXT_MAX_CHARS``, ``GC_THRESHOLDS``.
Stats: ``page/processed``, ``page/errors``, ``page/errors/<exception>``,
``page/timeouts``, ``page/encoding/<codec>``, ``page/fixes/<fix>``,
``page/worker_restarts``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import gc
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.settings import BaseSettings

from crawler.items import ArticleItem, PageItem
from crawler.page import process_page

logger = logging.getLogger(__name__)


def _warm_up() -> None:
    """Pay trafilatura's and OpenCC's one-off set-up in a worker before real pages arrive."""
    sample = (
        "<html><head><title>测试</title></head><body><h1>測試標題</h1>"
        "<p>发布时间:2020-01-01 来源:本网</p>"
        + "<p>这是一段用于预热的正文内容，包含足够多的中文字符以便抽取。</p>" * 8
        + "</body></html>"
    )
    page = PageItem(
        url="http://warm-up.invalid/t20200101_1.html",
        body=sample.encode("utf-8"),
        site="warm_up",
        site_name="warm-up",
        fetched_at="2020-01-01T00:00:00+08:00",
        content_type="text/html; charset=utf-8",
    )
    # A failed warm-up only costs time later; the real page reports its own error.
    with contextlib.suppress(Exception):
        process_page(page)


# linux/prctl.h: deliver a signal to this process when its parent dies.
_PR_SET_PDEATHSIG = 1
# How often the watchdog thread compares the parent pid (seconds).
_WATCH_INTERVAL = 0.5


def _watch_parent(parent: int) -> None:
    """End this process once ``parent`` is no longer its parent (runs as long as the worker)."""
    while os.getppid() == parent:
        time.sleep(_WATCH_INTERVAL)
    os._exit(1)


def die_with_parent(parent: int) -> None:
    """Make this process end when ``parent`` (the process that started it) dies.

    ``PR_SET_PDEATHSIG`` is immediate but Linux-only and tied to the parent's
    thread that spawned the process (the pool spawns from the thread that
    submits, the crawl's main thread); the watchdog thread covers the rest.
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent,), name="parent-watch", daemon=True).start()


def worker_init(parent: int, warm_up: bool = True) -> None:
    """Initializer of every page worker: ignore Ctrl-C, tie its life to the parent's, warm up.

    Ctrl-C in a terminal signals the whole process group; the crawl process
    decides what it means (finish the pages in flight, or stop), so a worker
    never dies of it with a page half done.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent(parent)
    if warm_up:
        _warm_up()


def start_pool(workers: int, warm_up: bool = True) -> ProcessPoolExecutor:
    """A pool of ``workers`` page workers that die with this process."""
    # "spawn": forking a process that runs a Twisted/asyncio loop and threads is unsafe.
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=worker_init,
        initargs=(os.getpid(), warm_up),
    )


def end_pool(pool: ProcessPoolExecutor, kill: bool) -> None:
    """Shut ``pool`` down without waiting; with ``kill``, end its running calls too."""
    if kill:
        # ProcessPoolExecutor cannot cancel a running call (Python 3.14 adds
        # terminate_workers()); ending its processes is the only way to stop one.
        for process in list(getattr(pool, "_processes", {}).values()):
            process.terminate()
    pool.shutdown(wait=False, cancel_futures=True)


_LIMITS = {
    "max_bytes": "PAGE_MAX_BYTES",
    "max_elements": "PAGE_MAX_ELEMENTS",
    "max_chars": "TEXT_MAX_CHARS",
}


def page_limits(settings: BaseSettings) -> dict[str, int]:
    """``process_page``'s limits from the settings (the crawl's and ``extract``'s).

    A setting that is absent (settings built without the project module) leaves
    ``process_page``'s default, which is the project setting itself.
    """
    return {key: settings.getint(name) for key, name in _LIMITS.items() if name in settings}


class PagePipeline:
    def __init__(
        self,
        crawler: Crawler,
        workers: int,
        timeout: float,
        limits: dict[str, int],
    ) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.workers = workers
        self.timeout = timeout
        self.limits = limits  # process_page's keyword limits
        self.executor: ProcessPoolExecutor | None = None
        # What the workers run (a module-level function, so it pickles), with the limits.
        self.func: Callable[..., ArticleItem] = process_page

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PagePipeline:
        settings = crawler.settings
        thresholds = settings.getlist("GC_THRESHOLDS")
        if thresholds:
            # Scrapy allocates many short-lived objects per response; the default
            # generation-0 threshold (700) makes the collector a large share of its CPU.
            gc.set_threshold(*(int(t) for t in thresholds))
        return cls(
            crawler,
            settings.getint("PAGE_WORKERS"),
            settings.getfloat("PAGE_TIMEOUT"),
            page_limits(settings),
        )

    def _start_pool(self) -> None:
        self.executor = start_pool(self.workers)
        # Sub-millisecond switch interval lets the event loop hand results back promptly.
        sys.setswitchinterval(0.0005)

    def open_spider(self) -> None:
        if self.workers > 0:
            self._start_pool()

    def close_spider(self) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)
            self.executor = None

    def _restart_pool(self, broken: ProcessPoolExecutor, kill: bool) -> None:
        """Replace ``broken`` by a new pool, once, however many pages saw it break."""
        if self.executor is not broken:
            return
        end_pool(broken, kill)
        self._start_pool()

    async def _run(self, page: PageItem) -> ArticleItem:
        func = functools.partial(self.func, **self.limits)
        for attempt in (1, 2):
            executor = self.executor
            if executor is None:
                return func(page)
            future = executor.submit(func, page)
            try:
                return await asyncio.wait_for(asyncio.wrap_future(future), self.timeout)
            except TimeoutError:
                self.stats.inc_value("page/timeouts")
                logger.error(
                    "page processing took more than %.0f s, page abandoned: %s",
                    self.timeout,
                    page.url,
                )
                self._restart_pool(executor, kill=True)
                raise
            except BrokenProcessPool:
                # A worker died (killed, out of memory, or ended for a page that took
                # too long): start a new pool; this page is tried once more in it.
                if self.executor is executor:
                    self.stats.inc_value("page/worker_restarts")
                    logger.error("page worker died; starting the pool again")
                self._restart_pool(executor, kill=False)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, PageItem):
            return item
        try:
            article = await self._run(item)
        except Exception as exc:
            self.stats.inc_value("page/errors")
            self.stats.inc_value(f"page/errors/{type(exc).__name__}")
            logger.error("page processing failed for %s: %r", item.url, exc)
            raise DropItem(f"page processing failed: {exc!r}") from exc
        self.stats.inc_value("page/processed")
        if article.encoding:
            self.stats.inc_value(f"page/encoding/{article.encoding}")
        for fix in article.fixes:
            self.stats.inc_value(f"page/fixes/{fix.split(':', 1)[0]}")
        return article
