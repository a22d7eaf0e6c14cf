"""URL keys: the fast path for plain URLs gives what w3lib's canonicalization gives."""

from __future__ import annotations

import json

import pytest

from crawler import ids
from crawler.replica.sites import MANIFEST_PATH

TRICKY = [
    "http://www.scfzw.net/shzl/2021-09/02/123.html",
    "https://www.scfzw.net/shzl/2021-09/02/123.html",
    "http://www.scfzw.net",
    "http://www.scfzw.net/",
    "http://www.scfzw.net/a//b.html",
    "http://www.scfzw.net/a/./b.html",
    "http://www.scfzw.net/a/../b.html",
    "http://www.scfzw.net/a/b.html.",
    "http://www.scfzw.net./a",
    "http://a-b.example/~user/x_y.htm",
    "http://127.0.0.1/x",
    "http://WWW.SCFZW.NET/A.html",
    "http://www.scfzw.net:80/a.html",
    "http://www.scfzw.net/a.html?b=2&a=1&utm_source=x",
    "http://www.scfzw.net/a.html#top",
    "http://www.scfzw.net/新闻/1.html",
    "http://www.scfzw.net/a%20b.html",
    "http://www.scfzw.net/a b.html",
    "ftp://www.scfzw.net/a.html",
]


def _manifest_urls() -> list[str]:
    manifest = json.loads(MANIFEST_PATH.read_text(encoding="utf-8"))
    return [a["url"] for p in manifest["portals"].values() for a in p["articles"]]


@pytest.mark.parametrize("url", TRICKY + _manifest_urls())
def test_url_key_fast_path_equals_the_canonical_url(url: str) -> None:
    canon = ids.canonical_url(url)
    expected = canon.split("://", 1)[1] if "://" in canon else canon
    assert ids.url_key(url) == expected
