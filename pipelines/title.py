"""The headline of an article page.

The portal's ``title`` selector (an override), else the best of ``<h1>`` /
headline-class elements, ``og:title``, TRS/Hanweb ``ArticleTitle`` and
``<title>`` with its site-name segments stripped, picked by agreement (a
candidate wins when the others repeat it).
"""

from __future__ import annotations

import re
from typing import Any

from lxml.html import HtmlElement

from pipelines.byline import LINE_COPYRIGHT
from pipelines.dom import _key, element_lines
from pipelines.normalize import normalize_text
from pipelines.vocab import LABEL_RE

_TITLE_SPLIT = re.compile(r"\s*(?:_|\||丨|\s-\s|\s—\s|——|\s–\s|--)\s*")
_TITLE_CLASS = re.compile(r"title|headline|biaoti|(?:^|[\s_-])(?:bt|tit|tt)(?:$|[\s_-]|\d)", re.I)
_GLUED_SITE = re.compile(
    r"^(.{4,}?)\s*[-–—]\s*([^-–—]{2,16}(?:网|站|政府|频道|在线|日报|新闻|门户|官网|客户端))$"
)
_TITLE_TAGS = ("h1", "h2", "h3", "div", "p", "td", "span", "strong")


def _text(el: HtmlElement) -> str:
    return normalize_text(" ".join(element_lines(el)))


def extract_title(
    tree: HtmlElement,
    meta: dict[str, str],
    selectors: dict[str, Any] | None = None,
    site_name: str | None = None,
) -> str | None:
    """The headline: the selector, else the candidate most others agree with."""
    selectors = selectors or {}
    if selectors.get("title"):
        try:
            found = tree.cssselect(selectors["title"])
        except Exception:  # cssselect raises several types on a bad expression
            found = []
        for el in found:
            text = _text(el)
            if text:
                return text
    page_title = ""
    for el in tree.iter("title"):
        page_title = normalize_text(el.text_content())
        break
    segments = [s for s in _TITLE_SPLIT.split(page_title) if s]
    if len(segments) == 1:
        m = _GLUED_SITE.match(segments[0])  # "标题-四川法制网": a hyphen without spaces
        if m:
            segments = [m.group(1), m.group(2)]
    site_keys = {_key(site_name)} if site_name else set()
    stripped = None
    if segments:
        # Chinese portals put the headline first: "标题_栏目_站名", "标题 - 国际在线".
        stripped = segments[0]
        if _key(stripped) in site_keys and len(segments) > 1:
            stripped = max(segments[1:], key=len)
        site_keys |= {_key(s) for s in segments if s is not stripped}
    candidates: list[tuple[str, int]] = []  # (text, priority: lower is better)
    for el in tree.iter("h1"):
        candidates.append((_text(el), 0))
    for key, prio in (("articletitle", 1), ("og:title", 2), ("title", 3), ("twitter:title", 3)):
        if meta.get(key):
            candidates.append((meta[key], prio))
    for tag in _TITLE_TAGS:
        for el in tree.iter(tag):
            cls = f"{el.get('class', '')} {el.get('id', '')}"
            if _TITLE_CLASS.search(cls):
                text = _text(el)
                if 4 <= len(text) <= 100:
                    candidates.append((text, 4))
    for el in tree.iter("h2"):
        candidates.append((_text(el), 5))
    if stripped:
        candidates.append((stripped, 6))
    candidates = [(t, p) for t, p in candidates if 2 <= len(t) <= 150]
    if not candidates:
        return None
    page_key = _key(page_title)

    def score(item: tuple[str, int]) -> tuple[float, int]:
        text, prio = item
        k = _key(text)
        agree = 0.0
        for other, oprio in candidates:
            if other is text or oprio == prio:
                continue
            ok = _key(other)
            if ok == k:
                agree += 1
            elif len(k) >= 6 and k in ok and len(k) >= len(ok) * 0.6:
                agree += 0.5
        if prio != 6 and page_key and len(k) >= 6 and k in page_key:
            agree += 1
        if k in site_keys or len(k) < 5:
            agree -= 3
        if LINE_COPYRIGHT.search(text) or LABEL_RE.search(text):
            agree -= 3
        return (agree, -prio)

    best = max(candidates, key=score)
    return best[0]
