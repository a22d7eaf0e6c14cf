"""Byline: source / authors / editors from labels, credits, class hints.

The words come from ``pipelines/data/vocab.toml`` (``pipelines.vocab``), the
same list the body stage uses to cut credit lines from the text.  Label
mapping (decided for Chinese portals): 来源/稿源/出处/信息来源/文章来源 → source;
作者/记者/撰稿/通讯员/采写 (and 文 in ``文/图`` credits) → authors;
编辑/编辑人/网络编辑/一审/初审 → editors; 责任编辑/责编/审核/审校/二审/三审/终审/
复审/审签 → responsible_editors (the people who sign the article off).  校对
(proof-reading) and 摄影 are recognised and ignored: a proof-reader or a
photographer is neither author nor editor of the piece.

The label grammar and name cleaning are hand-written: no library parses
Chinese bylines.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from lxml.html import HtmlElement

from pipelines.dates import ANY_DATE, CN_DATE
from pipelines.normalize import normalize_text
from pipelines.vocab import (
    FIELD_OF_LABEL,
    LABEL_RE,
    NOT_NAMES,
    NOT_SOURCES,
    ROLE_OF_WORD,
    ROLE_WORDS,
)

# --- Labels -----------------------------------------------------------------------

# Where a value stops besides the next label.
_VALUE_END = re.compile(r"\s{2,}|[|丨•●■◆◇★☆▪【\[]|\s·\s")
LINE_COPYRIGHT = re.compile(r"Copyright|©|版权|ICP|公网安备|许可证", re.I)

# --- Names --------------------------------------------------------------------------

_ROLE_PREFIX = re.compile(rf"^.*?(?:{ROLE_WORDS})")
_NAME_SUFFIX = re.compile(r"(?:摄影报道|报道组|报道|采写|整理|供稿|/图|摄|等)$")
_NAME_SPLIT = re.compile(r"[\s、,;/|]+")
_CJK_NAME = re.compile(r"^[\u3400-\u9fff\U00020000-\U0002ffff·]{2,6}$")
_LATIN_NAME = re.compile(r"^[A-Za-z][A-Za-z.'\- ]{1,30}$")
_ORG_WORDS = re.compile(
    r"政府|办公室|委员会|人民|中心|日报|晚报|新闻|网站|法院|检察院|公安|政法|宣传|部门|党委|县委|市委|"
    r"省委|研究|协会|集团|公司|融媒|电视|广播|杂志|在线|频道|客户端|消息|综合|整理|编译|转载|图片|视频"
)
_ORG_END = re.compile(r"[网报社台局委厅院部办所站队处科会馆刊组]$")


def _trim(text: str, chars: str) -> str:
    """``text`` without any of ``chars`` at either end."""
    cls = "[" + re.escape(chars) + "]+"
    return re.sub(f"^{cls}|{cls}$", "", text)


def clean_name(token: str) -> str | None:
    """A person's name from a byline token, job titles and affiliations dropped."""
    token = _trim(token, " :()[]【】<>《》\"“”'")
    if not token:
        return None
    if re.search(ROLE_WORDS, token):
        token = _ROLE_PREFIX.sub("", token)
    token = _trim(_NAME_SUFFIX.sub("", token), " :")
    if not token or token in NOT_NAMES:
        return None
    if _CJK_NAME.match(token):
        if _ORG_WORDS.search(token):
            return None
        if len(token) >= 4 and _ORG_END.search(token) and "·" not in token:
            return None
        if len(token) == 3 and re.search(r"[网报社台局委厅院部办]$", token):
            return None
        return token
    if _LATIN_NAME.match(token) and token.lower() not in NOT_NAMES:
        return token.strip()
    return None


