"""Publish dates: the forms Chinese portals print, meta-tag values and URL dates.

Dates without a year and relative ones (``3小时前``, ``昨天 10:20``, ``刚刚``) are
resolved against the crawl time.  The date forms are hand-written: no library
reads Chinese dates; ``dateutil`` parses ISO 8601 meta values (with their zone)
and does the month arithmetic for relative dates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone

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
SPLIT_DATE = re.compile(
    r"(?<!\d)(?P<y>(?:19|20)\d{2})\s+(?P<m>\d{1,2})\s*/\s*(?P<d>\d{1,2})(?!\d)"
    r"(?:\s+(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?)?"
)
ANY_DATE = re.compile(r"(?<!\d)(?:19|20)\d{2}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}(?!\d)\s*日?")
_CN_DIGITS = {c: i for i, c in enumerate("〇一二三四五六七八九")} | {"零": 0, "○": 0, "O": 0}
CN_DATE = re.compile(
    r"(?P<y>[〇零○O一二三四五六七八九]{4})\s*年\s*(?P<m>[一二三四五六七八九十]{1,2})\s*月"
    r"\s*(?P<d>[一二三四五六七八九十]{1,3})\s*日"
)
NO_YEAR = re.compile(
    r"(?<![\d年/.\-])(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*日"
    + _TIME
    + r"|(?<![\d/.\-])(?P<m2>\d{1,2})-(?P<d2>\d{1,2})\s+(?P<H2>\d{1,2}):(?P<M2>\d{2})(?![\d-])"
)
RELATIVE = re.compile(
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
    m = SPLIT_DATE.search(text)
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
    m = CN_DATE.search(text)
    if m:
        year = int("".join(str(_CN_DIGITS[c]) for c in m.group("y")))
        return _build(
            year, _cn_number(m.group("m")), _cn_number(m.group("d")), None, None, None, fetched
        )
    if not relative:
        return None
    m = NO_YEAR.search(text)
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
    m = RELATIVE.search(text)
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
