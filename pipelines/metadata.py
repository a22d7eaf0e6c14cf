"""Title, original title, byline (source / authors / editors) and publish date.

The orchestrator of the metadata stage: ``extract_metadata`` finds the info
lines of a page and hands them to ``pipelines.title``, ``pipelines.byline`` and
``pipelines.dates``.  Everything works on the already-parsed page (``lxml``)
and on its lines (``pipelines.dom.linearize``); nothing re-reads the HTML.

Where things come from, in order of trust:

* **Title** — the portal's ``title`` selector (an override), else the best of
  ``<h1>`` / headline-class elements, ``og:title``, TRS/Hanweb ``ArticleTitle``
  and ``<title>`` with its site-name segments stripped, picked by agreement
  (a candidate wins when the others repeat it).
* **Byline** — the info line(s) right after the title (``来源:…作者:…发布时间:…``
  run together, with bullets, pipes or spaces), then credits the body stage took
  out (``责任编辑:…``) and other short labelled lines, then credits in and around
  the body (``本报讯(记者 张三 通讯员 李四)``, a trailing ``编辑 刘晓阳``), an outlet
  named beside the date without a label, class-named elements in the article's
  region, and last the CMS meta tags (``ContentSource``, ``Author``).  Names
  found without a label must look like a person's (``pipelines.byline``).
* **Date** — the info line near the title, labelled lines elsewhere, a
  ``发表于`` / ``posted @`` line after the body, meta tags (``PubDate``,
  ``article:published_time``…) and script variables, then the URL (flag
  ``date_from_url``).  A date without a year takes it from a meta, script or
  URL date of the same day; a relative one (``3小时前``, ``昨天 10:20``) gives way
  to an absolute date of the page, else is resolved against ``fetched_at``
  (flag ``date_relative``); a time shown alone gets its day from those dates.
  A date inside the body far from the title, a copyright year, a year alone or
  the crawl time are never taken.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lxml.html import HtmlElement

from pipelines.byline import (
    LINE_COPYRIGHT,
    Byline,
    body_credits,
    class_hints,
    clean_source,
    credit_line,
    is_credit_line,
    outlet_line,
    parse_byline,
    parse_names,
    person_like,
    split_outlets,
    unlabelled_outlet,
)
from pipelines.dates import (
    ANY_DATE,
    CLOCK,
    FoundDate,
    date_form,
    date_free,
    date_from_url,
    find_date,
    in_china_time,
    parse_fetched,
    parse_iso,
    script_date,
    with_time,
    with_year,
)
from pipelines.dom import Line, _key, element_lines, select_elements
from pipelines.normalize import normalize_text
from pipelines.title import extract_title
from pipelines.vocab import LABEL_RE, META_LINE


def meta_tags(tree: HtmlElement) -> dict[str, str]:
    """``<meta name|property|itemprop=… content=…>`` by lower-cased name (first one wins)."""
    found: dict[str, str] = {}
    for el in tree.iter("meta"):
        name = el.get("name") or el.get("property") or el.get("itemprop") or el.get("http-equiv")
        content = el.get("content")
        if name and content is not None:
            found.setdefault(name.strip().lower(), normalize_text(content))
    return found


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


def _title_index(lines: Sequence[Line], title: str | None) -> int | None:
    k = _key(title)
    if not k:
        return None
    for i, line in enumerate(lines):
        lk = _key(line.text)
        if lk == k or (k in lk and len(lk) <= len(k) + 12 and not LABEL_RE.search(line.text)):
            return i
    return None


def _short_info(text: str) -> bool:
    """Short enough and without sentence punctuation: a date/source line, not a paragraph."""
    return len(text) <= 40 and not re.search(r"[。,;!?]", text)


_TODAY_WIDGET = re.compile(r"今天是|今日是|当前时间|现在时间|农历")


def _is_candidate_info(text: str) -> bool:
    if len(text) > 200 or LINE_COPYRIGHT.search(text):
        return False
    if _TODAY_WIDGET.search(text) and not LABEL_RE.search(text):
        return False  # the header's "今天是2024年5月20日 星期一": the crawl day
    if LABEL_RE.search(text):
        return True
    form = date_form(text)
    return form is not None and (not (form.relative or form.loose) or _short_info(text))


_LIST_MARK = re.compile(r"^(?:[-•*]\s+)+")


def _body_index(lines: Sequence[Line], paragraphs: Sequence[str], start: int | None) -> int | None:
    """Index of the line where the body's first paragraph starts."""
    if not paragraphs:
        return None
    head = _LIST_MARK.sub("", paragraphs[0])[:20]
    for i in range(start or 0, len(lines)):
        if lines[i].text.startswith(head):
            return i
    return None


