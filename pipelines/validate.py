"""Item pipeline: drop records that are not articles, counting why.

A record is dropped (``DropItem(reason)``, stat ``validate/dropped/<reason>``) when

* ``too_large`` — the page passed ``PAGE_MAX_BYTES`` and was not parsed;
* ``garbled_text`` — the text is not language (replacement / control characters,
  rare characters in no real proportion: bytes that are not text);
* ``list_page`` — the page stage flagged a list / index page taken for an article;
* ``links_only`` — the page or its body is link text;
* ``boilerplate_only`` — everything the extractor found was portal boilerplate;
* ``empty`` — the body has fewer than ``MIN_TEXT_CHARS`` characters and the page lists
  no attachments (a notice that is only its files is kept, flagged ``short_body``).

Kept records are counted in ``validate/kept``.  ``rejection_reason`` is the
same decision as a pure function, used by ``python -m crawler extract`` (which
prints rejected records with the reason in ``quality_flags`` instead of dropping
them) and by the tests.

Settings: ``MIN_TEXT_CHARS`` (drop below), ``SHORT_TEXT_CHARS`` (kept, flagged
``short_body`` by the page stage; re-checked here for records made elsewhere).
"""

from __future__ import annotations

from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from crawler import settings as defaults  # the one place of the defaults
from crawler.items import ArticleItem

# Reasons in the order they are checked; each is also a quality flag name.
REASONS = ("too_large", "garbled_text", "list_page", "links_only", "boilerplate_only", "empty")


def rejection_reason(item: ArticleItem, min_chars: int) -> str | None:
    """Why ``item`` is not an article worth keeping, or None when it is."""
    flags = set(item.quality_flags)
    for reason in REASONS[:-1]:
        if reason in flags:
            return reason
    # a notice that is only its files is kept: its text is the attachment list
    if len(item.text or "") < min_chars and not item.attachments:
        return "empty"
    return None


class ValidatePipeline:
    """Drops empty, boilerplate-only and list pages (see the module docstring)."""

    def __init__(self, crawler: Crawler, min_chars: int, short_chars: int) -> None:
        self.stats = crawler.stats
        self.min_chars = min_chars
        self.short_chars = short_chars

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ValidatePipeline:
        settings = crawler.settings
        return cls(
            crawler,
            settings.getint("MIN_TEXT_CHARS", defaults.MIN_TEXT_CHARS),
            settings.getint("SHORT_TEXT_CHARS", defaults.SHORT_TEXT_CHARS),
        )

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, ArticleItem):
            return item
        reason = rejection_reason(item, self.min_chars)
        if reason is not None:
            self.stats.inc_value(f"validate/dropped/{reason}")
            raise DropItem(f"{reason}: {item.url}")
        if len(item.text) < self.short_chars and "short_body" not in item.quality_flags:
            item.quality_flags.append("short_body")
        self.stats.inc_value("validate/kept")
        return item
