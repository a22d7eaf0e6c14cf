"""Body text of an article page.

``extract_body`` takes, in order: the portal's body selector; the article as
the best run of prose lines on the page; trafilatura (text only, ``fast=True``)
on a deep copy of the parsed tree with layout tables turned into divs; the
densest block (Readability-style).  The first that yields enough text wins;
portal boilerplate rules then clean it (copyright declarations, licence / ICP
footers, print / close / font-size widgets, breadcrumbs, paywall and advert
tails, stray script text, the ``原标题:`` line; 责任编辑 / 来源 lines go to the
metadata stage instead).

**The run.**  The page is read as lines (``pipelines.dom.linearize``); every
line gets a score (``line_score``): prose (own text with sentence punctuation)
counts its characters, link lines count against it by their length, short
unpunctuated lines (captions, subheads, widgets) cost a little, notices and
calls to action cost their length, and prose inside a block whose class or id
names a comment box, sidebar, footer, dialog or summary (the "unlikely
candidates" of Readability, with the pinyin Chinese templates use) counts
against it.  End-of-article markers (copyright, 上一篇, 责任编辑, comment
headers, tag boxes, declarations) break any run.  The article is the
maximum-sum segment of these scores, continued after a link box when prose
goes on in the same block.  Credit lines just before and after it (``(记者
张三)``, ``文/图 王五``, ``新京报记者 陆一夫``) are kept apart for the byline
stage, not in the text.  This holds on pages where trafilatura keeps whole
related-article lists and comment threads, or drops most of a government page
laid out as ``<br>`` text in a table cell: measured on the real pages of
``bench/realpages.py``, the run gives the right first and last sentence on
1.00 / 0.95 of them, trafilatura's own output 0.40 / 0.20.

The phrases and block names are data (``pipelines/data/boilerplate.toml``,
labels in ``pipelines/data/vocab.toml``); the scoring is hand-written: no
library knows the Chinese portal templates (``字体:【大 中 小】``, ``打印本页
关闭窗口``, ``版权与信息产品内容销售的声明``).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import trafilatura
from lxml import etree
from lxml.html import HtmlElement

from pipelines.boilerplate import (
    CAPTION,
    COPYRIGHT_CLAUSE,
    DROP,
    END_OF_ARTICLE,
    INSIDE_PREFIXES,
    INSIDE_WORDS,
    LEAD_BOX,
    NOTICE,
    OUTSIDE_PREFIXES,
    OUTSIDE_WORDS,
    PAYWALL,
    PAYWALL_BUTTON,
    PROMO,
    RELATED_HEADING,
    SITE_NOTICE,
    STRONG_TAIL,
    TAIL_MARKERS,
    WEAK_TAIL,
    WIDGET_PREFIX,
)
from pipelines.dom import Line, _key, linearize, select_lines
from pipelines.normalize import normalize_text
from pipelines.vocab import BAR_LABEL, LABEL_COLON, META_LINE, ROLE_WORDS

# --- Boilerplate rules ----------------------------------------------------------

_NUMBERED = re.compile(r"^\d{1,2}\s*[、.]")
# A link back to the site glued after the last sentence: "…仍将持续。返回腾讯网首页>>".
_NAV_SUFFIX = re.compile(r"(?<=[。!?”])\s*返回[^,。!?]{0,12}(?:>>|»)\s*$")
# A lone punctuation / symbol line.
_NO_WORDS = re.compile(r"^[\W_]*$")
# A credit line (``责任编辑:张三``, ``来源:新华社``: a label of pipelines/data/vocab.toml)
# belongs to the metadata; one whose value is a sentence ("记者:请问…?") is text.
_SENTENCE_END = re.compile(r"[。?!]")


def is_meta_line(line: str) -> bool:
    """A labelled credit line that the byline stage reads instead of the text."""
    m = META_LINE.match(line) or BAR_LABEL.match(line)
    return m is not None and len(line) <= 80 and not _SENTENCE_END.search(line, m.end())


# The same credit glued to the end of the last paragraph: "…参加会议。(编辑:张三)".
_META_TAIL = re.compile(
    r"\s*[(\[【]\s*(?:责任编辑|责编|网络编辑|编辑)\s*[::]?\s*[^()\[\]【】]{1,30}[)\]】]\s*$"
)
_ORIGINAL_TITLE = re.compile(r"^[(【\[]?\s*原标题\s*[::]\s*(.+?)\s*[)】\]]?$")
_LABEL_COLON = LABEL_COLON  # any label of pipelines/data/vocab.toml and its colon
_NOTICE_LABEL = re.compile(r"(?:地点|地址|会议|主题|对象|内容|议程|电话)\s*[::]")
_DATE_LIKE = re.compile(
    r"(?:19|20)\d{2}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}"
    r"|[〇零○一二三四五六七八九]{4}\s*年\s*[一二三四五六七八九十]{1,2}\s*月\s*[一二三四五六七八九十]{1,3}\s*日"
)


def is_info_line(line: str) -> bool:
    """A byline / date line (``来源:… 作者:… 发布时间:…``) rather than article text."""
    if len(line) > 160:
        return False
    if _NOTICE_LABEL.search(line):
        return False  # "时间:… 地点:…" of a meeting notice is article text
    labels = len(_LABEL_COLON.findall(line))
    if labels >= 2:
        return True
    if labels == 1 and _DATE_LIKE.search(line):
        return True
    stripped = _DATE_LIKE.sub("", line)
    stripped = re.sub(r"\d{1,2}:\d{2}(?::\d{2})?|[\s|/·•:]", "", stripped)
    return bool(_DATE_LIKE.search(line)) and len(stripped) <= 2


# --- Result ------------------------------------------------------------------------


@dataclass
class Body:
    """The body text and what the rules took out of it."""

    paragraphs: list[str] = field(default_factory=list)
    method: str = "none"  # "selector", "trafilatura", "density" or "none"
    raw_chars: int = 0  # characters before the boilerplate rules
    meta_lines: list[str] = field(default_factory=list)  # 责任编辑 / 来源 lines for metadata
    original_title: str | None = None
    truncated: bool = False  # a paywall / preview tail was cut
    # Credit lines next to the body, not part of its text: "文/图 王五" before it,
    # "(记者 张三)", "新京报记者 陆一夫" after it (read by the byline stage).
    lead_credits: list[str] = field(default_factory=list)
    trail_credits: list[str] = field(default_factory=list)

    @property
    def with_credits(self) -> list[str]:
        """The paragraphs with the credit lines around them, in page order."""
        return [*self.lead_credits, *self.paragraphs, *self.trail_credits]

    @property
    def chars(self) -> int:
        return sum(len(p) for p in self.paragraphs)


# Below this many characters a trafilatura result is "too little".
MIN_EXTRACT_CHARS = 120
# trafilatura options chosen by measurement (bench/extract.py, module docstring).
TRAFILATURA_OPTIONS: dict[str, Any] = {
    "fast": True,
    "output_format": "txt",
    "with_metadata": False,
    "include_comments": False,
    "include_tables": True,
    "include_images": False,
    "include_links": False,
    "deduplicate": False,
    "favor_precision": False,
}


def clean_lines(
    lines: Iterable[str], title: str | None = None, anchors: frozenset[str] = frozenset()
) -> Body:
    """Apply the portal boilerplate rules to extracted lines.

    ``anchors`` are the page's short link texts: a short body line equal to one
    is navigation (menus, breadcrumbs, widget links), not text.
    """
    body = Body()
    kept: list[str] = []
    title_key = _key(title) if title else ""
    lines = list(lines)
    for index, raw in enumerate(lines):
        line = _NAV_SUFFIX.sub("", WIDGET_PREFIX.sub("", normalize_text(raw)))
        if not line or _is_link_row(line, anchors):
            continue
        body.raw_chars += len(line)
        paywall = (PAYWALL.search(line) and len(line) <= 80) or PAYWALL_BUTTON.match(line)
        if paywall and not (
            "。" in line and len(line) >= 20 and _article_text_follows(lines[index + 1 :])
        ):
            if kept:
                body.truncated = True
                break
            continue
        if kept and TAIL_MARKERS.search(line) and (len(line) <= 80 or _starts_marker(line)):
            if (
                WEAK_TAIL.search(line)
                and not STRONG_TAIL.search(line)
                and _article_text_follows(lines[index + 1 :])
            ):
                continue  # "©新华社" under a photo, a share box mid-article: not the end
            break
        m = _ORIGINAL_TITLE.match(line)
        if m:
            body.original_title = body.original_title or m.group(1)
            continue
        if is_meta_line(line):
            body.meta_lines.append(line)
            continue
        if DROP.search(line) and len(line) <= 80:
            continue
        if not kept and TAIL_MARKERS.search(line) and len(line) <= 80:
            continue  # header junk before the article
        if _NO_WORDS.match(line) or (len(line) <= 20 and line in anchors):
            continue
        if title_key and _is_title_repeat(_key(line), title_key, first=not kept):
            continue
        # A bare date after the text is the signature date of a notice (落款): text.
        if is_info_line(line) and (len(kept) < 2 or _LABEL_COLON.search(line)):
            body.meta_lines.append(line)
            continue
        kept.append(line)
    cut = _declaration_start(kept)
    if cut is not None:
        del kept[cut:]
    if kept:
        m = _META_TAIL.search(kept[-1])
        if m:
            body.meta_lines.append(m.group(0).strip())
            kept[-1] = kept[-1][: m.start()].rstrip()
            if not kept[-1]:
                kept.pop()
    body.paragraphs = kept
    return body


def _article_text_follows(rest: Sequence[str]) -> bool:
    """A paragraph of article prose (long, with a full stop, not a notice) comes later."""
    for raw in rest[:40]:
        line = normalize_text(raw)
        if TAIL_MARKERS.search(line) and STRONG_TAIL.search(line):
            return False
        if (
            len(line) >= 30
            and "。" in line
            and not COPYRIGHT_CLAUSE.search(line)
            and not _NOTICE_TAIL.search(line)
        ):
            return True
    return False


# Site notices that read like prose.
_NOTICE_TAIL = re.compile(r"本网|本站|网站|转载|联系我们|联系电话|侵权|版权|免责|声明")


def _declaration_start(lines: list[str]) -> int | None:
    """Index where a trailing copyright declaration starts (numbered clauses before it too)."""
    for i, line in enumerate(lines):
        if i == 0 or i < len(lines) // 3 or not COPYRIGHT_CLAUSE.search(line):
            continue
        start = i
        while start > 1 and _NUMBERED.match(lines[start]) and _NUMBERED.match(lines[start - 1]):
            start -= 1
        return start
    return None


def _is_title_repeat(key: str, title_key: str, *, first: bool) -> bool:
    """The headline again; before the text also with its subtitle or site name around it."""
    if key == title_key:
        return True
    if not first or len(key) < 6 or len(key) > len(title_key) + 15:
        return False
    return title_key in key or (key in title_key and len(key) >= len(title_key) * 0.6)


def _is_link_row(line: str, anchors: frozenset[str]) -> bool:
    """A table row of navigation links as trafilatura renders it: ``| 首页 \\| 新闻 |``."""
    if not (line.startswith("|") and line.endswith("|")):
        return False
    cells = [c for c in re.split(r"\\?\||\s+", line) if c]
    return all(c in anchors or _NO_WORDS.match(c) for c in cells)


def _starts_marker(line: str) -> bool:
    m = TAIL_MARKERS.search(line)
    return m is not None and m.start() <= 12


# --- Extraction ------------------------------------------------------------------


def _owning_table(element: HtmlElement) -> HtmlElement | None:
    """The nearest ``table`` ancestor of ``element``."""
    parent = element.getparent()
    while parent is not None and parent.tag != "table":
        parent = parent.getparent()
    return parent


def paywall_after_body(lines: Sequence[Line], paragraphs: Sequence[str]) -> bool:
    """A preview / paywall notice stands in the page after the body's first paragraph.

    The extractor may have dropped the notice's block already (so no cut was
    needed); the page is still a truncated preview.
    """
    if not paragraphs:
        return False
    first = paragraphs[0]
    start = next((i for i, line in enumerate(lines) if line.text == first), None)
    if start is None:
        return False
    return any(
        len(line.text) <= 80 and PAYWALL.search(line.text) is not None for line in lines[start:]
    )


def unwrap_layout_tables(tree: HtmlElement) -> None:
    """Turn layout tables into divs (in place).

    Government CMSs lay whole pages out in tables; trafilatura renders a table
    as ``| cell |`` rows with the ``<br>`` paragraphs of a cell run together, or
    drops it without ``include_tables``.  A table whose cells hold long text or
    block elements, or whose rows have a single cell (a banner, a frame), is
    layout, not data, and becomes plain divs.
    """
    for table in list(tree.iter("table")):
        rows = [row for row in table.iter("tr") if _owning_table(row) is table]
        layout = bool(rows) and all(
            sum(1 for cell in row if cell.tag in ("td", "th")) <= 1 for row in rows
        )
        for cell in [] if layout else table.iter("td", "th"):
            if (
                len(cell.text_content()) >= 80
                or next(cell.iter("p", "div", "table", "ul", "br", "h1", "h2"), None) is not None
            ):
                layout = True
                break
        if layout:
            # Only this table's own parts: a data table inside a layout cell stays a table.
            owned = [
                el
                for el in table.iter("tbody", "thead", "tfoot", "tr", "td", "th")
                if _owning_table(el) is table
            ]
            for el in [table, *owned]:
                el.tag = "div"


def run_trafilatura(tree: HtmlElement) -> list[str]:
    """trafilatura on a copy of the tree (it mutates what it is given)."""
    work = copy.deepcopy(tree)
    unwrap_layout_tables(work)
    # Editor markup (UEditor, WeChat copies) wraps runs of a sentence in inline tags;
    # on short pages trafilatura's fallback path breaks lines at each of them.
    etree.strip_tags(work, "span", "font", "b", "strong", "em", "i", "u", "small", "big")
    try:
        result = trafilatura.extract(work, **TRAFILATURA_OPTIONS)
    except (ValueError, TypeError, etree.LxmlError):  # malformed trees: treat as no text
        return []
    return result.splitlines() if result else []


def density_lines(lines: Sequence[Line]) -> list[str]:
    """The block with the most non-link text, Readability-style (score to container and parent)."""
    scores: dict[HtmlElement, float] = {}
    for line in lines:
        text_chars = len(line.text) - line.link_chars
        if text_chars < 10 or line.link_chars > len(line.text) / 2:
            continue
        owner = line.owner
        container = owner if owner.tag in ("div", "td", "article", "section", "body") else None
        if container is None:
            parent = owner.getparent()
            container = parent if parent is not None else owner
        scores[container] = scores.get(container, 0.0) + text_chars
        parent = container.getparent()
        if parent is not None:
            scores[parent] = scores.get(parent, 0.0) + text_chars / 2
    if not scores:
        return []
    best = max(scores, key=lambda el: scores[el])
    out = []
    for line in lines:
        el: HtmlElement | None = line.owner
        while el is not None and el is not best:
            el = el.getparent()
        if el is best:
            out.append(line.text)
    return out


def _with_recall_check(
    body: Body,
    tree: HtmlElement,
    title: str | None,
    anchors: frozenset[str],
    lines: Sequence[Line] | None,
) -> Body:
    """The density block instead of trafilatura's text when it holds that text and much more.

    trafilatura sometimes discards part of a body (a paragraph group in a
    ``div`` whose class looks like a comment or widget box).  When the densest
    block contains what trafilatura found and at least half as much again, the
    block is the body.
    """
    dense = clean_lines(
        density_lines(lines if lines is not None else linearize(tree)), title, anchors
    )
    if dense.chars < body.chars * 1.5 or not _covers(dense, body):
        return body
    dense.method = "density"
    return dense


def anchor_texts(tree: HtmlElement) -> frozenset[str]:
    """Short link texts of the page (navigation, widgets)."""
    out = set()
    for a in tree.iter("a"):
        text = normalize_text(a.text_content())
        if 0 < len(text) <= 20:
            out.add(text)
    return frozenset(out)


def extract_body(
    tree: HtmlElement,
    *,
    selectors: dict[str, Any] | None = None,
    title: str | None = None,
    lines: Sequence[Line] | None = None,
) -> Body:
    """Body paragraphs of an article page (see module docstring for the order of methods)."""
    selectors = selectors or {}
    anchors = anchor_texts(tree)
    all_lines = lines if lines is not None else linearize(tree)
    chosen = Body()
    if selectors.get("body"):
        body = clean_lines(select_lines(tree, selectors["body"]), title, anchors)
        body.method = "selector"
        if body.chars >= MIN_EXTRACT_CHARS:
            return _split_credits(body)
        chosen = body
    spans = best_runs(all_lines, title) or [(0, 0)]
    start, end = _extend_start(all_lines, spans[0][0]), spans[-1][1]
    spans[0] = (start, spans[0][1])
    run = clean_lines(_joined_rows([ln for a, b in spans for ln in all_lines[a:b]]), title, anchors)
    run.method = "run"
    _collect_around(run, all_lines, start, end, title)
    if run.chars >= MIN_EXTRACT_CHARS or (
        run.paragraphs and _follows_title(all_lines, start, title)
    ):
        return _split_credits(run)
    if _longer(run, chosen):
        chosen = run
    body = clean_lines(run_trafilatura(tree), title, anchors)
    body.method = "trafilatura"
    if body.chars >= MIN_EXTRACT_CHARS:
        return _split_credits(_with_recall_check(body, tree, title, anchors, all_lines))
    if _longer(body, chosen):
        chosen = body
    body = clean_lines(density_lines(all_lines), title, anchors)
    body.method = "density"
    # A short body the extractor did find is kept unless the dense block contains it:
    # a longer block elsewhere (a notice, a sidebar) is not this article.
    if body.chars > chosen.chars and (chosen.chars == 0 or _covers(body, chosen)):
        return _split_credits(body)
    return _split_credits(chosen)


def _longer(body: Body, than: Body) -> bool:
    """More text; with no text either way, more lines the rules removed (boilerplate only)."""
    if body.chars != than.chars:
        return body.chars > than.chars
    return body.raw_chars > than.raw_chars


# "(综合整理自…)", "(本文转自…)": a note on where the text comes from, after the body.
_SOURCE_NOTE = re.compile(
    r"^[(（][^()（）]{0,40}(?:综合|整理|编译|转自|转载|来源)[^()（）]{0,40}[)）]$"
)


# A credit in brackets closing the last sentence.
_GLUED_CREDIT = re.compile(
    r"(?<=[。!?”])\s*([(（](?:[\u4e00-\u9fff·]{2,4}(?:\s+[\u4e00-\u9fff·]{2,4}){0,3}"
    r"|[^()（）]{0,12}(?:记者|通讯员|作者|文/|撰稿)[^()（）]{1,30})[)）])$"
)


def _split_credits(body: Body) -> Body:
    """Credit lines opening or closing the paragraphs go to ``credits``, not the text."""
    paras = body.paragraphs
    lead: list[str] = []
    while len(paras) > 1 and is_credit_line(paras[0]):
        lead.append(paras.pop(0))
    trail: list[str] = []
    if paras:
        glued = _GLUED_CREDIT.search(paras[-1])
        if glued:  # "…换新iPhone。(李楠)", "…召开。(记者 张三)"
            trail.append(glued.group(1))
            paras[-1] = paras[-1][: glued.start(1)]
    while len(paras) > 1 and len(trail) < 4:
        last = paras[-1]
        m = _ORIGINAL_TITLE_NOTE.match(last)
        if m:
            body.original_title = body.original_title or m.group(1)
        elif not (is_credit_line(last) or _SOURCE_NOTE.match(last)):
            break
        else:
            trail.insert(0, last)
        paras.pop()
    body.lead_credits = [*body.lead_credits, *lead]
    body.trail_credits = [*trail, *body.trail_credits]
    return body


def _covers(outer: Body, inner: Body) -> bool:
    """``outer`` holds at least 90 % of ``inner``'s text."""
    joined = "".join(outer.paragraphs)
    covered = sum(len(p) for p in inner.paragraphs if p in joined)
    return covered >= inner.chars * 0.9


