"""robots.txt with an explicit policy for broken files (replaces Scrapy's RobotsTxtMiddleware).

Scrapy obeys what it can parse and allows everything when robots.txt cannot
be fetched.  For small government servers this project is stricter where the
server is in trouble:

========================  ==========================================================
robots.txt answer         policy
========================  ==========================================================
2xx, parsable             obeyed (Protego, Google's rules)
2xx, garbage or empty     nothing is disallowed (the file says nothing) — Scrapy's rule
3xx                       followed (up to REDIRECT_MAX_TIMES), then as above
4xx (404, 403, 410…)      no robots.txt: everything allowed (the de-facto standard)
5xx after retries         host deferred: none of its pages are fetched this run
unreachable / timeout     host deferred (as Nutch and Google do for 5xx)
========================  ==========================================================

``ROBOTSTXT_UNAVAILABLE = "allow"`` restores Scrapy's allow-all behaviour for the
last two rows.  A deferred host is logged once and counted in
``robotstxt/host_deferred``; each page skipped for it in ``robotstxt/deferred``.
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Request, Response
from scrapy.http.request import NO_CALLBACK
from scrapy.robotstxt import RobotParser
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred

from crawler import settings as defaults  # the one place of the defaults

logger = logging.getLogger(__name__)


class HostDeferred(RobotParser):
    """Robot parser for a host whose robots.txt could not be read: nothing is allowed."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    @classmethod
    def from_crawler(cls, crawler: Crawler, robotstxt_body: bytes) -> HostDeferred:
        return cls("not built from a robots.txt body")

    def allowed(self, url: str | bytes, user_agent: str | bytes) -> bool:
        return False


class RobotsPolicyMiddleware(RobotsTxtMiddleware):
    def __init__(self, crawler: Crawler):
        super().__init__(crawler)
        policy = crawler.settings.get("ROBOTSTXT_UNAVAILABLE", defaults.ROBOTSTXT_UNAVAILABLE)
        if policy not in {"defer", "allow"}:
            raise NotConfigured(f"ROBOTSTXT_UNAVAILABLE must be 'defer' or 'allow', not {policy!r}")
        self._defer = policy == "defer"

    def _deferred(self, netloc: str, reason: str) -> HostDeferred:
        self._stats.inc_value("robotstxt/host_deferred")
        logger.warning(
            "robots.txt of %s unavailable (%s): host deferred for this run", netloc, reason
        )
        return HostDeferred(reason)

    async def _parse_robots(self, response: Response, netloc: str, request: Request) -> None:
        if response.status >= 500 and self._defer:
            self._stats.inc_value("robotstxt/response_count")
            self._stats.inc_value(f"robotstxt/response_status_count/{response.status}")
            deferred = self._parsers[netloc]
            assert isinstance(deferred, Deferred)
            self._parsers[netloc] = parser = self._deferred(netloc, f"HTTP {response.status}")
            deferred.callback(parser)
            return
        if 400 <= response.status < 500:
            # No robots.txt: parse an empty file, which allows everything.
            response = response.replace(body=b"")
        await super()._parse_robots(response, netloc, request)

    async def robot_parser(self, request: Request) -> RobotParser | None:
        # Scrapy's version logs a traceback for a robots.txt that times out or is
        # refused; here that is an expected outcome with a policy and one log line.
        url = urlparse_cached(request)
        netloc = url.netloc
        if netloc not in self._parsers:
            self._parsers[netloc] = Deferred()
            robotsreq = Request(
                f"{url.scheme}://{netloc}/robots.txt",
                priority=self.DOWNLOAD_PRIORITY,
                meta={"dont_obey_robotstxt": True},
                callback=NO_CALLBACK,
            )
            try:
                response = await self.crawler.engine.download_async(robotsreq)
                await self._parse_robots(response, netloc, request)
            except Exception as exc:
                if not isinstance(exc, IgnoreRequest):
                    logger.warning("robots.txt of %s could not be fetched: %r", netloc, exc)
                self._robots_error(exc, netloc)
            self._stats.inc_value("robotstxt/request_count")
        parser = self._parsers[netloc]
        if isinstance(parser, Deferred):
            return await maybe_deferred_to_future(parser)
        return parser

    def _robots_error(self, exc: Exception, netloc: str) -> None:
        if not self._defer or isinstance(exc, IgnoreRequest):
            super()._robots_error(exc, netloc)
            return
        self._stats.inc_value(f"robotstxt/exception_count/{type(exc)}")
        deferred = self._parsers[netloc]
        assert isinstance(deferred, Deferred)
        self._parsers[netloc] = parser = self._deferred(netloc, type(exc).__name__)
        deferred.callback(parser)

    def process_request_2(self, rp: Any, request: Request) -> None:
        if isinstance(rp, HostDeferred):
            self._stats.inc_value("robotstxt/deferred")
            raise IgnoreRequest(f"robots.txt unavailable ({rp.reason}): host deferred")
        super().process_request_2(rp, request)
