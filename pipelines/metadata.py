"""Title, original title, byline (source / authors / editors) and publish date.

Everything here works on the already-parsed page (``lxml``) and on its lines
(``pipelines.extract.linearize``); nothing re-reads the HTML.

Where things come from, in order of trust:

* **Title** — the portal's ``title`` selector (an override), else the best of
  ``<h1>`` / headline-class elements, ``og:title``, TRS/Hanweb ``ArticleTitle``
  and ``<title>`` with its site-name segments stripped, picked by agreement
  (a candidate wins when the others repeat it).
* **Byline** — the info line(s) right after the title (``来源:…作者:…发布时间:…``
  run together, with bullets, pipes or spaces), then credits the body stage took
  out (``责任编辑:…``), other short labelled lines, CMS meta tags
  (``ContentSource``, ``Author``, ``article:author``), and finally body credits
  (``(辽宁日报记者 杨忠厚)``, ``本报讯(记者 张三 通讯员 李四)``, ``文/图 王五``).
* **Date** — the info line near the title, labelled lines elsewhere, meta tags
  (``PubDate``, ``article:published_time``…), then the URL (flag
  ``date_from_url``).  Dates without a year and relative ones (``3小时前``,
  ``昨天 10:20``, ``刚刚``) are resolved against ``fetched_at`` (flag
  ``date_relative``).  A date inside the body far from the title, a copyright
  year, a year alone or the crawl time are never taken.

Label mapping (decided for Chinese portals):
来源/稿源/出处/信息来源/文章来源 → source; 作者/记者/撰稿/通讯员 (and 文 in
``文/图`` credits) → authors; 编辑/编辑人/网络编辑/一审/初审 → editors;
责任编辑/责编/审核/审校/二审/三审/终审/复审 → responsible_editors (the people who
sign the article off).  校对 (proof-reading) is recognised and ignored: a
proof-reader is neither author nor editor of the piece.

The label grammar, name cleaning and date forms are hand-written: no library
parses Chinese bylines.  ``dateutil`` parses ISO 8601 meta values (with their
zone) and does the month/day arithmetic for relative dates.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from dateutil import parser as du_parser
from dateutil.relativedelta import relativedelta
from lxml.html import HtmlElement

from pipelines.extract import Line, element_lines, normalize_text, select_elements

CHINA_TZ = timezone(timedelta(hours=8))
MIN_YEAR = 1990  # no Chinese news portal published before this

# --- Labels -----------------------------------------------------------------------

_FIELD_OF_LABEL: dict[str, str] = {}
for _labels, _field in (
    ("来源 稿源 出处 信息来源 文章来源 新闻来源 转载来源 来源单位 Source", "source"),
    ("作者 记者 撰稿 撰稿人 通讯员 撰文 供稿人", "author"),
    ("编辑 编辑人 网络编辑 一审 初审 值班编辑", "editor"),
    ("责任编辑 责编 审核 审校 二审 三审 终审 复审 审签", "resp"),
    ("发布时间 发布日期 发表时间 发表日期 时间 日期 发文日期 更新时间 成文日期", "date"),
    (
        "校对 摄影 摄像 浏览次数 浏览 点击数 点击 阅读 阅读数 访问量 字体 字号 分享 关键词 主题词",
        "skip",
    ),
):
    for _label in _labels.split():
        _FIELD_OF_LABEL[_label] = _field

_LABEL_RE = re.compile(
    "(?P<label>" + "|".join(sorted(_FIELD_OF_LABEL, key=len, reverse=True)) + r")\s*[::]"
)
# Where a value stops besides the next label.
_VALUE_END = re.compile(r"\s{2,}|[|丨•●■◆◇★☆▪【\[]|\s·\s")
_LINE_COPYRIGHT = re.compile(r"Copyright|©|版权|ICP|公网安备|许可证", re.I)

# --- Names --------------------------------------------------------------------------

_ROLE_WORDS = (
    "首席记者|特约记者|见习记者|实习记者|全媒体记者|融媒体记者|记者|通讯员|实习生|"
    "特约撰稿人|撰稿人|撰稿|撰文|特约评论员|评论员|责任编辑|网络编辑|编辑|责编|摄影|摄像|供稿"
)
_ROLE_PREFIX = re.compile(rf"^.*?(?:{_ROLE_WORDS})")
_NAME_SUFFIX = re.compile(r"(?:摄影报道|报道组|报道|采写|整理|供稿|/图|摄|等)$")
_NAME_SPLIT = re.compile(r"[\s、,;/|]+")
_CJK_NAME = re.compile(r"^[\u3400-\u9fff\U00020000-\U0002ffff·]{2,6}$")
_LATIN_NAME = re.compile(r"^[A-Za-z][A-Za-z.'\- ]{1,30}$")
_NOT_NAMES = frozenset(
    [
        "本报",
        "本网",
        "本台",
        "本刊",
        "佚名",
        "未知",
        "匿名",
        "暂无",
        "不详",
        "管理员",
        "admin",
        "综合",
        "网站",
        "编辑部",
        "通讯员",
        "记者",
        "报道",
        "新华社",
        "来源",
        "作者",
        "编辑",
        "本站",
        "系统管理员",
        "网友",
        "无",
    ]
)
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
    if re.search(_ROLE_WORDS, token):
        token = _ROLE_PREFIX.sub("", token)
    token = _trim(_NAME_SUFFIX.sub("", token), " :")
    if not token or token in _NOT_NAMES:
        return None
    if _CJK_NAME.match(token):
        if _ORG_WORDS.search(token):
            return None
        if len(token) >= 4 and _ORG_END.search(token) and "·" not in token:
            return None
        if len(token) == 3 and re.search(r"[网报社台局委厅院部办]$", token):
            return None
        return token
    if _LATIN_NAME.match(token) and token.lower() not in _NOT_NAMES:
        return token.strip()
    return None


def parse_names(value: str | None) -> list[str]:
    """Names from a label value: split on spaces, 、 , ; and job titles removed."""
    if not value:
        return []
    names: list[str] = []
    value = re.sub(r"\([^()]*\)|（[^（）]*）", " ", value)  # 张三(实习生), 李四(XX大学教授)
    tokens = _NAME_SPLIT.split(value)
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


def _clean_source(value: str) -> str | None:
    value = _clean_value(value)
    value = _CN_DATE.sub(" ", _ANY_DATE.sub(" ", value))
    value = re.sub(r"(?<!\d)\d{1,2}:\d{2}(?::\d{2})?(?!\d)", " ", value).strip()
    value = _trim(value.split(" ", 1)[0], " :,;|()")
    if not value or len(value) > 40 or re.search(r"[。,“”!?]", value):
        return None
    if value in {"无", "暂无", "未知", "本站", "原创", "本网", "不详", "佚名", "来源", "admin"}:
        return None
    return value


def parse_byline(line: str) -> Byline:
    """Source, authors and editors from an info line in any of the portal forms."""
    byline = Byline()
    matches = list(_LABEL_RE.finditer(line))
    for i, m in enumerate(matches):
        kind = _FIELD_OF_LABEL[m.group("label")]
        end = matches[i + 1].start() if i + 1 < len(matches) else len(line)
        raw = line[m.end() : end]
        byline.labels.add(kind)
        if kind == "source":
            if byline.source is None:
                byline.source = _clean_source(raw)
            credit = _CREDIT_ROLES.search(raw)
            if credit:  # "来源:新华社 记者 张三"
                found, _ = parse_credit(raw[credit.start() :])
                byline.authors += [n for n in found if n not in byline.authors]
        elif kind == "author":
            byline.authors += [n for n in parse_names(_clean_value(raw)) if n not in byline.authors]
        elif kind == "editor":
            byline.editors += [n for n in parse_names(_clean_value(raw)) if n not in byline.editors]
        elif kind == "resp":
            byline.responsible_editors += [
                n for n in parse_names(_clean_value(raw)) if n not in byline.responsible_editors
            ]
    return byline


_CREDIT_ROLES = re.compile(
    r"(首席记者|特约记者|见习记者|实习记者|全媒体记者|融媒体记者|记者|通讯员|实习生|特约撰稿人|撰稿人|撰稿"
    r"|摄影|摄像|责任编辑|编辑|责编)"
)
_PAREN = re.compile(r"[(（]([^()（）]{2,60})[)）]")
_WEN_TU = re.compile(
    r"^[(（]?\s*(?:文\s*/\s*图|图\s*/\s*文|文字|撰文|文)\s*(?:[/:|丨]\s*|\s+)"
    r"(?P<names>[\u3400-\u9fff·]{2,5}(?:[\s、,]+[\u3400-\u9fff·]{2,5}){0,4})\s*[)）]?$"
)


def parse_credit(text: str) -> tuple[list[str], list[str]]:
    """(authors, editors) from a credit: ``辽宁日报记者 杨忠厚``, ``记者 张三 通讯员 李四``."""
    parts = _CREDIT_ROLES.split(text)
    authors: list[str] = []
    editors: list[str] = []
    for role, value in zip(parts[1::2], parts[2::2], strict=False):
        names = parse_names(value)
        if role in ("摄影", "摄像"):
            continue
        target = editors if "编" in role else authors
        target += [n for n in names if n not in target]
    return authors, editors


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
        found, _ = parse_credit(spot)
        authors += [n for n in found if n not in authors]
    return authors


# --- Dates -------------------------------------------------------------------------


@dataclass
class FoundDate:
    """A date read from the page: ``value`` is None when the page's date is impossible."""

    value: str | None
    invalid: bool = False
    relative: bool = False
    day_only: bool = False
    precision: str | None = None  # "second", "minute" or "day": what the page gave

    def __post_init__(self) -> None:
        if self.precision is None and self.value:
            self.precision = "day" if self.day_only else "second"