# --- The article as the best run of prose lines --------------------------------------

# Sentence punctuation: a line carrying one is prose, not a menu entry or a widget.
_PROSE_PUNCT = re.compile(r"[。,;!?、“”]")
_HEADING_TAGS = frozenset(["h1", "h2", "h3", "h4", "h5", "h6"])
# Score of a line that breaks any run.
_BREAK = -1000.0


def line_score(
    line: Line, title_key: str = "", zones: dict[HtmlElement, bool] | None = None
) -> float:
    """How much a line adds to the article run it is part of.

    Prose (non-link text with sentence punctuation, or long) counts its
    characters; link lines count against the run by their length; short
    unpunctuated lines (captions, subheads, widgets) cost a little, so a run
    bridges them but does not start or end on them.  Prose inside a block named
    for comments, sidebars, related links or footers counts against the run.
    """
    text = line.text
    n = len(text)
    if (END_OF_ARTICLE.search(text) or RELATED_HEADING.search(text)) and n <= 120:
        return _BREAK
    if (
        len(set(SITE_NOTICE.findall(text))) >= 3
        or (NOTICE.search(text) and n <= 150)
        or (PROMO.search(text) and n <= 150)
    ):
        return -float(max(n, 30))  # "本网站所刊登的信息仅供参考", "扫描二维码", "【点击投票】"
    if (title_key and _key(text) == title_key) or line.owner.tag in _HEADING_TAGS:
        return -30.0
    if data_row(line.owner) is not None and not (
        n - line.link_chars >= 8 and _PROSE_PUNCT.search(text)
    ):
        return 0.0  # a cell of a data table: neither for nor against the run around it
    if (
        is_info_line(text)
        or (n <= 60 and _LABEL_COLON.match(text))
        or (_DATE_LIKE.search(text) and not _PROSE_PUNCT.search(text))
    ):
        return -10.0  # "来源:… 时间:…", "作者:张三": byline, not text
    if line.link_chars >= n * 0.5:
        return -float(max(n, 4))
    own = n - line.link_chars
    if n <= 40 and CAPTION.search(text):
        return -3.0
    if (own >= 8 and _PROSE_PUNCT.search(text)) or own >= 40:
        value = float(own) if _PROSE_PUNCT.search(text) else own * 0.5
        if LEAD_BOX.match(text) or (zones is not None and outside_article(line.owner, zones)):
            return -value / 2
        return value
    if LEAD_BOX.match(text):
        return -30.0  # "划重点:" heading a summary box
    if (_LEAD_IN.match(text) and not _LABEL_COLON.search(text)) or _END_MARK.match(text):
        return 1.0
    return -3.0


