"""The spider shared by every portal: it only routes.

List pages give article links and the next list page; article pages are
yielded as ``PageItem`` (the raw bytes) for the item pipelines to read.  What a
page *says* is read by ``crawler.page``, never here.

Request ``meta`` set by these spiders (read by middlewares and pipelines):

- ``kind``: ``"list"`` or ``"article"``
- ``list_page``: 1-based position of a list page in its pagination chain
- ``start_url``: the start URL a list page's chain began at
- ``list_title``: an article link's text on the list page
- ``list_date``: the date the list page shows beside that link (``YYYY-MM-DD``), if any

An article split over several pages (``t20200716_123456.html``, ``…_1.html``, …: see
``pipelines.multipage``) is fetched page after page in order (``kind``
``"article_page"``, the ``PageItem`` so far in ``meta["article"]``) and yielded once,
with every further page's body in ``more_pages``; a further page that fails is
named in ``missing_pages`` (stats ``multipage/missing``) and the pages after it
are still fetched; one given up on as a challenge page (``crawler.blocking``) drops
the article from this run (``multipage/blocked``), so it is fetched whole next run.
Stats ``multipage/articles``, ``multipage/pages``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import scrapy
from parsel import Selector
from scrapy.http import Response, TextResponse
from scrapy.settings import BaseSettings
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from crawler import jpage, links
from crawler.blocking import PortalBlocked
from crawler.items import PageItem, RevisitPage
from crawler.portals import Portal
from crawler.preflight import PortalArguments
from crawler.revisit import revisit_failure, revisit_page
from pipelines.multipage import continuation_urls, further_pages, page_number

CHINA_TZ = ZoneInfo("Asia/Shanghai")
# the next list page before the articles a list page names: a portal's list pages form
# a chain (each names the next) that no number of workers shortens, so on a shared
# Redis queue (first in, first out within a priority) it must not wait behind articles
NEXT_LIST_PRIORITY = 1


def now_china() -> str:
    """The current time as ISO 8601 in China time, seconds precision."""
    return datetime.now(CHINA_TZ).isoformat(timespec="seconds")


def is_page_type(content_type: str | None) -> bool:
    """A Content-Type the page pipeline reads (HTML, XML, plain text), or none given."""
    return not content_type or any(t in content_type.lower() for t in ("html", "xml", "text/plain"))


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


class BaseNewsSpider(scrapy.Spider):
    """Routing shared by portal spiders and the generic spider.

    Arguments (``-a``): ``since=YYYY-MM-DD`` keeps only articles published on
    or after that day; ``full=1`` recrawls everything (output still
    deduplicated); ``max_pages=N`` caps list pages per start URL; ``revisit=1``
    also requests known articles that are due (``crawler.revisit``).
    """

    site: str = ""  # the output directory and record ``site`` (the crawl name)
    site_name: str = ""
    pagination_style: ClassVar[str] = "auto"
    next_texts: ClassVar[tuple[str, ...]] = links.NEXT_TEXTS
    next_css: ClassVar[tuple[str, ...]] = ()
    max_pages: int = 50
    max_articles: int = 0
    charset: ClassVar[str | None] = None
    selectors: ClassVar[dict[str, Any]] = {}
    # the -a arguments ``scrapy crawl`` accepts (checked before the crawl starts)
    arguments: ClassVar[type[PortalArguments]] = PortalArguments

    def __init__(
        self,
        *args: Any,
        since: str | None = None,
        full: str | None = None,
        max_pages: str | None = None,
        revisit: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.since: str | None = self._check_since(since)
        self.full: bool = _truthy(full) if full is not None else False
        self.revisit: bool = _truthy(revisit) if revisit is not None else False
        if max_pages is not None:
            self.max_pages = int(max_pages)
        self._articles_requested = 0

    @staticmethod
    def _check_since(since: str | None) -> str | None:
        if since is None:
            return None
        try:
            return datetime.strptime(since, "%Y-%m-%d").date().isoformat()
        except ValueError:
            raise ValueError(f"-a since={since!r}: expected a date as YYYY-MM-DD") from None

    @classmethod
    def update_settings(cls, settings: BaseSettings) -> None:
        super().update_settings(settings)
        # A contact set for this run (above the project's priority) goes into the
        # User-Agent, unless the User-Agent itself was set at that level or higher.
        contact_priority = settings.getpriority("CRAWLER_CONTACT") or 0
        template = settings.get("USER_AGENT_TEMPLATE")
        if template and contact_priority > (settings.getpriority("USER_AGENT") or 0):
            contact = str(settings.get("CRAWLER_CONTACT")).strip()
            settings.set("USER_AGENT", str(template).format(contact=contact), contact_priority)
        replica = settings.get("REPLICA_URL")
        if replica:
            from crawler.replica.handler import install

            install(settings, str(replica))

    def start_list_urls(self) -> list[str]:
        return list(self.start_urls)

    async def start(self) -> AsyncIterator[Any]:
        for url in self.start_list_urls():
            yield scrapy.Request(
                url,
                callback=self.parse_list,
                errback=self.on_error,
                meta={"kind": "list", "list_page": 1, "start_url": url},
            )

    def on_error(self, failure: Failure) -> None:
        """A request that failed for good (after retries): one log line, counted by kind."""
        if failure.check(PortalBlocked):  # counted and logged by ChallengeMiddleware
            return
        request = getattr(failure, "request", None)
        url = request.url if request is not None else "?"
        kind = request.meta.get("kind", "page") if request is not None else "page"
        name = type(failure.value).__name__
        self.crawler.stats.inc_value(f"spider/failed/{kind}")
        self.crawler.stats.inc_value(f"spider/failed/{name}")
        if isinstance(failure.value, HttpError):
            status = failure.value.response.status
            self.logger.warning("HTTP %d for %s page: %s", status, kind, url)
            return
        self.logger.warning("download failed: %s: %s: %s", url, name, failure.getErrorMessage())

    # -- list pages --------------------------------------------------------
    def article_links(
        self, sel: Selector, base_url: str, whole_page: bool = True
    ) -> list[links.Link]:
        """Article links of a list page (``whole_page`` False: of Hanweb jpage entries)."""
        raise NotImplementedError

    def parse_list(self, response: Response) -> Iterator[scrapy.Request]:
        if not isinstance(response, TextResponse):
            self.logger.warning("list page is not text: %s", response.url)
            return
        config: jpage.JpageConfig | None = response.meta.get("jpage")
        if config is None and self.pagination_style in ("hanweb_jpage", "auto"):
            scripts = " ".join(response.css("script::text").getall())
            config = jpage.find_config(scripts, response.url)
            if config is None and self.pagination_style == "hanweb_jpage":
                self.crawler.stats.inc_value("pagination/jpage_not_found")
                self.logger.warning("no Hanweb jpage list set-up on %s", response.url)
        if config is not None:
            found = jpage.records_selector(response.text)
            found_links = self.article_links(found, config.page_url, whole_page=False)
        else:
            found_links = self.article_links(response.selector, response.url)
        yield from self._article_requests(found_links)
        page = int(response.meta.get("list_page", 1))
        if page >= self.max_pages:
            self.crawler.stats.inc_value("pagination/max_pages_reached")
            return
        start_url = response.meta.get("start_url", response.url)
        if config is not None:
            yield from self._jpage_next(response, config, page, start_url)
            return
        nxt = links.next_page(
            response.selector, response.url, self.pagination_style, self.next_texts, self.next_css
        )
        if nxt and nxt != response.url:
            yield scrapy.Request(
                nxt,
                callback=self.parse_list,
                errback=self.on_error,
                priority=NEXT_LIST_PRIORITY,
                meta={"kind": "list", "list_page": page + 1, "start_url": start_url},
            )

    def _jpage_next(
        self, response: TextResponse, config: jpage.JpageConfig, page: int, start_url: str
    ) -> Iterator[scrapy.Request]:
        """The POST for the next block of a Hanweb jpage list (module ``crawler.jpage``)."""
        count = len(jpage.records(response.text))
        if "jpage" in response.meta:  # a dataproxy answer: its total, and where it ended
            config = config.with_total(jpage.total_of(response.text))
            fetched = int(response.meta["jpage_end"]) if count else -1
        else:
            fetched = config.embedded
        if fetched < 0:
            return  # an answer with no entry: the list has ended
        span = jpage.next_range(config, fetched)
        if span is None:
            return
        yield scrapy.FormRequest(
            config.request_url(*span),
            formdata=config.formdata(),
            callback=self.parse_list,
            errback=self.on_error,
            priority=NEXT_LIST_PRIORITY,
            meta={
                "kind": "list",
                "list_page": page + 1,
                "start_url": start_url,
                "jpage": config,
                "jpage_end": span[1],
            },
        )

    def _article_requests(self, found: list[links.Link]) -> Iterator[scrapy.Request]:
        for link in found:
            if self.max_articles and self._articles_requested >= self.max_articles:
                break
            self._articles_requested += 1
            yield scrapy.Request(
                link.url,
                callback=self.parse_article,
                errback=self.on_error,
                meta={"kind": "article", "list_title": link.text or None, "list_date": link.date},
            )

    # -- article pages -------------------------------------------------------
    def page_item(self, response: Response) -> PageItem | None:
        """The ``PageItem`` of an article page (its first page only), or None for a file."""
        content_type = response.headers.get(b"Content-Type")
        ctype = content_type.decode("latin-1") if content_type else None
        if not is_page_type(ctype):
            self.crawler.stats.inc_value("spider/skipped_not_html")
            self.logger.info("not an HTML page (%s): %s", ctype, response.url)
            return None
        return PageItem(
            url=response.url,
            body=response.body,
            site=self.site or self.name,
            site_name=self.site_name or self.name,
            fetched_at=now_china(),
            content_type=ctype,
            charset=self.charset,
            selectors=dict(self.selectors),
            list_title=response.meta.get("list_title"),
            archive=response.meta.get("archive"),
        )

    def parse_article(self, response: Response) -> Iterator[PageItem | scrapy.Request]:
        item = self.page_item(response)
        if item is None:
            return
        more = (
            continuation_urls(response.selector.root, response.url)
            if isinstance(response, TextResponse)
            else []
        )
        if not more:
            yield item
            return
        self.crawler.stats.inc_value("multipage/articles")
        yield self._article_page(item, more)

    def _article_page(self, item: PageItem, pending: list[str]) -> scrapy.Request:
        return scrapy.Request(
            pending[0],
            callback=self.parse_article_page,
            errback=self.article_page_failed,
            meta={"kind": "article_page", "article": item, "pending": pending[1:]},
        )

    def _after_page(self, item: PageItem, pending: list[str]) -> Iterator[Any]:
        yield self._article_page(item, pending) if pending else item

    def parse_article_page(self, response: Response) -> Iterator[Any]:
        """A further page of a multi-page article: its body joins the article's."""
        item: PageItem = response.meta["article"]
        item.more_pages.append((response.url, response.body))
        self.crawler.stats.inc_value("multipage/pages")
        pending = list(response.meta["pending"])
        if isinstance(response, TextResponse):
            # a pager showing only 下一页 (or a window of numbers) names pages the first did not
            known = {item.url, *pending, *item.missing_pages, *(u for u, _ in item.more_pages)}
            found = further_pages(response.selector.root, response.url, item.url)
            pending += [u for u in found if u not in known]
            pending.sort(key=lambda u: page_number(u, item.url) or 0)
        yield from self._after_page(item, pending)

    def article_page_failed(self, failure: Failure) -> Iterator[Any]:
        """A further page that could not be fetched: named in the record, the rest go on."""
        request = failure.request  # type: ignore[attr-defined]
        item: PageItem = request.meta["article"]
        if failure.check(PortalBlocked):
            # a wall, not a missing page: no half article; the next run asks again
            self.crawler.stats.inc_value("multipage/blocked")
            self.logger.warning(
                "%s not written: its page %s was answered only with challenge pages",
                item.url,
                request.url,
            )
            return
        item.missing_pages.append(request.url)
        self.crawler.stats.inc_value("multipage/missing")
        self.logger.warning(
            "page %s of %s is missing (%s): the record says so (flag page_missing)",
            request.url,
            item.url,
            failure.getErrorMessage() or type(failure.value).__name__,
        )
        yield from self._after_page(item, list(request.meta["pending"]))

    # -- revisits of known articles (crawler.revisit) ----------------------------------
    def parse_revisit(self, response: Response) -> Iterator[RevisitPage]:
        # the first page alone: a multi-page article's further pages are not revisited
        page = self.page_item(response) if response.body else None
        yield revisit_page(response, page)

    def on_revisit_error(self, failure: Failure) -> Iterator[RevisitPage]:
        """A revisit that got no response: an ``unreachable`` outcome, not a failed page."""
        page = revisit_failure(failure)
        if page is not None:
            yield page