_TIME = (
    r"(?:\s*T?\s*(?P<H>\d{1,2})\s*[:时]\s*(?P<M>\d{1,2})(?:\s*[:分]\s*(?P<S>\d{1,2})\s*秒?)?"
    r"(?:\s*(?P<tz>[+-]\d{2}:?\d{2}|Z))?)?"
)
_FULL_DATE = re.compile(
    r"(?<!\d)(?P<y>(?:19|20)\d{2})\s*(?P<sep>[-/.年])\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})(?!\d)"
    r"\s*日?" + _TIME
)
# Year, then month/day in other elements: 新华网 "<em>2023</em><em>06</em>/<em>12</em>".
_SPLIT_DATE = re.compile(
    r"(?<!\d)(?P<y>(?:19|20)\d{2})\s+(?P<m>\d{1,2})\s*/\s*(?P<d>\d{1,2})(?!\d)"
    r"(?:\s+(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?)?"
)
_ANY_DATE = re.compile(r"(?<!\d)(?:19|20)\d{2}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}(?!\d)\s*日?")
_CN_DIGITS = {c: i for i, c in enumerate("〇一二三四五六七八九")} | {"零": 0, "○": 0, "O": 0}
_CN_DATE = re.compile(
    r"(?P<y>[〇零○O一二三四五六七八九]{4})\s*年\s*(?P<m>[一二三四五六七八九十]{1,2})\s*月"
    r"\s*(?P<d>[一二三四五六七八九十]{1,3})\s*日"
)
_NO_YEAR = re.compile(
    r"(?<![\d年/.\-])(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*日"
    + _TIME
    + r"|(?<![\d/.\-])(?P<m2>\d{1,2})-(?P<d2>\d{1,2})\s+(?P<H2>\d{1,2}):(?P<M2>\d{2})(?![\d-])"
)
_RELATIVE = re.compile(
    r"(?P<n>\d+)\s*(?P<unit>秒|分钟|小时|天|周|个月)前|(?P<now>刚刚)"
    r"|(?P<day>今天|昨天|前天)\s*(?:(?P<H>\d{1,2}):(?P<M>\d{2}))?"
)