_TOKEN_SPLIT = re.compile(r"[\s_\-]+")


def _zone_of(el: HtmlElement) -> bool | None:
    """True: named for article text; False: for comments, sidebars, footers; None: neither."""
    if el.tag in ("footer", "aside", "nav"):
        return False
    names = f"{el.get('class', '')} {el.get('id', '')}".lower()
    if not names.strip():
        return None
    # The first telling word decides: "comment-content" is a comment, "content_more" text.
    for token in _TOKEN_SPLIT.split(names):
        if token in OUTSIDE_WORDS or token.startswith(OUTSIDE_PREFIXES):
            return False
        if token in INSIDE_WORDS or token.startswith(INSIDE_PREFIXES):
            return True
    return None


def outside_article(el: HtmlElement | None, zones: dict[HtmlElement, bool]) -> bool:
    """The nearest named ancestor of ``el`` is a comment / sidebar / footer block.

    ``zones`` caches the verdict per element (keyed by the element itself, which
    keeps lxml's proxy alive and so its identity stable).
    """
    seen: list[HtmlElement] = []
    verdict = False
    while el is not None:
        if el in zones:
            verdict = zones[el]
            break
        seen.append(el)
        zone = _zone_of(el)
        if zone is not None:
            verdict = not zone
            break
        el = el.getparent()
    for known in seen:
        zones[known] = verdict
    return verdict