def _body_end(lines: Sequence[Line], paragraphs: Sequence[str], body_idx: int | None) -> int | None:
    """Index of the line holding the body's last paragraph."""
    if not paragraphs or body_idx is None:
        return None
    last = paragraphs[-1]
    for i in range(len(lines) - 1, body_idx - 1, -1):
        if lines[i].text == last:
            return i
    return None


@dataclass
class _ReadByline:
    found: Byline
    has_labels: bool


def _site_names(tree: HtmlElement, meta: dict[str, str], site_name: str | None) -> list[str]:
    """Names of the site itself: the copyright holder, og:site_name, the portal's name and
    the last segment of ``<title>`` (``标题_频道_新浪网``)."""
    names = [meta.get("og:site_name", ""), meta.get("copyright", ""), site_name or ""]
    for el in tree.iter("title"):
        segments = [s for s in _TITLE_SEGMENTS.split(normalize_text(el.text_content())) if s]
        if len(segments) > 1:
            names.append(segments[-1])
        break
    return [n for n in names if n]


_TITLE_SEGMENTS = re.compile(r"\s*(?:_|\||丨|\s-\s|-|—+|–)\s*")


def _read_byline(
    tree: HtmlElement,
    info: Sequence[str],
    lines: Sequence[Line],
    region: Sequence[Line],
    paragraphs: Sequence[str],
    meta_lines: Sequence[str],
    meta: dict[str, str],
    body_set: frozenset[str],
    site_name: str | None,
) -> _ReadByline:
    """Source, authors and editors, from the strongest evidence down.

    Labelled info lines near the title, labelled credit lines anywhere outside
    the body, credits in and around the body (``本报讯(记者 张三)``, trailing
    ``编辑 刘晓阳``), an outlet named beside the date without a label, elements
    named for the field (``class="author"``) in the article's region, and last
    the CMS meta tags.
    """
    byline = Byline()
    for text in info:
        found = parse_byline(text)
        credit = credit_line(ANY_DATE.sub("", text).strip())
        if credit:
            credit.labels.add("author")
            found.fill(credit)
        byline.fill(found)
    has_labels = bool(byline.labels)
    for text in meta_lines:
        byline.fill(parse_byline(text))
    for line in lines:  # labelled lines elsewhere on the page, never the body's own text
        text = line.text
        if len(text) <= 40 and META_LINE.match(text) and text not in body_set:
            byline.fill(parse_byline(text))

    site = _site_names(tree, meta, site_name)
    extra = [line.text for line in region if line.text not in body_set]
    credits = body_credits(paragraphs, extra=[*meta_lines, *extra])
    if not byline.authors or (credits.authors and set(byline.authors) < set(credits.authors)):
        # The body's credit names everyone (本报讯(记者 张三 通讯员 李四)); a meta
        # tag or header often names only the first.
        byline.authors = credits.authors or byline.authors
    byline.editors = byline.editors or credits.editors
    byline.responsible_editors = byline.responsible_editors or credits.responsible_editors

    if not byline.source and "source" not in byline.labels:
        outlet = _outlet_beside_date(info, region, byline)
        if outlet and outlet not in site:  # "not the site itself unless so labelled"
            byline.source = outlet
    if not byline.source or not byline.authors:
        hinted = class_hints(tree, [line.text for line in region])
        if not byline.source and "source" not in byline.labels:
            byline.source = hinted.source
        if not byline.authors and "author" not in byline.labels:
            byline.authors = hinted.authors
    if not byline.source:
        for key in _META_SOURCE_KEYS:
            if meta.get(key):
                byline.source = clean_source(meta[key])
                if byline.source:
                    break
    if not byline.authors and "author" not in byline.labels:
        for key in _META_AUTHOR_KEYS:
            value = meta.get(key, "")
            if not value or "@" in value:
                continue  # "name, email@gmail.com": a template's placeholder
            # A person's name, or a pen name in Latin letters; not an account name in Chinese.
            names = [n for n in parse_names(value) if person_like(n) or n.isascii()]
            byline.authors = [n for n in names if not any(n in s for s in site)]
            if byline.authors:
                break
    if byline.source:
        byline.source = split_outlets(byline.source, _link_texts(tree))
    # An "author" that is the outlet or the site (作者:网易) is nobody's name.
    outlets = [s for s in (byline.source, *site) if s]
    byline.authors = [
        a
        for a in byline.authors
        if not any(a == s or (a in s and not person_like(a)) for s in outlets)
    ]
    return _ReadByline(byline, has_labels)


