"""Project signals (sent with ``crawler.signals.send_catch_log``).

``duplicate_found``: sent by ``pipelines.dedup.DedupPipeline`` for every dropped
reprint, with ``item=`` the :class:`crawler.items.DuplicateItem`.  The store
pipeline connects to it and appends the item to ``duplicates.jsonl``.

``moves_found``: sent by ``DedupPipeline`` with ``ops=`` a list of ``(site,
operation)`` pairs for the move journal (``crawler.journal``): records other
runs kept that a better origin replaces.  The store pipeline journals them and
applies those it may (its own portal, or a portal no run holds).
"""

from __future__ import annotations

duplicate_found = object()

moves_found = object()
