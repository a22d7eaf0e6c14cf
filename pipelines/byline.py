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

from pipelines.dates import ANY_DATE, CLOCK, CN_DATE
from pipelines.normalize import normalize_text
from pipelines.vocab import (
    BAR_LABEL,
    COMPOUND_SURNAMES,
    FIELD_OF_LABEL,
    GLUED_WIDGETS,
    LABEL_RE,
    NOT_NAMES,
    NOT_SOURCES,
    OUTLET_ENDINGS,
    ROLE_OF_WORD,
    ROLE_WORDS,
    SURNAMES,
    alternation,
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


# A staff code after a name: "杨倩_NF4425", "姚立伟-NT6056".
_STAFF_CODE = re.compile(r"(?<=[\u3400-\u9fff])\s*[_\-]?[A-Za-z]{1,4}\d{2,}$")
_WEB_ADDRESS = re.compile(r"www\.|https?:|@|\.(?:com|cn|net|org|gov)\b", re.I)
# A sign-off handle standing for a name: "HN666", "biaoffeng" (labelled values only).
_HANDLE = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]{2,24}$")


def clean_name(token: str, *, handles: bool = False) -> str | None:
    """A person's name from a byline token, job titles and affiliations dropped.

    ``handles`` also takes a Latin handle with digits (``HN666``), which a
    labelled 责任编辑 value can be.
    """
    token = _STAFF_CODE.sub("", _trim(token, " :()[]【】<>《》\"“”'"))
    if not token or token in NOT_NAMES:
        return None
    if re.search(ROLE_WORDS, token):
        token = _ROLE_PREFIX.sub("", token)
    token = _trim(_NAME_SUFFIX.sub("", token), " :")
    if not token or token in NOT_NAMES or token.lower() in NOT_NAMES:
        return None
    if _CJK_NAME.match(token):
        if _ORG_WORDS.search(token):
            return None
        if len(token) >= 4 and _ORG_END.search(token) and "·" not in token:
            return None
        if len(token) == 3 and re.search(r"[网报社台局委厅院部办]$", token):
            return None
        return token
    if _WEB_ADDRESS.search(token):
        return None  # "www.yunnan.cn": a site, not a person
    if _LATIN_NAME.match(token):
        return token.strip()
    if handles and _HANDLE.match(token) and re.search(r"\d", token):
        return token
    return None


_DOT_NAME = re.compile(r"^[\u3400-\u9fff]{1,6}(?:·[\u3400-\u9fff]{1,6})+$")


def person_like(name: str) -> bool:
    """A name shaped like a person's: a family name and one or two more characters.

    Used for names found without a label (a class-named element, a meta tag),
    where account and channel names (``加拿大必读``, ``股市行情``) stand too.
    """
    if "·" in name:  # 阿依古丽·买买提, 约翰·史密斯
        return bool(_DOT_NAME.match(name)) and len(name) <= 12
    if _LATIN_FULL_NAME.match(name):
        return True
    if not _CJK_NAME.match(name):
        return False
    if name[:2] in COMPOUND_SURNAMES:
        return 3 <= len(name) <= 4
    return name[0] in SURNAMES and 2 <= len(name) <= 3


def parse_names(value: str | None, *, handles: bool = False) -> list[str]:
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
    if handles and any(_CJK_NAME.match(tok) for tok in merged):
        handles = False  # "韩保林 PK155": the code of the name before it
    for token in merged:
        name = clean_name(token, handles=handles)
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

    def merge(self, other: Byline) -> None:
        """Add the names of ``other`` that this byline does not list yet."""
        for mine, theirs in (
            (self.authors, other.authors),
            (self.editors, other.editors),
            (self.responsible_editors, other.responsible_editors),
        ):
            mine += [n for n in theirs if n not in mine]

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
    value = CLOCK.sub(" ", value).strip()
    value = _trim(value.split(" ", 1)[0], " :,;|()")
    value = _GLUED_WIDGET.sub("", value)  # "新京报举报": a report link after the name
    if not value or len(value) > 40 or re.search(r"[。,“”!?]", value):
        return None
    if value in NOT_SOURCES:
        return None
    return value


_GLUED_WIDGET = re.compile(f"(?<=[^\\s])(?:{alternation(GLUED_WIDGETS)})$")
_OUTLET = re.compile(rf"^[\u3400-\u9fffA-Za-z·]{{1,14}}(?:{alternation(OUTLET_ENDINGS)})$")
_ORG_NAME = re.compile(r"[局委厅院部办所站队处科会馆组府]$")
_TOKEN_SPLIT = re.compile(r"[\s|丨·•/]+")


