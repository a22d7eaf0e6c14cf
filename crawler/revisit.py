"""Revisits of known articles: the schedule in ``STATE_DIR`` and the revisit requests.

Every article written for a portal (``articles.jsonl`` and ``duplicates.jsonl``)
has an entry in ``STATE_DIR/<site>/revisit.log``: its next visit, interval,
last status, last ``content_hash``, state (``present`` or ``removed``), the
``ETag`` and ``Last-Modified`` validators its portal gave, and the last outcome.
A new article is first due ``REVISIT_MIN_INTERVAL`` days after it was fetched.
After a revisit that found nothing new the interval grows by ``REVISIT_BACKOFF``
up to ``REVISIT_MAX_INTERVAL`` days; after a change (modified, removed,
restored) it shrinks by the same factor down to ``REVISIT_MIN_INTERVAL``; after
an unreachable or blocked revisit it stays and the article is due again after
``REVISIT_MIN_INTERVAL``.

With ``-a revisit=1`` a run also requests, after its start URLs, the due
articles, the most overdue first, at most ``REVISIT_MAX_PER_RUN``
(``RevisitStartMiddleware``): with the spider's settings and politeness (same
slots, delays, robots.txt), at a lower priority than article links so new
articles are fetched first, with ``If-None-Match`` / ``If-Modified-Since`` when
the portal gave validators.  ``pipelines.revisit.RevisitPipeline`` classifies
the answers and writes the events.

The log is append-only, one line per entry update::

    <first 16 hex digits of the SHA-1 of JSON> <JSON>\\n

A ``{"checkpoint": ...}`` line records how far the log covers the portal's
JSONL files (size and SHA-1 of the bytes before that size, as the seen store
does) and ``events.jsonl``.  At start (portal lock held):

- a last line without its newline (a killed write) is cut;
- a line whose checksum or JSON does not match is skipped, counted
  (``revisit/schedule_corrupt_lines``) and logged with its line number, and the
  whole schedule is reconciled with the output: entries missing are made again
  from the records, and every event is applied again;
- records written after the checkpoint get entries, events written after it
  are applied (a run killed between an event and its schedule line), so an
  event is never written twice for one change;
- a log holding many superseded lines is compacted (written anew by rename).

The output files are the truth: the schedule is rebuilt from them, never
started empty while they hold records.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import weakref
from collections.abc import AsyncIterator, Iterator
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Self

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.http import Response
from twisted.python.failure import Failure

from crawler.fsutil import append_whole, write_atomic
from crawler.ids import url_key
from crawler.items import PageItem, RevisitPage
from crawler.state import (
    _URL_FIELD,
    OUTPUT_FILES,
    _tail_sha1,
    portal_state,
    repair_jsonl_tail,
)

logger = logging.getLogger(__name__)

SCHEDULE_FILE = "revisit.log"
EVENTS_FILE = "events.jsonl"
VERSIONS_FILE = "versions.jsonl"
PRESENT = "present"
REMOVED = "removed"
KIND = "revisit"  # request meta["kind"] of revisit requests
KEY_META = "revisit_key"
PRIORITY = -10  # below article links (0): new articles are fetched first
# statuses a revisit's callback gets (redirects are followed; where to is looked at)
_KEPT_STATUSES = [304, *range(400, 600)]
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # UTC, sorts as text
_COMPACT_SLACK = 1000  # superseded lines tolerated beyond twice the entries


def utc_text(when: datetime) -> str:
    return when.astimezone(UTC).strftime(_TIME_FORMAT)


def parse_time(text: str | None) -> datetime | None:
    """An ISO 8601 time (any offset, or ``Z``) as an aware datetime; None if unreadable."""
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@dataclass
class Entry:
    """The schedule of one article."""

    key: str  # url key
    url: str
    next_visit: str  # UTC, YYYY-MM-DDTHH:MM:SSZ
    interval: float  # days
    content_hash: str | None  # of the version on record
    state: str = PRESENT  # "present" or "removed"
    status: int | None = None  # of the last fetch
    etag: str | None = None
    last_modified: str | None = None
    last_visit: str | None = None  # UTC, of the last revisit (or event)
    last_outcome: str | None = None  # unchanged, not_modified, modified, removed, …

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Entry:
        names = {f.name for f in fields(cls)}
        entry = cls(**{k: v for k, v in data.items() if k in names})
        if not isinstance(entry.key, str) or not isinstance(entry.next_visit, str):
            raise ValueError("entry without key or next_visit")
        entry.interval = float(entry.interval)
        return entry


@dataclass
class Timing:
    """The interval rules (settings ``REVISIT_*``), in days."""

    min_interval: float = 1.0
    max_interval: float = 90.0
    backoff: float = 2.0

    def clamp(self, days: float) -> float:
        return max(self.min_interval, min(self.max_interval, days))

    def advance(self, entry: Entry, now: datetime, outcome: str) -> None:
        """Set the entry's interval and next visit after a revisit with ``outcome``."""
        if outcome in ("modified", "removed", "restored"):
            entry.interval = self.clamp(entry.interval / self.backoff)
            wait = entry.interval
        elif outcome in ("unchanged", "not_modified", "still_removed"):
            entry.interval = self.clamp(max(entry.interval, self.min_interval) * self.backoff)
            wait = entry.interval
        else:  # unreachable, blocked, skipped: the same interval, tried again soon
            wait = self.min_interval
        entry.next_visit = utc_text(now + timedelta(days=wait))
        entry.last_visit = utc_text(now)
        entry.last_outcome = outcome


