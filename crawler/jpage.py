"""Hanweb 大汉 ``jpage`` lists: entries loaded by POST from ``dataproxy.jsp``.

A Hanweb column page holds no plain list of links.  Its script calls
``$('#div').jpage({… proxyUrl: '/module/web/jpage/dataproxy.jsp', perPage: 15,
totalRecord: 120, ajaxParam: {col: 1, appid: 1, webid: 1, path: '/', columnid:
1229, sourceContentType: 1, unitid: 5678, webname: '…', permissiontype: 0}})``
(the fields are also written as a query string in a ``<nextgroup>`` link), and the
first entries are embedded in a ``<script type="text/xml">`` block::

    <datastore><recordset><record><![CDATA[<li><a href="/art/…">…</a></li>]]></record>…

Further entries come from ``POST proxyUrl?startrecord=N&endrecord=M&perpage=P``
with the fields as the form, answered with the same XML (and
``<totalrecord>``).  ``find_config`` reads the set-up from a page, ``records_selector``
the entries of a page or an answer as HTML, ``next_range`` the next block of
records (``perPage × groupSize`` at a time, as the portal's own script asks).
Hand-written: no library knows Hanweb's list loader.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from urllib.parse import unquote, urljoin

from parsel import Selector

FIELDS = (
    "col",
    "appid",
    "webid",
    "path",
    "columnid",
    "sourceContentType",
    "unitid",
    "webname",
    "permissiontype",
)
DEFAULT_PROXY = "/module/web/jpage/dataproxy.jsp"

_RECORD = re.compile(r"<record>\s*<!\[CDATA\[(.*?)\]\]>\s*</record>", re.S | re.I)
_MARK = re.compile(r"jpage\s*\(|dataproxy\.jsp", re.I)
_PROXY = re.compile(r"proxyUrl\s*[:=]\s*['\"]([^'\"]+)['\"]", re.I)
_NUMBER = {
    name: re.compile(rf"\b{name}\s*[:=]\s*['\"]?(\d+)", re.I)
    for name in ("perPage", "groupSize", "totalRecord")
}
_TOTAL_XML = re.compile(r"<totalrecord>\s*(\d+)\s*</totalrecord>", re.I)


def _field_value(text: str, name: str) -> str | None:
    """A field from the script's parameter object or from a query string in the page."""
    obj = re.search(rf"['\"]?\b{name}['\"]?\s*:\s*(?:'([^']*)'|\"([^\"]*)\"|([^,}}\s]+))", text)
    if obj:
        return next(g for g in obj.groups() if g is not None).strip()
    query = re.search(rf"[?&;]{name}=([^&\"'<\]\s]*)", text)
    if query:
        return unquote(query.group(1))
    return None


@dataclass(frozen=True)
class JpageConfig:
    """How a Hanweb column page loads its entries."""

    page_url: str  # the column page (links in the entries are relative to it)
    proxy_url: str  # absolute URL of dataproxy.jsp
    fields: tuple[tuple[str, str], ...]  # the form fields, in FIELDS order
    per_page: int
    group_size: int
    total: int | None  # totalRecord, when the page says
    embedded: int  # entries embedded in the page itself

    def request_url(self, start: int, end: int) -> str:
        sep = "&" if "?" in self.proxy_url else "?"
        return f"{self.proxy_url}{sep}startrecord={start}&endrecord={end}&perpage={self.per_page}"

    def formdata(self) -> dict[str, str]:
        return dict(self.fields)

    def with_total(self, total: int | None) -> JpageConfig:
        return self if total is None else replace(self, total=total)


def find_config(text: str, page_url: str) -> JpageConfig | None:
    """The jpage set-up of a column page, or ``None`` when it has none."""
    if not _MARK.search(text):
        return None
    fields = []
    for name in FIELDS:
        value = _field_value(text, name)
        if value is not None:
            fields.append((name, value))
    if "columnid" not in dict(fields):
        return None

    def number(name: str, default: int | None) -> int | None:
        match = _NUMBER[name].search(text)
        return int(match.group(1)) if match else default

    proxy = _PROXY.search(text)
    total = number("totalRecord", None)
    if total is None:
        match = _TOTAL_XML.search(text)
        total = int(match.group(1)) if match else None
    return JpageConfig(
        page_url=page_url,
        proxy_url=urljoin(page_url, proxy.group(1) if proxy else DEFAULT_PROXY),
        fields=tuple(fields),
        per_page=max(1, number("perPage", 15) or 15),
        group_size=max(1, number("groupSize", 3) or 3),
        total=total,
        embedded=len(_RECORD.findall(text)),
    )


def records(text: str) -> list[str]:
    """The HTML of each ``<record>`` entry in a page or a dataproxy answer."""
    return _RECORD.findall(text)


def records_selector(text: str) -> Selector:
    """The entries of ``text`` as one HTML list, for the link extractors."""
    entries = records(text)
    # table rows stay rows inside a table; <li> and <div> entries inside a list
    tag = "table" if entries and entries[0].lstrip().lower().startswith("<tr") else "ul"
    return Selector(text=f"<html><body><{tag}>{''.join(entries)}</{tag}></body></html>")


def total_of(text: str) -> int | None:
    """``<totalrecord>`` of a dataproxy answer."""
    match = _TOTAL_XML.search(text)
    return int(match.group(1)) if match else None


def next_range(config: JpageConfig, fetched: int) -> tuple[int, int] | None:
    """The next block of records after the first ``fetched``, or ``None`` past the total."""
    if config.total is not None and fetched >= config.total:
        return None
    start = fetched + 1
    end = start + config.per_page * config.group_size - 1
    if config.total is not None:
        end = min(end, config.total)
    return start, end
