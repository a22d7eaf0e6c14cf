"""A page written by a test, through the whole page pipeline."""

from __future__ import annotations

from typing import Any

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


def article_item(text: str, url: str, site: str = "x", **fields: Any) -> ArticleItem:
    """An ``ArticleItem`` of ``text`` at ``url``; any other field given in ``fields``."""
    from crawler.ids import content_hash, record_id

    base: dict[str, Any] = {
        "id": record_id(url),
        "url": url,
        "site": site,
        "site_name": site,
        "title": "全省社会治理工作会议召开",
        "original_title": None,
        "published_at": None,
        "published_precision": None,
        "source": None,
        "authors": [],
        "editors": [],
        "responsible_editors": [],
        "text": text,
        "content_hash": content_hash(text),
        "fetched_at": None,
        "encoding": "utf-8",
        "original_script": "simplified",
    }
    return ArticleItem(**{**base, **fields})
