"""Incremental middleware, fetch statistics and the run summary, on fake requests and responses."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import scrapy
from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import HtmlResponse, Response
from scrapy.utils.test import get_crawler
from twisted.internet.error import TCPTimedOutError

from crawler.extensions import EXIT_STATUS_STAT, PortalRunExtension
from crawler.ids import url_key
from crawler.middlewares import STREAK_META, FetchStatsMiddleware, IncrementalMiddleware, url_date
from crawler.state import portal_state

START = "http://www.scfzw.net/zfdt/index.html"


class ScfzwSpider(scrapy.Spider):
    name = "scfzw"

    def __init__(self, since: str | None = None, full: bool = False, **kw: Any):
        super().__init__(**kw)
        self.since = since
        self.full = full


def make_crawler(tmp_path: Path, spider: ScfzwSpider | None = None, **settings: Any) -> Crawler:
    crawler = get_crawler(
        ScfzwSpider,
        {
            "OUTPUT_DIR": str(tmp_path / "output"),
            "STATE_DIR": str(tmp_path / "state"),
            "INCREMENTAL_ENABLED": True,
            "LIST_PAGES_WITHOUT_NEW": 1,
            "ERROR_RATE_LIMIT": 0.2,
            "SUMMARY_MIN_ARTICLE_PAGES": 5,
            **settings,
        },
    )
    crawler.spider = spider or ScfzwSpider()
    return crawler


def art_url(n: int) -> str:
    return f"http://www.scfzw.net/zfdt/202109/t202109{n % 28 + 1:02d}_{n}.html"


def written(tmp_path: Path, ns: list[int], complete: bool = True) -> None:
    """Articles written by an earlier run (which read its list pages to the end or not)."""
    out = tmp_path / "output" / "scfzw"
    out.mkdir(parents=True, exist_ok=True)
    state = tmp_path / "state" / "scfzw"
    state.mkdir(parents=True, exist_ok=True)
    (state / "run.json").write_text(json.dumps({"complete": complete, "why": "test"}))
    with (out / "articles.jsonl").open("a", encoding="utf-8") as fh:
        for n in ns:
            fh.write(json.dumps({"id": f"{n:016x}", "url": art_url(n)}, ensure_ascii=False) + "\n")


def list_response(page: int = 1, **meta: Any) -> HtmlResponse:
    url = START if page == 1 else START.replace("index", f"index_{page - 1}")
    request = Request(url, meta={"kind": "list", "list_page": page, "start_url": START, **meta})
    body = "<html><head><meta charset='gb2312'></head><body>政法动态</body></html>"
    return HtmlResponse(url, body=body.encode("gb18030"), encoding="gb18030", request=request)


def list_output(ns: list[int], page: int = 1, **article_meta: Any) -> list[Request]:
    out = [Request(art_url(n), meta={"kind": "article", **article_meta}) for n in ns]
    nxt = START.replace("index", f"index_{page}")
    out.append(Request(nxt, meta={"kind": "list", "list_page": page + 1, "start_url": START}))
    return out


def run(mw: IncrementalMiddleware, response: Response, output: list[Any]) -> list[Any]:
    return list(mw.process_spider_output(response, iter(output)))


def urls(objs: list[Any], kind: str) -> list[str]:
    return [o.url for o in objs if isinstance(o, Request) and o.meta.get("kind") == kind]


# --- seen skipping ----------------------------------------------------------------


def test_articles_already_written_are_not_requested(tmp_path: Path) -> None:
    written(tmp_path, [1, 2])
    crawler = make_crawler(tmp_path)
    mw = IncrementalMiddleware.from_crawler(crawler)
    out = run(mw, list_response(), list_output([1, 2, 3]))
    assert urls(out, "article") == [art_url(3)]
    assert urls(out, "list")  # a new article on the page: pagination goes on
    assert crawler.stats.get_value("incremental/seen_skipped") == 2
    assert crawler.stats.get_value("incremental/article_links") == 3
    assert crawler.stats.get_value("incremental/new_links") == 1
    portal_state(crawler).close()


def test_seen_check_uses_the_url_key(tmp_path: Path) -> None:
    written(tmp_path, [1])
    crawler = make_crawler(tmp_path)
    mw = IncrementalMiddleware.from_crawler(crawler)
    https = art_url(1).replace("http://", "https://") + "?utm_source=weixin"
    assert url_key(https) == url_key(art_url(1))
    out = run(mw, list_response(), [Request(https, meta={"kind": "article"})])
    assert urls(out, "article") == []
    portal_state(crawler).close()


# --- the watermark ------------------------------------------------------------------


def test_list_page_without_new_article_stops_pagination(tmp_path: Path) -> None:
    written(tmp_path, [1, 2, 3])
    crawler = make_crawler(tmp_path)
    mw = IncrementalMiddleware.from_crawler(crawler)
    out = run(mw, list_response(), list_output([1, 2, 3]))
    assert out == []
    assert crawler.stats.get_value("incremental/pagination_stopped") == 1
    mark = portal_state(crawler).watermark[START]
    assert mark["list_pages"] == 1
    assert mark["last_page"] == 1
    assert mark["stopped_at"] == START.replace("index", "index_1")
    assert mark["stop"] == "no new articles"
    portal_state(crawler).close()


def test_watermark_counts_pages_in_a_row(tmp_path: Path) -> None:
    written(tmp_path, [1, 2, 3, 4])
    crawler = make_crawler(tmp_path, LIST_PAGES_WITHOUT_NEW=2)
    mw = IncrementalMiddleware.from_crawler(crawler)
    out = run(mw, list_response(1), list_output([1, 2], page=1))
    assert len(urls(out, "list")) == 1  # one page without new: still follows
    nxt = next(o for o in out if o.meta["kind"] == "list")
    assert nxt.meta[STREAK_META] == 1
    out = run(mw, list_response(2, **{STREAK_META: 1}), list_output([3, 4], page=2))
    assert urls(out, "list") == []  # the second in a row: stops
    assert portal_state(crawler).watermark[START]["last_page"] == 2
    portal_state(crawler).close()


def test_a_page_with_new_articles_resets_the_streak(tmp_path: Path) -> None:
    written(tmp_path, [1])
    crawler = make_crawler(tmp_path, LIST_PAGES_WITHOUT_NEW=2)
    mw = IncrementalMiddleware.from_crawler(crawler)
    out = run(mw, list_response(2, **{STREAK_META: 1}), list_output([1, 5], page=2))
    nxt = next(o for o in out if o.meta["kind"] == "list")
    assert nxt.meta[STREAK_META] == 0
    portal_state(crawler).close()


def test_links_already_requested_in_this_run_are_not_new(tmp_path: Path) -> None:
    crawler = make_crawler(tmp_path)
    mw = IncrementalMiddleware.from_crawler(crawler)
    run(mw, list_response(1), list_output([1, 2], page=1))
    # the list shifted while crawling: page 2 shows page 1's articles again
    out = run(mw, list_response(2), list_output([1, 2], page=2))
    assert urls(out, "list") == []
    portal_state(crawler).close()


def test_a_list_page_with_no_article_links_stops_pagination(tmp_path: Path) -> None:
    crawler = make_crawler(tmp_path)
    mw = IncrementalMiddleware.from_crawler(crawler)
    out = run(mw, list_response(), list_output([]))
    assert out == []
    portal_state(crawler).close()


# --- full, meta override, since ----------------------------------------------------------


def test_full_recrawl_skips_nothing_and_follows_every_page(tmp_path: Path) -> None:
    written(tmp_path, [1, 2])
    crawler = make_crawler(tmp_path, spider=ScfzwSpider(full=True))
    mw = IncrementalMiddleware.from_crawler(crawler)
    out = run(mw, list_response(), list_output([1, 2]))
    assert urls(out, "article") == [art_url(1), art_url(2)]
    assert len(urls(out, "list")) == 1
    assert crawler.stats.get_value("incremental/seen_skipped") is None
    portal_state(crawler).close()


def test_meta_incremental_false_on_an_article_request(tmp_path: Path) -> None:
    written(tmp_path, [1])
    crawler = make_crawler(tmp_path)
    mw = IncrementalMiddleware.from_crawler(crawler)
    out = run(mw, list_response(), list_output([1], incremental=False))
    assert urls(out, "article") == [art_url(1)]
    portal_state(crawler).close()


def test_meta_incremental_false_on_a_list_page(tmp_path: Path) -> None:
    written(tmp_path, [1])
    crawler = make_crawler(tmp_path)
    mw = IncrementalMiddleware.from_crawler(crawler)
    out = run(mw, list_response(incremental=False), list_output([1]))
    assert urls(out, "article") == []  # the article is still skipped
    assert len(urls(out, "list")) == 1  # but the page does not stop pagination
    portal_state(crawler).close()


def test_since_stops_at_a_list_page_older_than_since(tmp_path: Path) -> None:
    crawler = make_crawler(tmp_path, spider=ScfzwSpider(since="2021-10-01"))
    mw = IncrementalMiddleware.from_crawler(crawler)
    out = run(mw, list_response(), list_output([1, 2]))  # URLs dated 2021-09
    assert urls(out, "article") == [art_url(1), art_url(2)]  # filtered after extraction
    assert urls(out, "list") == []
    assert crawler.stats.get_value("incremental/since_stopped") == 1
    assert "since" in portal_state(crawler).watermark[START]["stop"]
    portal_state(crawler).close()


def test_since_uses_list_dates_and_never_guesses_undated_links(tmp_path: Path) -> None:
    crawler = make_crawler(tmp_path, spider=ScfzwSpider(since="2021-09-10"))
    mw = IncrementalMiddleware.from_crawler(crawler)
    output: list[Any] = [
        Request("http://www.scfzw.net/show.php?id=1", meta={"kind": "article"}),  # undated
        Request(art_url(2), meta={"kind": "article"}),
        Request(f"{START}?p=2", meta={"kind": "list", "list_page": 2, "start_url": START}),
    ]
    out = run(mw, list_response(), output)
    assert len(urls(out, "list")) == 1
    # the same undated link with a date read off the list page
    crawler2 = make_crawler(tmp_path / "b", spider=ScfzwSpider(since="2021-09-10"))
    mw2 = IncrementalMiddleware.from_crawler(crawler2)
    output[0] = Request(
        "http://www.scfzw.net/show.php?id=1", meta={"kind": "article", "list_date": "2021-09-09"}
    )
    assert urls(run(mw2, list_response(), output), "list") == []
    portal_state(crawler).close()
    portal_state(crawler2).close()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://www.scfzw.net/zfdt/202109/t20210902_123.html", date(2021, 9, 2)),
        ("http://www.dali.gov.cn/art/2020/6/23/art_12_345.html", date(2020, 6, 23)),
        ("http://news.cri.cn/2022-07-15/abc.html", date(2022, 7, 15)),
        ("http://www.lnsfw.gov.cn/2021/0902/55.html", date(2021, 9, 2)),
        ("http://www.example.gov.cn/202109/02/55.html", date(2021, 9, 2)),
        ("http://www.example.gov.cn/news/202102/55.html", date(2021, 2, 28)),  # month only
        ("http://www.example.gov.cn/show.php?id=20210902", None),
        ("http://www.example.gov.cn/a/2021/13/40/x.html", None),
    ],
)
def test_url_date(url: str, expected: date | None) -> None:
    assert url_date(url) == expected


# --- plumbing -----------------------------------------------------------------------------


def test_disabled_by_setting(tmp_path: Path) -> None:
    crawler = make_crawler(tmp_path, INCREMENTAL_ENABLED=False)
    with pytest.raises(NotConfigured):
        IncrementalMiddleware.from_crawler(crawler)


def test_output_of_article_pages_passes_untouched(tmp_path: Path) -> None:
    written(tmp_path, [1])
    crawler = make_crawler(tmp_path)
    mw = IncrementalMiddleware.from_crawler(crawler)
    request = Request(art_url(2), meta={"kind": "article"})
    response = HtmlResponse(art_url(2), body=b"<html></html>", request=request)
    output = [{"page": 2}, Request(art_url(1), meta={"kind": "article"})]
    assert run(mw, response, output) == output
    portal_state(crawler).close()


def test_async_output_is_filtered_the_same(tmp_path: Path) -> None:
    written(tmp_path, [1, 2])
    crawler = make_crawler(tmp_path)
    mw = IncrementalMiddleware.from_crawler(crawler)

    async def gen() -> AsyncIterator[Any]:
        for obj in list_output([1, 2]):
            yield obj

    async def collect() -> list[Any]:
        return [o async for o in mw.process_spider_output_async(list_response(), gen())]

    assert asyncio.run(collect()) == []
    portal_state(crawler).close()


def test_fetch_stats_count_final_outcomes_by_kind(tmp_path: Path) -> None:
    crawler = make_crawler(tmp_path)
    mw = FetchStatsMiddleware.from_crawler(crawler)
    lst = Request(START, meta={"kind": "list"})
    art = Request(art_url(1), meta={"kind": "article"})
    robots = Request("http://www.scfzw.net/robots.txt")
    mw.process_response(lst, HtmlResponse(START, status=200, request=lst))
    mw.process_response(art, HtmlResponse(art_url(1), status=404, request=art))
    mw.process_response(robots, HtmlResponse(robots.url, status=404, request=robots))
    mw.process_exception(art, TCPTimedOutError())
    mw.process_exception(art, IgnoreRequest())
    stats = crawler.stats
    assert stats.get_value("fetch/list") == 1
    assert stats.get_value("fetch/article") is None
    assert stats.get_value("errors/http/404") == 1
    assert stats.get_value("errors/download/TCPTimedOutError") == 1
    assert stats.get_value("errors/article") == 2


# --- the run summary ------------------------------------------------------------------------


def close_run(
    crawler: Crawler, ext: PortalRunExtension, reason: str = "finished"
) -> dict[str, Any]:
    ext._spider_closed(crawler.spider, reason)
    ext._engine_stopped()
    assert ext.summary_path is not None
    summary: dict[str, Any] = json.loads(ext.summary_path.read_text("utf-8"))
    return summary


def test_summary_of_a_good_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    crawler = make_crawler(tmp_path)
    ext = PortalRunExtension.from_crawler(crawler)
    stats = crawler.stats
    for key, value in {
        "fetch/list": 3,
        "fetch/article": 4,
        "incremental/seen_skipped": 41,
        "store/articles": 3,
        "store/duplicates": 1,
        "store/duplicates/minhash": 1,
        "validate/dropped/empty": 1,
        "errors/http/404": 1,
    }.items():
        stats.set_value(key, value)
    for n in range(5):
        ext._request_scheduled(Request(art_url(n), meta={"kind": "article"}))
    summary = close_run(crawler, ext)
    assert summary["site"] == "scfzw"
    assert summary["pages"] == {"list": 3, "article": 4}
    assert summary["articles"]["new"] == 3
    assert summary["articles"]["seen"] == 41
    assert summary["articles"]["duplicate"] == {"total": 1, "minhash": 1}
    assert summary["articles"]["dropped"] == {"empty": 1}
    assert summary["errors"]["http"] == {"404": 1}
    assert summary["errors"]["rate"] == pytest.approx(1 / 8)
    assert summary["exit_status"] == 0
    assert stats.get_value(EXIT_STATUS_STAT) == 0
    assert summary["problems"] == []
    assert summary["started"].endswith("Z")
    assert ext.summary_path is not None
    assert ext.summary_path.parent == tmp_path / "output" / "scfzw" / "runs"
    assert not [p for p in ext.summary_path.parent.iterdir() if p.name.startswith(".")]
    err = capsys.readouterr().err
    assert "scfzw: 3 list pages, 3 new articles, 41 seen, 1 duplicate, 1 dropped, 1 error in" in err
    assert "output/scfzw/articles.jsonl" in err


def test_summary_flags_a_portal_whose_list_pages_changed(tmp_path: Path) -> None:
    written(tmp_path, [1, 2])
    crawler = make_crawler(tmp_path)
    ext = PortalRunExtension.from_crawler(crawler)
    crawler.stats.set_value("fetch/list", 1)
    summary = close_run(crawler, ext)
    assert summary["exit_status"] == 1
    assert "no article links found" in summary["problems"][0]
    assert "earlier runs" in summary["problems"][0]
    assert crawler.stats.get_value(EXIT_STATUS_STAT) == 1


def test_summary_flags_article_pages_that_give_no_record(tmp_path: Path) -> None:
    crawler = make_crawler(tmp_path)
    ext = PortalRunExtension.from_crawler(crawler)
    crawler.stats.set_value("fetch/list", 1)
    crawler.stats.set_value("fetch/article", 6)
    crawler.stats.set_value("validate/dropped/empty", 6)
    for n in range(6):
        ext._request_scheduled(Request(art_url(n), meta={"kind": "article"}))
    summary = close_run(crawler, ext)
    assert summary["exit_status"] == 1
    assert "not one record" in summary["problems"][0]


def test_summary_flags_an_error_rate_above_the_limit(tmp_path: Path) -> None:
    crawler = make_crawler(tmp_path)
    ext = PortalRunExtension.from_crawler(crawler)
    crawler.stats.set_value("fetch/list", 1)
    crawler.stats.set_value("fetch/article", 2)
    crawler.stats.set_value("store/articles", 2)
    crawler.stats.set_value("errors/download/TimeoutError", 1)
    crawler.stats.set_value("page/errors", 1)
    for n in range(3):
        ext._request_scheduled(Request(art_url(n), meta={"kind": "article"}))
    summary = close_run(crawler, ext)
    assert summary["errors"]["total"] == 2
    assert summary["errors"]["extraction"] == 1
    assert summary["exit_status"] == 1
    assert "ERROR_RATE_LIMIT" in summary["problems"][0]


def test_summary_of_a_stopped_run(tmp_path: Path) -> None:
    crawler = make_crawler(tmp_path)
    ext = PortalRunExtension.from_crawler(crawler)
    summary = close_run(crawler, ext, reason="shutdown")
    assert summary["exit_status"] == 1
    assert summary["finish_reason"] == "shutdown"


def test_extension_holds_the_lock_until_the_engine_stops(tmp_path: Path) -> None:
    from crawler.state import PortalLock, PortalLocked

    crawler = make_crawler(tmp_path)
    ext = PortalRunExtension.from_crawler(crawler)
    lock_path = tmp_path / "state" / "scfzw.lock"
    with pytest.raises(PortalLocked):
        PortalLock(lock_path, "scfzw").acquire()
    close_run(crawler, ext)
    other = PortalLock(lock_path, "scfzw")
    other.acquire()
    other.release()


def test_the_end_of_a_chain_is_recorded(tmp_path: Path) -> None:
    crawler = make_crawler(tmp_path)
    mw = IncrementalMiddleware.from_crawler(crawler)
    out = run(mw, list_response(3), [Request(art_url(9), meta={"kind": "article"})])
    assert urls(out, "article") == [art_url(9)]
    mark = portal_state(crawler).watermark[START]
    assert mark["stop"] == "last list page"
    assert mark["stopped_at"] is None
    portal_state(crawler).close()


# --- catch-up after an interrupted run ----------------------------------------------------


def test_after_an_interrupted_run_every_list_page_is_read(tmp_path: Path) -> None:
    written(tmp_path, [1, 2], complete=False)
    crawler = make_crawler(tmp_path)
    mw = IncrementalMiddleware.from_crawler(crawler)
    assert portal_state(crawler).catch_up
    out = run(mw, list_response(), list_output([1, 2]))
    assert urls(out, "article") == []  # written articles are still skipped
    assert len(urls(out, "list")) == 1  # but the watermark is off
    assert crawler.stats.get_value("incremental/catch_up") == 1
    portal_state(crawler).close()


def test_output_without_a_run_record_is_a_catch_up(tmp_path: Path) -> None:
    written(tmp_path, [1])
    (tmp_path / "state" / "scfzw" / "run.json").unlink()
    crawler = make_crawler(tmp_path)
    assert portal_state(crawler).catch_up
    portal_state(crawler).close()


def test_first_run_is_no_catch_up(tmp_path: Path) -> None:
    crawler = make_crawler(tmp_path)
    assert not portal_state(crawler).catch_up
    portal_state(crawler).close()


@pytest.mark.parametrize(
    ("reason", "list_errors", "complete"),
    [("finished", 0, True), ("finished", 1, False), ("shutdown", 0, False)],
)
def test_the_run_records_whether_it_read_its_lists_to_the_end(
    tmp_path: Path, reason: str, list_errors: int, complete: bool
) -> None:
    written(tmp_path, [1])
    crawler = make_crawler(tmp_path)
    ext = PortalRunExtension.from_crawler(crawler)
    run_file = tmp_path / "state" / "scfzw" / "run.json"
    assert json.loads(run_file.read_text())["complete"] is False  # while running / if killed
    crawler.stats.set_value("fetch/list", 2)
    if list_errors:
        crawler.stats.set_value("errors/list", list_errors)
        crawler.stats.set_value("errors/http/503", list_errors)
    ext._request_scheduled(Request(art_url(5), meta={"kind": "article"}))
    summary = close_run(crawler, ext, reason=reason)
    assert summary["catch_up"] is False
    assert json.loads(run_file.read_text())["complete"] is complete
    crawler2 = make_crawler(tmp_path)
    assert portal_state(crawler2).catch_up is not complete
    portal_state(crawler2).close()


def test_no_run_summary_for_scrapys_default_spider(tmp_path: Path) -> None:
    crawler = get_crawler(scrapy.Spider, {"OUTPUT_DIR": str(tmp_path / "o")})
    crawler.spider = scrapy.Spider(name="default")
    with pytest.raises(NotConfigured):
        PortalRunExtension.from_crawler(crawler)
    assert not (tmp_path / "o").exists()