# "同志们:", "各位代表:": a salutation opening a speech; "(完)": a wire story's end mark.
_LEAD_IN = re.compile(r"^[\u4e00-\u9fff、]{2,12}[::]$")
_END_MARK = re.compile(r"^[(（【\[]\s*(?:全文)?完\s*[)）】\]]$")
# A credit line: who wrote or photographed the piece, not article text.
_CREDIT_WORDS = re.compile(
    ROLE_WORDS + r"|作者|^[(（]?\s*(?:文|图|文/图|图/文|文图)\s*[/:|丨]|摄\s*[)）]?$"
)
_NAME_ONLY = re.compile(r"^[(（]\s*[\u4e00-\u9fff·]{2,4}(?:\s+[\u4e00-\u9fff·]{2,4}){0,3}\s*[)）]$")
_ORIGINAL_TITLE_NOTE = re.compile(r"^[(（]\s*原题(?:为|是)?\s*[::]?\s*《(.+)》\s*[)）]$")


def is_credit_line(text: str) -> bool:
    """A short line naming the people behind the piece (``(记者 张三)``, ``文/图 王五``)."""
    if (
        len(text) > 60
        or "。" in text
        or _LABEL_COLON.search(text)
        or is_info_line(text)
        or _DATE_LIKE.search(text)
    ):
        return False  # labelled and dated lines are read from the page by the byline stage
    return bool(_CREDIT_WORDS.search(text) or _NAME_ONLY.match(text))


