"""``scrapy crawl portal -a url=URL[,URL…]``: a portal with no definition file.

Article links are found by the heuristics of ``crawler.links`` (article URL
shapes of Chinese CMSs, headline-length link texts, repeated list
structures); pagination by ``createPageHTML``, next-page links or
``index_N.html`` numbering.  Output goes to ``OUTPUT_DIR/<host>/``.  The
records' ``site_name`` is ``-a site_name=…``, else the site's name in the
first list page's ``<title>`` (its last part: ``社会治理 - 四川法制网`` gives
``四川法制网``), else the host.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from parsel import Selector
from scrapy import Request
from scrapy.http import Response, TextResponse

from crawler import links
from crawler.preflight import GenericArguments
from crawler.spiders.base import BaseNewsSpider

# Separators between a page's own title and the site's name in a <title>.
_TITLE_PARTS = re.compile(r"\s*(?:[-_|–—]+|::)\s*")


class GenericPortalSpider(BaseNewsSpider):
    name = "portal"
    pagination_style = "auto"
    arguments = GenericArguments

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
        self.host = hosts[0]
        # until the first list page names the site (see parse_list)
        self.site_name = kwargs.get("site_name") or ""

    def parse_list(self, response: Response) -> Iterator[Request]:
        if not self.site_name and isinstance(response, TextResponse):
            self.site_name = site_name_from_title(response.css("title::text").get()) or self.host
        yield from super().parse_list(response)

    def article_links(
        self, sel: Selector, base_url: str, whole_page: bool = True
    ) -> list[links.Link]:
        return links.heuristic_article_links(sel, base_url, self.allowed_domains)


def site_name_from_title(title: str | None) -> str:
    """The site's name in a list page title: its last part (``栏目 - 站名``)."""
    parts = [p for p in _TITLE_PARTS.split((title or "").strip()) if p]
    return parts[-1] if parts else ""