def _cn_number(text: str) -> int:
    """一 .. 三十一 as an int (month and day numerals)."""
    if "十" in text:
        tens, _, ones = text.partition("十")
        return (_CN_DIGITS.get(tens, 1) if tens else 1) * 10 + (_CN_DIGITS[ones] if ones else 0)
    return _CN_DIGITS[text]


def parse_fetched(fetched_at: str | None) -> datetime:
    """The crawl time as an aware datetime (now when unknown)."""
    if fetched_at:
        try:
            dt = du_parser.isoparse(fetched_at)
            return dt if dt.tzinfo else dt.replace(tzinfo=CHINA_TZ)
        except ValueError:
            pass
    return datetime.now(CHINA_TZ)


def _format(dt: datetime | date, with_time: bool) -> str:
    if not with_time or not isinstance(dt, datetime):
        return dt.strftime("%Y-%m-%d")
    tz = dt.tzinfo or CHINA_TZ
    return dt.replace(tzinfo=tz).isoformat(timespec="seconds").replace("+00:00", "+00:00")


def _build(
    y: int,
    m: int,
    d: int,
    hh: str | None,
    mm: str | None,
    ss: str | None,
    fetched: datetime,
    tz: str | None = None,
) -> FoundDate:
    try:
        if hh is not None and mm is not None:
            tzinfo: timezone = CHINA_TZ
            if tz:
                tzinfo = (
                    UTC
                    if tz == "Z"
                    else timezone(
                        (-1 if tz[0] == "-" else 1)
                        * timedelta(hours=int(tz[1:3]), minutes=int(tz[-2:]))
                    )
                )
            dt = datetime(y, m, d, int(hh), int(mm), int(ss or 0), tzinfo=tzinfo)
            if y < MIN_YEAR or dt > fetched + timedelta(days=1):
                return FoundDate(None, invalid=True)
            return FoundDate(_format(dt, True), precision="second" if ss is not None else "minute")
        day = date(y, m, d)
    except ValueError:
        return FoundDate(None, invalid=True)
    if y < MIN_YEAR or day > (fetched + timedelta(days=1)).date():
        return FoundDate(None, invalid=True)
    return FoundDate(_format(day, False), day_only=True)


