"""Log lines that name a page by its URL instead of dumping the whole item.

Scrapy's formatter prints a dropped or failed item in full: for a ``PageItem``
that is the page's raw bytes, for an ``ArticleItem`` its whole text.  Here a
dropped item is one line: the reason and the URL.  Set as ``LOG_FORMATTER``.
"""

from __future__ import annotations

from typing import Any

from scrapy import Spider
from scrapy.http import Response
from scrapy.logformatter import LogFormatter, LogFormatterResult
from twisted.python.failure import Failure


def describe(item: Any) -> str:
    url = getattr(item, "url", None)
    return f"<{type(item).__name__} {url}>" if url else repr(item)[:200]


class CompactLogFormatter(LogFormatter):
    def dropped(
        self,
        item: Any,
        exception: BaseException,
        response: Response | Failure | None,
        spider: Spider,
    ) -> LogFormatterResult:
        result = super().dropped(item, exception, response, spider)
        result["msg"] = "Dropped %(item)s: %(exception)s"
        result["args"] = {"item": describe(item), "exception": exception}
        return result

    def item_error(
        self,
        item: Any,
        exception: BaseException,
        response: Response | Failure | None,
        spider: Spider,
    ) -> LogFormatterResult:
        result = super().item_error(item, exception, response, spider)
        result["msg"] = "Error processing %(item)s"
        result["args"] = {"item": describe(item)}
        return result