def is_outlet(name: str) -> bool:
    """Shaped like a news outlet's name: ``新京报``, ``中国网``, ``澎湃新闻``, ``新浪科技``."""
    return bool(_OUTLET.match(name)) and name not in NOT_SOURCES and len(name) >= 2


def is_organisation(name: str) -> bool:
    """An outlet or an office (``江苏省人民政府办公厅``, ``市公安局``)."""
    return is_outlet(name) or bool(_ORG_WORDS.search(name) or _ORG_NAME.search(name))


def unlabelled_outlet(line: str) -> str | None:
    """The outlet an info line names beside its date without a label.

    ``2019年09月11日 01:53 新浪科技``, ``原创 南方都市报 2019-09-09 16:01:46``; a line
    with any label but a date label is read by its labels instead.
    """
    if any(FIELD_OF_LABEL[m.group("label")] != "date" for m in LABEL_RE.finditer(line)):
        return None
    for token in _TOKEN_SPLIT.split(LABEL_RE.sub(" ", line)):  # a word of its own, not glued
        token = _GLUED_WIDGET.sub("", token)
        if is_outlet(token):
            return token
    return None


def split_outlet_name(source: str | None) -> tuple[str | None, list[str]]:
    """An outlet with a person's name glued after it: ``中国新闻网王帆`` → (中国新闻网, [王帆])."""
    if not source or is_outlet(source):
        return source, []
    for cut in range(len(source) - 2, 1, -1):
        head, tail = source[:cut], source[cut:]
        if is_outlet(head) and person_like(tail):
            return head, [tail]
    return source, []


def split_outlets(source: str, links: frozenset[str]) -> str:
    """The first of two outlets run together: ``人民网新华网`` when the page links
    ``人民网`` on its own.  A source that is one link (``人民日报海外网``) stays whole."""
    if source in links:
        return source
    for link in sorted(links, key=len, reverse=True):
        rest = source[len(link) :] if source.startswith(link) else ""
        if rest and is_outlet(link) and is_outlet(rest):
            return link
    return source


_NAMES_SLASH_OUTLET = re.compile(r"^(?P<names>[^/]{2,20}?)\s*/\s*(?P<outlet>[^/\s]{2,16})$")


def outlet_line(line: str) -> Byline | None:
    """A line beside the date that holds only the outlet, or names and outlet.

    ``新华社`` alone, ``石佳/中国青年报``.
    """
    line = line.strip()
    if is_outlet(line):
        return Byline(source=line)
    m = _NAMES_SLASH_OUTLET.match(line)
    if m and is_outlet(m.group("outlet")):
        names = parse_names(m.group("names"))
        if names and all(person_like(n) for n in names):
            return Byline(source=m.group("outlet"), authors=names)
    return None


# A label at the start of a line with a bar or slash for its colon (pipelines.vocab).
_BAR_LABEL = BAR_LABEL
# Cells of a bar-separated info line that put the value right after the label:
# "发表于2014-08-24 21:30| 来源CSDN| 作者魏星".
_BARE_LABEL_CELL = re.compile(
    rf"(?:^|(?<=[|丨]))\s*({alternation(w for w, f in FIELD_OF_LABEL.items() if f != 'date')})"
    r"(?=[^\s::|丨])"
)


def _with_colons(line: str) -> str:
    """The line with a colon after labels written without one (see the patterns above)."""
    line = _BAR_LABEL.sub(r"\1:", line, count=1)
    if line.count("|") + line.count("丨") >= 2:
        line = _BARE_LABEL_CELL.sub(r"\1:", line)
    return line


