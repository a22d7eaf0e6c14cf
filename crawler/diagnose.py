"""Why a request failed, in words a cron mail can act on.

``unreachable_cause`` names the connection-level failures that mean the
portal could not be reached at all (refused, DNS, timeouts, no route, a
``REPLICA_URL`` without a scheme); ``FetchStatsMiddleware`` records the first
one per run with the host and the number of tries (stats
``unreachable/cause``, ``unreachable/failures``, ``unreachable/robots``), and
the run summary turns a run that fetched no page and saw such failures into
"portal unreachable" (exit status ``EXIT_UNREACHABLE``).
"""

from __future__ import annotations

from scrapy import exceptions as scrapy_errors
from twisted.internet import defer
from twisted.internet import error as net

UNREACHABLE_CAUSE_STAT = "unreachable/cause"
UNREACHABLE_FAILURES_STAT = "unreachable/failures"
UNREACHABLE_ROBOTS_STAT = "unreachable/robots"


class BadReplicaURL(net.ConnectError):
    """``REPLICA_URL`` cannot be connected to as written (no ``http://`` scheme)."""


# Checked in order: subclasses before the ConnectError they derive from.
# Scrapy's download handlers wrap some of Twisted's errors in their own.
_CAUSES: tuple[tuple[type[BaseException], str], ...] = (
    (scrapy_errors.DownloadConnectionRefusedError, "connection refused"),
    (scrapy_errors.CannotResolveHostError, "DNS lookup failed"),
    (scrapy_errors.DownloadTimeoutError, "no answer before DOWNLOAD_TIMEOUT"),
    (net.ConnectionRefusedError, "connection refused"),
    (net.DNSLookupError, "DNS lookup failed"),
    (net.TCPTimedOutError, "connection timed out"),
    (net.TimeoutError, "connection timed out"),
    (defer.TimeoutError, "no answer before DOWNLOAD_TIMEOUT"),
    (TimeoutError, "no answer before DOWNLOAD_TIMEOUT"),
    (net.NoRouteError, "no route to host"),
)


def unreachable_cause(exc: BaseException) -> str | None:
    """What kept the request from reaching its host, or None for other failures."""
    if isinstance(exc, BadReplicaURL):
        return str(exc.osError or exc)
    for kind, words in _CAUSES:
        if isinstance(exc, kind):
            return words
    if isinstance(exc, net.ConnectError):
        return "could not connect"
    return None


def describe(cause: str, host: str, tries: int) -> str:
    """``connection refused to www.scfzw.net, 3 tries``."""
    if "REPLICA_URL" in cause:
        where = ""
    else:
        where = f" {'for' if cause.startswith('DNS') else 'to'} {host}"
    return f"{cause}{where}, {tries} {'try' if tries == 1 else 'tries'}"
