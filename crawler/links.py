"""Which links on a list page are articles, and which one is the next list page.

Written by hand because no library knows Chinese government CMSs: their
article URL shapes (TRS WCM ``/202007/t20200716_123456.html``, Hanweb
``/art/2020/7/16/art_12_345.html``, dated paths), their pagination scripts
(TRS ``createPageHTML(total, current, "index", "html")``) and their
``index_N.html`` numbering.  Portal definitions give exact rules; the generic
spider relies on the heuristics here.  Everything works on a parsed
``parsel.Selector`` and plain URLs, so it is tested on saved pages.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from parsel import Selector
from w3lib.url import safe_url_string

from pipelines.dates import day_in
from pipelines.multipage import js_int

# Article URL shapes common on Chinese government and news CMSs.
ARTICLE_URL_PATTERNS = [
    re.compile(p)
    for p in (
        r"/t20\d{6}_\d+\.s?html?$",  # TRS WCM: /202007/t20200716_123456.html
        r"/art/20\d{2}/\d{1,2}/\d{1,2}/art_\d+_\d+\.html$",  # Hanweb
        r"/20\d{2}-?\d{2}/\d{2}/[\w-]+\.s?html?$",  # /2020-07/16/xxx.html, /202007/16/…
        r"/20\d{6}/[\w-]{6,}\.s?html?$",  # /20220715/<uuid>.html
        r"/20\d{2}/\d{2}/\d{2}/[\w-]+\.s?html?$",  # /2020/07/16/xxx.shtml
        r"/content_\d+\.s?html?$",  # 新华网 content_123.htm
        r"/(?:c|n)\d+/20\d{2}/\d{4}/c\d+-\d+\.html$",  # 人民网 /n1/2020/0716/c123-456.html
        r"/(?:article|detail|content|info|news)[/_-][\w/-]*\d{3,}\.s?html?$",
        r"/p-\d+\.html$",  # document-sharing sites
    )
]

# URL shapes that are never articles: list pages, indexes, search, attachments.
NON_ARTICLE_URL = re.compile(
    r"(?:/|^)(?:index|list|default|search|node_\d+|more)(?:_\d+)?\.s?html?$"
    r"|\.(?:pdf|docx?|xlsx?|zip|rar|jpe?g|png|gif|mp4)$"
    r"|^(?:javascript|mailto|tel):",
    re.I,
)

NEXT_TEXTS = ("下一页", "下页", "后页", "下一頁", "next", "Next", ">", "›", "»")

# createPageHTML(5, 0, "index", "html") or, as TRS templates write it,
# var countPage = 5; var currentPage = 0; createPageHTML(countPage, currentPage, …)
_CREATE_PAGE = re.compile(
    r"createPageHTML\(\s*['\"]?(\w+)['\"]?\s*,\s*['\"]?(\w+)['\"]?\s*,\s*['\"]([\w-]+)['\"]\s*,"
    r"\s*['\"](\w+)['\"]"
)
_INDEX_N = re.compile(r"(?P<prefix>(?:index|list|default)(?:_|-))(?P<n>\d+)\.(?P<ext>s?html?)$")
_INDEX_0 = re.compile(r"(?P<prefix>index|list|default)\.(?P<ext>s?html?)$")


@dataclass(frozen=True)
class Link:
    url: str
    text: str
    date: str | None = None  # YYYY-MM-DD shown beside the link on the list page, if any


def _list_date(anchor: Selector) -> str | None:
    """The date a list page shows with a link: in the link's own row (its parent element).

    A parent holding several links (one block of ``<a>…<br>`` lines) is ambiguous: no date.
    """
    if float(anchor.xpath("count(../descendant::a)").get() or 0) > 1:
        return None
    return day_in(" ".join(anchor.xpath("../descendant-or-self::text()").getall()))


def _links(sel: Selector, base_url: str, restrict_css: Sequence[str] = ()) -> list[Link]:
    roots = [node for css in restrict_css for node in sel.css(css)] or [sel]
    seen: set[str] = set()
    out: list[Link] = []
    for root in roots:
        for a in root.css("a[href]"):
            href = (a.attrib.get("href") or "").strip()
            if (
                not href
                or href.startswith("#")
                or href.lower().startswith(("javascript:", "mailto:"))
            ):
                continue
            url = safe_url_string(urljoin(base_url, href))
            if not url.startswith(("http://", "https://")) or url in seen:
                continue
            seen.add(url)
            text = " ".join(t.strip() for t in a.css("::text").getall() if t.strip())
            title = (a.attrib.get("title") or "").strip()
            out.append(Link(url, title if len(title) > len(text) else text, _list_date(a)))
    return out


def portal_article_links(
    sel: Selector,
    base_url: str,
    allow: Sequence[re.Pattern[str]],
    deny: Sequence[re.Pattern[str]] = (),
    restrict_css: Sequence[str] = (),
) -> list[Link]:
    """Article links by portal rules: URLs matching an ``allow`` regex and no ``deny`` one."""
    return [
        link
        for link in _links(sel, base_url, restrict_css)
        if any(p.search(link.url) for p in allow) and not any(p.search(link.url) for p in deny)
    ]


def article_score(url: str, text: str) -> float:
    """How much a link looks like an article link (>= 1.0 counts as an article)."""
    path = urlsplit(url).path
    if NON_ARTICLE_URL.search(path):
        return 0.0
    score = 0.0
    if any(p.search(path) for p in ARTICLE_URL_PATTERNS):
        score += 1.0
    elif re.search(r"/20\d{2}[-/]?\d{2}", path) and re.search(r"\d{4,}", path.rsplit("/", 1)[-1]):
        score += 0.6
    cjk = sum(1 for ch in text if "\u4e00" <= ch <= "\u9fff")
    if cjk >= 8:
        score += 0.5
    elif cjk < 4:
        score -= 0.5
    return score


def _container_key(a: Selector) -> str:
    """A structural signature of where a link sits (its ancestors' tags and classes)."""
    parts = []
    for anc in a.xpath("ancestor::*[position() <= 3]"):
        root = anc.root
        tag = getattr(root, "tag", "?")
        cls = (anc.attrib.get("class") or "").split()
        parts.append(f"{tag}.{cls[0]}" if cls else str(tag))
    return "/".join(parts)


def heuristic_article_links(
    sel: Selector, base_url: str, allowed_hosts: Iterable[str]
) -> list[Link]:
    """Article links found without portal rules.

    A link counts when its URL has an article shape or its text is a headline
    (8+ CJK characters) sitting in a repeated list structure (the same ancestor
    signature shared by 4+ links), on an allowed host.
    """
    hosts = {h.lower() for h in allowed_hosts}
    anchors = sel.css("a[href]")
    keyed: list[tuple[Link, str]] = []
    for a in anchors:
        href = (a.attrib.get("href") or "").strip()
        if not href or href.startswith("#") or href.lower().startswith(("javascript:", "mailto:")):
            continue
        url = safe_url_string(urljoin(base_url, href))
        host = (urlsplit(url).hostname or "").lower()
        if hosts and not any(host == h or host.endswith("." + h) for h in hosts):
            continue
        text = " ".join(t.strip() for t in a.css("::text").getall() if t.strip())
        title = (a.attrib.get("title") or "").strip()
        link = Link(url, title if len(title) > len(text) else text, _list_date(a))
        keyed.append((link, _container_key(a)))
    repeated = Counter(key for _, key in keyed)
    seen: set[str] = set()
    out: list[Link] = []
    for link, key in keyed:
        if link.url in seen:
            continue
        score = article_score(link.url, link.text)
        if repeated[key] >= 4:
            score += 0.3
        if score >= 1.0:
            seen.add(link.url)
            out.append(link)
    return out


def create_page_html_next(sel: Selector, base_url: str) -> str | None:
    """Next page from a TRS ``createPageHTML(total, current, prefix, ext)`` call.

    Page 0 is ``prefix.ext`` (``index.html``), page k is ``prefix_k.ext``.
    """
    for script in sel.css("script::text").getall():
        match = _CREATE_PAGE.search(script)
        if not match:
            continue
        total, current = js_int(script, match.group(1)), js_int(script, match.group(2))
        if total is None or current is None:
            continue
        prefix, ext = match.group(3), match.group(4)
        if current + 1 >= total:
            return None
        return urljoin(base_url, f"{prefix}_{current + 1}.{ext}")
    return None


def _page_number(url: str) -> tuple[str, int] | None:
    """(directory + prefix, n) for ``index_N.html``-style URLs; ``index.html`` is page 0."""
    path = urlsplit(url).path
    match = _INDEX_N.search(path)
    if match:
        return path[: match.start()] + match.group("prefix"), int(match.group("n"))
    match = _INDEX_0.search(path)
    if match:
        return path[: match.start()] + match.group("prefix") + "_", 0
    if path.endswith("/"):
        return path + "index_", 0
    return None


def index_n_next(sel: Selector, base_url: str) -> str | None:
    """Next page of ``index_N.html`` numbering: the smallest linked N above the current one.

    Pagers that list every page number (hundreds of links) are common, so
    hrefs are screened by their file name before any URL is resolved.
    """
    current = _page_number(base_url)
    if current is None:
        return None
    prefix, n = current
    best: tuple[int, str] | None = None
    for href in sel.css("a::attr(href)").getall():
        path = href.strip().split("#", 1)[0].split("?", 1)[0]
        match = _INDEX_N.search(path) or _INDEX_0.search(path)
        if not match:
            continue
        number = int(match.group("n")) if "n" in match.groupdict() else 0
        if number <= n or (best is not None and number >= best[0]):
            continue
        url = urljoin(base_url, href.strip())
        other = _page_number(url)
        if other and other[0] == prefix and other[1] > n:
            best = (other[1], url)
    return best[1] if best else None


def next_link(
    sel: Selector, base_url: str, texts: Sequence[str] = NEXT_TEXTS, css: Sequence[str] = ()
) -> str | None:
    """The next-page link: by CSS, else by the link's text (下一页, 下页, …)."""
    for rule in css:
        href = sel.css(rule).css("::attr(href)").get() or sel.css(f"{rule}::attr(href)").get()
        if href and not href.strip().lower().startswith("javascript:"):
            return urljoin(base_url, href.strip())
    for a in sel.css("a[href]"):
        text = "".join(a.css("::text").getall()).strip()
        title = (a.attrib.get("title") or "").strip()
        if text in texts or title in texts:
            href = (a.attrib.get("href") or "").strip()
            if href and not href.lower().startswith("javascript:") and href != "#":
                url = urljoin(base_url, href)
                if url != base_url:
                    return url
    return None


def next_page(
    sel: Selector,
    base_url: str,
    style: str,
    texts: Sequence[str] = NEXT_TEXTS,
    css: Sequence[str] = (),
) -> str | None:
    """The next list page in the given pagination style (``auto`` tries all)."""
    if style == "none":
        return None
    if style == "createPageHTML":
        return create_page_html_next(sel, base_url) or index_n_next(sel, base_url)
    if style == "index_n":
        return index_n_next(sel, base_url) or next_link(sel, base_url, texts, css)
    if style == "next":
        return next_link(sel, base_url, texts, css)
    return (
        create_page_html_next(sel, base_url)
        or next_link(sel, base_url, texts, css)
        or index_n_next(sel, base_url)
    )
