"""Item pipeline: what revisits found, as events; the revisit schedule kept up to date.

``RevisitPipeline`` (``ITEM_PIPELINES``, before the page stage) takes the
``RevisitPage`` items of revisit requests (``crawler.revisit``); every other
item passes.  For each one it runs the page pipeline on the body (in the crawl
process: at most ``REVISIT_MAX_PER_RUN`` pages a run), classifies the outcome
(``pipelines.changes``) against the version on record and the article's last
state, and

- appends one line to ``OUTPUT_DIR/<site>/events.jsonl`` for a change:
  ``removed`` (once, when a present article goes), ``modified``, ``restored`` (a
  removed article that answers with an article again), ``unreachable`` and
  ``blocked`` (once per spell, never taken for a removal).  Fields: see
  ``crawler.items.ChangeEvent`` and ``crawler/schema/event.schema.json``;
- for ``modified`` (and a ``restored`` article whose text or fields changed)
  first appends the new version, a full record as in ``articles.jsonl``, to
  ``versions.jsonl``, so the old and the new text can both be read (a version
  already there with that ``content_hash`` is not written twice);
- records the article's new state, interval and validators in the schedule.

Both files are appended a whole line at a time (``pipelines.store.JsonlAppender``),
their unfinished last lines cut at start, and synced with the schedule every
``STORE_FSYNC_EVERY`` events and at close.  The revisit item itself is then
dropped (it is no new article).  In every run, revisits or not, the schedule
gets an entry for each article written, with the ``ETag`` / ``Last-Modified``
its page was sent with.

Stats: ``revisit/requests``, ``revisit/<outcome>`` (``unchanged``,
``not_modified``, ``still_removed``, ``skipped`` and the event names),
``revisit/extraction_changed`` (fields that differ only because today's page
pipeline reads the archived previous page differently: left out of the event,
and no event when nothing else changed),
``revisit/events``, ``revisit/versions``, ``revisit/schedule_entries``,
``revisit/schedule_added``, ``revisit/schedule_corrupt_lines``,
``revisit/schedule_replayed``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem, IgnoreRequest
from scrapy.http import Response

from crawler.ids import record_id, url_key
from crawler.items import ArticleItem, ChangeEvent, RevisitPage, VersionArchive
from crawler.page import process_page
from crawler.revisit import PRESENT, REMOVED, Entry, RevisitState, revisit_state
from pipelines import changes
from pipelines.charset import decode_html
from pipelines.dates import CHINA_TZ
from pipelines.page import page_limits
from pipelines.store import JsonlAppender, encode_record

logger = logging.getLogger(__name__)


def resolve(kind: str, entry: Entry) -> str:
    """The outcome given the article's last state: ``restored``, ``still_removed``…"""
    if entry.state == REMOVED:
        if kind in (changes.UNCHANGED, changes.MODIFIED):
            return changes.RESTORED
        if kind in (changes.REMOVED, changes.NOT_MODIFIED):
            return "still_removed"
    return kind


