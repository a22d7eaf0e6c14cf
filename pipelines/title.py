"""The headline of an article page.

The portal's ``title`` selector (an override), else the best of ``<h1>`` /
headline-class elements, ``og:title``, TRS/Hanweb ``ArticleTitle`` and
``<title>`` with its site-name segments stripped, picked by agreement (a
candidate wins when the others repeat it).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from typing import Any

from lxml.html import HtmlElement

from pipelines.byline import LINE_COPYRIGHT
from pipelines.dom import Line, _key, element_lines
from pipelines.extract import is_info_line
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


def headline_lines(lines: Sequence[Line], body_start: int | None) -> list[Line]:
    """Lines that may be the headline: heading-like lines in the dozen above the body.

    A reader sees the headline right above the body, with at most an info line,
    a share bar or a font-size widget between them.  Breadcrumbs, links, info and
    credit lines, kickers (``——…``) and sentences are not headlines.
    """
    if body_start is None:
        return []
    found: list[Line] = []
    for line in lines[max(0, body_start - 12) : body_start]:
        text = line.text
        if (
            not 4 <= len(text) <= 100
            or line.link_chars > len(text) * 0.3
            or _BREADCRUMB.search(text)
            or text.startswith(("—", "-"))
            or text.endswith("。")
            or LABEL_RE.search(text)
            or is_info_line(text)
        ):
            continue
        owner = line.owner
        names = f"{owner.get('class', '')} {owner.get('id', '')}"
        if owner.tag in ("h1", "h2", "h3", "h4", "h5", "h6") or _TITLE_CLASS.search(names):
            found.append(line)
    return found


_KEYWORD_LIST = re.compile(r"[_|,丨]")
_BREADCRUMB = re.compile(r"\s[>›»]\s|[>›»]\s*$|当前位置|您的位置|所在位置|^首页\s*[-—>/|»›]")
# Markup the page shows as text ("…力量<div>——…</div>"): the headline ends before it.
_TEXT_MARKUP = re.compile(r"\s*</?[a-zA-Z][a-zA-Z0-9]{0,9}(?:\s[^<>]{0,80})?>.*$")
_CJK_GAP = re.compile(r"(?<=[\u4e00-\u9fff]) (?=[\u4e00-\u9fff])")


def clean_title(text: str) -> str:
    """Markup shown as text cut off; spaces put between every character removed."""
    text = _TEXT_MARKUP.sub("", text).strip()
    pairs = sum(1 for a, b in itertools.pairwise(text) if _is_cjk(a) and _is_cjk(b))
    gaps = len(_CJK_GAP.findall(text))
    if gaps >= 3 and gaps >= pairs:  # "全 省 政 法 工 作 会 议": every character spaced out
        text = _CJK_GAP.sub("", text)
    return text


def _is_cjk(char: str) -> bool:
    return "\u4e00" <= char <= "\u9fff"


def extract_title(
    tree: HtmlElement,
    meta: dict[str, str],
    selectors: dict[str, Any] | None = None,
    site_name: str | None = None,
    near_body: Sequence[Line] = (),
) -> str | None:
    """The headline: the selector, else the candidate most others agree with.

    ``near_body`` are the heading-like lines right above the body
    (``headline_lines``): each is a candidate, and a candidate that is one of
    them gains, since that is where a reader sees the headline.
    """
    found_title = _extract_title(tree, meta, selectors, site_name, near_body)
    return clean_title(found_title) if found_title else found_title


def _extract_title(
    tree: HtmlElement,
    meta: dict[str, str],
    selectors: dict[str, Any] | None,
    site_name: str | None,
    near_body: Sequence[Line],
) -> str | None:
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
    # the nearer to the body, the likelier: a tie goes to the line right above it
    near_keys = {_key(line.text): i / 100 for i, line in enumerate(near_body)}
    for line in near_body:
        candidates.append((line.text, 1))
    # The <title> segment that is the headline: one the page repeats, else (Chinese
    # portals put it first: "标题_栏目_站名") the first that is not the site's name.
    shown = {_key(text) for text, _ in candidates}
    stripped = next((seg for seg in segments if _key(seg) in shown), None)
    if stripped is None and segments:
        stripped = segments[0]
        if _key(stripped) in site_keys and len(segments) > 1:
            stripped = max(segments[1:], key=len)
    site_keys |= {_key(seg) for seg in segments if seg is not stripped and _key(seg) not in shown}
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
        if k in near_keys:
            agree += 1.5 + near_keys[k]
        if k in site_keys or len(k) < 5 or len(_KEYWORD_LIST.findall(text)) >= 3:
            agree -= 3  # the site's name, a fragment, a keyword list ("行情_大盘_股市_…")
        if LINE_COPYRIGHT.search(text) or LABEL_RE.search(text):
            agree -= 3
        return (agree, -prio)

    best = max(candidates, key=score)
    return best[0]