def parse_byline(line: str) -> Byline:
    """Source, authors and editors from an info line in any of the portal forms."""
    byline = Byline()
    line = _with_colons(line)
    matches = list(LABEL_RE.finditer(line))
    for i, m in enumerate(matches):
        kind = FIELD_OF_LABEL[m.group("label")]
        end = matches[i + 1].start() if i + 1 < len(matches) else len(line)
        raw = line[m.end() : end]
        byline.labels.add(kind)
        if kind == "source":
            if byline.source is None:
                byline.source, glued = split_outlet_name(clean_source(raw))
                byline.authors += [n for n in glued if n not in byline.authors]
            credit = _CREDIT_ROLES.search(raw)
            if credit:  # "来源:新华社 记者 张三"
                found = parse_credit(raw[credit.start() :]).authors
                byline.authors += [n for n in found if n not in byline.authors]
        elif kind == "author":
            byline.authors += [n for n in parse_names(_clean_value(raw)) if n not in byline.authors]
        elif kind == "editor":
            names = parse_names(_clean_value(raw), handles=True)
            byline.editors += [n for n in names if n not in byline.editors]
        elif kind == "responsible_editor":
            names = parse_names(_clean_value(raw), handles=True)
            byline.responsible_editors += [n for n in names if n not in byline.responsible_editors]
    return byline


_CREDIT_ROLES = re.compile(f"({ROLE_WORDS})")
_PAREN = re.compile(r"[(（【\[]([^()（）【】\[\]]{2,60})[)）】\]]")
# "文/图 王五", "文/张三", "图文|李四", "文字:赵六" written before names: the author's credit.
_WRITER_MARK = re.compile(
    r"(?:^|(?<=[\s(（【\[]))(?:文\s*/\s*图|图\s*/\s*文|图文|文字|文)\s*(?:[/|丨:]\s*|\s+)(?=\S)"
)
# "图/王五", "摄影/张艳": the photographer's.
_PHOTO_MARK = re.compile(r"(?:^|(?<=[\s(（【\[]))(?:图片|图)\s*[/|丨:]\s*(?=\S)")
# Names closed by a photographer's mark: "(记者 张三 摄)", "李妍摄".
_PHOTO_TAIL = re.compile(r"(?:拍摄|摄影|摄)\s*$")
# Sentence punctuation: a line with it is prose, not a credit.
_SENTENCE = re.compile(r"[。!?;“”,:]")


def parse_credit(text: str, *, strict: bool = False) -> Byline:
    """Authors and editors from a credit: ``辽宁日报记者 杨忠厚``, ``记者 张三 通讯员 李四``.

    Role words split the credit; names closed by ``摄`` belong to a photographer
    and names under 摄影 / 校对 to nobody the record names.  ``strict`` demands
    that the credit is nothing else (see ``credit_line``): no role, or a word
    that is not a name, and nothing is returned.
    """
    text = _PHOTO_MARK.sub(" 摄影 ", _WRITER_MARK.sub(" 撰文 ", text))
    parts = _CREDIT_ROLES.split(text)
    found = Byline()
    if len(parts) < 3 or (strict and len(parts[0].strip()) > 12):
        return found
    targets = {
        "author": found.authors,
        "editor": found.editors,
        "responsible_editor": found.responsible_editors,
    }
    for i, (role, value) in enumerate(zip(parts[1::2], parts[2::2], strict=False)):
        glued = 2 * i + 3 < len(parts) and not value[-1:].isspace()  # "观察者网专栏作者"
        if _PHOTO_TAIL.search(value):
            continue  # a photographer's credit
        names = parse_names(value)
        if glued and not (len(names) == 1 and person_like(names[0])):
            continue  # the affiliation of the next role, not a name
        if strict:
            words = [w for w in _NAME_SPLIT.split(value) if w and not _NAME_SUFFIX.fullmatch(w)]
            if not words and 2 * i + 3 >= len(parts):
                return Byline()  # a role with nobody after it
            if any(clean_name(w) is None for w in words if not _ONE_CJK.match(w)) or not all(
                person_like(n) for n in names
            ):
                return Byline()  # "编辑部的故事", "编辑 收藏": words, not a credit
        target = targets.get(ROLE_OF_WORD[role])
        if target is not None:
            target += [n for n in names if n not in target]
    return found


def credit_line(text: str) -> Byline | None:
    """The byline in a line that is a credit and nothing else, or None.

    ``新京报记者 陆一夫``, ``编辑 刘晓阳 校对 李铭``, ``(文/图 刘玺东 易赛楠)``,
    ``采写:南都见习记者 林子沛``, ``扬子晚报记者张楠``: short, without sentence
    punctuation, every word a role or a name.
    """
    text = _trim(text.strip(), "()（）【】[]▲")
    if not text or len(text) > 50:
        return None
    if LABEL_RE.search(text):
        if _SENTENCE.search(LABEL_RE.sub(" ", text)):
            return None
        labelled = parse_byline(text)
        if not all(person_like(n) for n in labelled.authors):
            return None  # "记者:好的": an interview's question, not a credit
        if labelled.labels <= {"author", "editor", "responsible_editor", "ignored_credit"} and (
            labelled.authors or labelled.editors or labelled.responsible_editors
        ):
            return labelled
        return None
    if _SENTENCE.search(text):
        return None
    found = parse_credit(text, strict=True)
    if found.authors or found.editors or found.responsible_editors:
        return found
    return None


