"""``scrapy crawl portal -a url=URL[,URL…]``: a portal with no definition file.

Article links are found by the heuristics of ``crawler.links`` (article URL
shapes of Chinese CMSs, headline-length link texts, repeated list
structures); pagination by ``createPageHTML``, next-page links or
``index_N.html`` numbering.  Output goes to ``OUTPUT_DIR/<host>/``.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from parsel import Selector

from crawler import links
from crawler.spiders.base import BaseNewsSpider


class GenericPortalSpider(BaseNewsSpider):
    name = "portal"
    pagination_style = "auto"

    def __init__(self, *args: Any, url: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not url:
            raise ValueError("the generic spider needs a start URL: scrapy crawl portal -a url=URL")
        urls = [u.strip() for u in url.split(",") if u.strip()]
        bad = [u for u in urls if not re.match(r"^https?://[^/\s]+", u)]
        if bad:
            raise ValueError(f"-a url: not an http(s) URL: {', '.join(bad)}")
        self.start_urls = urls
        hosts = sorted({(urlsplit(u).hostname or "").lower() for u in urls})
        self.allowed_domains = hosts
        self.site = re.sub(r"[^a-z0-9_.-]", "_", hosts[0])
        self.site_name = kwargs.get("site_name") or hosts[0]

    def article_links(
        self, sel: Selector, base_url: str, whole_page: bool = True
    ) -> list[links.Link]:
        return links.heuristic_article_links(sel, base_url, self.allowed_domains)
