"""ValidatePipeline and rejection_reason (pipelines.validate)."""

from __future__ import annotations

import pytest
from pages import article_item
from scrapy.exceptions import DropItem
from scrapy.utils.test import get_crawler

from crawler.items import ArticleItem, PageItem
from pipelines.validate import ValidatePipeline, rejection_reason


def article(text: str = "正文。" * 60, flags: list[str] | None = None) -> ArticleItem:
    return article_item(
        text,
        "http://x.cn/a.html",
        id="0" * 16,
        site_name="X",
        title="标题",
        content_hash="",
        fetched_at="2024-05-20T15:00:00+08:00",
        quality_flags=list(flags or []),
    )


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        (article(), None),
        (article(text="短"), "empty"),
        (article(text=""), "empty"),
        (article(flags=["list_page"]), "list_page"),
        (article(text="", flags=["boilerplate_only"]), "boilerplate_only"),
        (article(text="", flags=["list_page", "boilerplate_only"]), "list_page"),
        (article(flags=["short_body", "no_date"]), None),
        (article(text="", flags=["too_large"]), "too_large"),
        (article(flags=["garbled_text", "list_page"]), "garbled_text"),
        (article(flags=["links_only"]), "links_only"),
        (article(flags=["text_truncated"]), None),
    ],
)
def test_rejection_reason(item: ArticleItem, reason: str | None) -> None:
    assert rejection_reason(item, 80) == reason


def test_min_chars_is_the_boundary() -> None:
    assert rejection_reason(article(text="字" * 80), 80) is None
    assert rejection_reason(article(text="字" * 79), 80) == "empty"


def make_pipeline(**settings: object) -> tuple[ValidatePipeline, object]:
    crawler = get_crawler(settings_dict=settings)
    crawler.stats.open_spider()
    return ValidatePipeline.from_crawler(crawler), crawler.stats


def test_pipeline_drops_and_counts_by_reason() -> None:
    pipeline, stats = make_pipeline()
    kept = pipeline.process_item(article())
    assert isinstance(kept, ArticleItem)
    for item in (
        article(text="短"),
        article(flags=["list_page"]),
        article(text="", flags=["boilerplate_only"]),
    ):
        with pytest.raises(DropItem):
            pipeline.process_item(item)
    assert stats.get_value("validate/kept") == 1  # type: ignore[attr-defined]
    for reason in ("empty", "list_page", "boilerplate_only"):
        assert stats.get_value(f"validate/dropped/{reason}") == 1  # type: ignore[attr-defined]


def test_pipeline_reads_its_settings() -> None:
    pipeline, _ = make_pipeline(MIN_TEXT_CHARS=5, SHORT_TEXT_CHARS=10)
    item = pipeline.process_item(article(text="六个字的正文"))
    assert item.quality_flags == ["short_body"]
    with pytest.raises(DropItem, match="empty"):
        pipeline.process_item(article(text="四个字"))


def test_other_items_pass_through() -> None:
    pipeline, _ = make_pipeline()
    page = PageItem(url="u", body=b"", site="s", site_name="S", fetched_at="t")
    assert pipeline.process_item(page) is page
