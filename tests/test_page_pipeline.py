"""PagePipeline: worker processes, a page that never finishes, a worker that dies."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pageworkers import slow_on_request
from scrapy.exceptions import DropItem
from scrapy.utils.test import get_crawler

from crawler.items import ArticleItem, PageItem
from pipelines.page import PagePipeline

BODY = (
    "<html><head><title>县委政法委召开平安建设推进会</title></head><body>"
    "<h1>县委政法委召开平安建设推进会</h1><p>发布时间:2021-09-02 17:33 来源:县委政法委</p>"
    + "<p>会议要求，各乡镇要扎实推进矛盾纠纷排查化解工作，确保社会大局和谐稳定。</p>" * 6
    + "</body></html>"
).encode()


def page(path: str) -> PageItem:
    return PageItem(
        url=f"http://www.example.gov.cn{path}/t20210902_1.html",
        body=BODY,
        site="example",
        site_name="示例",
        fetched_at="2021-09-03T08:00:00+08:00",
        content_type="text/html; charset=utf-8",
    )


def pipeline(workers: int, timeout: float) -> PagePipeline:
    crawler = get_crawler(settings_dict={"PAGE_WORKERS": workers, "PAGE_TIMEOUT": timeout})
    crawler.stats.open_spider()
    pipe = PagePipeline.from_crawler(crawler)
    pipe.func = slow_on_request
    return pipe


async def outcome(pipe: PagePipeline, item: PageItem) -> Any:
    try:
        return await pipe.process_item(item)
    except DropItem as exc:
        return exc


@pytest.mark.slow
def test_a_page_that_never_finishes_is_abandoned_and_the_pool_recovers() -> None:
    pipe = pipeline(workers=1, timeout=4)

    async def run() -> list[Any]:
        pipe.open_spider()
        try:

            async def queued_later() -> Any:
                # handed to the pool while the hung page still runs; PAGE_TIMEOUT counts from
                # the hand-off, so it has 3.5 s after the hung one is abandoned, for the new
                # pool to start (seconds on a loaded machine) and extract it
                await asyncio.sleep(3.5)
                return await outcome(pipe, page("/a"))

            first = await asyncio.gather(outcome(pipe, page("/hang")), queued_later())
            later = await outcome(pipe, page("/b"))
            return [*first, later]
        finally:
            pipe.close_spider()

    hung, queued, later = asyncio.run(run())
    assert isinstance(hung, DropItem)
    assert "TimeoutError" in str(hung)
    # The page queued behind the hung one went to the new pool.
    assert isinstance(queued, ArticleItem)
    assert queued.title == "县委政法委召开平安建设推进会"
    assert isinstance(later, ArticleItem)
    stats = pipe.stats.get_stats()
    assert stats["page/timeouts"] == 1
    assert stats["page/processed"] == 2
    assert stats["page/errors"] == 1


@pytest.mark.slow
def test_a_worker_that_dies_is_replaced() -> None:
    pipe = pipeline(workers=1, timeout=60)

    async def run() -> list[Any]:
        pipe.open_spider()
        try:
            died = await outcome(pipe, page("/die"))
            after = await outcome(pipe, page("/c"))
            return [died, after]
        finally:
            pipe.close_spider()

    died, after = asyncio.run(run())
    # The page whose worker died was tried once more, in a new pool, and killed it again.
    assert isinstance(died, DropItem)
    assert "BrokenProcessPool" in str(died)
    assert isinstance(after, ArticleItem)
    assert pipe.stats.get_value("page/worker_restarts") == 2


def test_inline_mode_runs_in_the_crawl_process() -> None:
    pipe = pipeline(workers=0, timeout=60)
    pipe.open_spider()
    result = asyncio.run(outcome(pipe, page("/d")))
    pipe.close_spider()
    assert isinstance(result, ArticleItem)
    assert result.published_at == "2021-09-02T17:33:00+08:00"
    assert result.source == "县委政法委"