def find_date(text: str, fetched: datetime, *, relative: bool = True) -> FoundDate | None:
    """The first date in ``text`` (full, Chinese-numeral, then year-less / relative forms)."""
    m = _FULL_DATE.search(text)
    if m:
        if m.group("sep") == "年" and "月" not in m.group(0):
            return None
        return _build(
            int(m.group("y")),
            int(m.group("m")),
            int(m.group("d")),
            m.group("H"),
            m.group("M"),
            m.group("S"),
            fetched,
            m.group("tz"),
        )
    m = _SPLIT_DATE.search(text)
    if m:
        return _build(
            int(m.group("y")),
            int(m.group("m")),
            int(m.group("d")),
            m.group("H"),
            m.group("M"),
            m.group("S"),
            fetched,
        )
    m = _CN_DATE.search(text)
    if m:
        year = int("".join(str(_CN_DIGITS[c]) for c in m.group("y")))
        return _build(
            year, _cn_number(m.group("m")), _cn_number(m.group("d")), None, None, None, fetched
        )
    if not relative:
        return None
    m = _NO_YEAR.search(text)
    if m:
        if m.group("m"):
            mo, d, hh, mi, ss = m.group("m", "d", "H", "M", "S")
        else:
            mo, d, hh, mi = m.group("m2", "d2", "H2", "M2")
            ss = None
        found = _build(fetched.year, int(mo), int(d), hh, mi, ss, fetched)
        if found.invalid and not (1 <= int(mo) <= 12):
            return found
        if found.invalid:  # later this year than the crawl: last year's date
            found = _build(fetched.year - 1, int(mo), int(d), hh, mi, ss, fetched)
        found.relative = True
        return found
    m = _RELATIVE.search(text)
    if m:
        local = fetched.astimezone(CHINA_TZ)
        if m.group("now"):
            return FoundDate(
                _format(local.replace(second=0, microsecond=0), True),
                relative=True,
                precision="minute",
            )
        if m.group("day"):
            back = {"今天": 0, "昨天": 1, "前天": 2}[m.group("day")]
            day = local - timedelta(days=back)
            if m.group("H"):
                found = _build(
                    day.year, day.month, day.day, m.group("H"), m.group("M"), None, fetched
                )
            else:
                found = FoundDate(_format(day.date(), False), day_only=True)
            found.relative = True
            return found
        n, unit = int(m.group("n")), m.group("unit")
        delta: timedelta | relativedelta
        if unit == "个月":
            delta = relativedelta(months=n)  # calendar months: dateutil
        else:
            seconds = {"秒": 1, "分钟": 60, "小时": 3600, "天": 86400, "周": 604800}[unit]
            delta = timedelta(seconds=n * seconds)
        when = local - delta
        if unit in ("天", "周", "个月"):
            return FoundDate(_format(when.date(), False), relative=True, day_only=True)
        return FoundDate(
            _format(when.replace(microsecond=0), True),
            relative=True,
            precision="second" if unit == "秒" else "minute",
        )
    return None


