"""Project signals (sent with ``crawler.signals.send_catch_log``).

``duplicate_found``: sent by ``pipelines.dedup.DedupPipeline`` for every dropped
reprint, with ``item=`` the :class:`crawler.items.DuplicateItem`.  The store
pipeline connects to it and appends the item to ``duplicates.jsonl``.
"""

from __future__ import annotations

duplicate_found = object()
