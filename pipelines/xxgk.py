"""信息公开 metadata: the disclosure block of government information pages.

Disclosure pages (TRS, Hanweb and other CMSs) head the document with a block of
索引号, 发布机构 / 发文机关, 成文日期, 发布日期, 文号, 主题分类, 有效性: table cells
(``<td>索引号:</td><td>…</td>``, often two pairs a row), ``<li>`` / ``<p>`` rows
(``<li><b>索引号:</b><span>…</span></li>``) or ``<meta>`` tags.  ``read_xxgk`` finds
the smallest element holding at least ``[block] min_labels`` of these labels,
reads it into the fixed fields of ``XXGK_FIELDS`` (absent: ``None``) and removes it
from the tree, so the block is not in the record's text.  Labels are data
(``pipelines/data/xxgk.toml``).  Dates are written ``YYYY-MM-DD``.
"""

from __future__ import annotations

import re
import tomllib
from importlib import resources

from lxml.html import HtmlElement

from pipelines.dates import day_in
from pipelines.normalize import normalize_text
from pipelines.vocab import alternation

XXGK_FIELDS = (
    "index_no",
    "publisher",
    "written_at",
    "published_at",
    "doc_no",
    "category",
    "validity",
)
DATE_FIELDS = frozenset({"written_at", "published_at"})

_DATA = tomllib.loads(
    resources.files("pipelines").joinpath("data/xxgk.toml").read_text(encoding="utf-8")
)
# label word -> field (None: a label of the block that is no field, "标题")
FIELD_OF_LABEL: dict[str, str | None] = {
    w: (f if f in XXGK_FIELDS else None) for f, words in _DATA["labels"].items() for w in words
}
FIELD_OF_META: dict[str, str] = {
    w.lower(): f for f, words in _DATA["meta"].items() for w in words if f in XXGK_FIELDS
}
MIN_LABELS = int(_DATA["block"]["min_labels"])
NO_VALUE = frozenset(_DATA["values"]["none"])

# A label, written with spaces between its characters or not ("索 引 号"), and its colon.
_SPACED = {w: r"\s*".join(map(re.escape, w)) for w in FIELD_OF_LABEL}
_LABEL = re.compile(
    r"(?P<label>"
    + "|".join(_SPACED[w] for w in sorted(FIELD_OF_LABEL, key=len, reverse=True))
    + r")\s*[::]?\s*"
)
_LABEL_ONLY = re.compile(rf"^\s*(?:{_LABEL.pattern})\s*$")
_ANY_LABEL = re.compile(alternation(w for w, f in FIELD_OF_LABEL.items() if f))
_SPACE = re.compile(r"\s+")
_INDEX_NO = re.compile("|".join(_SPACED[w] for w, f in FIELD_OF_LABEL.items() if f == "index_no"))
_ROW_TAGS = ("tr", "li", "p", "div", "dd", "dt", "span", "td", "th")


def empty_xxgk() -> dict[str, str | None]:
    return dict.fromkeys(XXGK_FIELDS)


def _field(label: str) -> str | None:
    return FIELD_OF_LABEL.get(_SPACE.sub("", label))


def _text(el: HtmlElement) -> str:
    return normalize_text(" ".join(t for t in el.itertext()))


def _value(field: str, raw: str) -> str | None:
    value = raw.strip(" \t|:丨").strip()
    if not value or value in NO_VALUE:
        return None
    if field in DATE_FIELDS:
        return day_in(value)
    return value


def _label_count(el: HtmlElement) -> int:
    return len({_field(m.group("label")) for m in _LABEL.finditer(_text(el))} - {None})


def find_block(tree: HtmlElement) -> HtmlElement | None:
    """The smallest element holding ``MIN_LABELS`` different disclosure labels, if any."""
    best: HtmlElement | None = None
    for el in tree.iter("table", "ul", "ol", "div", "dl", "section"):
        text = _text(el)
        if len(text) > 1500 or len(_ANY_LABEL.findall(text)) < 2:
            continue
        count = _label_count(el)
        # 索引号 is the disclosure block's own label: with it two labels are enough
        if count < MIN_LABELS and not (count >= 2 and _INDEX_NO.search(text)):
            continue
        if best is None or len(text) < len(_text(best)):
            best = el
    return best


def _cells(row: HtmlElement) -> list[str]:
    cells = [c for c in row if isinstance(c.tag, str) and c.tag in ("td", "th")]
    return [_text(c) for c in cells]


def _read_pairs(texts: list[str], out: dict[str, str | None]) -> None:
    """Label/value pairs from a sequence of cell texts ("索引号", "…", "发布机构", "…")."""
    i = 0
    while i < len(texts):
        text = texts[i]
        whole = _LABEL_ONLY.match(text)
        if whole and i + 1 < len(texts) and not _LABEL_ONLY.match(texts[i + 1]):
            field = _field(whole.group("label"))
            if field and out[field] is None:
                out[field] = _value(field, texts[i + 1])
            i += 2
            continue
        _read_line(text, out)
        i += 1


_SEPARATORS = " \t|丨/;;,,"


def _read_line(text: str, out: dict[str, str | None]) -> None:
    """Every ``label: value`` in one line of text (several may run together)."""
    # a label word glued to the text before it ("…发文机关印发") is part of a value
    labels = [
        m
        for m in _LABEL.finditer(text)
        if m.start() == 0 or text[m.start() - 1] in _SEPARATORS or text[m.start() - 1] == "\n"
    ]
    for n, match in enumerate(labels):
        field = _field(match.group("label"))
        end = labels[n + 1].start() if n + 1 < len(labels) else len(text)
        if field and out[field] is None:
            out[field] = _value(field, text[match.end() : end])


def read_block(block: HtmlElement) -> dict[str, str | None]:
    out = empty_xxgk()
    rows = list(block.iter("tr"))
    if rows:
        for row in rows:
            _read_pairs(_cells(row), out)
        return out
    items = [el for el in block.iter("li", "dd", "dt", "p") if el is not block]
    if items:
        _read_pairs([_text(el) for el in items], out)
    else:
        _read_line(_text(block), out)
    return out


def read_meta(meta: dict[str, str]) -> dict[str, str | None]:
    """Fields from ``<meta>`` tags: the names of ``[meta]``, or a label as the name
    (``<meta name="索引号" content="…">``)."""
    out = empty_xxgk()
    for name, value in meta.items():
        field = FIELD_OF_META.get(name) or FIELD_OF_LABEL.get(_SPACE.sub("", name))
        if field and out[field] is None:
            out[field] = _value(field, value)
    return out


def read_xxgk(tree: HtmlElement, meta: dict[str, str]) -> dict[str, str | None]:
    """The page's 信息公开 fields (``XXGK_FIELDS``, absent ones ``None``); the block read
    from the page is removed from ``tree``."""
    out = empty_xxgk()
    block = find_block(tree)
    if block is not None:
        out = read_block(block)
        if block.getparent() is not None:
            block.drop_tree()
    for field, value in read_meta(meta).items():
        if out[field] is None:
            out[field] = value
    return out
