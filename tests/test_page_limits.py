"""Hostile pages: size and element limits, capped text, link farms, garbage, UTF-16 without BOM.

Every case goes through ``process_page`` (what the crawl's workers and
``python -m crawler extract`` run) and, where the crawl drops the page, through
the validation pipeline, whose drop reason is counted in the stats.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from scrapy.exceptions import DropItem
from scrapy.utils.test import get_crawler

from crawler.items import ArticleItem, PageItem
from crawler.page import process_page
from crawler.settings import PAGE_MAX_BYTES, PAGE_MAX_ELEMENTS
from pipelines.charset import decode_html, looks_garbled
from pipelines.page import PagePipeline
from pipelines.validate import ValidatePipeline, rejection_reason

PARAGRAPHS = [
    "7月20日，某县召开平安建设工作推进会，总结上半年平安建设工作，部署下一阶段重点任务。",
    "会议指出，今年以来，全县各级各部门坚持以人民为中心的发展思想，扎实推进矛盾纠纷排查化解。",
    "会议要求，要坚持和发展新时代“枫桥经验”，健全县、乡、村三级矛盾纠纷调处体系。",
    "县委政法委、县法院、县检察院、县公安局、县司法局负责同志参加会议。",
]
HEAD = (
    '<html><head><meta charset="utf-8"><title>某县召开平安建设工作推进会</title></head><body>'
    "<h1>某县召开平安建设工作推进会</h1>"
    "<div class='info'>发布时间：2024-07-20 10:00 来源：县委政法委</div><div class='content'>"
)
ARTICLE = HEAD + "".join(f"<p>{p}</p>" for p in PARAGRAPHS) + "</div></body></html>"


def page(body: bytes | str, content_type: str | None = "text/html; charset=utf-8") -> PageItem:
    return PageItem(
        url="http://www.example.gov.cn/xw/202407/t20240720_1.html",
        body=body.encode("utf-8") if isinstance(body, str) else body,
        site="example",
        site_name="示例",
        fetched_at="2024-07-21T08:00:00+08:00",
        content_type=content_type,
    )


def reason(item: ArticleItem) -> str | None:
    return rejection_reason(item, 80)


def test_the_control_article_is_kept() -> None:
    item = process_page(page(ARTICLE))
    assert item.text == "\n".join(PARAGRAPHS).replace("，", ",")
    assert reason(item) is None
    assert not {"too_large", "links_only", "garbled_text", "text_truncated"} & set(
        item.quality_flags
    )


def test_a_page_over_page_max_bytes_is_not_parsed() -> None:
    padding = "<!-- " + "x" * PAGE_MAX_BYTES + " -->"
    item = process_page(page(ARTICLE.replace("<body>", "<body>" + padding)))
    assert item.quality_flags == ["too_large"]
    assert (item.text, item.title, item.encoding) == ("", None, None)
    assert reason(item) == "too_large"


def test_inline_images_do_not_count_against_the_size_limit() -> None:
    image = '<img src="data:image/png;base64,' + "iVBORw0KGgoAAAANSUhEUgAA" * 2000 + '">'
    body = ARTICLE.replace("</div></body>", image + "</div></body>")
    assert len(body) > 40_000
    item = process_page(page(body), max_bytes=20_000)
    assert "inline_data_removed" in item.fixes
    assert item.text == process_page(page(ARTICLE)).text
    assert reason(item) is None
    # Under the limit the page is left exactly as it is.
    assert "inline_data_removed" not in process_page(page(body)).fixes


def test_a_page_with_too_many_elements_is_not_parsed() -> None:
    spans = "<p>" + "<span>字</span>" * (PAGE_MAX_ELEMENTS + 1) + "</p>"
    item = process_page(page(ARTICLE.replace("<body>", "<body>" + spans)))
    assert item.quality_flags == ["too_large"]
    assert reason(item) == "too_large"
    # The count is of start tags: the end tags of the control article do not double it.
    assert "too_large" not in process_page(page(ARTICLE), max_elements=40).quality_flags


def test_text_is_cut_at_text_max_chars_at_a_paragraph_end() -> None:
    long_article = HEAD + "".join(f"<p>{p}</p>" for p in PARAGRAPHS * 50) + "</div></body></html>"
    full = process_page(page(long_article)).text
    item = process_page(page(long_article), max_chars=1000)
    assert "text_truncated" in item.quality_flags
    assert len(item.text) <= 1000
    assert full.startswith(item.text + "\n")
    assert reason(item) is None  # kept: it is the article, cut


def test_one_paragraph_longer_than_the_cap_is_cut_inside() -> None:
    body = HEAD + "<p>" + PARAGRAPHS[1] * 40 + "</p></div></body></html>"
    item = process_page(page(body), max_chars=500)
    assert len(item.text) == 500
    assert "text_truncated" in item.quality_flags


@pytest.mark.parametrize("layout", ["list", "flat"])
def test_a_page_of_links_is_flagged_and_dropped(layout: str) -> None:
    title = "关于开展第{}批平安建设示范点评选的通知"
    links = [f'<a href="/xw/{i}.html">{title.format(i)}</a>' for i in range(3000)]
    inner = "".join(f"<li>{a}</li>" for a in links) if layout == "list" else "".join(links)
    item = process_page(page(f"<html><body><ul>{inner}</ul></body></html>"))
    assert "links_only" in item.quality_flags
    assert reason(item) in {"links_only", "list_page", "boilerplate_only"}
    # A link farm's text is never written: whatever the body was, the record is dropped.
    assert reason(item) is not None


def test_an_article_under_a_big_navigation_is_not_links_only() -> None:
    nav = "".join(f'<li><a href="/lm/{i}/">栏目{i}</a></li>' for i in range(400))
    item = process_page(page(ARTICLE.replace("<body>", f"<body><ul class='nav'>{nav}</ul>")))
    assert "links_only" not in item.quality_flags
    assert reason(item) is None
    assert item.text.startswith("7月20日")


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("size", [600, 3000, 30000])
def test_random_bytes_after_the_body_tag_are_not_an_article(seed: int, size: int) -> None:
    body = b"<html><body>" + random.Random(seed * 1000 + size).randbytes(size)
    item = process_page(page(body, content_type=None))
    assert reason(item) is not None, item.text[:200]


def test_garbage_is_flagged_with_its_own_reason() -> None:
    body = b"<html><body>" + random.Random(7).randbytes(4000)
    item = process_page(page(body, content_type=None))
    assert "garbled_text" in item.quality_flags
    assert reason(item) == "garbled_text"


def test_real_text_with_a_few_lost_bytes_is_not_garbage() -> None:
    text = "\n".join(PARAGRAPHS)
    assert not looks_garbled(text)
    assert not looks_garbled(text[:60] + "\ufffd" + text[60:])
    assert not looks_garbled("Shenyang police held a meeting on community mediation. " * 5)
    assert not looks_garbled("연변조선족자치주 정법위원회 회의를 열었다. " * 5)  # Korean editions
    assert looks_garbled("\ufffd" * 10 + text[:100])
    assert looks_garbled("鼐焍琇聜玢敧鱞驸傚羍茅砱绁嚱哫逤栀茈訤秆妆" * 3)


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_bom_is_recognised(codec: str) -> None:
    control = process_page(page(ARTICLE))
    item = process_page(page(ARTICLE.encode(codec), content_type="text/html"))
    assert item.encoding == codec
    assert f"charset:{codec}-without-bom" in item.fixes
    assert (item.title, item.text, item.source) == (control.title, control.text, control.source)
    assert reason(item) is None


def test_utf16_sniffing_leaves_byte_oriented_pages_alone() -> None:
    for codec in ("utf-8", "gb18030", "big5"):
        decoded = decode_html(ARTICLE.encode(codec, "replace"))
        assert not decoded.encoding.startswith("utf-16"), codec
    # Chinese UTF-16 text is recognised from its markup even when U+3000 and 一 abound.
    body = ARTICLE.replace("<p>", "<p>\u3000\u3000一").encode("utf-16-le")
    assert decode_html(body).encoding == "utf-16-le"


async def _through_the_pipelines(settings: dict[str, Any], body: str) -> tuple[Any, Any]:
    crawler = get_crawler(settings_dict={"PAGE_WORKERS": 0, **settings})
    crawler.stats.open_spider()
    pages = PagePipeline.from_crawler(crawler)
    validate = ValidatePipeline.from_crawler(crawler)
    pages.open_spider()
    try:
        item = await pages.process_item(page(body))
        try:
            validate.process_item(item)
        except DropItem as exc:
            return exc, crawler.stats
        return item, crawler.stats
    finally:
        pages.close_spider()


def test_the_crawl_settings_set_the_limits_and_the_drop_is_counted() -> None:
    dropped, stats = asyncio.run(_through_the_pipelines({"PAGE_MAX_BYTES": 500}, ARTICLE))
    assert isinstance(dropped, DropItem)
    assert "too_large" in str(dropped)
    assert stats.get_value("validate/dropped/too_large") == 1
    kept, stats = asyncio.run(_through_the_pipelines({"TEXT_MAX_CHARS": 130}, ARTICLE))
    assert isinstance(kept, ArticleItem)
    assert "text_truncated" in kept.quality_flags
    assert len(kept.text) == 43 + 1 + 44 + 1 + 39
    assert stats.get_value("validate/kept") == 1


@pytest.mark.parametrize("depth", [300, 25_000])
def test_deep_nesting_gives_a_record_never_an_error(depth: int) -> None:
    # libxml2 stops nesting at depth 256: past it the article is lost, and the page is
    # then dropped with a reason, never written with a part of its text.
    inner = "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    item = process_page(page(HEAD + "<div>" * depth + inner + "</div>" * depth + "</body></html>"))
    assert item.text in ("", process_page(page(ARTICLE)).text)
    assert (reason(item) is None) == bool(item.text)