_RELATIVE_DAY = re.compile(r"^(?:昨天|前天|今天|刚刚|\d+\s*(?:秒|分钟|小时|天)前)")


def _extend_start(lines: Sequence[Line], start: int) -> int:
    """Take in up to three short lines just before the run that sit in the body's own block.

    A run cannot start on a line that costs it (a subhead, "下周一,"); one that
    shares the first paragraph's parent and is plain text (no link, label, credit
    or caption) is the article's opening all the same.
    """
    if start >= len(lines):
        return start
    first = lines[start].owner
    parent = first.getparent()
    for _ in range(3):
        if start == 0:
            break
        prev = lines[start - 1]
        text = prev.text
        if (
            prev.owner.getparent() is not parent
            or prev.owner.tag != first.tag
            or prev.link_chars
            or len(text) > 40
            or prev.owner.tag in _HEADING_TAGS
            or line_score(prev) < -3
            or is_credit_line(text)
            or CAPTION.search(text)
            or _LABEL_COLON.search(text)
            or _RELATIVE_DAY.match(text)
        ):
            break
        start -= 1
    return start


def body_start(lines: Sequence[Line]) -> int | None:
    """Index of the line where the article's run of prose starts (None: no prose)."""
    spans = best_runs(lines)
    return _extend_start(lines, spans[0][0]) if spans else None


