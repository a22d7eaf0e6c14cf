"""ChallengeMiddleware: challenge pages counted, retried with backoff, then given up."""

from __future__ import annotations

import asyncio

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from crawler.blocking import RETRIES_META, ChallengeMiddleware, PortalBlocked

RUISHU = (
    "<html><head><script r='m'>$_ts=window['$_ts'];if(!$_ts)$_ts={};$_ts.nsd=1;</script>"
    "</head><body></body></html>"
)
ARTICLE = "<html><body><h1>标题</h1><p>" + "正文内容。" * 100 + "</p></body></html>"


def _middleware(**settings: object) -> ChallengeMiddleware:
    crawler = get_crawler(settings_dict={"CHALLENGE_BACKOFF": 0, **settings})
    crawler.stats.open_spider()
    return ChallengeMiddleware(crawler)


def _run(mw: ChallengeMiddleware, request: Request, status: int, body: str) -> object:
    response = HtmlResponse(request.url, status=status, body=body.encode(), request=request)
    return asyncio.run(mw.process_response(request, response))


def test_a_challenge_page_is_retried_then_given_up() -> None:
    mw = _middleware(CHALLENGE_RETRY_TIMES=2)
    request = Request("http://a.test/t20240101_1.html", meta={"kind": "article"})
    first = _run(mw, request, 412, RUISHU)
    assert isinstance(first, Request)
    assert first.dont_filter
    assert first.meta[RETRIES_META] == 1
    second = _run(mw, first, 412, RUISHU)
    assert isinstance(second, Request)
    assert second.meta[RETRIES_META] == 2
    with pytest.raises(PortalBlocked) as caught:
        _run(mw, second, 412, RUISHU)
    assert caught.value.kind == "ruishu"
    stats = mw.stats.get_stats()
    assert stats["blocked/ruishu"] == 3
    assert stats["blocked/retries"] == 2
    assert stats["blocked/given_up"] == 1
    assert stats["blocked/given_up/ruishu"] == 1
    assert stats["errors/article"] == 1


def test_an_ordinary_page_and_an_unmarked_request_pass() -> None:
    mw = _middleware()
    request = Request("http://a.test/t20240101_1.html", meta={"kind": "article"})
    response = HtmlResponse(request.url, body=ARTICLE.encode(), request=request)
    assert asyncio.run(mw.process_response(request, response)) is response
    robots = Request("http://a.test/robots.txt")  # no kind: robots.txt, not the crawl's
    response = HtmlResponse(robots.url, status=412, body=RUISHU.encode(), request=robots)
    assert asyncio.run(mw.process_response(robots, response)) is response
    assert not any(k.startswith("blocked/") for k in mw.stats.get_stats())


def test_no_retries_gives_up_at_once_and_a_list_page_counts_as_failed() -> None:
    mw = _middleware(CHALLENGE_RETRY_TIMES=0)
    request = Request("http://a.test/list/index.html", meta={"kind": "list"})
    with pytest.raises(PortalBlocked):
        _run(mw, request, 200, "<html><body><p>请稍候,正在进行安全验证</p></body></html>")
    stats = mw.stats.get_stats()
    assert stats["blocked/interstitial"] == 1
    assert stats["errors/list"] == 1