class RevisitPipeline:
    """Revisit outcomes to events, versions and the schedule (see the module doc)."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.stats = crawler.stats
        settings = crawler.settings
        self.state: RevisitState = revisit_state(crawler)
        self.limits = page_limits(settings)
        self.min_chars = settings.getint("MIN_TEXT_CHARS")
        self.fsync_every = max(1, settings.getint("STORE_FSYNC_EVERY"))
        self.events: JsonlAppender | None = None
        self.versions: JsonlAppender | None = None
        self._unsynced = 0
        crawler.signals.connect(self._response, signal=signals.response_received)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def open_spider(self) -> None:
        info = self.state.info
        self.stats.set_value("revisit/schedule_entries", info.entries)
        for name, value in (
            ("schedule_added", info.added),
            ("schedule_corrupt_lines", info.corrupt),
            ("schedule_replayed", info.replayed),
        ):
            if value:
                self.stats.set_value(f"revisit/{name}", value)

    def _appender(self, which: str) -> JsonlAppender:
        """The events or versions file, opened at its first line (no empty files)."""
        appender: JsonlAppender | None = getattr(self, which)
        if appender is None:
            schedule = self.state.schedule
            path = schedule.events_path if which == "events" else schedule.versions_path
            appender = JsonlAppender(path)
            setattr(self, which, appender)
        return appender

    def _response(self, response: Response, request: Request, **kwargs: Any) -> None:
        """Remember the validators of the article pages this run fetches."""
        if request.meta.get("kind") != "article" or response.status != 200:
            return
        etag = response.headers.get(b"ETag")
        modified = response.headers.get(b"Last-Modified")
        if etag or modified:
            self.state.validators[url_key(response.url)] = (
                etag.decode("latin-1") if etag else None,
                modified.decode("latin-1") if modified else None,
            )

    def close_spider(self) -> None:
        schedule = self.state.schedule
        try:
            for appender in (self.events, self.versions):
                if appender is not None:
                    appender.close()
            # the store closed before this pipeline: its records get their entries now
            added = schedule.add_new_records(self.state.validators)
            if added:
                self.stats.inc_value("revisit/schedule_added", added)
            schedule.close()
        except OSError as exc:
            logger.error(
                "%s: could not save the revisit schedule (%s); the next run brings it up "
                "to date from the output and the events",
                schedule.path,
                exc,
            )
            self.stats.inc_value("state/write_errors")
        self.stats.set_value("revisit/schedule_entries", len(schedule.entries))
        requests = int(self.stats.get_value("revisit/requests") or 0)
        if requests:
            outcomes = ", ".join(
                f"{int(self.stats.get_value(f'revisit/{kind}') or 0)} {kind}"
                for kind in (*changes.EVENTS, changes.UNCHANGED, changes.NOT_MODIFIED)
                if self.stats.get_value(f"revisit/{kind}")
            )
            logger.info(
                "%s: %d known article(s) revisited: %s → %s",
                self.state.site,
                requests,
                outcomes,
                schedule.events_path,
            )

    # -- one revisit ---------------------------------------------------------------------
    def process_item(self, item: Any) -> Any:
        if not isinstance(item, RevisitPage):
            return item
        self.stats.inc_value("revisit/requests")
        entry = self.state.schedule.entries.get(item.key)
        if entry is None:
            raise DropItem(f"revisit of an article not in the schedule: {item.url}")
        now = datetime.now(UTC).replace(microsecond=0)
        previous = self.state.previous(entry)
        record, html = self._process(item)
        spider = self.crawler.spider
        list_urls = list(getattr(spider, "start_urls", []) or [])
        fetch = changes.Fetch(
            item.status, item.final_url, item.redirected, item.location, item.error, item.cookies
        )
        if item.error == "IgnoreRequest":  # robots.txt or offsite: not asked, nothing known
            outcome = changes.Outcome("skipped", "request not sent (robots.txt or offsite)", [])
        else:
            outcome = changes.classify(fetch, record, html, previous, list_urls, self.min_chars)
        compared = previous  # what the new record is compared with, for the event
        if outcome.kind == changes.MODIFIED and record is not None and previous is not None:
            again = self._previous_extracted_now(item, previous)
            if again is not None:
                # the archived previous page, extracted by today's pipeline: what differs
                # from today's record changed on the page; the rest is the extraction
                really = changes.changed_fields(again, record)
                if really != outcome.changed_fields:
                    self.stats.inc_value("revisit/extraction_changed")
                if not really:
                    outcome = changes.Outcome(
                        changes.UNCHANGED, "the extraction changed, not the page", []
                    )
                else:
                    outcome = changes.Outcome(outcome.kind, outcome.reason, really)
                    compared = {**previous, "text": again["text"]}
        kind = resolve(outcome.kind, entry)
        fields = outcome.changed_fields
        if kind == changes.RESTORED and record is not None and previous is not None:
            fields = changes.changed_fields(previous, record)
        event: ChangeEvent | None = None
        if kind in (changes.REMOVED, changes.MODIFIED, changes.RESTORED) or (
            kind in (changes.UNREACHABLE, changes.BLOCKED) and entry.last_outcome != kind
        ):
            event = self._event(item, entry, kind, outcome.reason, fields, record, compared, now)
        try:
            if event is not None:
                if record is not None and kind in (changes.MODIFIED, changes.RESTORED) and fields:
                    self._write_version(entry, record, previous)
                self._appender("events").append(self._line(event))
                self.stats.inc_value("revisit/events")
            self._update(entry, item, kind, record, now)
            self._unsynced += 1
            if self._unsynced >= self.fsync_every:
                self._sync()
        except OSError as exc:
            logger.error(
                "%s: could not record the revisit of %s: %s", self.state.site, item.url, exc
            )
            self.stats.inc_value("revisit/write_errors")
        self.stats.inc_value(f"revisit/{kind}")
        log = logger.info if event is not None else logger.debug
        log("revisit %s: %s (%s)", item.url, kind, outcome.reason)
        raise DropItem(f"revisit {kind}: {item.url}", log_level="DEBUG")

    def _process(self, item: RevisitPage) -> tuple[ArticleItem | None, str]:
        """The page pipeline's record of a 2xx body, and the decoded page of any body."""
        page = item.page
        if page is None:
            return None, ""
        try:
            html = decode_html(page.body, page.content_type, page.charset).text
        except (LookupError, ValueError):
            html = ""
        if item.status is None or not 200 <= item.status < 300:
            return None, html
        try:
            return process_page(page, **self.limits), html
        except Exception as exc:  # a page the pipeline cannot read is an unreadable revisit
            self.stats.inc_value(f"page/errors/{type(exc).__name__}")
            logger.warning("revisit of %s: page processing failed: %r", item.url, exc)
            return None, html

    def _previous_extracted_now(
        self, item: RevisitPage, previous: dict[str, Any]
    ) -> dict[str, Any] | None:
        """The version on record as today's page pipeline reads its archived page.

        A change to the extraction rules (a new release, a portal's selectors) changes
        the ``content_hash`` of pages that did not change; comparing today's record
        with the archived previous page extracted the same way tells the two apart.
        None when there is no archived copy or it cannot be read.
        """
        ref = previous.get("archive")
        if not isinstance(ref, dict) or item.page is None:
            return None
        from crawler.reprocess import BodyDecoder
        from crawler.warc import ArchivedResponse, WarcError, iter_records

        path = Path(str(ref.get("file") or ""))
        if not path.is_absolute():
            path = self.state.schedule.output_dir / path
        try:
            rec = next(iter(iter_records(path, int(ref.get("offset") or 0), 1)), None)
            if not isinstance(rec, ArchivedResponse) or rec.record_id != ref.get("record_id"):
                return None
            body, ctype = BodyDecoder(self.crawler)(rec)
            page = replace(item.page, body=body, content_type=ctype, archive=None)
            return asdict(process_page(page, **self.limits))
        except (OSError, ValueError, WarcError, IgnoreRequest) as exc:
            logger.debug("revisit of %s: archived version not read: %s", item.url, exc)
            return None
        except Exception as exc:  # the page pipeline on an old page: never fails the revisit
            logger.warning("revisit of %s: archived version not extracted: %r", item.url, exc)
            return None

    def _event(
        self,
        item: RevisitPage,
        entry: Entry,
        kind: str,
        reason: str,
        fields: list[str],
        record: ArticleItem | None,
        previous: dict[str, Any] | None,
        now: datetime,
    ) -> ChangeEvent:
        summary: str | None = None
        chars = 0
        if record is not None and previous is not None and "text" in fields:
            summary, chars = changes.diff_summary(str(previous.get("text") or ""), record.text)
        has_article = record is not None and kind in (changes.MODIFIED, changes.RESTORED)
        archive: VersionArchive | None = None
        if item.archive is not None or (previous or {}).get("archive") is not None:
            archive = {"previous": (previous or {}).get("archive"), "current": item.archive}
        title = (record.title if has_article and record is not None else None) or (
            (previous or {}).get("title")
        )
        return ChangeEvent(
            id=record_id(entry.url),
            url=entry.url,
            site=self.state.site,
            event=kind,
            seen_at=now.astimezone(CHINA_TZ).isoformat(timespec="seconds"),
            previous_hash=entry.content_hash,
            content_hash=record.content_hash if has_article and record is not None else None,
            status=item.status,
            changed_fields=fields if has_article else [],
            diff_summary=summary,
            archive=archive,
            reason=reason,
            title=title,
            chars_changed=chars,
        )

    @staticmethod
    def _line(event: ChangeEvent) -> bytes:
        return (json.dumps(asdict(event), ensure_ascii=False) + "\n").encode("utf-8")

    def _write_version(
        self, entry: Entry, record: ArticleItem, previous: dict[str, Any] | None
    ) -> None:
        known = self.state.versions.setdefault(entry.key, {})
        if record.content_hash in known and known[record.content_hash].get("title") == record.title:
            return  # written by a run stopped before its event
        record.url = entry.url
        record.id = record_id(entry.url)
        record.cluster = str((previous or {}).get("cluster") or record.id)
        self._appender("versions").append(encode_record(record))
        known[record.content_hash] = asdict(record)
        self.stats.inc_value("revisit/versions")

    def _update(
        self, entry: Entry, item: RevisitPage, kind: str, record: ArticleItem | None, now: datetime
    ) -> None:
        if kind == changes.REMOVED:
            entry.state = REMOVED
        elif kind in (changes.MODIFIED, changes.RESTORED):
            entry.state = PRESENT
            if record is not None:
                entry.content_hash = record.content_hash
        if item.status is not None:
            entry.status = item.status
        if item.status is not None and (200 <= item.status < 300 or item.status == 304):
            entry.etag = item.etag or (entry.etag if item.status == 304 else None)
            entry.last_modified = item.last_modified or (
                entry.last_modified if item.status == 304 else None
            )
        self.state.schedule.timing.advance(entry, now, kind)
        self.state.schedule.put(entry)

    def _sync(self) -> None:
        for appender in (self.events, self.versions):
            if appender is not None:
                appender.sync()
        self.state.schedule.checkpoint()
        self._unsynced = 0
