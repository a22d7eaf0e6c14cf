"""Publish dates: the forms Chinese portals print, meta-tag values and URL dates.

Dates without a year and relative ones (``3小时前``, ``昨天 10:20``, ``刚刚``) are
resolved against the crawl time.  The date forms are hand-written: no library
reads Chinese dates; ``dateutil`` parses ISO 8601 meta values (with their zone)
and does the month arithmetic for relative dates.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from dateutil import parser as du_parser
from dateutil.relativedelta import relativedelta

CHINA_TZ = timezone(timedelta(hours=8))
MIN_YEAR = 1990  # no Chinese news portal published before this


@dataclass
class FoundDate:
    """A date read from the page: ``value`` is None when the page's date is impossible."""

    value: str | None
    invalid: bool = False
    relative: bool = False
    day_only: bool = False
    precision: str | None = None  # "second", "minute" or "day": what the page gave
    year_less: bool = False  # the page gave month and day only; the year was guessed

    def __post_init__(self) -> None:
        if self.precision is None and self.value:
            self.precision = "day" if self.day_only else "second"


_TIME = (
    r"(?:\s*T?\s*(?P<H>\d{1,2})\s*[:时]\s*(?P<M>\d{1,2})(?:\s*[:分]\s*(?P<S>\d{1,2})\s*秒?)?"
    r"(?:\s*(?P<tz>[+-]\d{2}:?\d{2}|Z))?)?"
)
# A date with its year in digits, without the time (for stripping dates from values).
ANY_DATE = re.compile(r"(?<!\d)(?:19|20)\d{2}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}(?!\d)\s*日?")
_CN_DIGITS = {c: i for i, c in enumerate("〇一二三四五六七八九")} | {"零": 0, "○": 0, "O": 0}
CN_DATE = re.compile(
    r"(?P<y>[〇零○O一二三四五六七八九]{4})\s*年\s*(?P<m>[一二三四五六七八九十]{1,2})\s*月"
    r"\s*(?P<d>[一二三四五六七八九十]{1,3})\s*日"
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
    return dt.replace(tzinfo=tz).isoformat(timespec="seconds")


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


# --- The date forms ---------------------------------------------------------------
#
# One row per form a page prints; ``find_date`` tries them in order.  A reader
# turns the match into a date: groups ``y``/``m``/``d`` (digits, or Chinese
# numerals), the time ``H``/``M``/``S`` and zone ``tz``; a form without a year
# takes it from the crawl time.  ``relative`` forms depend on the crawl time
# (``3小时前``, ``昨天``, ``5月3日``) and are only read on short info lines
# (``loose`` forms too: a bare ``2023 06/12`` is a date only on such a line).

Reader = Callable[[re.Match[str], datetime], "FoundDate | None"]


@dataclass(frozen=True)
class DateForm:
    """One printed date form: its pattern, how to read the match, whether it is relative."""

    name: str
    pattern: re.Pattern[str]
    read: Reader
    relative: bool = False
    loose: bool = False  # a date only on a short line without sentence punctuation


def _time(m: re.Match[str]) -> tuple[str | None, str | None, str | None, str | None]:
    groups = m.groupdict()
    return groups.get("H"), groups.get("M"), groups.get("S"), groups.get("tz")


def _read_digits(m: re.Match[str], fetched: datetime) -> FoundDate | None:
    """``2024-05-20 10:12:31``, ``2024年5月20日 10:12``, ``2024/05/20T10:12+08:00``."""
    if m.groupdict().get("sep") == "年" and "月" not in m.group(0):
        return None  # "2024年5.20": a year in prose
    hh, mi, ss, tz = _time(m)
    return _build(int(m["y"]), int(m["m"]), int(m["d"]), hh, mi, ss, fetched, tz)


def _read_cn(m: re.Match[str], fetched: datetime) -> FoundDate | None:
    """``二〇二四年五月二十日``."""
    year = int("".join(str(_CN_DIGITS[c]) for c in m["y"]))
    return _build(year, _cn_number(m["m"]), _cn_number(m["d"]), None, None, None, fetched)


def _read_no_year(m: re.Match[str], fetched: datetime) -> FoundDate | None:
    """``5月20日 10:12``, ``05-20 10:12``: this year, or last year when that is in the future."""
    month, day = int(m["m"]), int(m["d"])
    hh, mi, ss, _ = _time(m)
    found = _build(fetched.year, month, day, hh, mi, ss, fetched)
    if found.invalid and 1 <= month <= 12:
        found = _build(fetched.year - 1, month, day, hh, mi, ss, fetched)
    found.relative = True
    found.year_less = True
    return found


def _read_short_year(m: re.Match[str], fetched: datetime) -> FoundDate | None:
    """``18-03-08 23:16``: a two-digit year (this century)."""
    hh, mi, ss, _ = _time(m)
    return _build(2000 + int(m["yy"]), int(m["m"]), int(m["d"]), hh, mi, ss, fetched)


_AGO_UNITS: dict[str, timedelta | relativedelta] = {
    "秒": timedelta(seconds=1),
    "分钟": timedelta(minutes=1),
    "小时": timedelta(hours=1),
    "天": timedelta(days=1),
    "周": timedelta(weeks=1),
    "个月": relativedelta(months=1),  # calendar months: dateutil
}


def _read_ago(m: re.Match[str], fetched: datetime) -> FoundDate | None:
    """``3小时前``, ``2天前``: the crawl time less that much, at the unit's precision."""
    unit = m["unit"]
    when = fetched.astimezone(CHINA_TZ) - _AGO_UNITS[unit] * int(m["n"])
    if unit in ("天", "周", "个月"):
        return FoundDate(_format(when.date(), False), relative=True, day_only=True)
    return FoundDate(
        _format(when.replace(microsecond=0), True),
        relative=True,
        precision="second" if unit == "秒" else "minute",
    )


def _read_now(m: re.Match[str], fetched: datetime) -> FoundDate | None:
    """``刚刚``: the crawl minute."""
    local = fetched.astimezone(CHINA_TZ).replace(second=0, microsecond=0)
    return FoundDate(_format(local, True), relative=True, precision="minute")


def _read_day_word(m: re.Match[str], fetched: datetime) -> FoundDate | None:
    """``今天 10:20``, ``昨天``, ``前天 08:00``."""
    day = fetched.astimezone(CHINA_TZ) - timedelta(days=_DAYS_BACK[m["word"]])
    hh, mi, _, _ = _time(m)
    found = (
        _build(day.year, day.month, day.day, hh, mi, None, fetched)
        if hh is not None
        else FoundDate(_format(day.date(), False), day_only=True)
    )
    found.relative = True
    return found


_DAYS_BACK = {"今天": 0, "昨天": 1, "前天": 2}

DATE_FORMS: tuple[DateForm, ...] = (
    DateForm(
        "digits",
        re.compile(
            r"(?<!\d)(?P<y>(?:19|20)\d{2})\s*(?P<sep>[-/.年])\s*(?P<m>\d{1,2})\s*[-/.月]"
            r"\s*(?P<d>\d{1,2})(?!\d)\s*日?" + _TIME
        ),
        _read_digits,
    ),
    # Year, then month/day in other elements: 新华网 "<em>2023</em><em>06</em>/<em>12</em>".
    DateForm(
        "split",
        re.compile(
            r"(?<!\d)(?P<y>(?:19|20)\d{2})\s+(?P<m>\d{1,2})\s*/\s*(?P<d>\d{1,2})(?!\d)"
            r"(?:\s+(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?)?"
        ),
        _read_digits,
        loose=True,
    ),
    DateForm("chinese", CN_DATE, _read_cn),
    DateForm(
        "short-year",
        re.compile(
            r"(?<![\d/.\-])(?P<yy>\d{2})-(?P<m>\d{2})-(?P<d>\d{2})\s*"
            r"(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?(?!\d)"
        ),
        _read_short_year,
        loose=True,
    ),
    DateForm(
        "month-day",
        re.compile(r"(?<![\d年/.\-])(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*日" + _TIME),
        _read_no_year,
        relative=True,
    ),
    DateForm(
        "dash-month-day",
        re.compile(
            # "10-08 12:00", or glued by the markup: "10-0812:00"
            r"(?<![\d/.\-])(?P<m>\d{1,2})-(?P<d>\d{1,2})(?:\s+|(?<=-\d\d))"
            r"(?P<H>\d{1,2}):(?P<M>\d{2})(?![\d-])"
        ),
        _read_no_year,
        relative=True,
    ),
    DateForm(
        "ago",
        re.compile(r"(?P<n>\d+)\s*(?P<unit>秒|分钟|小时|天|周|个月)前"),
        _read_ago,
        relative=True,
    ),
    DateForm("now", re.compile(r"刚刚"), _read_now, relative=True),
    DateForm(
        "day-word",
        re.compile(r"(?P<word>今天|昨天|前天)\s*(?:(?P<H>\d{1,2}):(?P<M>\d{2}))?"),
        _read_day_word,
        relative=True,
    ),
)


def date_form(text: str, *, relative: bool = True) -> DateForm | None:
    """The first form (in table order) that occurs in ``text``."""
    for form in DATE_FORMS:
        if (relative or not form.relative) and form.pattern.search(text):
            return form
    return None


# A time of day: "10:20", "10:20:30".
CLOCK = re.compile(r"(?<!\d)\d{1,2}:\d{2}(?::\d{2})?(?!\d)")


def date_free(text: str) -> str:
    """``text`` without its dates, times, spaces and separators (what else a date line says)."""
    for form in DATE_FORMS:
        text = form.pattern.sub(" ", text)
    return re.sub(r"[\s|/·•:\-]+", "", CLOCK.sub(" ", text))


def find_date(text: str, fetched: datetime, *, relative: bool = True) -> FoundDate | None:
    """The date in ``text`` by the first form of the table that reads one there.

    ``relative=False`` skips the forms that need the crawl time (used for text
    that is not a short info line, where ``5月3日`` is prose).
    """
    for form in DATE_FORMS:
        if form.relative and not relative:
            continue
        m = form.pattern.search(text)
        if m:
            found = form.read(m, fetched)
            if found is not None:
                return found
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


# Publish times that pages keep in script variables or JSON-LD: WeChat's
# ``var ct = "1581517074"``, ``"datePublished": "2020-02-12T22:17:54+08:00"``.
_SCRIPT_EPOCH = re.compile(
    r"\b(?:var\s+)?(?:ct|publish_?time|pub_?time|publishTime|pubTime)\s*[=:]\s*[\"']?(\d{10})\b"
)
_SCRIPT_ISO = re.compile(
    r"[\"'](?:datePublished|publish_?[Tt]ime|pub_?[Dd]ate|pubtime)[\"']\s*:\s*[\"']"
    r"((?:19|20)\d{2}-\d{1,2}-\d{1,2}[^\"']{0,20})[\"']"
)


# The same keys in a JSON state a script assigns (``window.__INITIAL_STATE__ = {…}``)
# or holds (JSON-LD), read structurally: the page's own item is the object nearest the
# top, the related articles it lists (each with its own date) sit deeper.
_STATE_KEYS = frozenset(
    (
        "datePublished",
        "publishDate",
        "publish_date",
        "publishTime",
        "publish_time",
        "pubDate",
        "pub_date",
        "pubTime",
        "pubtime",
    )
)
_STATE_START = re.compile(r"=\s*(?=[{\[])")
_STATE_MAX_CHARS = 4 << 20  # a larger script is not parsed (its variables still are)
_STATE_MAX_DEPTH = 12


def _state_value(value: object, fetched: datetime) -> FoundDate | None:
    """A date from a state's value: ISO 8601 text, or epoch seconds or milliseconds."""
    if isinstance(value, str) and re.match(r"(?:19|20)\d{2}-\d{1,2}-\d{1,2}", value):
        found = parse_iso(value, fetched)
        return found if found and found.value else None
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and len(str(value)) in (10, 13):
        return _epoch_date(value // 1000 if value >= 10**12 else value, fetched)
    return None


def _epoch_date(seconds: int, fetched: datetime) -> FoundDate | None:
    """A Unix time in China time, or None when before MIN_YEAR or after the crawl."""
    dt = datetime.fromtimestamp(seconds, CHINA_TZ)
    if dt.year >= MIN_YEAR and dt <= fetched + timedelta(days=1):
        return FoundDate(_format(dt, True))
    return None


def _shallowest_date(state: dict[str, Any] | list[Any], fetched: datetime) -> FoundDate | None:
    """The date of the publish key nearest the top of ``state`` (document order on a tie)."""
    level = [state]
    for _ in range(_STATE_MAX_DEPTH):
        deeper: list[dict[str, Any] | list[Any]] = []
        for node in level:
            items: Iterable[tuple[object, Any]] = (
                node.items() if isinstance(node, dict) else enumerate(node)
            )
            for key, value in items:
                if key in _STATE_KEYS:
                    found = _state_value(value, fetched)
                    if found:
                        return found
                if isinstance(value, dict | list):
                    deeper.append(value)
        if not deeper:
            break
        level = deeper
    return None


def state_date(text: str, fetched: datetime) -> FoundDate | None:
    """The publish date in a JSON state ``text`` assigns or is, or None (not JSON, no key)."""
    if len(text) > _STATE_MAX_CHARS or not any(key in text for key in _STATE_KEYS):
        return None
    starts = [m.end() for m in _STATE_START.finditer(text)]
    body = text.lstrip()
    if body[:1] in ("{", "["):
        starts.insert(0, len(text) - len(body))
    decoder = json.JSONDecoder()
    for start in starts[:20]:
        try:
            state, _ = decoder.raw_decode(text, start)
        except ValueError:  # a JavaScript literal that is not JSON
            continue
        if isinstance(state, dict | list):
            found = _shallowest_date(state, fetched)
            if found:
                return found
    return None


def script_date(scripts: Iterable[str], fetched: datetime) -> FoundDate | None:
    """The publish time a page's scripts carry (first found), or None."""
    for text in scripts:
        found = state_date(text, fetched)
        if found:
            return found
        m = _SCRIPT_EPOCH.search(text)
        if m:
            found = _epoch_date(int(m.group(1)), fetched)
            if found:
                return found
        m = _SCRIPT_ISO.search(text)
        if m:
            found = parse_iso(m.group(1), fetched)
            if found and found.value:
                return found
    return None


def in_china_time(found: FoundDate) -> FoundDate:
    """``found`` with its time written in China time (``+08:00``)."""
    if not found.value or found.day_only:
        return found
    dt = du_parser.isoparse(found.value).astimezone(CHINA_TZ)
    return FoundDate(dt.isoformat(timespec="seconds"), precision=found.precision)


def with_year(found: FoundDate, anchor: FoundDate) -> FoundDate | None:
    """A year-less date completed by ``anchor`` (a meta, script or URL date) of the same
    month and day, or None when they disagree."""
    if not (found.value and anchor.value) or found.value[4:10] != anchor.value[4:10]:
        return None
    return FoundDate(anchor.value[:4] + found.value[4:], precision=found.precision)


def with_time(day: FoundDate, clock: str) -> FoundDate | None:
    """The day of ``day`` at a time of day shown alone (``19:02``)."""
    m = CLOCK.fullmatch(clock.strip())
    if not day.value or not m:
        return None
    hh, mi, *rest = clock.strip().split(":")
    value = f"{day.value[:10]}T{int(hh):02d}:{mi}:{rest[0] if rest else '00'}+08:00"
    try:
        du_parser.isoparse(value)
    except ValueError:
        return None
    return FoundDate(value, precision="second" if rest else "minute")


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


# A day written 2020-07-16, 2020/7/16, 2020.07.16 or 2020年7月16日 (list rows, 信息公开 cells).
_DAY = re.compile(r"((?:19|20)\d{2})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})")


def day_in(text: str) -> str | None:
    """The first day written in ``text`` as ``YYYY-MM-DD`` (``None``: none, or impossible)."""
    match = _DAY.search(text)
    if not match:
        return None
    year, month, day = (int(g) for g in match.groups())
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    return f"{year:04d}-{month:02d}-{day:02d}"


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
