"""Connection-level failures named for the run summary."""

from __future__ import annotations

import pytest
from scrapy import exceptions as scrapy_errors
from twisted.internet import error as net

from crawler.diagnose import BadReplicaURL, describe, unreachable_cause


@pytest.mark.parametrize(
    ("exc", "cause"),
    [
        (scrapy_errors.DownloadConnectionRefusedError("refused"), "connection refused"),
        (scrapy_errors.CannotResolveHostError("no such host"), "DNS lookup failed"),
        (net.DNSLookupError("x"), "DNS lookup failed"),
        (scrapy_errors.DownloadTimeoutError("slow"), "no answer before DOWNLOAD_TIMEOUT"),
        (net.TCPTimedOutError(), "connection timed out"),
        (net.NoRouteError(), "no route to host"),
        (net.ConnectError(), "could not connect"),
        (
            BadReplicaURL(osError="REPLICA_URL 'x:1' has no scheme"),
            "REPLICA_URL 'x:1' has no scheme",
        ),
        (scrapy_errors.ResponseDataLossError("cut"), None),
        (ValueError("other"), None),
    ],
)
def test_unreachable_cause(exc: BaseException, cause: str | None) -> None:
    assert unreachable_cause(exc) == cause


def test_describe() -> None:
    assert describe("connection refused", "www.scfzw.net", 3) == (
        "connection refused to www.scfzw.net, 3 tries"
    )
    assert describe("DNS lookup failed", "a.gov.cn", 1) == "DNS lookup failed for a.gov.cn, 1 try"
    assert describe("REPLICA_URL 'x' has no scheme", "a.gov.cn", 3) == (
        "REPLICA_URL 'x' has no scheme, 3 tries"
    )