def body_credits(paragraphs: Sequence[str], extra: Sequence[str] = ()) -> Byline:
    """Credits in the body: brackets opening or closing it, and lines that are credits.

    ``本报讯(记者 张三 通讯员 李四)``, ``新华社巴黎12月9日电(记者 唐霁)`` in the first
    paragraphs, ``(文/图 王五)`` closing the last ones, and credit lines anywhere
    (``新京报记者 陆一夫`` / ``编辑 刘晓阳`` after the text).  ``extra`` are more
    lines to read as credit lines (those the body stage took out of the text).
    """
    found = Byline()
    spots: list[str] = []
    for para in paragraphs[:3]:
        spots += [m.group(1) for m in _PAREN.finditer(para[:80])]
    for para in paragraphs[-3:]:
        spots += [m.group(1) for m in _PAREN.finditer(para[-80:])]
    for spot in spots:
        credit = credit_line(spot)
        if credit:
            found.merge(credit)
    for para in [*paragraphs, *extra]:
        credit = credit_line(para)
        if credit:
            found.merge(credit)
    # The last paragraphs of prose (widgets and link lists may follow them in the body).
    prose = [p for p in paragraphs if len(p) >= 30 and "。" in p][-3:]
    if len(paragraphs) >= 2 and _LONE_NAMES.match(paragraphs[-1]):
        prose.append(paragraphs[-2] + paragraphs[-1])  # "(李楠)" set apart from the text
    for para in prose if not found.authors else []:
        m = _CLOSING_NAMES.search(para)
        names = parse_names(m.group(1)) if m else []
        if names and all(person_like(n) for n in names):
            found.authors = names  # "…表示。(李楠)": the writer closing the text
    return found


_LONE_NAMES = re.compile(
    r"^[(（]\s*[\u3400-\u9fff·]{2,4}(?:[\s、][\u3400-\u9fff·]{2,4}){0,2}\s*[)）]$"
)
# Names alone in brackets closing the text, after its last sentence.
_CLOSING_NAMES = re.compile(
    r"[。!?”][(（]\s*([\u3400-\u9fff·]{2,4}(?:[\s、][\u3400-\u9fff·]{2,4}){0,2})\s*[)）]$"
)


# --- Hints ------------------------------------------------------------------------

_SOURCE_CLASS = re.compile(r"(?:^|[\s_-])(?:source|laiyuan|ly|from|media-name)(?:$|[\s_-])", re.I)
_AUTHOR_CLASS = re.compile(r"(?:^|[\s_-])(?:author|zuozhe|zz|writer|reporter)(?:$|[\s_-])", re.I)


def class_hints(tree: HtmlElement, near: Sequence[str] | None = None) -> Byline:
    """Source / authors from elements named for them, without a label: ``<a class="source">``.

    Only elements whose text stands in one of the ``near`` lines (the article's
    header and body) count; a hinted author must look like a person's name and a
    hinted source like an outlet or an office, not an account or channel name.
    """
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
        if near is not None and not any(text in line for line in near):
            continue
        if LABEL_RE.search(text):
            labelled = parse_byline(text)
            found.source = found.source or labelled.source
            found.authors = found.authors or labelled.authors
        elif is_source and not found.source:
            source = clean_source(text)
            found.source = source if source and is_organisation(source) else None
        elif is_author and not found.authors:
            found.authors = [n for n in parse_names(text) if person_like(n)]
        if found.source and found.authors:
            break
    return found


_CREDIT_LINE = re.compile(r"^[^。,:]{0,12}?(?:记者|通讯员|撰稿)\s*[\u3400-\u9fff]")


def is_credit_line(text: str) -> bool:
    """``澎湃新闻记者 张三``, ``本报记者 张三 通讯员 李四``: a credit without a label colon."""
    return len(text) <= 40 and bool(_CREDIT_LINE.match(text)) and not LABEL_RE.search(text)