def _line(data: dict[str, Any]) -> bytes:
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]
    return f"{digest} {text}\n".encode()


def _size_and_tail(path: Path) -> dict[str, Any]:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        size = 0
    return {"size": size, "tail_sha1": _tail_sha1(path, size) if size else ""}


def _covered_from(path: Path, mark: dict[str, Any] | None) -> int:
    """Where to read ``path`` from: the checkpoint's size when the file still matches, else 0."""
    if not mark:
        return 0
    size = int(mark.get("size") or 0)
    try:
        actual = path.stat().st_size
    except FileNotFoundError:
        return 0
    if actual < size or (size and _tail_sha1(path, size) != mark.get("tail_sha1")):
        return 0  # rewritten (moves between the files) or cut: read it all
    return size


def iter_jsonl(
    path: Path, start: int = 0, skip: set[str] | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(offset, record)`` of each parsable JSON object line of ``path`` from ``start``.

    Lines whose url (read off the line's start, as the store writes it) has its url
    key in ``skip`` are passed over unparsed.
    """
    try:
        fh = path.open("rb")
    except FileNotFoundError:
        return
    with fh:
        fh.seek(start)
        offset = start
        for line in fh:
            here, offset = offset, offset + len(line)
            if skip:
                fast = _URL_FIELD.match(line)
                if fast and url_key(fast.group(1).decode("utf-8", "replace")) in skip:
                    continue
            try:
                data = json.loads(line)
            except ValueError:
                continue
            if isinstance(data, dict):
                yield here, data


@dataclass
class OpenInfo:
    entries: int = 0
    added: int = 0  # entries made from records
    replayed: int = 0  # events applied
    corrupt: int = 0  # lines skipped
    torn: int = 0  # bytes of an unfinished last line cut
    compacted: bool = False


class RevisitSchedule:
    """The revisit schedule of one portal (see the module docstring)."""

    def __init__(self, state_dir: Path, output_dir: Path, timing: Timing):
        self.state_dir = state_dir
        self.output_dir = output_dir
        self.path = state_dir / SCHEDULE_FILE
        self.events_path = output_dir / EVENTS_FILE
        self.versions_path = output_dir / VERSIONS_FILE
        self.timing = timing
        self.entries: dict[str, Entry] = {}
        self._fd: int | None = None
        self._lines = 0
        self._marks: dict[str, Any] = {}  # the output files as of the last checkpoint

    # -- reading ---------------------------------------------------------------------
    def _read(self, info: OpenInfo) -> dict[str, Any] | None:
        """Load the log into ``entries``; the last checkpoint, None when it cannot be trusted."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        end = data.rfind(b"\n") + 1
        if end < len(data):  # a write cut by a kill: the event replay redoes it
            info.torn = len(data) - end
            fd = os.open(self.path, os.O_WRONLY)
            try:
                os.ftruncate(fd, end)
            finally:
                os.close(fd)
            logger.info("%s: cut an unfinished last line (%d bytes)", self.path, info.torn)
        checkpoint: dict[str, Any] | None = None
        bad: list[int] = []
        for lineno, raw in enumerate(data[:end].split(b"\n")[:-1], 1):
            self._lines += 1
            digest, _, text = raw.partition(b" ")
            try:
                if hashlib.sha1(text).hexdigest()[:16].encode() != digest:
                    raise ValueError("checksum")
                record = json.loads(text)
                if "checkpoint" in record:
                    checkpoint = dict(record["checkpoint"])
                else:
                    entry = Entry.from_json(record)
                    self.entries[entry.key] = entry
            except (ValueError, TypeError, KeyError, AttributeError):
                bad.append(lineno)
        if bad:
            info.corrupt = len(bad)
            shown = ", ".join(map(str, bad[:10])) + (" …" if len(bad) > 10 else "")
            logger.warning(
                "%s: %d line(s) do not match their checksum and were skipped (line %s); "
                "the schedule is reconciled with %s (entries made again from the records, "
                "every event applied again)",
                self.path,
                len(bad),
                shown,
                self.output_dir,
            )
            return None
        return checkpoint

    def open(self, validators: dict[str, tuple[str | None, str | None]] | None = None) -> OpenInfo:
        """Load, reconcile with the output and the events, open for appending (lock held)."""
        info = OpenInfo()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        for path in (self.events_path, self.versions_path):
            repair_jsonl_tail(path)
        checkpoint = self._read(info)
        superseded = self._lines - len(self.entries)
        if info.corrupt or superseded > len(self.entries) + _COMPACT_SLACK:
            self._compact()  # before appending: the file is replaced
            info.compacted = True
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        info.added = self._add_records((checkpoint or {}).get("outputs") or {}, validators or {})
        info.replayed = self._replay_events((checkpoint or {}).get("events"))
        info.entries = len(self.entries)
        self.checkpoint()
        return info

    def _add_records(
        self, marks: dict[str, Any], validators: dict[str, tuple[str | None, str | None]]
    ) -> int:
        """Entries for records without one (from the checkpoint on, or all when rewritten)."""
        added: list[Entry] = []
        for name in OUTPUT_FILES:
            path = self.output_dir / name
            for _, record in iter_jsonl(
                path, _covered_from(path, marks.get(name)), skip=set(self.entries)
            ):
                url = record.get("url")
                if not isinstance(url, str) or not url:
                    continue
                key = url_key(url)
                if key in self.entries:
                    continue
                fetched = parse_time(record.get("fetched_at")) or datetime.now(UTC)
                etag, modified = validators.get(key, (None, None))
                entry = Entry(
                    key=key,
                    url=url,
                    next_visit=utc_text(fetched + timedelta(days=self.timing.min_interval)),
                    interval=self.timing.min_interval,
                    content_hash=record.get("content_hash"),
                    status=200,
                    etag=etag,
                    last_modified=modified,
                )
                self.entries[key] = entry
                added.append(entry)
        if added:
            self._append(b"".join(_line(asdict(e)) for e in added))
        return len(added)

    def _replay_events(self, mark: dict[str, Any] | None) -> int:
        """Apply events not yet reflected in their entries (written after the checkpoint)."""
        applied = 0
        for _, event in iter_jsonl(self.events_path, _covered_from(self.events_path, mark)):
            url = event.get("url")
            seen = parse_time(event.get("seen_at"))
            entry = self.entries.get(url_key(url)) if isinstance(url, str) else None
            if entry is None or seen is None:
                continue
            done = parse_time(entry.last_visit)
            if done is not None and done >= seen.replace(microsecond=0):
                continue  # its schedule line was written
            kind = str(event.get("event"))
            if kind == "removed":
                entry.state = REMOVED
            elif kind in ("modified", "restored"):
                entry.state = PRESENT
                entry.content_hash = event.get("content_hash") or entry.content_hash
            entry.status = event.get("status")
            self.timing.advance(entry, seen, kind)
            applied += 1
            self._append(_line(asdict(entry)))
        return applied

    def _compact(self) -> None:
        chunks = [_line(asdict(e)) for e in self.entries.values()]
        write_atomic(self.path, chunks)
        self._lines = len(chunks)

    # -- writing ---------------------------------------------------------------------
    def _append(self, data: bytes) -> None:
        """Append whole lines (a failed write, a full disk, leaves no part of them)."""
        assert self._fd is not None
        append_whole(self._fd, data)
        self._lines += data.count(b"\n")

    def put(self, entry: Entry) -> None:
        """Record ``entry``'s new state (one line)."""
        self.entries[entry.key] = entry
        if self._fd is None:
            raise RuntimeError("revisit schedule not open")
        self._append(_line(asdict(entry)))

    def add_new_records(self, validators: dict[str, tuple[str | None, str | None]]) -> int:
        """Entries for the records written since the last checkpoint (call before close)."""
        return self._add_records(self._marks, validators)

    def checkpoint(self) -> None:
        """Record how far the log covers the output and the events (files synced first)."""
        if self._fd is None:
            return
        marks = {name: _size_and_tail(self.output_dir / name) for name in OUTPUT_FILES}
        self._marks = marks
        self._append(
            _line({"checkpoint": {"outputs": marks, "events": _size_and_tail(self.events_path)}})
        )
        os.fsync(self._fd)

    def close(self) -> None:
        if self._fd is None:
            return
        try:
            self.checkpoint()
        finally:
            os.close(self._fd)
            self._fd = None

    # -- choosing ----------------------------------------------------------------------
    def due(self, now: datetime, limit: int) -> list[Entry]:
        """Entries whose next visit has come, the most overdue first, at most ``limit``."""
        stamp = utc_text(now)
        ready = [e for e in self.entries.values() if e.next_visit <= stamp]
        ready.sort(key=lambda e: (e.next_visit, e.key))
        return ready[: max(0, limit)]


# --- the records behind the due entries ------------------------------------------------


def load_versions(output_dir: Path, keys: set[str]) -> dict[str, dict[str, dict[str, Any]]]:
    """For each key, its records by ``content_hash`` (the latest of each), from the output
    files and ``versions.jsonl``.  Lines of other articles are told apart by their url
    alone (read off the line's start as the store writes it), not parsed."""
    found: dict[str, dict[str, dict[str, Any]]] = {}
    if not keys:
        return found
    for name in (*OUTPUT_FILES, VERSIONS_FILE):
        try:
            fh = (output_dir / name).open("rb")
        except FileNotFoundError:
            continue
        with fh:
            for line in fh:
                fast = _URL_FIELD.match(line)
                if fast and url_key(fast.group(1).decode("utf-8", "replace")) not in keys:
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                url = record.get("url") if isinstance(record, dict) else None
                if isinstance(url, str) and url_key(url) in keys:
                    found.setdefault(url_key(url), {})[str(record.get("content_hash"))] = record
    return found


# --- per-crawl state ---------------------------------------------------------------------


@dataclass
class RevisitState:
    """What the start middleware and the pipeline share for one crawl."""

    site: str
    schedule: RevisitSchedule
    max_per_run: int
    info: OpenInfo
    # url key -> (ETag, Last-Modified) of article pages fetched in this run
    validators: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    # url key -> content_hash -> record, for the entries requested in this run
    versions: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    requested: int = 0

    def select(self, now: datetime) -> list[Entry]:
        """The entries to revisit in this run (their records loaded)."""
        chosen = self.schedule.due(now, self.max_per_run)
        self.versions = load_versions(self.schedule.output_dir, {e.key for e in chosen})
        return chosen

    def previous(self, entry: Entry) -> dict[str, Any] | None:
        """The version on record of ``entry`` (the one with its content_hash, else the latest)."""
        by_hash = self.versions.get(entry.key) or {}
        if not by_hash:
            return None
        return by_hash.get(str(entry.content_hash)) or list(by_hash.values())[-1]


_STATES: weakref.WeakKeyDictionary[Any, RevisitState] = weakref.WeakKeyDictionary()


def timing_from_settings(settings: Any) -> Timing:
    return Timing(
        settings.getfloat("REVISIT_MIN_INTERVAL"),
        settings.getfloat("REVISIT_MAX_INTERVAL"),
        max(1.0, settings.getfloat("REVISIT_BACKOFF")),
    )


def revisit_state(crawler: Crawler) -> RevisitState:
    """The crawl's ``RevisitState``, the schedule opened on first call (portal lock taken)."""
    state = _STATES.get(crawler)
    if state is None:
        portal = portal_state(crawler)
        schedule = RevisitSchedule(
            portal.state_dir, portal.output_dir, timing_from_settings(crawler.settings)
        )
        info = schedule.open()
        state = RevisitState(
            site=portal.site,
            schedule=schedule,
            max_per_run=crawler.settings.getint("REVISIT_MAX_PER_RUN"),
            info=info,
        )
        _STATES[crawler] = state
    return state


# --- requests and responses -----------------------------------------------------------------


def revisit_request(spider: Any, entry: Entry) -> Request:
    """The request of one revisit: conditional when validators are known, error statuses
    kept for the callback, redirects followed."""
    headers: dict[str, str] = {}
    if entry.state == PRESENT:
        if entry.etag:
            headers["If-None-Match"] = entry.etag
        if entry.last_modified:
            headers["If-Modified-Since"] = entry.last_modified
    return Request(
        entry.url,
        callback=spider.parse_revisit,
        errback=spider.on_revisit_error,
        headers=headers,
        priority=PRIORITY,
        dont_filter=True,
        meta={"kind": KIND, KEY_META: entry.key, "handle_httpstatus_list": _KEPT_STATUSES},
    )


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


def revisit_page(response: Response, page: PageItem | None) -> RevisitPage:
    """A ``RevisitPage`` of a revisit's response (``page``: the spider's PageItem of it)."""
    meta = response.meta
    key = str(meta.get(KEY_META) or url_key(response.url))
    redirects = meta.get("redirect_urls") or []
    original = redirects[0] if redirects else response.url
    location = _header(response, b"Location") if 300 <= response.status < 400 else None
    return RevisitPage(
        key=key,
        url=original,
        status=response.status,
        final_url=response.url,
        redirected=bool(redirects),
        location=location,
        etag=_header(response, b"ETag"),
        last_modified=_header(response, b"Last-Modified"),
        cookies=[v.decode("latin-1") for v in response.headers.getlist(b"Set-Cookie")],
        page=page if response.body else None,
        archive=meta.get("archive"),
    )


def revisit_failure(failure: Failure) -> RevisitPage | None:
    """A ``RevisitPage`` of a revisit that got no response (None for other requests)."""
    request = getattr(failure, "request", None)
    if request is None or request.meta.get("kind") != KIND:
        return None
    return RevisitPage(
        key=str(request.meta.get(KEY_META) or url_key(request.url)),
        url=request.url,
        status=None,
        final_url=request.url,
        error=type(failure.value).__name__,
    )


class RevisitStartMiddleware:
    """Adds the due revisits after the spider's start requests (``-a revisit=1``).

    Spider middleware (``SPIDER_MIDDLEWARES``).  Stats: ``revisit/due``
    (requests made).  Settings: ``REVISIT_MAX_PER_RUN``.
    """

    def __init__(self, crawler: Crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    async def process_start(self, start: AsyncIterator[Any]) -> AsyncIterator[Any]:
        async for obj in start:
            yield obj
        spider = self.crawler.spider
        if not getattr(spider, "revisit", False) or not hasattr(spider, "parse_revisit"):
            return
        state = revisit_state(self.crawler)
        chosen = state.select(datetime.now(UTC))
        stats = self.crawler.stats
        assert stats is not None
        stats.set_value("revisit/due", len(chosen))
        logger.info(
            "%s: %d known article(s) due for a revisit (at most REVISIT_MAX_PER_RUN=%d)",
            state.site,
            len(chosen),
            state.max_per_run,
        )
        for entry in chosen:
            state.requested += 1
            yield revisit_request(spider, entry)