def parse_iso(value: str, fetched: datetime) -> FoundDate | None:
    """A meta-tag date: ISO 8601 with its zone (dateutil), else the Chinese forms."""
    value = value.strip()
    if not value:
        return None
    if re.match(r"^\d{4}-\d{2}-\d{2}T", value):
        try:
            dt = du_parser.isoparse(value)
        except ValueError:
            return FoundDate(None, invalid=True)
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=CHINA_TZ)
        if dt.year < MIN_YEAR or dt > fetched + timedelta(days=1):
            return FoundDate(None, invalid=True)
        return FoundDate(_format(dt.replace(microsecond=0), True))
    return find_date(value, fetched, relative=False)


_URL_DATES = (
    re.compile(r"/t((?:19|20)\d{2})(\d{2})(\d{2})_"),  # TRS: /202007/t20200716_123.html
    re.compile(r"/((?:19|20)\d{2})-(\d{1,2})/(\d{1,2})/"),  # /2020-07/16/
    re.compile(r"/((?:19|20)\d{2})/(\d{2})(\d{2})/"),  # /2020/0716/
    re.compile(r"/((?:19|20)\d{2})(\d{2})/(\d{2})/"),  # /202007/16/
    re.compile(r"/((?:19|20)\d{2})-(\d{2})-(\d{2})/"),  # /2020-07-16/
    re.compile(r"/((?:19|20)\d{2})/(\d{1,2})/(\d{1,2})/"),  # /2020/7/16/
    re.compile(r"/((?:19|20)\d{2})(\d{2})(\d{2})/"),  # /20220715/
    re.compile(r"[/_-]((?:19|20)\d{2})(\d{2})(\d{2})[_\-.]"),  # content_20200716_…
)


def date_from_url(url: str, fetched: datetime) -> str | None:
    """The publish day encoded in the URL path (CMS conventions), or None."""
    path = url.split("?", 1)[0]
    for pattern in _URL_DATES:
        m = pattern.search(path)
        if m:
            found = _build(int(m.group(1)), int(m.group(2)), int(m.group(3)), *(None,) * 3, fetched)
            if found.value:
                return found.value
    return None


# --- Title --------------------------------------------------------------------------

_TITLE_SPLIT = re.compile(r"\s*(?:_|\||丨|\s-\s|\s—\s|——|\s–\s|--)\s*")
_TITLE_CLASS = re.compile(r"title|headline|biaoti|(?:^|[\s_-])(?:bt|tit|tt)(?:$|[\s_-]|\d)", re.I)
_GLUED_SITE = re.compile(
    r"^(.{4,}?)\s*[-–—]\s*([^-–—]{2,16}(?:网|站|政府|频道|在线|日报|新闻|门户|官网|客户端))$"
)
_TITLE_TAGS = ("h1", "h2", "h3", "div", "p", "td", "span", "strong")


