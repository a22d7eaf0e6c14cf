"""What a revisit of a known article found: the change classes, as pure functions.

A revisit gives a ``Fetch`` (status, final URL, redirects, or the download error)
and, for a page with a body, the record the page pipeline made of it.
``classify`` compares them with the version on record and answers one of

- ``removed``: status 404, 410 or 451; a redirect to the portal's home page or to
  a list page; a "soft 404" (status 200): a notice phrase of
  ``pipelines/data/removed.toml`` (``页面不存在``, ``信息已删除``…) on a page whose
  text is at most ``phrase_fraction`` of the recorded version's, or, with no
  phrase, a page holding no article (empty, boilerplate, links, a list page)
  whose text is at most ``tiny_fraction`` of the recorded version's;
- ``modified``: a fetched article whose extracted text (``content_hash``),
  title, original title, date or byline fields (source, authors, editors,
  responsible editors) differ from the version on record.  What the extractor
  leaves out (adverts, view counters, sidebars) is no change;
- ``unchanged``: the same record; ``not_modified``: a 304 to a conditional request;
- ``blocked``: a challenge page (``pipelines.challenge``: 瑞数, 加速乐, WAF block
  pages, 请稍候 / 安全验证 interstitials) or a refusal (401, 403, 429);
- ``unreachable``: no response (timeouts, refused connections, DNS), a 5xx after
  the retries, any other status, or a page that cannot be read (garbled, too
  large).

``blocked`` and ``unreachable`` are never ``removed``: a portal that is down or
blocking the crawler says nothing about its articles.  ``restored`` (a removed
article that answers with an article again) is decided by the caller, which
knows the article's last state.

``diff_summary`` gives a short character-level summary of an edit (``difflib``).
"""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from crawler.ids import url_key
from crawler.items import ArticleItem
from pipelines import challenge
from pipelines.validate import rejection_reason

REMOVED = "removed"
MODIFIED = "modified"
RESTORED = "restored"
UNREACHABLE = "unreachable"
BLOCKED = "blocked"
UNCHANGED = "unchanged"
NOT_MODIFIED = "not_modified"
EVENTS = (REMOVED, MODIFIED, RESTORED, UNREACHABLE, BLOCKED)

REMOVED_STATUSES = frozenset({404, 410, 451})
BLOCKED_STATUSES = frozenset({401, 403, 429})
# Record fields compared between versions ("text" stands for its content_hash).
COMPARED_FIELDS = (
    "title",
    "original_title",
    "text",
    "published_at",
    "source",
    "authors",
    "editors",
    "responsible_editors",
)
# Rejections that mean "no article on this page" (others mean "cannot read it").
_NO_ARTICLE = frozenset({"empty", "boilerplate_only", "links_only", "list_page"})
_HOME_PATH = re.compile(r"/?(?:index|default|main|home)?(?:\.(?:s?html?|php|aspx?|jsp))?", re.I)


def _load() -> dict[str, Any]:
    path = resources.files("pipelines").joinpath("data/removed.toml")
    return tomllib.loads(path.read_text(encoding="utf-8"))


_DATA = _load()
SOFT_404_PHRASES: tuple[str, ...] = tuple(_DATA["soft_404"]["phrases"])
TINY_FRACTION = float(_DATA["soft_404"]["tiny_fraction"])
PHRASE_FRACTION = float(_DATA["soft_404"]["phrase_fraction"])
_SOFT_404 = re.compile("|".join(re.escape(p) for p in SOFT_404_PHRASES), re.I)


@dataclass
class Fetch:
    """What a revisit request got."""

    status: int | None  # HTTP status of the final response; None: no response
    url: str  # the final URL (after redirects)
    redirected: bool = False  # a redirect was followed to get here
    location: str | None = None  # Location of a 3xx that was not followed
    error: str | None = None  # the download error (exception name) when no response
    cookies: list[str] = field(default_factory=list)  # the response's Set-Cookie values


@dataclass
class Outcome:
    kind: str  # removed, modified, unchanged, not_modified, blocked, unreachable
    reason: str  # why, for the event and the log ("status 404", "soft 404: 页面不存在")
    changed_fields: list[str]


def challenge_kind(status: int, html: str, cookies: list[str] | None = None) -> str | None:
    """The kind of challenge page a response is (``pipelines.challenge``), or None.

    ``cookies``: the response's ``Set-Cookie`` values.
    """
    return challenge.classify(status, {"Set-Cookie": cookies or []}, html)


def is_home_or_list(url: str, list_urls: list[str]) -> bool:
    """``url`` is a portal's home page or one of its list pages (a column's index)."""
    path = urlsplit(url).path or "/"
    if _HOME_PATH.fullmatch(path):
        return True
    key = url_key(url)
    for list_url in list_urls:
        if url_key(list_url) == key:
            return True
        list_path = urlsplit(list_url).path or "/"
        column = list_path.rsplit("/", 1)[0] + "/"
        if path == column or (
            path.startswith(column) and _HOME_PATH.fullmatch(path[len(column) - 1 :])
        ):
            return True
    return False


def changed_fields(previous: dict[str, Any], record: ArticleItem) -> list[str]:
    """Names of the ``COMPARED_FIELDS`` whose values differ (``text``: by content_hash)."""
    changed = []
    for name in COMPARED_FIELDS:
        if name == "text":
            if previous.get("content_hash") != record.content_hash:
                changed.append(name)
        elif (previous.get(name) or None) != (getattr(record, name) or None):
            changed.append(name)
    return changed