class PortalSpider(BaseNewsSpider):
    """A spider driven by a portal definition (``seeds/<name>.toml``)."""

    portal: ClassVar[Portal]

    def article_links(
        self, sel: Selector, base_url: str, whole_page: bool = True
    ) -> list[links.Link]:
        portal = self.portal
        return links.portal_article_links(
            sel,
            base_url,
            portal.article_patterns,
            portal.deny_patterns,
            portal.links.restrict_css if whole_page else (),
        )


def portal_spider_class(portal: Portal) -> type[PortalSpider]:
    """A ``PortalSpider`` subclass for ``scrapy crawl <portal.name>``."""
    selectors = {k: v for k, v in portal.selectors.model_dump().items() if v}
    attrs: dict[str, Any] = {
        "__module__": __name__,
        "__doc__": f"{portal.display_name}: crawl {', '.join(portal.start_urls)}",
        "name": portal.name,
        "site": portal.name,
        "site_name": portal.display_name,
        "portal": portal,
        "allowed_domains": list(portal.allowed_domains),
        "start_urls": list(portal.start_urls),
        "pagination_style": portal.pagination.style,
        "next_texts": tuple(portal.pagination.next_text),
        "next_css": tuple(portal.pagination.next_css),
        "max_pages": portal.pagination.max_pages,
        "max_articles": portal.limits.max_articles,
        "charset": portal.charset,
        "selectors": selectors,
    }
    class_name = "".join(part.capitalize() for part in portal.name.split("_")) + "Spider"
    return type(class_name, (PortalSpider,), attrs)