def _key(text: str | None) -> str:
    return re.sub(r"[\W_]+", "", text or "")


def meta_tags(tree: HtmlElement) -> dict[str, str]:
    """``<meta name|property|itemprop=… content=…>`` by lower-cased name (first one wins)."""
    found: dict[str, str] = {}
    for el in tree.iter("meta"):
        name = el.get("name") or el.get("property") or el.get("itemprop") or el.get("http-equiv")
        content = el.get("content")
        if name and content is not None:
            found.setdefault(name.strip().lower(), normalize_text(content))
    return found


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
        if _LINE_COPYRIGHT.search(text) or _LABEL_RE.search(text):
            agree -= 3
        return (agree, -prio)

    best = max(candidates, key=score)
    return best[0]


# --- The whole record's metadata ---------------------------------------------------


@dataclass
class Metadata:
    """Everything this stage reads from a page besides the body."""

    title: str | None = None
    original_title: str | None = None
    published_at: str | None = None
    published_precision: str | None = None  # "second", "minute" or "day" (None with no date)
    source: str | None = None
    authors: list[str] = field(default_factory=list)
    editors: list[str] = field(default_factory=list)
    responsible_editors: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    has_byline: bool = False  # an info line with labels was found near the title


_META_DATE_KEYS = (
    "pubdate",
    "publishdate",
    "article:published_time",
    "og:article:published_time",
    "article:published",
    "datepublished",
    "og:release_date",
    "publish_time",
    "published_time",
    "sailthru.date",
    "dc.date.issued",
    "dc.date",
    "firstpublishedtime",
)
_META_SOURCE_KEYS = ("contentsource", "source", "og:article:source", "article:source")
_META_AUTHOR_KEYS = ("author", "article:author", "og:article:author", "dc.creator")
_SHORT_LABEL_LINE = re.compile(
    r"^[(\[【]?\s*(?:责任编辑|责编|网络编辑|编辑|审核|终审|三审|二审|一审|初审|来源|稿源|作者|记者)\s*[::]"
)


def _title_index(lines: Sequence[Line], title: str | None) -> int | None:
    k = _key(title)
    if not k:
        return None
    for i, line in enumerate(lines):
        lk = _key(line.text)
        if lk == k or (k in lk and len(lk) <= len(k) + 12 and not _LABEL_RE.search(line.text)):
            return i
    return None


def _short_info(text: str) -> bool:
    """Short enough and without sentence punctuation: a date/source line, not a paragraph."""
    return len(text) <= 40 and not re.search(r"[。,;!?]", text)


_TODAY_WIDGET = re.compile(r"今天是|今日是|当前时间|现在时间|农历")


def _is_candidate_info(text: str) -> bool:
    if len(text) > 200 or _LINE_COPYRIGHT.search(text):
        return False
    if _TODAY_WIDGET.search(text) and not _LABEL_RE.search(text):
        return False  # the header's "今天是2024年5月20日 星期一": the crawl day
    if _LABEL_RE.search(text) or _ANY_DATE.search(text) or _CN_DATE.search(text):
        return True
    if _SPLIT_DATE.search(text) and _short_info(text):
        return True
    return _short_info(text) and bool(_NO_YEAR.search(text) or _RELATIVE.search(text))


_SOURCE_CLASS = re.compile(r"(?:^|[\s_-])(?:source|laiyuan|ly|from|media-name)(?:$|[\s_-])", re.I)
_AUTHOR_CLASS = re.compile(r"(?:^|[\s_-])(?:author|zuozhe|zz|writer|reporter)(?:$|[\s_-])", re.I)


def _class_hints(tree: HtmlElement) -> Byline:
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
        if _LABEL_RE.search(text):
            labelled = parse_byline(text)
            found.source = found.source or labelled.source
            found.authors = found.authors or labelled.authors
        elif is_source and not found.source:
            found.source = _clean_source(text)
        elif is_author and not found.authors:
            found.authors = parse_names(text)
        if found.source and found.authors:
            break
    return found