def classify(
    fetch: Fetch,
    record: ArticleItem | None,
    html: str,
    previous: dict[str, Any] | None,
    list_urls: list[str],
    min_chars: int,
) -> Outcome:
    """The outcome of one revisit (see the module docstring).

    ``record``: the page pipeline's record of the response body (None without a
    body); ``html``: the decoded page (for notices and challenges); ``previous``:
    the version on record (None when it could not be read: then an article is
    ``unchanged``, not compared).
    """
    status = fetch.status
    if status is None:
        return Outcome(UNREACHABLE, f"no response ({fetch.error or 'download failed'})", [])
    previous_chars = len((previous or {}).get("text") or "")
    chars = len(record.text or "") if record is not None else 0
    rejected = rejection_reason(record, min_chars) if record is not None else "empty"
    # an article as long as the recorded one is no challenge page, whatever it mentions
    article_like = status == 200 and rejected is None and chars > previous_chars * PHRASE_FRACTION
    challenge = None if article_like else challenge_kind(status, html, fetch.cookies)
    if challenge:
        return Outcome(BLOCKED, f"challenge page ({challenge}), status {status}", [])
    if status == 304:
        return Outcome(NOT_MODIFIED, "status 304", [])
    if status in REMOVED_STATUSES:
        return Outcome(REMOVED, f"status {status}", [])
    if status in BLOCKED_STATUSES:
        return Outcome(BLOCKED, f"status {status}", [])
    if 300 <= status < 400:
        if fetch.location and is_home_or_list(fetch.location, list_urls):
            return Outcome(REMOVED, f"status {status}: redirect to {fetch.location}", [])
        return Outcome(UNREACHABLE, f"status {status}: redirect not followed", [])
    if status != 200 and not 200 <= status < 300:
        return Outcome(UNREACHABLE, f"status {status}", [])
    if fetch.redirected and is_home_or_list(fetch.url, list_urls):
        return Outcome(REMOVED, f"redirect to {fetch.url}", [])
    if record is None:
        return Outcome(UNREACHABLE, "not an HTML page", [])
    notice = None if article_like else _SOFT_404.search(f"{record.title}\n{visible_text(html)}")
    if notice and (rejected in _NO_ARTICLE or chars <= previous_chars * PHRASE_FRACTION):
        return Outcome(REMOVED, f"soft 404: {notice.group(0)}", [])
    if rejected in _NO_ARTICLE and chars <= previous_chars * TINY_FRACTION:
        return Outcome(REMOVED, f"soft 404: no article text ({rejected}, {chars} characters)", [])
    if rejected is not None and rejected not in _NO_ARTICLE:
        return Outcome(UNREACHABLE, f"page unreadable ({rejected})", [])
    if previous is None:
        return Outcome(UNCHANGED, "no version on record to compare", [])
    fields = changed_fields(previous, record)
    if fields:
        return Outcome(MODIFIED, "changed: " + ", ".join(fields), fields)
    return Outcome(UNCHANGED, "same record", [])


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def diff_summary(old: str, new: str, limit: int = 240) -> tuple[str, int]:
    """``(summary, characters changed)`` of an edit from ``old`` to ``new``.

    Paragraphs are aligned first, then the characters of each replaced paragraph
    (``difflib.SequenceMatcher``); the summary names the changed paragraphs with
    what was cut and what was put in, e.g. ``"-2 +2 chars; ¶3: 「20日」→「21日」"``,
    at most ``limit`` characters.
    """
    old_paras = old.split("\n") if old else []
    new_paras = new.split("\n") if new else []
    parts: list[str] = []
    removed_chars = added_chars = 0
    matcher = difflib.SequenceMatcher(None, old_paras, new_paras, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        if tag == "delete":
            removed_chars += sum(len(p) for p in old_paras[i1:i2])
            parts.append(f"¶{i1 + 1}-: 「{_clip(' '.join(old_paras[i1:i2]), 24)}」")
            continue
        if tag == "insert":
            added_chars += sum(len(p) for p in new_paras[j1:j2])
            parts.append(f"¶{j1 + 1}+: 「{_clip(' '.join(new_paras[j1:j2]), 24)}」")
            continue
        before, after = "\n".join(old_paras[i1:i2]), "\n".join(new_paras[j1:j2])
        chars = difflib.SequenceMatcher(None, before, after, autojunk=False)
        cut: list[str] = []
        put: list[str] = []
        for ctag, a1, a2, b1, b2 in chars.get_opcodes():
            if ctag == "equal":
                continue
            removed_chars += a2 - a1
            added_chars += b2 - b1
            if before[a1:a2]:
                cut.append(before[a1:a2])
            if after[b1:b2]:
                put.append(after[b1:b2])
        parts.append(f"¶{j1 + 1}: 「{_clip('…'.join(cut), 20)}」→「{_clip('…'.join(put), 20)}」")
    summary = f"-{removed_chars} +{added_chars} chars"
    if parts:
        summary += "; " + "; ".join(parts)
    return _clip(summary, limit), removed_chars + added_chars


def visible_text(html: str) -> str:
    """The text a reader sees on a page (no scripts or styles), whitespace collapsed."""
    import lxml.html

    try:
        root = lxml.html.document_fromstring(html)
    except (ValueError, lxml.etree.ParserError):
        return ""
    for bad in root.xpath("//script|//style|//noscript"):
        bad.drop_tree()
    return " ".join(root.text_content().split())