def _follows_title(lines: Sequence[Line], start: int, title: str | None) -> bool:
    """The run starts within a few lines after the headline."""
    key = _key(title)
    if not key:
        return False
    return any(_key(line.text) == key for line in lines[max(0, start - 6) : start])


def data_row(el: HtmlElement) -> HtmlElement | None:
    """The ``<tr>`` of a data table holding the cell ``el`` (a row of two or more cells)."""
    if el.tag not in ("td", "th"):
        return None
    row = el.getparent()
    if row is None or row.tag != "tr":
        return None
    return row if sum(1 for cell in row if cell.tag in ("td", "th")) >= 2 else None


def _joined_rows(lines: Sequence[Line]) -> list[str]:
    """Line texts, the cells of one data-table row joined as one line (``甲县 | 12``)."""
    out: list[str] = []
    last_row: HtmlElement | None = None
    for line in lines:
        row = data_row(line.owner)
        if row is not None and row is last_row:
            out[-1] += " | " + line.text
        else:
            out.append(line.text)
        last_row = row
    return out


def _max_run(scores: Sequence[float]) -> tuple[int, int]:
    """``(start, end)`` of the maximum-sum segment of ``scores`` (empty when none is positive)."""
    best, span = 0.0, (0, 0)
    total, start = 0.0, 0
    for i, score in enumerate(scores):
        if total <= 0:
            total, start = 0.0, i
        total += score
        if total > best:
            best, span = total, (start, i + 1)
    return span


