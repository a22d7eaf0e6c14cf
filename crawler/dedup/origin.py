"""Which copy of an article is its origin: the one rule every dedup path applies.

Among the copies of one article (a reprint cluster), the record kept is, in order:

1. the copy another copy names as its 来源 (``source``): a copy *cites* a
   portal when its ``source`` equals the portal's display name or one of its
   aliases (``seeds/<site>.toml``: ``display_name``, ``aliases``), compared
   after NFKC with whitespace removed;
2. else the earliest ``published_at`` (a dated copy before an undated one;
   when either date is known to the day only, the days are compared);
3. else the first seen: the earliest ``fetched_at``, and on a tie the copy
   already kept.

Records are plain mappings (a JSONL line, ``dataclasses.asdict`` of an item)
with the record fields ``site``, ``site_name``, ``source``, ``published_at``,
``fetched_at`` and optionally ``published_precision``.  ``names`` maps a
portal (the ``site`` value) to its display names; :func:`portal_names` builds
it from the portal definitions.  Pure functions, no I/O.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import date, datetime
from functools import lru_cache
from typing import Any

Names = Mapping[str, Collection[str]]
Record = Mapping[str, Any]
# the record fields the rule reads (besides ``id``, for a full tie: :func:`winner`)
FIELDS = ("site", "site_name", "source", "published_at", "published_precision", "fetched_at")


@lru_cache(maxsize=4096)
def normalize_name(name: str) -> str:
    """A portal or publication name as compared: NFKC, no whitespace (memoized: the
    offline dedup compares the same few names across thousands of clusters)."""
    return "".join(unicodedata.normalize("NFKC", name).split())


def portal_names(portals: Mapping[str, Any]) -> dict[str, frozenset[str]]:
    """``site -> normalized names`` from portal definitions (``display_name``, ``aliases``)."""
    out: dict[str, frozenset[str]] = {}
    for site, portal in portals.items():
        found = [getattr(portal, "display_name", None), *getattr(portal, "aliases", ())]
        out[site] = frozenset(normalize_name(n) for n in found if isinstance(n, str) and n)
    return out


def names_of(record: Record, names: Names) -> frozenset[str]:
    """The normalized names of ``record``'s portal: its ``site_name`` plus ``names[site]``."""
    found = {normalize_name(n) for n in names.get(str(record.get("site") or ""), ())}
    site_name = record.get("site_name")
    if isinstance(site_name, str) and site_name:
        found.add(normalize_name(site_name))
    found.discard("")
    return frozenset(found)


def source_name(record: Record) -> str | None:
    """The normalized 来源 of ``record``, or None."""
    source = record.get("source")
    if not isinstance(source, str):
        return None
    return normalize_name(source) or None


def cited(record: Record, sources: Iterable[str | None], names: Names) -> bool:
    """True when one of ``sources`` (raw 来源 values of other copies) names ``record``'s portal."""
    own = names_of(record, names)
    return any(s is not None and normalize_name(s) in own for s in sources)


def _when(value: Any, precision: Any) -> tuple[date, datetime | None] | None:
    """``(day, timestamp or None when known to the day only)``; None when unknown."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        if len(value) == 10:
            return date.fromisoformat(value), None
        ts = datetime.fromisoformat(value)
    except ValueError:
        return None
    if ts.tzinfo is None or precision == "day":
        return ts.date(), None
    return ts.date(), ts


def _published(record: Record) -> tuple[date, datetime | None] | None:
    return _when(record.get("published_at"), record.get("published_precision"))


def _fetched(record: Record) -> datetime | None:
    when = _when(record.get("fetched_at"), None)
    return None if when is None else when[1]


def _order_dates(
    wa: tuple[date, datetime | None] | None, wb: tuple[date, datetime | None] | None
) -> int:
    """-1 when ``wa`` (a :func:`_when`) is before ``wb``, 1 after, 0 equal or not comparable."""
    if wa is None or wb is None:
        return (wa is None) - (wb is None)  # a dated copy comes before an undated one
    if wa[1] is not None and wb[1] is not None:
        return (wa[1] > wb[1]) - (wa[1] < wb[1])
    return (wa[0] > wb[0]) - (wa[0] < wb[0])


def _order_fetched(fa: datetime | None, fb: datetime | None) -> int:
    if fa is None or fb is None:
        return 0
    return (fa > fb) - (fa < fb)


def _compare_dates(a: Record, b: Record) -> int:
    """-1 when ``a`` was published before ``b``, 1 after, 0 equal or not comparable."""
    return _order_dates(_published(a), _published(b))


def _compare_fetched(a: Record, b: Record) -> int:
    return _order_fetched(_fetched(a), _fetched(b))


def compare(a: Record, b: Record, names: Names, cited_by: Iterable[str | None] = ()) -> int:
    """-1 when ``a`` is the better origin, 1 when ``b`` is, 0 when the rule cannot tell.

    ``cited_by``: the 来源 of the cluster's other copies (neither ``a`` nor ``b``).
    """
    others = list(cited_by)
    a_cited = cited(a, [b.get("source"), *others], names)
    b_cited = cited(b, [a.get("source"), *others], names)
    if a_cited != b_cited:
        return -1 if a_cited else 1
    by_date = _compare_dates(a, b)
    if by_date:
        return by_date
    return _compare_fetched(a, b)


def better_origin(
    candidate: Record, kept: Record, names: Names, cited_by: Iterable[str | None] = ()
) -> bool:
    """True when ``candidate`` should replace ``kept`` as the cluster's kept record.

    ``cited_by``: the 来源 values of the cluster's other copies (not ``candidate``
    nor ``kept``), so a kept record another copy cites stays kept.  On a tie
    the record already kept stays (False).
    """
    return compare(candidate, kept, names, cited_by) < 0


def winner(a: Record, b: Record, names: Names, cited_by: Iterable[str | None] = ()) -> Record:
    """The better origin of two copies, with a total order: on a full tie the smaller ``id``.

    For reconciling two records each kept by a different run (neither was seen first).
    """
    c = compare(a, b, names, list(cited_by))
    if c == 0:
        c = -1 if str(a.get("id") or "") <= str(b.get("id") or "") else 1
    return a if c < 0 else b


def choose(members: Sequence[Record], names: Names) -> int:
    """Index in ``members`` (in the order seen) of the copy a whole cluster keeps.

    The copies another copy names as its 来源 are the candidates (all copies
    when none is named); among them the earliest published, else the first
    seen, and on a full tie the one earlier in ``members``: the choice of a pass
    of :func:`compare` over the candidates, with each copy's names, 来源 and
    dates read once (k copies cost O(k) work instead of O(k²)).
    """
    sources = [source_name(m) for m in members]
    counts = Counter(s for s in sources if s is not None)
    named = [
        i
        for i, m in enumerate(members)
        # cited by another copy: its name is a 来源 of a copy other than itself
        if any(counts[n] > (sources[i] == n) for n in names_of(m, names))
    ]
    pool = named or list(range(len(members)))
    published = {i: _published(members[i]) for i in pool}
    fetched = {i: _fetched(members[i]) for i in pool}
    best = pool[0]
    for i in pool[1:]:
        order = _order_dates(published[i], published[best]) or _order_fetched(
            fetched[i], fetched[best]
        )
        if order < 0:
            best = i
    return best
