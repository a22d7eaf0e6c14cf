"""One run of one portal: the lock, the run summary and the exit status.

``PortalRunExtension`` (``EXTENSIONS``) is built before any pipeline, and

1. takes the portal lock ``STATE_DIR/<site>.lock`` (``crawler.state``): when
   another run of the same portal holds it, it raises
   ``crawler.state.PortalLocked`` and the crawl never starts: nothing is
   written, and ``scrapy crawl`` (``crawler.scrapy_commands.crawl``) prints
   the message, naming the lock file and the holder's pid, and exits with
   status 75 (``EX_TEMPFAIL``: try again later);
2. repairs the tails of the portal's JSONL files and loads the seen store
   (while holding the lock, before the dedup index reads the files);
3. when the spider closes, writes ``OUTPUT_DIR/<site>/runs/<UTC time>.json``
   (temporary file, then rename), prints one line such as
   ``scfzw: 12 list pages, 3 new articles, 41 seen, 1 duplicate, 0 errors in
   8.2 s → output/scfzw/articles.jsonl`` to stderr, and sets the stat
   ``summary/exit_status`` that ``scrapy crawl`` exits with:

   - 0: the run went well;
   - 1: the portal looks broken or the run failed: no article link found at
     all (a template change when earlier runs wrote records), article pages
     fetched but not one record from them (``SUMMARY_MIN_ARTICLE_PAGES`` or
     more), errors above ``ERROR_RATE_LIMIT`` of the pages, the output could
     not be written, or the run was stopped (Ctrl-C, SIGTERM);
   - 75: another run of the portal was in progress (see 1.);
   - 77: the portal is blocking the crawler: pages were given up on because every
     answer was a challenge page (瑞数, 加速乐, a WAF block page, an interstitial:
     ``crawler.blocking``); the summary's ``blocked`` counts them by kind.

Settings: ``ERROR_RATE_LIMIT``, ``SUMMARY_MIN_ARTICLE_PAGES``, ``OUTPUT_DIR``, ``STATE_DIR``.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Self

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from crawler.clock import utc_now
from crawler.diagnose import (
    UNREACHABLE_CAUSE_STAT,
    UNREACHABLE_FAILURES_STAT,
    UNREACHABLE_ROBOTS_STAT,
)
from crawler.fsutil import write_atomic
from crawler.state import PortalState, portal_state
from pipelines.challenge import KINDS
from pipelines.store import STORE_ERROR_REASON

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_PROBLEM = 1
EXIT_LOCKED = 75  # sysexits.h EX_TEMPFAIL: another run holds the portal; try later
EXIT_BLOCKED = 77  # sysexits.h EX_NOPERM: the portal is blocking the crawler (challenge pages)
EXIT_UNREACHABLE = 69  # sysexits.h EX_UNAVAILABLE: the portal could not be reached at all
EXIT_SIGNAL_BASE = 128  # stopped by a signal: 128 + its number (130 Ctrl-C, 143 SIGTERM)
EXIT_STATUS_STAT = "summary/exit_status"

# Finish reasons that end a run normally (CLOSESPIDER_* limits are chosen by the user).
_NORMAL_REASONS = ("finished",)
_NORMAL_PREFIXES = ("closespider_",)


def _utc(ts: datetime) -> str:
    return ts.isoformat(timespec="seconds").replace("+00:00", "Z")


def _prefixed(stats: dict[str, Any], prefix: str) -> dict[str, int]:
    return {
        key[len(prefix) :]: int(value)
        for key, value in sorted(stats.items())
        if key.startswith(prefix) and "/" not in key[len(prefix) :]
    }


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


class PortalRunExtension:
    """Lock, run summary and exit status of one portal run (see the module doc)."""

    def __init__(self, crawler: Crawler):
        spider = crawler.spider
        if spider is None or not (hasattr(spider, "full") and hasattr(spider, "since")):
            # ``scrapy fetch``/``shell`` with Scrapy's default spider: not a portal run
            raise NotConfigured("not a portal spider (no full/since arguments)")
        self.crawler = crawler
        # raises PortalLocked before anything is written
        self.state: PortalState = portal_state(crawler)
        self.started = utc_now()
        self._t0 = time.monotonic()
        self.error_rate_limit = crawler.settings.getfloat("ERROR_RATE_LIMIT")
        self.min_article_pages = crawler.settings.getint("SUMMARY_MIN_ARTICLE_PAGES")
        self.scheduled = {"list": 0, "article": 0}
        self.item_errors = 0
        self.summary: dict[str, Any] | None = None
        self.summary_path: Path | None = None
        # until the summary says otherwise: a run cut short (Ctrl-C twice) exits 1
        crawler.stats.set_value(EXIT_STATUS_STAT, EXIT_PROBLEM)
        crawler.signals.connect(self._request_scheduled, signal=signals.request_scheduled)
        crawler.signals.connect(self._item_error, signal=signals.item_error)
        crawler.signals.connect(self._spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(self._engine_stopped, signal=signals.engine_stopped)
        crawler.signals.connect(self._engine_started, signal=signals.engine_started)
        self.stop_signal: int | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    # -- signal handlers -------------------------------------------------------------
    def _engine_started(self, **kwargs: Any) -> None:
        # Scrapy's shutdown handlers are in place once the engine runs: note which
        # signal stopped the run (its exit status), then let Scrapy handle it.
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous = signal.getsignal(signum)
            if callable(previous):
                signal.signal(signum, self._signal_recorder(previous))

    def _signal_recorder(self, previous: Any) -> Any:
        def record(signum: int, frame: Any) -> None:
            if self.stop_signal is None:
                self.stop_signal = signum
                self.crawler.stats.set_value(EXIT_STATUS_STAT, EXIT_SIGNAL_BASE + signum)
            previous(signum, frame)

        return record

    def _request_scheduled(self, request: Request, **kwargs: Any) -> None:
        kind = request.meta.get("kind")
        if kind in self.scheduled:
            self.scheduled[kind] += 1

    def _item_error(self, **kwargs: Any) -> None:
        self.item_errors += 1

    def _spider_closed(self, spider: Any, reason: str) -> None:
        self._mark_run(reason)
        summary = self.build_summary(reason)
        self.summary = summary
        self.crawler.stats.set_value(EXIT_STATUS_STAT, summary["exit_status"])
        try:
            self.summary_path = self.write_summary(summary)
        except OSError as exc:
            logger.error("%s: could not write the run summary: %s", self.state.site, exc)
        line = self.human_line(summary)
        for problem in summary["problems"]:
            logger.error("%s: %s", self.state.site, problem)
        if self.crawler.settings.get("LOG_FILE"):
            logger.info(line)
        print(line, file=sys.stderr, flush=True)

    def _mark_run(self, reason: str) -> None:
        """Record whether the list pages were read to the end (next run's catch-up)."""
        list_errors = int(self.crawler.stats.get_value("errors/list") or 0)
        if reason not in _NORMAL_REASONS:
            why = f"stopped: {reason}"
        elif list_errors:
            why = f"{_plural(list_errors, 'list page')} failed"
        else:
            why = ""
        try:
            self.state.mark_run(not why, why or "finished")
        except OSError as exc:  # reported once, with the other state errors, in the summary
            stats = self.crawler.stats
            stats.inc_value("state/write_errors")
            if not stats.get_value("state/error"):
                stats.set_value("state/error", f"{exc.filename or self.state.run_path}: {exc}")
            logger.warning("%s: could not record the run's end: %s", self.state.site, exc)

    def _engine_stopped(self, **kwargs: Any) -> None:
        self.state.close()

    # -- the summary ---------------------------------------------------------------------
    def build_summary(self, reason: str) -> dict[str, Any]:
        """The run summary (a JSON object) from the crawl's stats."""
        stats: dict[str, Any] = dict(self.crawler.stats.get_stats())
        finished = utc_now()
        seconds = round(time.monotonic() - self._t0, 3)
        spider = self.crawler.spider

        def stat(key: str) -> int:
            return int(stats.get(key) or 0)

        pages = {"list": stat("fetch/list"), "article": stat("fetch/article")}
        seen = stat("incremental/seen_skipped")
        duplicates: dict[str, Any] = _prefixed(stats, "store/duplicates/")
        dup_total = stat("store/duplicates")
        new = stat("store/articles")
        dropped: dict[str, int] = _prefixed(stats, "validate/dropped/")
        for key, name in (
            ("incremental/before_since", "before_since"),
            ("store/skipped_seen", "already_written"),
        ):
            if stat(key):
                dropped[name] = stat(key)
        download = _prefixed(stats, "errors/download/")
        http = _prefixed(stats, "errors/http/")
        extraction = stat("page/errors") + stat("spider_exceptions/count") + self.item_errors
        store_errors = stat("store/write_errors")
        # robots.txt fetches that could not connect: pages are counted in download already
        error_total = (
            sum(download.values())
            + sum(http.values())
            + extraction
            + store_errors
            + stat(UNREACHABLE_ROBOTS_STAT)
        )
        unreachable = stat(UNREACHABLE_FAILURES_STAT)
        cause = str(stats.get(UNREACHABLE_CAUSE_STAT) or "")
        portal_unreachable = bool(unreachable) and pages["list"] + pages["article"] == 0
        attempts = pages["list"] + pages["article"] + sum(download.values()) + sum(http.values())
        rate = round(error_total / attempts, 4) if attempts else (1.0 if error_total else 0.0)
        found = self.scheduled["article"] + seen
        blocked = {"given_up": stat("blocked/given_up"), **_prefixed(stats, "blocked/given_up/")}

        problems: list[str] = []
        if blocked["given_up"]:
            kinds = ", ".join(f"{k} {v}" for k, v in blocked.items() if k != "given_up")
            problems.append(
                f"portal is blocking the crawler: {_plural(blocked['given_up'], 'page')} "
                f"answered only with challenge pages ({kinds}) and not read; they are asked "
                f"for again next run"
            )
        if store_errors:
            problems.append(
                f"output or state could not be written: {stats.get('store/error', '?')}"
            )
        elif stat("dedup/save_errors") or stat("state/write_errors"):
            problems.append(
                f"the state could not be saved ({stats.get('state/error', '?')}): free space "
                f"in STATE_DIR; the next run brings it up to date from the output, which "
                f"is complete"
            )
        if store_errors and reason == STORE_ERROR_REASON:
            pass  # the write error above is why the run stopped
        elif reason not in _NORMAL_REASONS and not reason.startswith(_NORMAL_PREFIXES):
            stopped = f", {signal.Signals(self.stop_signal).name}" if self.stop_signal else ""
            problems.append(f"the run did not finish (reason: {reason}{stopped})")
        elif portal_unreachable:
            problems.append(f"portal unreachable ({cause})")
        elif found == 0 and (blocked["given_up"] or self.crawler.settings.get("REDIS_URL")):
            pass  # a blocked list page found nothing; a Redis worker may find nothing while
            # the other workers do
        elif found == 0 and pages["list"] == 0:
            problems.append(
                f"no list page could be fetched ({_error_words(download, http, stats)})"
            )
        elif found == 0:
            if self.state.had_records:
                problems.append(
                    f"no article links found on {_plural(pages['list'], 'list page')}, "
                    f"though earlier runs wrote articles: the portal's pages have probably "
                    f"changed (check its definition in seeds/)"
                )
            else:
                problems.append(
                    f"no article links found on {_plural(pages['list'], 'list page')}: "
                    f"check the portal definition"
                )
        kept_any = new + dup_total + stat("store/skipped_seen") + stat("incremental/before_since")
        if self.min_article_pages and pages["article"] >= self.min_article_pages and not kept_any:
            problems.append(
                f"{_plural(pages['article'], 'article page')} fetched and not one record "
                f"came out of them (dropped: {dropped or 'none'}, extraction errors: "
                f"{extraction}): the article pages have probably changed"
            )
        if error_total and rate > self.error_rate_limit and not portal_unreachable:
            problems.append(
                f"{_plural(error_total, 'error')} on {_plural(attempts, 'page')} "
                f"({rate:.0%}, above ERROR_RATE_LIMIT={self.error_rate_limit:.0%})"
            )

        # A list of objects, the start URL a field: one shape for every portal
        # (URLs as keys would make each portal's summary a different schema).
        watermark = [
            {"start_url": start, **mark} for start, mark in sorted(self.state.watermark.items())
        ]
        if self.stop_signal is not None:
            exit_status = EXIT_SIGNAL_BASE + self.stop_signal
        elif blocked["given_up"] and not store_errors:
            exit_status = EXIT_BLOCKED
        elif portal_unreachable and not store_errors:
            exit_status = EXIT_UNREACHABLE
        else:
            exit_status = EXIT_PROBLEM if problems else EXIT_OK
        return {
            "site": self.state.site,
            "started": _utc(self.started),
            "finished": _utc(finished),
            "seconds": seconds,
            "finish_reason": reason,
            "full": bool(getattr(spider, "full", False)),
            "catch_up": self.state.catch_up,
            "since": getattr(spider, "since", None),
            "pages": pages,
            "articles": {
                "found": found,
                "new": new,
                "seen": seen,
                "duplicate": {"total": dup_total, **duplicates},
                "dropped": dropped,
            },
            "errors": {
                "total": error_total,
                "rate": rate,
                "unreachable": unreachable,
                "download": download,
                "http": http,
                "retries_given_up": stat("retry/max_reached"),
                "extraction": extraction,
                "store": store_errors,
            },
            "blocked": {
                "seen": {k: v for k, v in _prefixed(stats, "blocked/").items() if k in KINDS},
                "retries": stat("blocked/retries"),
                "given_up": blocked["given_up"],
            },
            "watermark": watermark,
            "seen_store": {
                "keys_at_start": stat("seen/keys_at_start"),
                "rebuilt": bool(stat("seen/rebuilt")),
                "replayed": stat("seen/replayed"),
                "repaired_bytes": stat("store/repaired_bytes"),
            },
            "revisit": _prefixed(stats, "revisit/"),  # revisits of known articles and events
            "output": str(self.state.articles_path),
            "problems": problems,
            "exit_status": exit_status,
        }

    def write_summary(self, summary: dict[str, Any]) -> Path:
        """Write ``summary`` to ``OUTPUT_DIR/<site>/runs/<UTC time>.json`` by rename."""
        runs = self.state.output_dir / "runs"
        runs.mkdir(parents=True, exist_ok=True)
        stamp = self.started.strftime("%Y%m%dT%H%M%SZ")
        path = runs / f"{stamp}.json"
        for n in range(1, 100):
            if not path.exists():
                break
            path = runs / f"{stamp}-{n}.json"
        text = json.dumps(summary, ensure_ascii=False, indent=2) + "\n"
        write_atomic(path, text.encode("utf-8"))
        return path

    @staticmethod
    def human_line(summary: dict[str, Any]) -> str:
        """One line for the terminal or the cron log."""
        arts = summary["articles"]
        if summary["exit_status"] == EXIT_UNREACHABLE:
            return f"{summary['site']}: {summary['problems'][0]}"
        dropped = sum(arts["dropped"].values())
        since = arts["dropped"].get("before_since", 0)
        dropped_words = f"{dropped} dropped" + (f" ({since} before since)" if since else "")
        line = (
            f"{summary['site']}: {_plural(summary['pages']['list'], 'list page')}"
            f"{' (catch-up: every list page)' if summary.get('catch_up') else ''}, "
            f"{_plural(arts['new'], 'new article')}, {arts['seen']} seen, "
            f"{_plural(arts['duplicate']['total'], 'duplicate')}, {dropped_words}, "
            f"{_plural(summary['errors']['total'], 'error')} in {summary['seconds']:.1f} s "
            f"→ {summary['output']}"
        )
        if summary["problems"]:
            line += f" [exit {summary['exit_status']}: {'; '.join(summary['problems'])}]"
        return line


def _error_words(download: dict[str, int], http: dict[str, int], stats: dict[str, Any]) -> str:
    """What kept the list pages away: HTTP statuses, download errors, robots.txt."""
    parts = [f"HTTP {code}: {_plural(n, 'time')}" for code, n in http.items()]
    parts += [f"{name}: {_plural(n, 'time')}" for name, n in download.items()]
    if stats.get("robotstxt/host_deferred"):
        parts.append("robots.txt unavailable: host deferred (ROBOTSTXT_UNAVAILABLE)")
    return "; ".join(parts) or "no list page was requested"