def _body_index(lines: Sequence[Line], paragraphs: Sequence[str], start: int | None) -> int | None:
    """Index of the line where the body's first paragraph starts."""
    if not paragraphs:
        return None
    head = paragraphs[0][:20]
    for i in range(start or 0, len(lines)):
        if lines[i].text.startswith(head):
            return i
    return None


_CREDIT_LINE = re.compile(r"^[^。,:]{0,12}?(?:记者|通讯员|撰稿)\s*[\u3400-\u9fff]")


def _is_credit_line(text: str) -> bool:
    """``澎湃新闻记者 张三``, ``本报记者 张三 通讯员 李四``: a credit without a label colon."""
    return len(text) <= 40 and bool(_CREDIT_LINE.match(text)) and not _LABEL_RE.search(text)


def _is_info(line: Line) -> bool:
    """An info line: labels, a date or a credit; not a linked list item (``标题 2024-05-01``)."""
    if line.link_chars >= len(line.text) * 0.5 and not _LABEL_RE.search(line.text):
        return False
    if _NOTICE.search(line.text):
        return False
    return _is_candidate_info(line.text) or _is_credit_line(line.text)


def _selector_lines(tree: HtmlElement, selector: str | None) -> list[str]:
    """One line per element matching the selector (its lines joined)."""
    return [" ".join(element_lines(el)) for el in select_elements(tree, selector)]


def extract_metadata(
    tree: HtmlElement,
    *,
    url: str,
    fetched_at: str | None,
    lines: Sequence[Line],
    paragraphs: Sequence[str] = (),
    meta_lines: Sequence[str] = (),
    selectors: dict[str, Any] | None = None,
    site_name: str | None = None,
    title: str | None = None,
    meta: dict[str, str] | None = None,
) -> Metadata:
    """Title, byline and date of one page (see the module docstring for the order)."""
    selectors = selectors or {}
    meta = meta if meta is not None else meta_tags(tree)
    fetched = parse_fetched(fetched_at)
    out = Metadata()
    out.title = title if title is not None else extract_title(tree, meta, selectors, site_name)

    # Info lines: selector override, then lines right after (then just before) the title.
    info: list[str] = _selector_lines(tree, selectors.get("byline"))
    date_texts: list[str] = _selector_lines(tree, selectors.get("date"))
    idx = _title_index(lines, out.title)
    body_idx = _body_index(lines, paragraphs, idx)
    body_set = frozenset(paragraphs)
    if idx is not None:
        # Between the title and the body (or the 8 lines after the title), then 3 before it.
        end = (
            max(body_idx, idx + 4)
            if body_idx is not None and idx < body_idx <= idx + 16
            else idx + 9
        )
        after: list[str] = []
        for line in lines[idx + 1 : end]:
            if len(line.text) > 150 and not _LABEL_RE.search(line.text):
                break
            if _is_info(line) and line.text not in body_set:
                after.append(line.text)
        before = [line.text for line in lines[max(0, idx - 3) : idx] if _is_info(line)]
        info += after + before[::-1]
    elif body_idx is not None:
        # No title line found: the info line sits just above the body.
        above = [line.text for line in lines[max(0, body_idx - 8) : body_idx] if _is_info(line)]
        info += above[::-1]
    if idx is None:
        info += [
            line.text
            for line in lines[:80]
            if _is_candidate_info(line.text) and _LABEL_RE.search(line.text)
        ][:3]

    byline = Byline()
    for text in info:
        found = parse_byline(text)
        if _is_credit_line(_ANY_DATE.sub("", text).strip()):
            authors, editors = parse_credit(_ANY_DATE.sub("", text))
            found.fill(Byline(authors=authors, editors=editors, labels={"author"}))
        byline.fill(found)
    out.has_byline = bool(byline.labels)
    for text in meta_lines:
        byline.fill(parse_byline(text))
    for line in lines:  # labelled lines elsewhere on the page, never the body's own text
        text = line.text
        if len(text) <= 40 and _SHORT_LABEL_LINE.match(text) and text not in body_set:
            byline.fill(parse_byline(text))
    if not byline.source or not byline.authors:
        hinted = _class_hints(tree)
        if not byline.source and "source" not in byline.labels:
            byline.source = hinted.source
        if not byline.authors and "author" not in byline.labels:
            byline.authors = hinted.authors
    if not byline.source:
        for key in _META_SOURCE_KEYS:
            if meta.get(key):
                byline.source = _clean_source(meta[key])
                if byline.source:
                    break
    if not byline.authors:
        for key in _META_AUTHOR_KEYS:
            if meta.get(key):
                byline.authors = parse_names(meta[key])
                if byline.authors:
                    break
    credits = body_credits(paragraphs)
    if not byline.authors or (credits and set(byline.authors) < set(credits)):
        # The body's credit names everyone (本报讯(记者 张三 通讯员 李四)); a meta
        # tag or header often names only the first.
        byline.authors = credits or byline.authors
    if byline.source:
        byline.authors = [a for a in byline.authors if a != byline.source]
    out.source = byline.source
    out.authors = byline.authors
    out.editors = byline.editors
    out.responsible_editors = byline.responsible_editors

    for line in lines:
        m = _ORIGINAL_TITLE_LINE.match(line.text)
        if m and len(line.text) <= 150:
            out.original_title = m.group(1)
            break

    outside = [line for line in lines if line.text not in body_set]
    out.published_at, out.published_precision, date_flags = _pick_date(
        date_texts + info, outside, meta, url, fetched
    )
    out.flags += date_flags
    return out