def parse_names(value: str | None) -> list[str]:
    """Names from a label value: split on spaces, 、 , ; and job titles removed."""
    if not value:
        return []
    names: list[str] = []
    value = re.sub(r"\([^()]*\)|（[^（）]*）", " ", value)  # 张三(实习生), 李四(XX大学教授)
    tokens: list[str] = []
    for piece in _LIST_SPLIT.split(value):
        piece = piece.strip()
        if _LATIN_FULL_NAME.match(piece):
            tokens.append(piece)  # "Demi Xia": one name, not two
        else:
            tokens += _NAME_SPLIT.split(piece)
    # Two-character names padded to three columns: "王　伟" (NFKC: "王 伟").
    merged: list[str] = []
    for token in tokens:
        if merged and _ONE_CJK.match(token) and _ONE_CJK.match(merged[-1]):
            merged[-1] += token
        else:
            merged.append(token)
    for token in merged:
        name = clean_name(token)
        if name and name not in names:
            names.append(name)
    return names


_ONE_CJK = re.compile(r"^[\u3400-\u9fff]$")
_LIST_SPLIT = re.compile(r"[、,;/|]+|\s{2,}")
# Given name and family name of a Latin-script name, at most four words.
_LATIN_FULL_NAME = re.compile(r"^[A-Z][A-Za-z.'\-]*(?: [A-Z][A-Za-z.'\-]*){1,3}$")


# --- Bylines -----------------------------------------------------------------------


@dataclass
class Byline:
    """Fields read from one or more info lines."""

    source: str | None = None
    authors: list[str] = field(default_factory=list)
    editors: list[str] = field(default_factory=list)
    responsible_editors: list[str] = field(default_factory=list)
    labels: set[str] = field(default_factory=set)  # fields whose label was seen

    def fill(self, other: Byline) -> None:
        """Take from ``other`` what this byline does not have yet."""
        self.source = self.source or other.source
        self.authors = self.authors or other.authors
        self.editors = self.editors or other.editors
        self.responsible_editors = self.responsible_editors or other.responsible_editors
        self.labels |= other.labels


def _clean_value(value: str) -> str:
    value = _VALUE_END.split(value, maxsplit=1)[0]
    return _trim(value, " ::,;|")


def clean_source(value: str) -> str | None:
    value = _clean_value(value)
    value = CN_DATE.sub(" ", ANY_DATE.sub(" ", value))
    value = re.sub(r"(?<!\d)\d{1,2}:\d{2}(?::\d{2})?(?!\d)", " ", value).strip()
    value = _trim(value.split(" ", 1)[0], " :,;|()")
    if not value or len(value) > 40 or re.search(r"[。,“”!?]", value):
        return None
    if value in NOT_SOURCES:
        return None
    return value


def parse_byline(line: str) -> Byline:
    """Source, authors and editors from an info line in any of the portal forms."""
    byline = Byline()
    matches = list(LABEL_RE.finditer(line))
    for i, m in enumerate(matches):
        kind = FIELD_OF_LABEL[m.group("label")]
        end = matches[i + 1].start() if i + 1 < len(matches) else len(line)
        raw = line[m.end() : end]
        byline.labels.add(kind)
        if kind == "source":
            if byline.source is None:
                byline.source = clean_source(raw)
            credit = _CREDIT_ROLES.search(raw)
            if credit:  # "来源:新华社 记者 张三"
                found = parse_credit(raw[credit.start() :]).authors
                byline.authors += [n for n in found if n not in byline.authors]
        elif kind == "author":
            byline.authors += [n for n in parse_names(_clean_value(raw)) if n not in byline.authors]
        elif kind == "editor":
            byline.editors += [n for n in parse_names(_clean_value(raw)) if n not in byline.editors]
        elif kind == "responsible_editor":
            byline.responsible_editors += [
                n for n in parse_names(_clean_value(raw)) if n not in byline.responsible_editors
            ]
    return byline


