"""A page written by a test, through the whole page pipeline."""

from __future__ import annotations

from crawler.items import ArticleItem, PageItem
from crawler.page import process_page


def record_of(html: str, url: str = "http://www.example.gov.cn/2023/06/12/a.html") -> ArticleItem:
    """The record of a UTF-8 page fetched the day after its date."""
    item = PageItem(
        url=url,
        body=html.encode("utf-8"),
        site="t",
        site_name="",
        fetched_at="2023-06-13T10:00:00+08:00",
        content_type="text/html; charset=utf-8",
    )
    return process_page(item)
