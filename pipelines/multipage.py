"""Articles split over several pages: ``t20200716_123456.html``, ``…_1.html``, ``…_2.html``.

TRS WCM and other CMSs cut a long article into pages named after the first
one's file name with ``_N`` added, linked by a pager inside the article (page
links, 下一页, or a ``createPageHTML(total, current, "t20200716_123456", "html")``
call).  ``continuation_urls`` lists the other pages of the article a first page
links, in order; ``drop_pager`` removes the pager from a page's tree so its
links are not text.  Hand-written: no library knows these naming rules.
"""

from __future__ import annotations

import posixpath
import re
from urllib.parse import urljoin, urlsplit

from lxml.html import HtmlElement

_FILE = re.compile(r"^.+\.(?P<ext>s?html?)$")
# createPageHTML(3, 0, "t20240307_4251863", "html"), or with variables for the numbers
# (var countPage = 3; … createPageHTML(countPage, currentPage, …)), as TRS writes it.
_CREATE_PAGE = re.compile(
    r"createPageHTML\(\s*['\"]?(\w+)['\"]?\s*,\s*['\"]?(\w+)['\"]?\s*,\s*['\"]([\w-]+)['\"]\s*,"
    r"\s*['\"](\w+)['\"]"
)


def js_int(script: str, token: str) -> int | None:
    """A literal number, or the value ``var token = N`` gives it in the script."""
    if token.isdigit():
        return int(token)
    match = re.search(rf"\b{re.escape(token)}\s*=\s*['\"]?(\d+)", script)
    return int(match.group(1)) if match else None


# Pages of one article at most: a pager saying more is a list page or a trap.
MAX_PAGES = 50


def _parts(url: str) -> tuple[str, str, str] | None:
    """(host and directory, file name without its extension, extension) of a page URL."""
    parts = urlsplit(url)
    directory, name = posixpath.split(parts.path)
    match = _FILE.match(name)
    if not match:
        return None
    return f"{parts.netloc}{directory}", name[: -len(match.group("ext")) - 1], match.group("ext")


def page_number(url: str, first: str) -> int | None:
    """The page number of ``url`` among the pages of the article at ``first`` (0: itself).

    The further pages of ``…/t20240307_4251863.html`` are ``…/t20240307_4251863_N.html``
    in the same directory: the first page's whole file name, ``_N`` added.
    """
    mine, theirs = _parts(url), _parts(first)
    if mine is None or theirs is None or mine[0] != theirs[0] or mine[2] != theirs[2]:
        return None
    if mine[1] == theirs[1]:
        return 0
    match = re.fullmatch(re.escape(theirs[1]) + r"_(\d{1,3})", mine[1])
    return int(match.group(1)) if match else None


def _pager_anchors(
    tree: HtmlElement, url: str, first: str | None = None
) -> list[tuple[int, str, HtmlElement]]:
    """(page number, URL, anchor) of the links to pages of the article at ``first``."""
    first = first or url
    found = []
    for a in tree.iter("a"):
        href = (a.get("href") or "").strip()
        if not href or href.startswith(("#", "javascript:")):
            continue
        target = urljoin(url, href).split("#", 1)[0]
        n = page_number(target, first)
        if n is not None:
            found.append((n, target, a))
    return found


def continuation_urls(tree: HtmlElement, url: str) -> list[str]:
    """The further pages of the article whose first page ``tree`` is, in page order.

    Pages are found from the pager's links and from a ``createPageHTML`` call naming
    the page's own file name; a further page names no pages of its own.
    """
    parts = _parts(url)
    if parts is None:
        return []
    _, stem, ext = parts
    pages: dict[int, str] = {}
    for n, target, _a in _pager_anchors(tree, url):
        if 0 < n <= MAX_PAGES:
            pages[n] = target
    for script in tree.iter("script"):
        text = script.text or ""
        match = _CREATE_PAGE.search(text)
        count = js_int(text, match.group(1)) if match else None
        if match and match.group(3) == stem and count is not None:
            total = min(count, MAX_PAGES + 1)
            for n in range(1, total):
                pages.setdefault(n, urljoin(url, f"{stem}_{n}.{match.group(4)}"))
    if not pages:
        return []
    # a pager shows every page; one missing number in the middle is still a page
    last = max(pages)
    return [pages.get(n) or urljoin(url, f"{stem}_{n}.{ext}") for n in range(1, last + 1)]


def further_pages(tree: HtmlElement, url: str, first: str) -> list[str]:
    """Pages of the article at ``first`` that a further page at ``url`` links (a pager
    that shows only 下一页, or a window of page numbers), in page order."""
    pages = {n: target for n, target, _a in _pager_anchors(tree, url, first) if 0 < n <= MAX_PAGES}
    return [pages[n] for n in sorted(pages)]


def drop_pager(tree: HtmlElement, url: str, first_url: str | None = None) -> None:
    """Remove the in-article pager (the element holding the links to the article's pages)."""
    for _, _, a in _pager_anchors(tree, url, first_url):
        box = a.getparent()
        while box is not None and box.getparent() is not None:
            text = " ".join(box.itertext()).strip()
            if len(text) > 80:
                break
            parent = box.getparent()
            if parent is None or len(" ".join(parent.itertext()).strip()) > 80:
                break
            box = parent
        if box is not None and box.getparent() is not None and box.tag not in ("body", "html"):
            box.drop_tree()
            return