_CREDIT_ROLES = re.compile(f"({ROLE_WORDS})")
_PAREN = re.compile(r"[(（]([^()（）]{2,60})[)）]")
_WEN_TU = re.compile(
    r"^[(（]?\s*(?:文\s*/\s*图|图\s*/\s*文|文字|撰文|文)\s*(?:[/:|丨]\s*|\s+)"
    r"(?P<names>[\u3400-\u9fff·]{2,5}(?:[\s、,]+[\u3400-\u9fff·]{2,5}){0,4})\s*[)）]?$"
)


def parse_credit(text: str) -> Byline:
    """Authors and editors from a credit: ``辽宁日报记者 杨忠厚``, ``记者 张三 通讯员 李四``."""
    parts = _CREDIT_ROLES.split(text)
    found = Byline()
    targets = {
        "author": found.authors,
        "editor": found.editors,
        "responsible_editor": found.responsible_editors,
    }
    for role, value in zip(parts[1::2], parts[2::2], strict=False):
        target = targets.get(ROLE_OF_WORD[role])
        if target is not None:
            target += [n for n in parse_names(value) if n not in target]
    return found


def body_credits(paragraphs: Sequence[str]) -> list[str]:
    """Authors credited in the body: first and last paragraphs, or short credit lines."""
    if not paragraphs:
        return []
    authors: list[str] = []
    spots: list[str] = []
    first, last = paragraphs[0], paragraphs[-1]
    for m in _PAREN.finditer(first[:80]):
        spots.append(m.group(1))
    for m in _PAREN.finditer(last[-80:]):
        spots.append(m.group(1))
    for para in [*paragraphs[:3], *paragraphs[-3:]]:
        if len(para) > 40 or "。" in para:
            continue
        wen = _WEN_TU.match(para)
        if wen:
            authors += [n for n in parse_names(wen.group("names")) if n not in authors]
        elif re.match(r"^[(（]?[^。,:]{0,12}?(?:记者|通讯员)(?!\s*:)", para):
            spots.append(_trim(para, "()（）"))
    for spot in spots:
        if not re.search(r"记者|通讯员|撰稿", spot):
            continue
        found = parse_credit(spot).authors
        authors += [n for n in found if n not in authors]
    return authors


# --- Hints ------------------------------------------------------------------------

_SOURCE_CLASS = re.compile(r"(?:^|[\s_-])(?:source|laiyuan|ly|from|media-name)(?:$|[\s_-])", re.I)
_AUTHOR_CLASS = re.compile(r"(?:^|[\s_-])(?:author|zuozhe|zz|writer|reporter)(?:$|[\s_-])", re.I)


def class_hints(tree: HtmlElement) -> Byline:
    """Source / authors from elements named for them, without a label: ``<a class="source">``."""
    found = Byline()
    for el in tree.iter("span", "a", "div", "p", "em", "i", "li"):
        names = f"{el.get('class', '')} {el.get('id', '')}"
        if not names.strip():
            continue
        is_source = bool(_SOURCE_CLASS.search(names))
        is_author = not is_source and bool(_AUTHOR_CLASS.search(names))
        if not (is_source or is_author):
            continue
        text = normalize_text(el.text_content())
        if not text or len(text) > 30:
            continue
        if LABEL_RE.search(text):
            labelled = parse_byline(text)
            found.source = found.source or labelled.source
            found.authors = found.authors or labelled.authors
        elif is_source and not found.source:
            found.source = clean_source(text)
        elif is_author and not found.authors:
            found.authors = parse_names(text)
        if found.source and found.authors:
            break
    return found


_CREDIT_LINE = re.compile(r"^[^。,:]{0,12}?(?:记者|通讯员|撰稿)\s*[\u3400-\u9fff]")


def is_credit_line(text: str) -> bool:
    """``澎湃新闻记者 张三``, ``本报记者 张三 通讯员 李四``: a credit without a label colon."""
    return len(text) <= 40 and bool(_CREDIT_LINE.match(text)) and not LABEL_RE.search(text)
