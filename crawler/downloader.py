"""Scrapy's downloader with ``CONCURRENT_REQUESTS_PER_DOMAIN`` enforced when there is no delay.

Scrapy (2.19 on the asyncio reactor) dispatches a slot's queued requests in a
loop ``while slot.queue and slot.free_transfer_slots() > 0``, but a request is
counted in ``slot.transferring`` only once its download task starts to run,
after that loop.  With a download delay the loop stops after one request, so
the limit holds; with ``DOWNLOAD_DELAY = 0`` every queued request of a portal
is sent at once (measured on the replica's access log: 8 requests in flight to
one host with a limit of 2).  Here a request counts as transferring from the
moment it leaves the slot's queue, so the limit holds whatever the delay;
Scrapy adds and removes it again around the download itself (a set: adding
twice changes nothing), so nothing else changes.

Written here because the fix is one hook into Scrapy's slot queue and no
library provides it; ``tests/test_e2e_scenarios.py`` measures the concurrency
the server sees.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from scrapy import Request, Spider
from scrapy.core.downloader import Downloader, Slot


class _DispatchQueue(deque[tuple[Request, Any]]):
    """A slot queue whose requests count as transferring once taken off it."""

    def __init__(self, slot: Slot, items: deque[tuple[Request, Any]]) -> None:
        super().__init__(items)
        self.slot = slot

    def popleft(self) -> tuple[Request, Any]:
        request, deferred = super().popleft()
        self.slot.transferring.add(request)
        return request, deferred


class PoliteDownloader(Downloader):
    """``scrapy.core.downloader.Downloader`` whose slots never exceed their concurrency."""

    def _get_slot(self, request: Request, spider: Spider | None = None) -> tuple[str, Slot]:
        key, slot = super()._get_slot(request, spider)
        if not isinstance(slot.queue, _DispatchQueue):
            slot.queue = _DispatchQueue(slot, slot.queue)
        return key, slot
