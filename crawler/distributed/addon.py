"""The switch: ``-s REDIS_URL=redis://host:port/db`` moves the crawl's shared state to Redis.

A Scrapy add-on (``ADDONS``): when ``REDIS_URL`` is set it makes
:class:`crawler.distributed.scheduler.RedisScheduler` the ``SCHEDULER`` (the
frontier and the request fingerprints in Redis) and puts
:class:`crawler.distributed.dedup.RedisDedupPipeline` in place of the embedded
dedup stage; ``crawler.state.portal_state`` gives each process its own output
folder and the portal's seen store in Redis (:mod:`crawler.distributed.state`).
When ``REDIS_URL`` is empty it changes nothing.
"""

from __future__ import annotations

from typing import Any

EMBEDDED_DEDUP = "pipelines.dedup.DedupPipeline"
REDIS_DEDUP = "crawler.distributed.dedup.RedisDedupPipeline"
REDIS_SCHEDULER = "crawler.distributed.scheduler.RedisScheduler"


class RedisAddon:
    """Enabled by ``REDIS_URL`` (see the module docstring)."""

    def update_settings(self, settings: Any) -> None:
        if not settings.get("REDIS_URL"):
            return
        settings.set("SCHEDULER", REDIS_SCHEDULER, priority="addon")
        pipelines = settings["ITEM_PIPELINES"]  # the project's components (BaseSettings)
        order = pipelines.get(EMBEDDED_DEDUP)
        if order is not None:
            pipelines[EMBEDDED_DEDUP] = None
            pipelines[REDIS_DEDUP] = order
