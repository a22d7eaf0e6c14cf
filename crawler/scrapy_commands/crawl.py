"""``scrapy crawl SITE``: Scrapy's command, with an exit status cron can act on.

Exit status (``EXIT_STATUSES``, printed by ``scrapy crawl -h``): 0 when the run
went well; 1 when the run summary found a problem (stat
``summary/exit_status``) or the crawl could not start; 2 for a bad portal
definition or usage, found before anything is written (``crawler.preflight``);
69 when the portal could not be reached; 75 when another run of the same
portal holds its lock (the message names the lock file and the holder's pid,
and nothing is written); 77 when the portal answered with challenge pages only
(blocking the crawler); 128 + the signal when stopped by one.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import sys
from typing import Any

from scrapy.commands import ScrapyHelpFormatter
from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.exceptions import UsageError
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from crawler.extensions import EXIT_BLOCKED, EXIT_LOCKED, EXIT_STATUS_STAT, EXIT_UNREACHABLE
from crawler.preflight import (
    GenericArguments,
    PortalArguments,
    PreflightError,
    check_arguments,
    check_folders,
)
from crawler.state import PortalLocked

logger = logging.getLogger(__name__)

EXIT_USAGE = 2  # unknown portal, bad -a argument (as Scrapy's own usage errors)


class _RawDescription(ScrapyHelpFormatter):
    """Scrapy's help layout, with the description printed as written (tables, examples)."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return "".join(indent + line for line in text.splitlines(keepends=True))


def _argument_lines() -> list[str]:
    lines = []
    generic_only = set(GenericArguments.model_fields) - set(PortalArguments.model_fields)
    for name, field in GenericArguments.model_fields.items():
        where = " (spider portal only)" if name in generic_only else ""
        lines.append(f"  -a {name}=…".ljust(20) + f"{field.description}{where}")
    return lines


EXIT_STATUSES = (
    (0, "the run went well (a CLOSESPIDER_* limit you set is a normal end)"),
    (1, "the portal looks broken or the run failed (see the run summary)"),
    (EXIT_USAGE, "bad arguments, unknown portal, bad portal file, folders not writable"),
    (EXIT_UNREACHABLE, "the portal could not be reached (refused, DNS, timeouts)"),
    (EXIT_LOCKED, "another run of the portal is in progress: try later"),
    (EXIT_BLOCKED, "the portal is blocking the crawler (challenge pages; see the summary)"),
    (130, "stopped by Ctrl-C (143: by SIGTERM); what was fetched is written"),
)


class Command(ScrapyCrawlCommand):
    def long_desc(self) -> str:
        statuses = [f"  {code:<4}{meaning}" for code, meaning in EXIT_STATUSES]
        return "\n".join(
            [
                "Crawl one portal: new articles go to OUTPUT_DIR/<site>/articles.jsonl,",
                "reprints to duplicates.jsonl, and a run summary to OUTPUT_DIR/<site>/runs/.",
                "",
                "Arguments:",
                *_argument_lines(),
                "",
                "Exit status:",
                *statuses,
                "",
                "Examples:",
                "  scrapy crawl scfzw",
                "  scrapy crawl scfzw -a since=2024-01-01",
                "  scrapy crawl portal -a url=http://www.example.gov.cn/xwzx/index.html",
                "  scrapy crawl scfzw -s OUTPUT_DIR=/data/out -s STATE_DIR=/data/state",
            ]
        )

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.formatter_class = _RawDescription

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) < 1:
            raise UsageError
        if len(args) > 1:
            raise UsageError("running 'scrapy crawl' with more than one spider is not supported")
        assert self.crawler_process
        try:
            crawler = self._create_crawler(args[0])
        except KeyError as unknown:  # unknown portal: the loader's message names the known ones
            message = unknown.args[0] if unknown.args else unknown
            print(f"error: {message}", file=sys.stderr, flush=True)
            self.exitcode = EXIT_USAGE
            return
        model = getattr(crawler.spidercls, "arguments", None)
        try:  # before the lock, the state or any output exists
            if model is not None:  # a portal spider
                check_arguments(args[0], model, opts.spargs)
                site = getattr(crawler.spidercls, "site", "") or args[0]
                check_folders(crawler.settings, site)
        except PreflightError as mistake:
            print(f"error: {mistake}", file=sys.stderr, flush=True)
            self.exitcode = EXIT_USAGE
            return
        failed: list[BaseException] = []
        result: Any = self.crawler_process.crawl(crawler, **opts.spargs)
        if isinstance(result, asyncio.Future):
            result.add_done_callback(lambda task: _task_done(task, failed))
        elif isinstance(result, Deferred):
            result.addErrback(_deferred_failed, failed)
        self.crawler_process.start()
        if failed:
            exc = failed[0]
            if isinstance(exc, OSError):  # a full or read-only disk: the cause, no traceback
                print(f"error: {args[0]}: {_os_error(exc)}", file=sys.stderr, flush=True)
                logger.error("%s: the crawl could not start: %s", args[0], _os_error(exc))
                self.exitcode = 1
                return
            print(f"error: {exc}", file=sys.stderr, flush=True)
            if isinstance(exc, PortalLocked):
                self.exitcode = EXIT_LOCKED
            elif crawler.spider is None:  # the spider refused its arguments (-a ...)
                self.exitcode = EXIT_USAGE
            else:
                logger.error("the crawl could not run", exc_info=exc)
                self.exitcode = 1
            return
        if self.crawler_process.bootstrap_failed:
            self.exitcode = 1
        try:
            status = crawler.stats.get_value(EXIT_STATUS_STAT)
        except RuntimeError:  # the crawl failed before its stats existed
            status = None
        if status:
            self.exitcode = int(status)


def _os_error(exc: OSError) -> str:
    """One line naming the file, the cause and what to do."""
    where = f" writing {exc.filename}" if exc.filename else ""
    what = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"disk full{where} ({what}); nothing was fetched: free space and run again"
    return f"cannot read or write its files{where} ({what}); nothing was fetched"


def _task_done(task: asyncio.Future[Any], failed: list[BaseException]) -> None:
    if task.cancelled():
        return
    error = task.exception()  # retrieved here, so asyncio does not print it again
    if error is not None:
        failed.append(error)


def _deferred_failed(failure: Failure, failed: list[BaseException]) -> None:
    failed.append(failure.value or RuntimeError(str(failure)))