_ORIGINAL_TITLE_LINE = re.compile(r"^[(【\[]?\s*原标题\s*[::]\s*(.+?)\s*[)】\]]?$")


_PUBLISH_LABEL = re.compile(r"(?:发布|发表|发稿|发文)(?:时间|日期)\s*[::]")
_NOTICE = re.compile(r"(?:地点|地址|会议|主题|对象|议程)\s*[::]")
_DATE_LABEL_LINE = re.compile(r"(?:发布|发表)(?:时间|日期)\s*[::]|^(?:时间|日期)\s*[::]")


def _pick_date(
    info: Sequence[str],
    lines: Sequence[Line],
    meta: dict[str, str],
    url: str,
    fetched: datetime,
) -> tuple[str | None, str | None, list[str]]:
    """The publish date and its precision: info lines, labelled lines, meta tags, the URL."""
    invalid = False
    visible: FoundDate | None = None
    for text in info:
        label = _PUBLISH_LABEL.search(text)
        if label:  # "更新时间:… 发布时间:…": the publish label's date first
            text = text[label.start() :] + " " + text[: label.start()]
        found = find_date(text, fetched, relative=_short_info(_LABEL_RE.sub("", text)))
        if found is None:
            continue
        if found.value:
            visible = found
            break
        invalid = True
    if visible is None:
        for line in lines:
            if len(line.text) <= 80 and _DATE_LABEL_LINE.search(line.text):
                if _LINE_COPYRIGHT.search(line.text) or _NOTICE.search(line.text):
                    continue
                found = find_date(line.text, fetched, relative=False)
                if found and found.value:
                    visible = found
                    break
                if found:
                    invalid = True
    from_meta: FoundDate | None = None
    for key in _META_DATE_KEYS:
        if meta.get(key):
            found = parse_iso(meta[key], fetched)
            if found and found.value:
                from_meta = found
                break
            if found:
                invalid = True
    flags: list[str] = []
    chosen = visible
    if from_meta and (
        chosen is None
        or (
            chosen.day_only
            and not from_meta.day_only
            and from_meta.value
            and chosen.value
            and from_meta.value[:10] == chosen.value[:10]
        )
    ):
        chosen = from_meta
    if chosen and chosen.value:
        if chosen.relative:
            flags.append("date_relative")
        return chosen.value, chosen.precision, flags
    if invalid:
        return None, None, ["date_invalid"]
    from_url = date_from_url(url, fetched)
    if from_url:
        return from_url, "day", ["date_from_url"]
    return None, None, ["no_date"]