def _link_texts(tree: HtmlElement) -> frozenset[str]:
    """Short link texts of the page (an outlet's name is often a link)."""
    texts = (normalize_text(a.text_content()) for a in tree.iter("a"))
    return frozenset(t for t in texts if 2 <= len(t) <= 20)


def _outlet_beside_date(info: Sequence[str], region: Sequence[Line], byline: Byline) -> str | None:
    """An outlet named without a label in the date line, or alone on a line beside it."""
    for text in info:
        if date_form(text):
            outlet = unlabelled_outlet(text)
            if outlet:
                return outlet
    for i, line in enumerate(region):
        form = date_form(line.text)
        if form is None or len(date_free(line.text)) > 2:
            continue
        for other in (region[i - 1] if i else None, region[i + 1] if i + 1 < len(region) else None):
            found = outlet_line(other.text) if other is not None else None
            if found:
                if not byline.authors:
                    byline.authors = found.authors
                return found.source
    return None


def _dated_link_line(text: str) -> bool:
    """A short line opening with a full date: right under the headline, an info line even
    when its outlet and widgets are links (``2019年09月11日 01:53 新浪科技 我有话说 收藏本文``)."""
    form = date_form(text, relative=False)
    if len(text) > 80 or form is None or form.loose:
        return False
    m = form.pattern.search(text)
    return m is not None and m.start() == 0  # "标题 2024-05-01" is a list item


def _is_info(line: Line) -> bool:
    """An info line: labels, a date or a credit; not a linked list item (``标题 2024-05-01``)."""
    if line.link_chars >= len(line.text) * 0.5 and not LABEL_RE.search(line.text):
        return False
    if _NOTICE.search(line.text):
        return False
    return (
        _is_candidate_info(line.text)
        or is_credit_line(line.text)
        or credit_line(line.text) is not None
    )


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
    if idx is not None and body_idx is None and paragraphs and len(paragraphs[0]) >= 40:
        body_idx = _body_index(lines, paragraphs, None)
        if body_idx is not None and body_idx < idx:
            idx = None  # the "title" stands below the body's first prose: a sidebar's headline
    body_set = frozenset(paragraphs)
    if idx is not None:
        # Between the title and the body (or the 8 lines after the title), then 3 before it.
        end = (
            max(body_idx, idx + 4)
            if body_idx is not None and idx < body_idx <= idx + 16
            else idx + 9
        )
        after: list[str] = []
        for j, line in enumerate(lines[idx + 1 : end]):
            if len(line.text) > 150 and not LABEL_RE.search(line.text):
                break
            if line.text in body_set:
                continue
            if _is_info(line) or (j < 3 and _dated_link_line(line.text)):
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
            if _is_candidate_info(line.text) and LABEL_RE.search(line.text)
        ][:3]

    # The article's region: from the title (or the body) to a few lines after the body.
    start = idx if idx is not None else body_idx
    body_end = _body_end(lines, paragraphs, body_idx)
    region = list(lines[max(0, (start or 0) - 3) : (body_end or (start or 0) + 16) + 4])
    if start is None:
        region = list(lines[:80])
    byline = _read_byline(
        tree, info, lines, region, paragraphs, meta_lines, meta, body_set, site_name
    )
    out.has_byline = byline.has_labels
    out.source = byline.found.source
    out.authors = byline.found.authors
    out.editors = byline.found.editors
    out.responsible_editors = byline.found.responsible_editors

    for line in lines:
        m = _ORIGINAL_TITLE_LINE.match(line.text)
        if m and len(line.text) <= 150:
            out.original_title = m.group(1)
            break

    outside = [line for line in lines if line.text not in body_set]
    clock = None
    if idx is not None:  # a time of day alone under the headline: "19:02"
        clock = next((ln.text for ln in lines[idx + 1 : idx + 6] if CLOCK.fullmatch(ln.text)), None)
    scripts = [el.text or "" for el in tree.iter("script")]
    out.published_at, out.published_precision, date_flags = _pick_date(
        date_texts + info, outside, meta, url, fetched, scripts, clock
    )
    out.flags += date_flags
    return out


_ORIGINAL_TITLE_LINE = re.compile(r"^[(【\[]?\s*原标题\s*[::]\s*(.+?)\s*[)】\]]?$")


