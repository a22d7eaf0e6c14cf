"""The near-duplicate index in Redis: one decision for every crawl process.

Signatures, band keys and exact keys are computed in the worker as in one
process (:func:`crawler.dedup.engine.prepare`).  The decision is one Lua
script per batch (:meth:`RedisIndex.decide`), atomic on the server, which for
each document in order:

1. returns the row of a kept record with the same url key (``"url"``), else
2. the row with the same content hash (``"content_hash"``), else
3. reads the document's band sets, inserts the document as a new row (its
   signature, band-set memberships, url and content-hash keys, record fields)
   and returns the rows found in its band sets with their signatures.

The Jaccard estimate stays in the worker: when a candidate is at least
``DEDUP_THRESHOLD`` similar, a second script (:meth:`RedisIndex.resolve`)
takes the new row out again, points its url and content-hash keys and the row
itself (``alias``) at the candidate, and returns the cluster's kept record and
the 来源 its copies name.  Scripts run one at a time on the server, so of two
copies that two workers insert at the same moment the second always finds the
first: exactly one is kept.

The origin rule (:mod:`crawler.dedup.origin`) decides between a copy and its
cluster's kept record as in one process; a better origin takes the cluster
over with a compare-and-set (:meth:`RedisIndex.set_kept`: only if the kept
record is still the one the rule was applied to, else the rule runs again
against the new one), so two workers can never both take a cluster over.
The record it replaces moves to its portal's ``duplicates.jsonl``: through
the store's move journal when this process wrote it, else the move is queued
in Redis for the process that did (``<prefix>:moves:<site>/<host>-<pid>``),
which applies it every ``MOVE_CHECK_EVERY`` items and at close
(:class:`RedisDedupPipeline`); moves queued for a process of this host that has
closed meanwhile are applied by the next process of the host that closes
(:func:`apply_orphan_moves`), and merging the output with ``python -m crawler
dedup`` gives the same result in any case.

Keys (``D`` = ``<prefix>:dd``): ``D:url``, ``D:hash`` (hashes: 64-bit key ->
row), ``D:b:<band key, 8 bytes>`` (sets of rows), ``D:sig`` (row -> signature bytes),
``D:rec`` (row -> the record's JSON fields), ``D:alias`` (row -> row),
``D:kept`` (cluster -> its kept record's JSON), ``D:cited:<cluster>`` (sets of
来源), ``D:seq``.  Settings: the ``DEDUP_*`` ones, as in one process.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import numpy as np
from scrapy import signals as scrapy_signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem, NotConfigured

from crawler import journal, signals
from crawler.dedup.engine import Prepared, prepare
from crawler.dedup.index import IndexParams
from crawler.dedup.minhash import estimate
from crawler.dedup.origin import better_origin
from crawler.dedup.state import record_meta
from crawler.distributed.connection import RedisLink, link_for
from crawler.distributed.workers import worker_id
from crawler.items import ArticleItem, DuplicateItem
from crawler.state import PortalLock, PortalLocked, site_of
from pipelines.dedup import (
    STAT_KEYS,
    item_fields,
    make_duplicate,
    names_from_settings,
    params_from_settings,
)

logger = logging.getLogger(__name__)

MOVE_CHECK_EVERY = 50  # items between two looks for moves other processes queued here
ORPHAN_LOCK_WAIT = 5.0  # seconds to wait for a closing process's folder lock (it is released
# when that process stops; two processes waiting on each other give up after this)

_DECIDE = """
local d = ARGV[1] .. ':dd'
local nb = tonumber(ARGV[2])
local out = {}
local i = 3
local function resolve(row)
  for _ = 1, 32 do
    local nxt = redis.call('HGET', d .. ':alias', row)
    if not nxt then return row end
    row = nxt
  end
  return row
