"""The parsed page and its lines, shared by body extraction and metadata.

``parse_html`` parses the decoded HTML once; ``linearize`` turns the tree into
visual lines (text between block boundaries or ``<br>``) that both stages read,
so neither re-reads the HTML.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree
from lxml.html import HtmlElement, HTMLParser
from lxml.html import fromstring as _html_fromstring

from pipelines.normalize import normalize_text

# --- Parsing and linearizing ---------------------------------------------------

# Same options as trafilatura's own parser, so the copy handed to it looks alike.
HTML_PARSER = HTMLParser(
    collect_ids=False, default_doctype=False, remove_comments=True, remove_pis=True
)

_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>", re.I)

BLOCK_TAGS = frozenset(
    [
        "p",
        "div",
        "li",
        "td",
        "th",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "dd",
        "dt",
        "dl",
        "section",
        "article",
        "header",
        "footer",
        "aside",
        "nav",
        "ul",
        "ol",
        "table",
        "tr",
        "tbody",
        "thead",
        "tfoot",
        "form",
        "blockquote",
        "pre",
        "center",
        "main",
        "figure",
        "figcaption",
        "address",
        "fieldset",
        "hr",
        "body",
        "html",
        "caption",
    ]
)
SKIP_TAGS = frozenset(
    [
        "script",
        "style",
        "noscript",
        "template",
        "iframe",
        "select",
        "option",
        "textarea",
        "head",
        "title",
        "svg",
        "object",
        "embed",
        "button",
        "input",
        "map",
        "canvas",
        "video",
        "audio",
    ]
)


def parse_html(text: str) -> HtmlElement:
    """Parse decoded HTML text once (an XML declaration is dropped: lxml refuses it on str)."""
    text = _XML_DECL.sub("", text, count=1)
    if not text.strip():
        text = "<html><body></body></html>"
    try:
        return _html_fromstring(text, parser=HTML_PARSER)
    except etree.ParserError:
        return _html_fromstring("<html><body></body></html>", parser=HTML_PARSER)


@dataclass
class Line:
    """One visual line of the page: text between block boundaries or ``<br>``."""

    text: str  # normalized (NFKC, single spaces)
    owner: HtmlElement  # innermost block element holding the line
    link_chars: int  # characters of the line inside <a>


def linearize(root: HtmlElement) -> list[Line]:
    """The page as lines in document order (one pass, no recursion)."""
    lines: list[Line] = []
    buf: list[str] = []
    link = 0
    owners: list[HtmlElement] = [root]
    in_link = 0

    def flush() -> None:
        nonlocal link
        if buf:
            text = normalize_text("".join(buf))
            if text:
                lines.append(Line(text, owners[-1], min(link, len(text))))
        buf.clear()
        link = 0

    def add(piece: str | None, linked: bool) -> None:
        nonlocal link
        if piece:
            buf.append(piece)
            if linked:
                link += len(piece.strip())

    walker = etree.iterwalk(root, events=("start", "end"))
    skipped: set[int] = set()
    for event, el in walker:
        tag = el.tag if isinstance(el.tag, str) else ""
        if event == "start":
            if tag in SKIP_TAGS:
                skipped.add(id(el))
                walker.skip_subtree()
                continue
            if tag in BLOCK_TAGS or tag == "br":
                flush()
            if tag in BLOCK_TAGS:
                owners.append(el)
            if tag == "a":
                in_link += 1
            add(el.text, in_link > 0)
        else:
            if id(el) in skipped:
                skipped.discard(id(el))
            else:
                if tag in BLOCK_TAGS:
                    flush()
                    owners.pop()
                if tag == "a":
                    in_link -= 1
            add(el.tail, in_link > 0)
    flush()
    return lines


def element_lines(el: HtmlElement) -> list[str]:
    """Lines of one element (``<br>`` and blocks split lines)."""
    return [line.text for line in linearize(el)]


def select_elements(tree: HtmlElement, selector: str | None) -> list[HtmlElement]:
    """Elements matching a portal's CSS selector; none for a missing or bad selector."""
    if not selector:
        return []
    try:
        found: list[HtmlElement] = tree.cssselect(selector)
    except Exception:  # cssselect raises several types on a bad expression
        return []
    return found


def select_lines(tree: HtmlElement, selector: str | None) -> list[str]:
    """Lines under the portal's CSS selector (all matches, in order)."""
    return [line for el in select_elements(tree, selector) for line in element_lines(el)]


def _key(text: str | None) -> str:
    return re.sub(r"[\W_]+", "", text or "")
