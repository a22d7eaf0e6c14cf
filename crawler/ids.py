"""Identifiers shared by the crawl, the dedup stage and the offline commands."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from urllib.parse import urlsplit, urlunsplit

from w3lib.url import canonicalize_url

# Query parameters that only track the reader; dropped from canonical URLs.
_TRACKING = re.compile(r"^(utm_[a-z]+|spm|from|source|isappinstalled|share_token)$", re.I)

# What the dedup stage ignores when it compares texts: whitespace and punctuation
# (Unicode categories P*, S* and Z*), so a reprint with other quote marks or
# spacing hashes the same.
_STRIP_CATEGORIES = ("P", "S", "Z", "C")


def canonical_url(url: str) -> str:
    """The URL with sorted query, no fragment, no tracking parameters, lower-case host."""
    canon = canonicalize_url(url, keep_fragments=False)
    parts = urlsplit(canon)
    query = "&".join(
        kv for kv in parts.query.split("&") if kv and not _TRACKING.match(kv.split("=", 1)[0])
    )
    netloc = parts.netloc.lower()
    if (parts.scheme == "http" and netloc.endswith(":80")) or (
        parts.scheme == "https" and netloc.endswith(":443")
    ):
        netloc = netloc.rsplit(":", 1)[0]
    return urlunsplit((parts.scheme, netloc, parts.path or "/", query, ""))


# URLs canonical_url returns unchanged: http(s), a lower-case host without port, a path
# of unreserved characters only and no dot segments, no query, no fragment (most
# article URLs).  The check
# is 20 times cheaper than w3lib's canonicalize_url (tested equal on both kinds).
_PLAIN_URL = re.compile(r"https?://[a-z0-9.-]+(?!.*/\.\.?(?:/|$))(/[A-Za-z0-9._~/-]*)?")


def url_key(url: str) -> str:
    """The canonical URL without its scheme: http and https copies are one page."""
    if _PLAIN_URL.fullmatch(url):
        rest = url.split("://", 1)[1]
        return rest if "/" in rest else rest + "/"
    canon = canonical_url(url)
    return canon.split("://", 1)[1] if "://" in canon else canon


def record_id(url: str) -> str:
    """Stable record id: 16 hex digits of SHA-1 of ``url_key(url)``."""
    return hashlib.sha1(url_key(url).encode("utf-8")).hexdigest()[:16]


def comparable_text(text: str) -> str:
    """Any input text in the form the page pipeline writes: simplified script, NFKC.

    Records written by the crawl are already in that form (unchanged here); JSONL
    from elsewhere may be traditional script, carry converter pinyin or full-width
    forms.  The same functions as the crawl's: ``pipelines.script.strip_pinyin``
    and ``to_simplified`` (only when the text has traditional-only characters),
    then NFKC.
    """
    from pipelines.script import strip_pinyin, to_simplified

    text, _ = strip_pinyin(text)
    text, _ = to_simplified(text)
    # is_normalized is a quick check (0.2 us on 2,000 characters, against 0.3 ms for
    # normalize, which does not short-cut): crawled text is already NFKC.
    return text if unicodedata.is_normalized("NFKC", text) else unicodedata.normalize("NFKC", text)


def dedup_text(text: str) -> str:
    """The text as the dedup stage compares it: ``comparable_text``, no punctuation or spaces."""
    text = comparable_text(text)
    return "".join(ch for ch in text if unicodedata.category(ch)[0] not in _STRIP_CATEGORIES)


def content_hash(text: str) -> str:
    """SHA-1 (hex) of ``dedup_text(text)``: equal for exact reprints."""
    return hashlib.sha1(dedup_text(text).encode("utf-8")).hexdigest()