end
while i <= #ARGV do
  local ukey, hkey, sig, rec = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local row = redis.call('HGET', d .. ':url', ukey)
  if row then
    out[#out + 1] = {'url', resolve(row)}
  else
    row = redis.call('HGET', d .. ':hash', hkey)
    if row then
      row = resolve(row)
      redis.call('HSET', d .. ':url', ukey, row)
      out[#out + 1] = {'content_hash', row}
    else
      row = tostring(redis.call('INCR', d .. ':seq'))
      local cands, seen = {}, {}
      for b = 0, nb - 1 do
        local key = d .. ':b:' .. string.sub(ARGV[i + 4], 8 * b + 1, 8 * b + 8)
        for _, r in ipairs(redis.call('SMEMBERS', key)) do
          if not seen[r] then seen[r] = true; cands[#cands + 1] = r end
        end
        redis.call('SADD', key, row)
      end
      redis.call('HSET', d .. ':sig', row, sig)
      redis.call('HSET', d .. ':rec', row, rec)
      redis.call('HSET', d .. ':url', ukey, row)
      redis.call('HSET', d .. ':hash', hkey, row)
      redis.call('HSETNX', d .. ':kept', cjson.decode(rec)['cluster'], rec)
      local sigs = {}
      if #cands > 0 then sigs = redis.call('HMGET', d .. ':sig', unpack(cands)) end
      out[#out + 1] = {'new', row, cands, sigs}
    end
  end
  i = i + 5
end
return out
"""

# per entry: own row ('' when none was inserted), target row, url key, hash key, band blob
_RESOLVE = """
local d = ARGV[1] .. ':dd'
local nb = tonumber(ARGV[2])
local out = {}
local i = 3
local function resolve(row)
  for _ = 1, 32 do
    local nxt = redis.call('HGET', d .. ':alias', row)
    if not nxt then return row end
    row = nxt
  end
  return row
end
while i <= #ARGV do
  local own, target = ARGV[i], resolve(ARGV[i + 1])
  if own ~= '' then
    for b = 0, nb - 1 do
      redis.call('SREM', d .. ':b:' .. string.sub(ARGV[i + 4], 8 * b + 1, 8 * b + 8), own)
    end
    redis.call('HDEL', d .. ':sig', own)
    local rec = redis.call('HGET', d .. ':rec', own)
    if rec then
      local r = cjson.decode(rec)
      local k = redis.call('HGET', d .. ':kept', r['cluster'])
      if k and cjson.decode(k)['id'] == r['id'] then
        redis.call('HDEL', d .. ':kept', r['cluster'])
      end
      redis.call('HDEL', d .. ':rec', own)
    end
    redis.call('HSET', d .. ':alias', own, target)
    redis.call('HSET', d .. ':url', ARGV[i + 2], target)
    redis.call('HSET', d .. ':hash', ARGV[i + 3], target)
  end
  local rec = redis.call('HGET', d .. ':rec', target)
  local cluster = cjson.decode(rec)['cluster']
  local kept = redis.call('HGET', d .. ':kept', cluster) or rec
  out[#out + 1] = {target, rec, kept, redis.call('SMEMBERS', d .. ':cited:' .. cluster)}
  i = i + 5
end
return out
"""

_SET_KEPT = """
local d = ARGV[1] .. ':dd'
local current = redis.call('HGET', d .. ':kept', ARGV[2])
if current and cjson.decode(current)['id'] ~= ARGV[3] then return current end
redis.call('HSET', d .. ':kept', ARGV[2], ARGV[4])
if ARGV[5] ~= '' then redis.call('SADD', d .. ':cited:' .. ARGV[2], ARGV[5]) end
return 1
"""

_CITE = """
redis.call('SADD', ARGV[1] .. ':dd:cited:' .. ARGV[2], ARGV[3])
return 1
"""

# ARGV[3] == '1': the owner is closing; moves queued for it later are applied by others
_TAKE_MOVES = """
local key = ARGV[1] .. ':moves:' .. ARGV[2]
local ops = redis.call('LRANGE', key, 0, -1)
redis.call('DEL', key)
if ARGV[3] == '1' then
  redis.call('SET', ARGV[1] .. ':moves-closed:' .. ARGV[2], 1, 'EX', 604800)
end
return ops
"""

_PUSH_MOVES = """
local key = ARGV[1] .. ':moves:' .. ARGV[2]
for i = 3, #ARGV do redis.call('RPUSH', key, ARGV[i]) end
return #ARGV - 2
"""


@dataclass
class Decision:
    """One document's outcome: kept (``match`` None) or a copy of ``kept``'s cluster."""

    match: str | None
    row: int
    similarity: float
    cluster: str
    kept: dict[str, Any] = field(default_factory=dict)  # the cluster's kept record
    cited: list[str] = field(default_factory=list)  # 来源 named by the cluster's copies


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisIndex:
    """Exact and near-duplicate decisions against the band sets in Redis."""

    def __init__(self, link: RedisLink, params: IndexParams, threshold: float) -> None:
        self.link = link
        self.params = params
        self.threshold = threshold
        self.bands = params.bands
        self._scripts = {
            name: link.script(src)
            for name, src in (
                ("decide", _DECIDE),
                ("resolve", _RESOLVE),
                ("set_kept", _SET_KEPT),
                ("cite", _CITE),
                ("take_moves", _TAKE_MOVES),
                ("push_moves", _PUSH_MOVES),
            )
        }

    def _run(self, name: str, *args: Any) -> Any:
        script = self._scripts[name]
        return self.link.call(lambda: script(args=[self.link.prefix, *args]))

    def decide(self, prep: Prepared, records: Sequence[Mapping[str, Any]]) -> list[Decision]:
        """Decide a batch in order; kept records stay inserted.

        ``records``: per document its ``id``, ``url`` and ``crawler.dedup.index.META_FIELDS``
        (``cluster`` set), plus ``owner`` (the process folder that writes it).
        """
        n = len(records)
        # each document's band keys: one blob of big-endian 8-byte keys (the set names)
        bands = [row.tobytes() for row in prep.bands.astype(">u8")]
        args: list[Any] = [self.bands]
        for i in range(n):
            args += [
                str(int(prep.url_keys[i])),
                str(int(prep.hash_keys[i])),
                prep.sigs[i].tobytes(),
                json.dumps(records[i], ensure_ascii=False),
                bands[i],
            ]
        raw = self._run("decide", *args)
        out: list[Decision | None] = [None] * n
        dups: list[tuple[int, str, str, float]] = []  # doc, own row, target row, similarity
        retracted: set[int] = set()
        for i, entry in enumerate(raw):
            kind = _text(entry[0])
            row = _text(entry[1])
            if kind != "new":
                dups.append((i, "", row, 1.0))
                out[i] = Decision(kind, int(row), 1.0, "")
                continue
            best_row, best_sim = -1, -1.0
            cands = [int(_text(c)) for c in entry[2]]
            # rows inserted earlier in this batch and found copies are no candidates
            have = [
                (c, s) for c, s in zip(cands, entry[3], strict=True) if s and c not in retracted
            ]
            if have:
                sigs = np.stack([np.frombuffer(s, dtype=np.uint32) for _, s in have])
                sims = estimate(prep.sigs[i], sigs)
                order = sorted(range(len(have)), key=lambda j: (-sims[j], have[j][0]))
                best_row, best_sim = have[order[0]][0], float(sims[order[0]])
            if best_row >= 0 and best_sim >= self.threshold:
                retracted.add(int(row))
                dups.append((i, row, str(best_row), best_sim))
                out[i] = Decision("minhash", best_row, best_sim, "")
            else:
                out[i] = Decision(None, int(row), 1.0, str(records[i]["cluster"]))
        if dups:
            args = [self.bands]
            for i, own, target, _ in dups:
                args += [
                    own,
                    target,
                    str(int(prep.url_keys[i])),
                    str(int(prep.hash_keys[i])),
                    bands[i] if own else b"",
                ]
            for (i, _, _, sim), got in zip(dups, self._run("resolve", *args), strict=True):
                kept = json.loads(got[2])
                decision = out[i]
                assert decision is not None
                decision.row = int(_text(got[0]))
                decision.similarity = sim
                decision.kept = kept
                decision.cluster = str(kept.get("cluster") or json.loads(got[1])["cluster"])
                decision.cited = sorted(_text(s) for s in got[3])
        return [d for d in out if d is not None]

    def set_kept(
        self, cluster: str, expected_id: str, record: Mapping[str, Any], cite: Any
    ) -> dict[str, Any] | None:
        """Make ``record`` the kept record if ``expected_id`` still is; else return the kept."""
        source = cite if isinstance(cite, str) else ""
        got = self._run(
            "set_kept", cluster, expected_id, json.dumps(record, ensure_ascii=False), source
        )
        if got == 1:
            return None
        current: dict[str, Any] = json.loads(got)
        return current

    def cite(self, cluster: str, source: Any) -> None:
        if isinstance(source, str) and source:
            self._run("cite", cluster, source)

    def push_moves(self, owner: str, ops: Sequence[Mapping[str, Any]]) -> None:
        self._run("push_moves", owner, *(json.dumps(op, ensure_ascii=False) for op in ops))

    def take_moves(self, owner: str, closing: bool = False) -> list[dict[str, Any]]:
        """The moves queued for ``owner`` (``closing``: it takes no more after these)."""
        got = self._run("take_moves", owner, "1" if closing else "0")
        return [json.loads(op) for op in got]

    def closed(self, owner: str) -> bool:
        client = self.link.client
        key = self.link.key("moves-closed", owner)
        return bool(self.link.call(lambda: client.exists(key)))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def apply_orphan_moves(index: RedisIndex, out_root: Path, state_root: Path, skip: str = "") -> int:
    """Apply the moves queued for process folders of this host whose process has closed.

    Closed: its dedup stage took its last moves, or the process is gone.  Each such
    folder is taken under its lock (waiting up to ``ORPHAN_LOCK_WAIT`` seconds for
    a process still shutting down), its moves go to its journal and the journal is
    applied to its files; returns the records moved.
    """
    host = worker_id().rsplit("-", 1)[0]
    pattern = index.link.key("moves", f"*/{host}-*")
    client = index.link.client
    keys = index.link.call(lambda: list(client.scan_iter(match=pattern, count=1000)))
    done = 0
    for raw in keys:
        owner = _text(raw)[len(index.link.key("moves")) + 1 :]
        site, _, wid = owner.partition("/")
        pid = wid.rsplit("-", 1)[-1]
        if owner == skip or not pid.isdigit():
            continue
        if _alive(int(pid)) and not index.closed(owner):
            continue  # it applies them itself when it closes
        out_dir, st_dir = out_root / site / wid, state_root / site / wid
        if not out_dir.is_dir():
            continue
        lock = PortalLock(state_root / site / f"{wid}.lock", site)
        deadline = time.monotonic() + ORPHAN_LOCK_WAIT
        while True:
            try:
                lock.acquire()
                break
            except PortalLocked:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.1)
        if not lock.held:
            continue
        try:
            ops = index.take_moves(owner)
            journal.record(st_dir, site, ops)
            applied = journal.apply(st_dir, site, out_dir, keep_missing=False)
            done += len(applied.demoted)
        finally:
            lock.release()
        if ops:
            logger.info("%s: %d move(s) applied for its ended process", out_dir, len(ops))
    return done


class RedisDedupPipeline:
    """The dedup stage of a Redis crawl (in place of ``pipelines.dedup.DedupPipeline``).

    Decides as the embedded stage does (url, content hash, near duplicate, origin
    rule; same stats, signals and log lines) against :class:`RedisIndex`.
    """

    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        if not settings.getbool("DEDUP_ENABLED"):
            raise NotConfigured("DEDUP_ENABLED is False")
        self.crawler = crawler
        self.stats = crawler.stats
        self.params = params_from_settings(settings)
        self.threshold = settings.getfloat("DEDUP_THRESHOLD")
        self.names = names_from_settings(settings)
        self.index = RedisIndex(link_for(crawler), self.params, self.threshold)
        self.site = ""
        self.owner = ""
        self._items = 0
        crawler.signals.connect(self._item_scraped, signal=scrapy_signals.item_scraped)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def open_spider(self) -> None:
        assert self.crawler.spider is not None
        self.site = site_of(self.crawler.spider)
        self.owner = f"{self.site}/{worker_id()}"

    def close_spider(self) -> None:
        self._apply_queued_moves(closing=True)
        settings = self.crawler.settings
        apply_orphan_moves(
            self.index,
            Path(settings.get("OUTPUT_DIR") or "output"),
            Path(settings.get("STATE_DIR") or "state"),
            skip=self.owner,
        )

    def _apply_queued_moves(self, closing: bool = False) -> None:
        """Moves other processes decided for records this process wrote."""
        ops = self.index.take_moves(self.owner, closing)
        if ops:
            self.stats.inc_value("dedup/reconciled", len(ops))
            self.crawler.signals.send_catch_log(
                signal=signals.moves_found, ops=[(self.site, op) for op in ops]
            )

    def _item_scraped(self, item: Any, **kwargs: Any) -> None:
        """A better origin is written: queue the move of the record it replaced."""
        remote = getattr(item, "_redis_moves", None)
        if remote:
            for owner, op in remote:
                self.index.push_moves(owner, [op])

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, ArticleItem) or isinstance(item, DuplicateItem):
            return item
        self._items += 1
        if self._items % MOVE_CHECK_EVERY == 0:
            self._apply_queued_moves()
        prep = prepare([item.text], [item.url], [item.content_hash or None], self.params)
        fields = item_fields(item)
        record = {"id": item.id, "url": item.url, **record_meta(fields), "owner": self.owner}
        verdict = self.index.decide(prep, [record])[0]
        if verdict.match is None:
            item.cluster = verdict.cluster
            return self._kept(item)
        cluster, kept = verdict.cluster, verdict.kept
        while verdict.match != "url" and kept.get("id") != item.id:
            if not better_origin(fields, kept, self.names, verdict.cited):
                break
            taken = {**record, "cluster": cluster}
            current = self.index.set_kept(cluster, str(kept["id"]), taken, kept.get("source"))
            if current is None:
                return self._replace(item, kept, cluster, verdict.similarity, verdict.match)
            kept = current  # another process took the cluster over meanwhile: decide again
        self.index.cite(cluster, item.source)
        self.stats.inc_value(STAT_KEYS[verdict.match])
        dup = make_duplicate(item, str(kept["id"]), verdict.similarity, verdict.match, cluster)
        self.crawler.signals.send_catch_log(signal=signals.duplicate_found, item=dup)
        logger.info(
            "duplicate (%s, similarity %.2f): %s is a reprint of %s",
            verdict.match,
            verdict.similarity,
            item.url,
            kept.get("url"),
        )
        raise DropItem(f"{verdict.match} duplicate of {kept['id']} ({kept.get('url')})")

    def _kept(self, item: ArticleItem) -> ArticleItem:
        self.stats.inc_value("dedup/kept")
        return item

    def _replace(
        self, item: ArticleItem, kept: dict[str, Any], cluster: str, similarity: float, match: str
    ) -> ArticleItem:
        item.cluster = cluster
        op = {
            "op": "demote",
            "id": kept["id"],
            "duplicate_of": item.id,
            "similarity": round(similarity, 4),
            "match": match,
            "cluster": cluster,
        }
        owner = str(kept.get("owner") or "")
        if owner == self.owner:  # written here: the store moves it once the item is written
            item._dedup_moves = [(self.site, op)]  # type: ignore[attr-defined]
        else:  # queued for its writer once the item is written (item_scraped)
            item._redis_moves = [(owner, op)]  # type: ignore[attr-defined]
        self.stats.inc_value("dedup/origin_replaced")
        logger.info(
            "origin found: %s replaces %s as the kept copy (the reprint moves to %s's "
            "duplicates.jsonl)",
            item.url,
            kept.get("url"),
            owner or kept.get("site"),
        )
        return self._kept(item)