_PUBLISH_LABEL = re.compile(r"(?:发布|发表|发稿|发文)(?:时间|日期)\s*[::]")
_NOTICE = re.compile(r"(?:地点|地址|会议|主题|对象|议程)\s*[::]")
_DATE_LABEL_LINE = re.compile(r"(?:发布|发表)(?:时间|日期)\s*[::]|^(?:时间|日期)\s*[::]")


_POSTED = re.compile(r"^(?:发表于|发布于|posted\s*@|posted\s+on|published\s+on)\s*", re.I)
# Meta tags that carry a date that is not the publish time (an update time…): they
# only give a year or a day to a date the page shows without one.
_META_DATE_NAME = re.compile(r"date|time|pub", re.I)


def _pick_date(
    info: Sequence[str],
    lines: Sequence[Line],
    meta: dict[str, str],
    url: str,
    fetched: datetime,
    scripts: Sequence[str] = (),
    clock: str | None = None,
) -> tuple[str | None, str | None, list[str]]:
    """The publish date and its precision.

    In order: the info lines near the title, labelled date lines elsewhere, a
    ``发表于`` / ``posted @`` line after the body, then the publish-time meta
    tags and script variables, then the URL.  A date shown without its year
    takes the year of a meta, script or URL date of the same month and day; a
    relative one (``昨天``, ``3小时前``) gives way to an absolute date the page
    carries; a time shown alone (``clock``) gets the day from those dates.
    """
    invalid = False
    visible: FoundDate | None = None
    for text in info:
        label = _PUBLISH_LABEL.search(text)
        if label:  # "更新时间:… 发布时间:…": the publish label's date first
            text = text[label.start() :] + " " + text[: label.start()]
        found = find_date(text, fetched, relative=_short_info(LABEL_RE.sub("", text)))
        if found is None:
            continue
        if found.value:
            visible = found
            break
        invalid = True
    if visible is None:
        for line in lines:
            if len(line.text) <= 80 and _DATE_LABEL_LINE.search(line.text):
                if LINE_COPYRIGHT.search(line.text) or _NOTICE.search(line.text):
                    continue
                found = find_date(line.text, fetched, relative=False)
                if found and found.value:
                    visible = found
                    break
                if found:
                    invalid = True
    if visible is None:  # a blog's or forum's "posted @ 2004-12-27 10:20" after the text
        for line in lines:
            posted = _POSTED.match(line.text)
            if posted and len(line.text) <= 120:
                found = find_date(line.text[posted.end() :], fetched, relative=False)
                if found and found.value:
                    visible = found
                    break
    from_meta: FoundDate | None = None
    for key in _META_DATE_KEYS:
        if meta.get(key):
            found = parse_iso(meta[key], fetched)
            if found and found.value:
                from_meta = found
                break
            if found:
                invalid = True
    from_meta = from_meta or script_date(scripts, fetched)
    anchors = [d for d in (from_meta, *_other_meta_dates(meta, fetched)) if d]
    url_day = date_from_url(url, fetched)
    if url_day:
        anchors.append(FoundDate(url_day, day_only=True))
    flags: list[str] = []
    chosen = visible
    if chosen is not None and chosen.year_less:
        completed = next((c for c in (with_year(chosen, a) for a in anchors) if c), None)
        chosen = completed or chosen
    elif chosen is not None and chosen.relative and from_meta:
        chosen = from_meta  # "昨天" is read against the crawl time; the page's own date wins
    if from_meta and chosen is None:
        chosen = from_meta
    elif from_meta and chosen and chosen.day_only and not from_meta.day_only:
        # The page shows the day, a tag gives the time: in China time, so a UTC
        # value late in the evening is not taken for the day before.
        local = in_china_time(from_meta)
        if local.value and chosen.value and local.value[:10] == chosen.value[:10]:
            chosen = local
    if clock and (chosen is None or chosen.day_only):
        for day in [chosen, *anchors] if chosen else anchors:
            timed = with_time(day, clock) if day else None
            if timed:
                chosen = timed
                break
    if chosen and chosen.value:
        if chosen.relative:
            flags.append("date_relative")
        return chosen.value, chosen.precision, flags
    if invalid:
        return None, None, ["date_invalid"]
    if url_day:
        return url_day, "day", ["date_from_url"]
    return None, None, ["no_date"]


def _other_meta_dates(meta: dict[str, str], fetched: datetime) -> list[FoundDate]:
    out = []
    for key, value in meta.items():
        if key in _META_DATE_KEYS or not _META_DATE_NAME.search(key):
            continue
        found = parse_iso(value, fetched)
        if found and found.value:
            out.append(found)
    return out
