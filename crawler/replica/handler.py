"""Download handler that sends real-portal requests to the offline replica.

Turned on by the ``REPLICA_URL`` setting (``scrapy crawl SITE -s
REPLICA_URL=http://127.0.0.1:8000``): portal spiders install it for ``http``
and ``https`` in ``update_settings``.  A request for
``http(s)://<host>/<path>?<query>`` is fetched from
``REPLICA_URL/<host>/<path>?<query>`` and the response is handed back under the
request's own URL.  Working below the middlewares keeps everything above it
real: offsite rules, robots.txt (fetched per real host), per-domain slots and
politeness, redirects (the replica answers with real-world ``Location`` URLs)
and the URLs written in records.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from scrapy import Request
from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response

from crawler.diagnose import BadReplicaURL


def replica_url_for(url: str, replica: str) -> str:
    """``http(s)://host/path?q`` -> ``REPLICA/host/path?q``."""
    parts = urlsplit(url)
    path = parts.path or "/"
    query = f"?{parts.query}" if parts.query else ""
    return f"{replica.rstrip('/')}/{parts.netloc}{path}{query}"


class ReplicaDownloadHandler(HTTP11DownloadHandler):
    """HTTP/1.1 handler that fetches every URL from the replica at ``REPLICA_URL``."""

    def __init__(self, crawler: Crawler):
        replica = crawler.settings.get("REPLICA_URL")
        if not replica:
            raise NotConfigured("REPLICA_URL is not set")
        super().__init__(crawler)
        self._replica = str(replica)

    async def download_request(self, request: Request) -> Response:
        if not self._replica.startswith(("http://", "https://")):
            raise BadReplicaURL(
                osError=f"REPLICA_URL {self._replica!r} has no scheme (write http://{self._replica})"
            )
        routed = request.replace(url=replica_url_for(request.url, self._replica))
        response = await super().download_request(routed)
        return response.replace(url=request.url)


def install(settings: object, replica: str) -> None:
    """Point the http and https handlers of ``settings`` at the replica."""
    from scrapy.settings import BaseSettings

    assert isinstance(settings, BaseSettings)
    handler = f"{ReplicaDownloadHandler.__module__}.{ReplicaDownloadHandler.__qualname__}"
    settings.set(
        "DOWNLOAD_HANDLERS",
        {"http": handler, "https": handler},
        priority="cmdline",
    )
