"""The page pipeline: one fetched page in, one record out, no Scrapy engine.

``process_page`` is pure and its input and output are picklable, so
``pipelines.page.PagePipeline`` runs it in worker processes and
``python -m crawler extract`` runs it on saved files.  Steps::

    charset.decode_html → mojibake.repair_mojibake → script.strip_pinyin
    → script.detect_script → script.to_simplified      (on the whole HTML text)
    → parse once (lxml) → title → extract.extract_body → metadata.extract_metadata
    → normalize → ArticleItem (+ fixes of every stage, quality flags)

Quality flags set here (the date flags come from ``pipelines.metadata``):

* ``template_placeholders`` — ``XX省``, ``20xx年``, ``X万个``, ``××`` in the text;
* ``truncated_preview`` — a paywall / preview / advert tail was cut;
* ``list_page`` — no byline, at least ten link lines, and the "body" is short or
  made of those links (an index page taken for an article);
* ``boilerplate_only`` — under ``MIN_TEXT_CHARS`` left after the boilerplate rules
  removed more than twice as much;
* ``short_body`` — under ``SHORT_TEXT_CHARS`` characters (kept);
* ``too_large`` — the page's bytes pass ``PAGE_MAX_BYTES`` (after inline ``data:``
  payloads, base64 images pasted into the editor, are cut) or its tags pass
  ``PAGE_MAX_ELEMENTS``: not parsed at all, so memory and time per page stay
  bounded (both grow with the elements, see ``bench/faults.py``); the record is empty;
* ``links_only`` — the page or its body is link text (an index of links, a link
  farm): no article;
* ``garbled_text`` — the text is mostly replacement or control characters, or its
  Chinese characters are rare ones in a proportion no language has (bytes that are
  not text, or decoded with the wrong codec; see ``charset.looks_garbled``);
* ``text_truncated`` — the text was cut at ``TEXT_MAX_CHARS`` characters, at a
  paragraph end (kept).

``pipelines.validate`` drops ``list_page``, ``boilerplate_only``, ``too_large``,
``links_only``, ``garbled_text`` and empty records.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from crawler.ids import content_hash, record_id
from crawler.items import ArticleItem, Attachment, PageItem, Xxgk
from crawler.settings import (
    MIN_TEXT_CHARS,
    PAGE_MAX_BYTES,
    PAGE_MAX_ELEMENTS,
    SHORT_TEXT_CHARS,
    TEXT_MAX_CHARS,
)
from pipelines.attachments import (
    attachment_lines,
    find_attachments,
    merge,
    without_label_lines,
)
from pipelines.charset import decode_html, looks_garbled, strip_inline_data
from pipelines.dates import CHINA_TZ
from pipelines.dom import Line, linearize, parse_html
from pipelines.extract import body_start, extract_body, paywall_after_body
from pipelines.metadata import extract_metadata, meta_tags
from pipelines.mojibake import repair_mojibake
from pipelines.multipage import drop_pager
from pipelines.normalize import normalize_paragraphs, normalize_text
from pipelines.script import detect_script, strip_pinyin, to_simplified
from pipelines.title import extract_title, headline_lines
from pipelines.xxgk import read_xxgk

# Template placeholders of speech/report templates: XX省, 20xx年, X万个, ××.
_PLACEHOLDER = re.compile(
    r"(?<![A-Za-z])(?:[Xx]{2,3}|×{2,}|[○〇]{2,}(?=[省市县区局]))"
    r"(?=[\u4e00-\u9fff“”《》])"
    r"|(?<=[\u4e00-\u9fff《“])(?:[Xx]{2,3}|×{2,})(?![A-Za-z])"
    r"|(?<!\d)[12]\d[Xx]{2}\s*年|(?<![A-Za-z\d])[Xx]\s*[万千百亿](?=[\u4e00-\u9fff])"
)
CHINA_OFFSET = timedelta(hours=8)
# A list line: a link title followed by a date (or nothing).
_LIST_DATE_TAIL = re.compile(r"[\[(]?\s*(?:19|20)\d{2}[-/.]\d{1,2}[-/.]\d{1,2}\s*[\])]?$")


def full_timestamp(value: str | None, precision: str | None) -> tuple[str | None, str | None]:
    """``(published_at, published_precision)`` of the record: always a full timestamp.

    The metadata stage gives ``YYYY-MM-DD`` for a day-only date; the record
    writes it at midnight China time with precision ``day``, so the column has
    one type (a timestamp with its offset) in every record.
    """
    if not value:
        return None, None
    if len(value) == 10:  # YYYY-MM-DD
        return f"{value}T00:00:00+08:00", "day"
    when = datetime.fromisoformat(value)
    if when.utcoffset() != CHINA_OFFSET:  # a meta tag's own zone: one offset per column
        value = when.astimezone(CHINA_TZ).isoformat(timespec="seconds")
    return value, precision or "second"


def _dedupe(items: list[str]) -> list[str]:
    return list(dict.fromkeys(i for i in items if i))


def has_placeholders(text: str) -> bool:
    """Template placeholders (``XX省``, ``20xx年``, ``X万个``, ``××``) in the text."""
    return bool(_PLACEHOLDER.search(text))


def looks_like_list(lines: list[Line], paragraphs: list[str], has_byline: bool) -> bool:
    """A list / index page taken for an article: link lines dominate, text per block is short."""
    if has_byline:
        return False
    link_lines = [ln for ln in lines if ln.link_chars >= 6 and ln.link_chars >= len(ln.text) * 0.5]
    if len(link_lines) < 10:
        return False
    anchors = {_LIST_DATE_TAIL.sub("", ln.text).strip() for ln in link_lines}
    if sum(len(p) for p in paragraphs) < MIN_TEXT_CHARS:
        return True
    linked = sum(1 for p in paragraphs if _LIST_DATE_TAIL.sub("", p).strip() in anchors)
    total = sum(len(p) for p in paragraphs)
    mean = total / len(paragraphs)
    return linked >= len(paragraphs) * 0.5 or (len(paragraphs) >= 8 and mean < 30)


def links_only(lines: list[Line], paragraphs: list[str]) -> bool:
    """The page's text is links with no article's worth outside them, or its body is made
    of link lines."""
    linked = sum(ln.link_chars for ln in lines)
    if linked >= MIN_TEXT_CHARS and sum(len(ln.text) for ln in lines) - linked < MIN_TEXT_CHARS:
        return True
    link_lines = {ln.text for ln in lines if ln.link_chars >= len(ln.text) * 0.8}
    total = sum(len(p) for p in paragraphs)
    return total > 0 and sum(len(p) for p in paragraphs if p in link_lines) >= total * 0.8


def cap_text(text: str, max_chars: int) -> tuple[str, bool]:
    """``text`` cut to ``max_chars`` characters at a paragraph end (inside the first, if
    it alone is longer); whether it was cut."""
    if len(text) <= max_chars:
        return text, False
    end = text.rfind("\n", 0, max_chars + 1)
    return text[: end if end > 0 else max_chars], True


def _unread(page: PageItem, flag: str, fixes: list[str]) -> ArticleItem:
    """The record of a page that is not parsed: empty, with the reason as its flag."""
    return ArticleItem(
        id=record_id(page.url),
        url=page.url,
        site=page.site,
        site_name=page.site_name,
        title=None,
        original_title=None,
        published_at=None,
        published_precision=None,
        source=None,
        authors=[],
        editors=[],
        responsible_editors=[],
        text="",
        content_hash=content_hash(""),
        fetched_at=page.fetched_at,
        encoding=None,
        original_script="simplified",
        quality_flags=[flag],
        fixes=fixes,
        pages=[page.url],
    )


def count_elements(body: bytes) -> int:
    """Start tags (and comments) in ``body``: every ``<`` not followed by ``/``."""
    return body.count(b"<") - body.count(b"</")


def process_page(
    page: PageItem,
    *,
    max_bytes: int = PAGE_MAX_BYTES,
    max_elements: int = PAGE_MAX_ELEMENTS,
    max_chars: int = TEXT_MAX_CHARS,
) -> ArticleItem:
    """Decode, repair, extract and describe one fetched page.

    The limits are the ``PAGE_MAX_BYTES``, ``PAGE_MAX_ELEMENTS`` and ``TEXT_MAX_CHARS``
    settings: a bigger page is not parsed (flag ``too_large``), a longer text is cut.
    """
    fixes: list[str] = []
    raw = page.body
    if len(raw) > max_bytes:
        raw, found = strip_inline_data(raw)
        fixes += found
    if len(raw) > max_bytes or count_elements(raw) > max_elements:
        return _unread(page, "too_large", fixes)
    html, encoding, original_script = _decoded(raw, page, fixes)

    tree = parse_html(html)
    meta = meta_tags(tree)
    # the 信息公开 block and the pager leave the tree before any line is read
    attachments = find_attachments(tree, page.url)
    xxgk = read_xxgk(tree, meta)
    drop_pager(tree, page.url)
    lines = linearize(tree)
    title = extract_title(
        tree, meta, page.selectors, page.site_name, headline_lines(lines, body_start(lines))
    )
    body = extract_body(tree, selectors=page.selectors, title=title, lines=lines)
    md = extract_metadata(
        tree,
        url=page.url,
        fetched_at=page.fetched_at,
        lines=lines,
        paragraphs=body.with_credits,
        meta_lines=body.meta_lines,
        selectors=page.selectors,
        site_name=page.site_name,
        title=title,
        meta=meta,
    )
    paragraphs = list(body.paragraphs)
    for url, more in page.more_pages:
        more_paragraphs, more_attachments = _continuation(url, more, page, title, fixes)
        paragraphs += more_paragraphs
        attachments = merge(attachments, more_attachments)
    if attachments:
        paragraphs = without_label_lines(paragraphs)
    text, truncated = cap_text(normalize_paragraphs(paragraphs), max_chars)
    # A notice that is only its files (its own words under MIN_TEXT_CHARS): the list of
    # attachments, as the page names them, is part of its text, so it is kept (not
    # dropped as empty) and two notices of one office differ by what they publish.
    files_are_text = bool(attachments) and len(text) < MIN_TEXT_CHARS
    if files_are_text:
        listed = normalize_paragraphs(attachment_lines(attachments))
        text, truncated = cap_text("\n".join(t for t in (text, listed) if t), max_chars)

    flags = list(md.flags)
    if page.missing_pages:
        flags.append("page_missing")
    if truncated:
        flags.append("text_truncated")
    if links_only(lines, body.paragraphs):
        flags.append("links_only")
    if looks_garbled(text):
        flags.append("garbled_text")
    if has_placeholders(text):
        flags.append("template_placeholders")
    if body.truncated or paywall_after_body(lines, body.paragraphs):
        flags.append("truncated_preview")
    if looks_like_list(lines, body.paragraphs, md.has_byline):
        flags.append("list_page")
    if files_are_text:
        flags.append("short_body")
    elif len(text) < MIN_TEXT_CHARS and body.raw_chars > max(len(text), 1) * 2:
        flags.append("boilerplate_only")
    elif 0 < len(text) < SHORT_TEXT_CHARS:
        flags.append("short_body")
    if "\ufffd" in text and "lost_bytes" not in fixes:
        fixes.append("lost_bytes")

    original_title = body.original_title or md.original_title
    published_at, published_precision = full_timestamp(md.published_at, md.published_precision)
    xxgk_date = xxgk["published_at"] or xxgk["written_at"]
    if xxgk_date and (published_at is None or "date_from_url" in flags):
        # the 信息公开 block's 发布日期 (成文日期) is the page's own date
        published_at, published_precision = full_timestamp(xxgk_date, "day")
        flags = [f for f in flags if f not in ("no_date", "date_from_url")]
    return ArticleItem(
        id=record_id(page.url),
        url=page.url,
        site=page.site,
        site_name=page.site_name,
        title=normalize_text(md.title) if md.title else None,
        original_title=normalize_text(original_title) if original_title else None,
        published_at=published_at,
        published_precision=published_precision,
        source=md.source or xxgk["publisher"],
        authors=md.authors,
        editors=md.editors,
        responsible_editors=md.responsible_editors,
        text=text,
        content_hash=content_hash(text),
        fetched_at=page.fetched_at,
        encoding=encoding,
        original_script=original_script,
        quality_flags=_dedupe(flags),
        fixes=_dedupe(fixes),
        archive=page.archive,
        pages=[page.url] + [url for url, _ in page.more_pages],
        attachments=[
            Attachment(url=a["url"], name=a["name"], ext=a["ext"], sha256=None, path=None)
            for a in attachments
        ],
        xxgk=Xxgk(
            index_no=xxgk["index_no"],
            publisher=xxgk["publisher"],
            written_at=xxgk["written_at"],
            published_at=xxgk["published_at"],
            doc_no=xxgk["doc_no"],
            category=xxgk["category"],
            validity=xxgk["validity"],
        ),
    )


def _decoded(raw: bytes, page: PageItem, fixes: list[str]) -> tuple[str, str | None, str]:
    """Decoded, repaired, simplified HTML of one page; its codec and its own script."""
    decoded = decode_html(raw, page.content_type, page.charset)
    fixes += decoded.fixes
    html, found = repair_mojibake(decoded.text)
    fixes += found
    html, found = strip_pinyin(html)
    fixes += found
    original_script = detect_script(html)
    html, found = to_simplified(html)
    fixes += found
    return html, decoded.encoding, original_script


def _continuation(
    url: str, raw: bytes, page: PageItem, title: str | None, fixes: list[str]
) -> tuple[list[str], list[dict[str, Any]]]:
    """Body paragraphs and attachments of a further page of a multi-page article."""
    html, _, _ = _decoded(raw, page, fixes)
    tree = parse_html(html)
    attachments = find_attachments(tree, url)
    read_xxgk(tree, {})
    drop_pager(tree, url, page.url)
    body = extract_body(tree, selectors=page.selectors, title=title, lines=linearize(tree))
    return list(body.paragraphs), attachments


def process_file(
    path: str | Path,
    url: str | None = None,
    fetched_at: str | None = None,
    *,
    site: str = "file",
    site_name: str = "",
    charset: str | None = None,
    content_type: str | None = None,
    selectors: dict[str, str] | None = None,
) -> ArticleItem:
    """``process_page`` on a saved HTML file (URL defaults to ``file://`` + absolute path)."""
    path = Path(path)
    body = path.read_bytes()
    page = PageItem(
        url=url or "file://" + str(path.resolve()),
        body=body,
        site=site,
        site_name=site_name,
        fetched_at=fetched_at
        or datetime.fromtimestamp(path.stat().st_mtime, CHINA_TZ).isoformat(timespec="seconds"),
        content_type=content_type,
        charset=charset,
        selectors=dict(selectors or {}),
    )
    return process_page(page)