def _through_table(lines: Sequence[Line], end: int) -> int:
    """``end`` moved past a data table that closes the article in the same block."""
    parent = lines[end - 1].owner.getparent()
    table: HtmlElement | None = None
    while end < len(lines):
        row = data_row(lines[end].owner)
        if row is None:
            break
        found = row.getparent()
        while found is not None and found.tag != "table":
            found = found.getparent()
        if table is None:
            if found is None or found.getparent() is not parent:
                break
            table = found
        elif found is not table:
            break
        end += 1
    return end


def best_runs(lines: Sequence[Line], title: str | None = None) -> list[tuple[int, int]]:
    """The article as ``(start, end)`` spans of ``lines`` (end exclusive).

    The first span is the run of lines with the highest total score (the
    maximum-sum segment).  A box of links or a widget inside the article ends
    that run; when prose goes on after it in the same block (the same parent
    element as the run's last line), within a dozen lines and before any end of
    article (copyright, 上一篇, a declaration), that prose is the article's
    continuation and joins as another span.
    """
    title_key = _key(title)
    zones: dict[HtmlElement, bool] = {}
    scores = [line_score(line, title_key, zones) for line in lines]
    span = _max_run(scores)
    if span[1] - span[0] <= 0:
        # All the prose sits in blocks named like widgets (an aggregator's "summary"
        # holding the article): with nothing else on the page, it is the article.
        scores = [line_score(line, title_key) for line in lines]
        span = _max_run(scores)
    start, end = span
    if 0 < start < end and LEAD_BOX.match(lines[start - 1].text):
        # "划重点:" and its list items: a summary box above the article
        while start < end and lines[start].owner.tag == "li":
            start += 1
    spans = [(start, end)] if end > start else []
    if spans:
        spans[0] = (start, _through_table(lines, end))
    while spans:
        end = spans[-1][1]
        parent = lines[end - 1].owner.getparent()
        j = end
        while j < len(lines) and j - end < 12 and scores[j] <= 0:
            if scores[j] == _BREAK and not RELATED_HEADING.search(lines[j].text):
                return spans  # the end of the article
            j += 1
        if j >= len(lines) or scores[j] <= 0 or lines[j].owner.getparent() is not parent:
            return spans
        total, more, k = 0.0, 0.0, j
        stop = j
        while k < len(lines) and scores[k] != _BREAK:
            total += scores[k]
            if total > more:
                more, stop = total, k + 1
            if total <= 0:
                break
            k += 1
        if more < 60:
            return spans
        spans.append((j, stop))
    return spans


def _collect_around(
    body: Body, lines: Sequence[Line], start: int, end: int, title: str | None
) -> None:
    """Credit, 责任编辑 and 原题 lines just before and after the run go to the byline stage."""
    title_key = _key(title)
    lead: list[str] = []
    for line in reversed(lines[max(0, start - 4) : start]):
        text = WIDGET_PREFIX.sub("", line.text)
        if (title_key and _key(text) == title_key) or line_score(line) == _BREAK:
            break
        if line.link_chars < len(text) * 0.5 and is_credit_line(text):
            lead.insert(0, text)
    trail: list[str] = []
    for line in lines[end : end + 8]:
        text = WIDGET_PREFIX.sub("", line.text)
        if line_score(line) == _BREAK or (line_score(line) > 20 and not is_credit_line(text)):
            break
        if line.link_chars >= len(text) * 0.5:
            continue
        m = _ORIGINAL_TITLE_NOTE.match(text) or _ORIGINAL_TITLE.match(text)
        if m:
            body.original_title = body.original_title or m.group(1)
        elif is_meta_line(text):
            body.meta_lines.append(text)
        elif is_credit_line(text):
            trail.append(text)
    body.lead_credits = lead
    body.trail_credits = trail
