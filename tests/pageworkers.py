"""A page function for worker-pool tests (importable by spawned worker processes)."""

from __future__ import annotations

import os
import time

from crawler.items import ArticleItem, PageItem
from crawler.page import process_page


def slow_on_request(page: PageItem, **limits: int) -> ArticleItem:
    """``process_page``, but a URL containing ``/hang`` never finishes and ``/die`` kills."""
    if "/hang" in page.url:
        time.sleep(600)
    if "/die" in page.url:
        os._exit(1)
    return process_page(page, **limits)
