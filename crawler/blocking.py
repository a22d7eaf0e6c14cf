"""Challenge pages at the downloader: recognised, retried with backoff, never an article.

``ChallengeMiddleware`` (``DOWNLOADER_MIDDLEWARES``, above ``RetryMiddleware`` so it
sees a response first) asks ``pipelines.challenge.classify`` whether a response of a
list or article request (``meta["kind"]``) is a bot wall's page (瑞数, 加速乐, a
WAF block page, a 请稍候 / 安全验证 interstitial).  Such a page

- is counted: ``blocked/<kind>`` for every challenge page received;
- is asked for again up to ``CHALLENGE_RETRY_TIMES`` times, the n-th retry after
  ``CHALLENGE_BACKOFF * 2**(n-1)`` seconds (the request waits; others go on);
- once the retries are spent, is given up on: ``blocked/given_up`` and
  ``blocked/given_up/<kind>`` counted, a warning logged, and the request failed with
  ``PortalBlocked`` (an ``IgnoreRequest``), so the spider never reads the page: no
  record is written and the article is not taken as removed; it is asked for again
  by the next run.  A list page given up on counts as a failed list page
  (``errors/list``), so the next run reads every list page again (catch-up).

The run summary reports the pages given up on and ``scrapy crawl`` exits with
``EXIT_BLOCKED`` (77): "portal is blocking the crawler" (``crawler.extensions``).

Settings: ``CHALLENGE_RETRY_TIMES``, ``CHALLENGE_BACKOFF``.
"""

from __future__ import annotations

import logging
from typing import Self

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response, TextResponse
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.task import deferLater

from pipelines.challenge import classify

logger = logging.getLogger(__name__)

RETRIES_META = "challenge_retries"
# Bot walls answer with these statuses even for a body Scrapy does not take for text.
_WALL_STATUSES = frozenset({202, 403, 412, 503, 521})


class PortalBlocked(IgnoreRequest):
    """A request given up on: every answer was a challenge page of ``kind``."""

    def __init__(self, kind: str, url: str, tries: int) -> None:
        super().__init__(f"{kind} challenge page on {tries} tries: {url}")
        self.kind = kind


def response_text(response: Response) -> str | None:
    """The text ``classify`` reads: the decoded body, or ``None`` for a file download."""
    if isinstance(response, TextResponse):
        return response.text
    if response.status in _WALL_STATUSES:
        return response.body.decode("latin-1")
    return None


class ChallengeMiddleware:
    """Recognises challenge pages, retries them with backoff, then gives up (module doc)."""

    def __init__(self, crawler: Crawler) -> None:
        self.stats = crawler.stats
        self.retry_times = max(0, crawler.settings.getint("CHALLENGE_RETRY_TIMES"))
        self.backoff = max(0.0, crawler.settings.getfloat("CHALLENGE_BACKOFF"))

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    async def process_response(self, request: Request, response: Response) -> Request | Response:
        kind = request.meta.get("kind")
        if kind not in ("list", "article", "article_page", "attachment"):
            return response
        text = response_text(response)
        wall = classify(response.status, response.headers, text) if text is not None else None
        if wall is None:
            return response
        self.stats.inc_value(f"blocked/{wall}")
        tries = int(request.meta.get(RETRIES_META, 0))
        if tries < self.retry_times:
            delay = self.backoff * 2**tries
            logger.info(
                "%s challenge page (HTTP %d) on %s: retry %d of %d in %.1f s",
                wall,
                response.status,
                request.url,
                tries + 1,
                self.retry_times,
                delay,
            )
            if delay:
                from twisted.internet import reactor  # the crawl's reactor, installed by now

                await maybe_deferred_to_future(deferLater(reactor, delay, lambda: None))
            retry = request.replace(dont_filter=True)
            retry.meta[RETRIES_META] = tries + 1
            self.stats.inc_value("blocked/retries")
            return retry
        self.stats.inc_value("blocked/given_up")
        self.stats.inc_value(f"blocked/given_up/{wall}")
        self.stats.inc_value(f"errors/{kind}")
        logger.warning(
            "portal is blocking the crawler: %s challenge page (HTTP %d) on %s after %d "
            "retr%s; not read",
            wall,
            response.status,
            request.url,
            tries,
            "y" if tries == 1 else "ies",
        )
        raise PortalBlocked(wall, request.url, tries + 1)
