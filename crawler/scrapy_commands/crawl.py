"""``scrapy crawl SITE``: Scrapy's command, with an exit status cron can act on.

Exit status: 0 when the run went well; 1 when the run summary found a problem
(stat ``summary/exit_status``: no article found where earlier runs found some,
errors above ``ERROR_RATE_LIMIT``, output not writable, run stopped) or the
crawl could not start; 2 for a bad portal definition or usage; 75 when another
run of the same portal holds its lock (the message names the lock file and the
holder's pid, and nothing is written).
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import sys
from typing import Any

from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.exceptions import UsageError
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from crawler.extensions import EXIT_LOCKED, EXIT_STATUS_STAT
from crawler.preflight import PreflightError, check_arguments, check_folders
from crawler.state import PortalLocked

logger = logging.getLogger(__name__)

EXIT_USAGE = 2  # unknown portal, bad -a argument (as Scrapy's own usage errors)


class Command(ScrapyCrawlCommand):
    def long_desc(self) -> str:
        return (
            "Run the spider of a portal.  Exit status: 0 ok; 1 the portal looks broken "
            "or the run failed (see the run summary in OUTPUT_DIR/<site>/runs/); "
            "75 another run of the portal is in progress."
        )

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
