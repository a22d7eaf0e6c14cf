"""The time a run is recorded at, and the "now" of ``python -m crawler status``.

The wall clock, unless the environment variable ``CRAWLER_NOW`` holds an ISO
8601 time (``2026-01-31T06:00:00Z``): then that time, so a month of cron runs
can be simulated in minutes and ``status`` read as on a given day (the tests
do).  Unset in normal use.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

CLOCK_ENV = "CRAWLER_NOW"


def utc_now() -> datetime:
    """The current time in UTC (``CRAWLER_NOW`` when set)."""
    fixed = os.environ.get(CLOCK_ENV, "").strip()
    if not fixed:
        return datetime.now(UTC)
    when = datetime.fromisoformat(fixed.replace("Z", "+00:00"))
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
