"""Attachments: the documents a notice or policy page links as files.

``find_attachments`` lists the links of a page to ``.pdf .doc .docx .wps .xls
.xlsx .zip .ofd`` files (the extension read from the URL's path, else from a
``filename=`` style query parameter of a download script, else from the link
text), in page order, once per URL, with the link text as the name.  Links in
the page's furniture (``<header>``, ``<nav>``, ``<footer>``, ``<aside>`` or elements
whose class or id says nav / footer / header / side / related) are not the article's.  Each entry is
``{"url", "name", "ext", "sha256": None, "path": None}``; the last two are filled
when the files are downloaded (``pipelines.files.AttachmentsPipeline``).
"""

from __future__ import annotations

import posixpath
import re
from typing import Any
from urllib.parse import parse_qsl, unquote, urljoin, urlsplit

from lxml.html import HtmlElement
from w3lib.url import safe_url_string

from pipelines.normalize import normalize_text

EXTENSIONS = ("pdf", "doc", "docx", "wps", "xls", "xlsx", "zip", "ofd")
_EXT = re.compile(r"\.(" + "|".join(EXTENSIONS) + r")$", re.I)
_FURNITURE_TAGS = frozenset({"header", "nav", "footer", "aside"})
# class / id words of page furniture and side boxes (相关文章 xgwz, 友情链接 yqlj)
_FURNITURE_WORDS = re.compile(
    r"(?:^|[\s_-])(?:nav|navbar|menu|footer|foot|header|top|side|sidebar|aside|related|xgwz"
    r"|xgxx|yqlj|friendlink)(?:$|[\s_-])"
)


# A line that is only the attachment block's label ("附件:", "相关附件"): its files are
# in the record's attachments, the bare label is not text.
LABEL_LINE = re.compile(r"^[【\[]?(?:相关)?附\s*件\s*\d*\s*(?:下载)?[】\]]?\s*[::]?$")


def without_label_lines(paragraphs: list[str]) -> list[str]:
    return [p for p in paragraphs if not LABEL_LINE.match(p.strip())]


_NAMED_AS_ATTACHMENT = re.compile(r"^附\s*件")


def attachment_lines(attachments: list[dict[str, Any]]) -> list[str]:
    """The attachment list as text lines, ``附件:`` before names that do not say it.

    For a notice whose content is its files (``现将…印发给你们``, ``详见附件``): its few
    words are the same from one notice of an office to the next; the files it lists
    are what it is.
    """
    lines = []
    for entry in attachments:
        name = " ".join(str(entry.get("name") or "").split())
        if name:
            lines.append(name if _NAMED_AS_ATTACHMENT.match(name) else f"附件:{name}")
    return lines


def _ext_of(url: str, text: str) -> str | None:
    parts = urlsplit(url)
    match = _EXT.search(unquote(parts.path))
    if match:
        return match.group(1).lower()
    for _, value in parse_qsl(parts.query):
        match = _EXT.search(value.strip())
        if match:
            return match.group(1).lower()
    match = _EXT.search(text.strip())
    return match.group(1).lower() if match else None


def _in_furniture(el: HtmlElement) -> bool:
    for anc in el.iterancestors():
        if anc.tag in _FURNITURE_TAGS:
            return True
        marks = f"{anc.get('class') or ''} {anc.get('id') or ''}".lower()
        if marks.strip() and _FURNITURE_WORDS.search(marks):
            return True
    return False


def _name(a: HtmlElement, url: str) -> str:
    text = normalize_text(" ".join(a.itertext()))
    if text:
        return text
    title = normalize_text(a.get("title") or "")
    if title:
        return title
    return unquote(posixpath.basename(urlsplit(url).path))


def find_attachments(tree: HtmlElement, base_url: str) -> list[dict[str, Any]]:
    """The page's attachment links (module doc), in page order."""
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for a in tree.iter("a"):
        href = (a.get("href") or "").strip()
        if not href or href.startswith("#") or href.lower().startswith(("javascript:", "mailto:")):
            continue
        url = safe_url_string(urljoin(base_url, href))
        if not url.startswith(("http://", "https://", "file://")) or url in seen:
            continue
        text = " ".join(a.itertext())
        ext = _ext_of(url, text)
        if ext is None or _in_furniture(a):
            continue
        seen.add(url)
        out.append({"url": url, "name": _name(a, url), "ext": ext, "sha256": None, "path": None})
    return out


def merge(*lists: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Attachment lists of several pages of one article: once per URL, in order."""
    seen: set[str] = set()
    out = []
    for entries in lists:
        for entry in entries:
            if entry["url"] not in seen:
                seen.add(entry["url"])
                out.append(entry)
    return out
