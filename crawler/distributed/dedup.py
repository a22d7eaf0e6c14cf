"""The near-duplicate index in Redis: one decision for every crawl process.

Signatures, band keys and exact keys are computed in the worker as in one
process (:func:`crawler.dedup.engine.prepare`).  The decision is one Lua
script per batch (:meth:`RedisIndex.decide`), atomic on the server, that takes
the documents in order and for each

1. finds a kept row with the same url key (``"url"``), else with the same
   content hash (``"content_hash"``: the url key then points at it too), else
2. reads the document's band buckets: a document none of whose buckets holds a
   row is kept at once (inserted: its signature, bucket entries, url and
   content-hash keys, record fields); otherwise the script stops there and
   returns, for that document and the rest of the batch, what the worker needs
   to decide them: the url and content-hash rows and the candidate rows.

The Jaccard estimate stays in the worker: it compares each document with its
candidates (signatures fetched once and cached, :class:`SignatureCache`) and
with the batch's earlier documents, as one process would, and sends the batch
back with its verdicts (kept, or a near duplicate of a row).  The script
applies a verdict only if the document's view is still the one it was decided
on: no other process wrote since (``D:ver`` unchanged), or no row another
process inserted since (``D:seq`` at the view) is in its buckets and its url
and content-hash keys still give the same outcome.  Otherwise it stops again
with a fresh view, and the worker decides the rest again.  Scripts run one at
a time on the server, so of two copies that two workers send at the same moment
one is inserted first and the other then finds it: exactly one is kept.  A row,
once inserted, is never taken out again.

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

Keys (``D`` = ``<prefix>:dd``; layout ``LAYOUT``, recorded as ``dd-layout`` in
``<prefix>:meta``; a server holding another layout is refused,
:class:`~crawler.distributed.connection.RedisLayoutMismatch`).  Rows are numbered
from 1 (``D:seq``: the last) and written as 4 bytes, big-endian:

* ``D:b:<n>``, ``D:u:<n>``, ``D:h:<n>``: the band buckets, url keys and
  content-hash keys, each a table of small hashes (field: the 8-byte key;
  value: the packed rows; a bucket of more than 15 rows lives in the string
  ``D:o:<key>``, its field then empty).  Redis keeps a hash of at most 128
  short fields as one compact listpack, about 16 bytes an entry against about
  100 for a set of its own; the tables grow by linear hashing (``D:lh``: level,
  split pointer and entries of each), one hash split in two whenever the
  entries pass ``LOAD`` a hash on average.
* ``D:s:<n>``: the signatures, ``SIG_CHUNK`` rows to a preallocated string
  that fills one allocator size class (128 KiB), so a signature costs its bytes.
* ``D:r`` (row -> the record's JSON fields), ``D:k`` (cluster -> its kept
  record's JSON, when that is not the row that started it), ``D:c:<cluster>``
  (sets of 来源), ``D:ver`` (changed by every script that writes).

Settings: the ``DEDUP_*`` ones, as in one process.
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
from numpy.typing import NDArray
from scrapy import signals as scrapy_signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from crawler import journal, signals
from crawler.dedup.engine import Prepared, prepare
from crawler.dedup.index import META_FIELDS, IndexParams
from crawler.dedup.minhash import estimate
from crawler.dedup.origin import better_origin
from crawler.dedup.state import record_meta
from crawler.distributed.connection import (
    LAYOUT_REPLY,
    RedisLayoutMismatch,
    RedisLink,
    layout_message,
    link_for,
)
from crawler.distributed.workers import worker_id
from crawler.items import ArticleItem, DuplicateItem
from crawler.state import PortalLock, PortalLocked, site_of
from pipelines.dedup import (
    drop_duplicate,
    item_fields,
    names_from_settings,
    params_from_settings,
)

logger = logging.getLogger(__name__)

MOVE_CHECK_EVERY = 50  # items between two looks for moves other processes queued here
ORPHAN_LOCK_WAIT = 5.0  # seconds to wait for a closing process's folder lock (it is released
# when that process stops; two processes waiting on each other give up after this)
LAYOUT = "2"  # the key layout below; another one in Redis is refused
LOAD = 40  # entries a table hash holds on average before one is split (listpack up to 128)
SIG_CHUNK_BYTES = 131072 - 16  # one 128 KiB allocation, less the string's header
SIG_CACHE_ROWS = 1 << 16  # signatures a worker keeps (32 MiB at 128 permutations)
IN_CALL = 1 << 31  # a verdict's target that is a document of the same call, not a row
_OLD_KEYS = ("url", "hash", "sig", "rec", "kept")  # keys of layout 1 (no dd-layout)

# Tables of small hashes grown by linear hashing; rows packed as 4 bytes.
_TABLES = """
local P = ARGV[1]
local d = P .. ':dd'
local layout = redis.call('HGET', P .. ':meta', 'dd-layout')
if layout ~= '@LAYOUT@' then
  return redis.error_reply('@LAYOUT_REPLY@ ' .. (layout or '1') .. ' @LAYOUT@')
end
local lh = {}
local function tbl(name)
  local v = redis.call('HMGET', d .. ':lh', name .. 'i', name .. 'p', name .. 'n')
  local t = {name = name, pre = d .. ':' .. name .. ':', names = {},
             i = tonumber(v[1]) or 0, p = tonumber(v[2]) or 0, n = tonumber(v[3]) or 0}
  t.m = 2 ^ t.i
  lh[#lh + 1] = t
  return t
end
local function low(key)  -- the key's last 4 bytes as a number
  local b1, b2, b3, b4 = string.byte(key, 5, 8)
  return ((b1 * 256 + b2) * 256 + b3) * 256 + b4
end
local function shard(t, a)
  local name = t.names[a]
  if not name then name = t.pre .. a; t.names[a] = name end
  return name
end
local function addr(t, key)
  local h = low(key)
  local a = h % t.m
  if a < t.p then a = h % (2 * t.m) end
  return shard(t, a)
end
local function split(t)
  local m = t.m
  local src = shard(t, t.p)
  local all = redis.call('HGETALL', src)
  local moved, gone = {}, {}
  for j = 1, #all, 2 do
    if low(all[j]) % (2 * m) ~= t.p then
      moved[#moved + 1] = all[j]; moved[#moved + 1] = all[j + 1]; gone[#gone + 1] = all[j]
    end
  end
  if #gone > 0 then
    redis.call('HSET', shard(t, t.p + m), unpack(moved))
    redis.call('HDEL', src, unpack(gone))
  end
  t.p = t.p + 1
  if t.p >= m then t.i = t.i + 1; t.p = 0; t.m = 2 * m end
end
local function get(t, key) return redis.call('HGET', addr(t, key), key) end
local function put(t, key, value)
  if redis.call('HSET', addr(t, key), key, value) == 1 then
    t.n = t.n + 1; t.dirty = true
    if t.n > @LOAD@ * (t.m + t.p) then split(t) end
  end
end
local function save_tables()
  for _, t in ipairs(lh) do
    if t.dirty then
      redis.call('HSET', d .. ':lh', t.name .. 'i', t.i, t.name .. 'p', t.p, t.name .. 'n', t.n)
    end
  end
end
"""

# ARGV: prefix, bands, signature bytes, rows a signature string, view seq (-1: none),
# view version, verdicts (one char a document: '?' undecided, 'u' url, 'h' content hash,
# 'n' near duplicate, 'k' kept), targets (4 bytes a document), url keys, content-hash keys,
# band keys (8 bytes each), signatures, the documents' clusters, record JSONs and the
# values of their buckets before them (a kept document decided on a view, see
# _bucket_ops), each concatenated, and per document the three lengths (4 bytes each).
_DECIDE = (
    _TABLES
    + """
local nb, sigb, chunk = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local sw, vw, want = tonumber(ARGV[5]), ARGV[6], ARGV[7]
local tg, uk, hk, bk, sg = ARGV[8], ARGV[9], ARGV[10], ARGV[11], ARGV[12]
local n = #want
-- per document its cluster, record JSON and bucket values, cut from three strings
local extra = {}
do
  local lens, at = ARGV[16], {1, 1, 1}
  for i = 1, n do
    local a, b, c = struct.unpack('>I4I4I4', lens, 12 * i - 11)
    extra[i] = {string.sub(ARGV[13], at[1], at[1] + a - 1),
                string.sub(ARGV[14], at[2], at[2] + b - 1),
                string.sub(ARGV[15], at[3], at[3] + c - 1)}
    at = {at[1] + a, at[2] + b, at[3] + c}
  end
end
local B, U, H = tbl('b'), tbl('u'), tbl('h')
local seq = tonumber(redis.call('GET', d .. ':seq') or '0')
local ver = redis.call('GET', d .. ':ver') or '0'
local first = seq + 1
local check = ver ~= vw
local wrote = false
local kinds, rows, kept, cited = {}, {}, {}, {}
local rowof = {}
local function bucket(key)
  local v = get(B, key)
  if v == '' then return redis.call('GET', d .. ':o:' .. key), true end
  return v, false
end
local function fresh(packed)  -- a row another process inserted after the view
  if not packed then return false end
  for o = #packed - 3, 1, -4 do
    local r = struct.unpack('>I4', packed, o)
    if r < first then return r > sw end
  end
  return false
end
local function note(kind, row4)
  kinds[#kinds + 1] = kind; rows[#rows + 1] = row4
  if kind ~= 'k' then
    local rec = redis.call('HGET', d .. ':r', row4)
    local cluster = cjson.decode(rec)['cluster']
    kept[#kept + 1] = redis.call('HGET', d .. ':k', cluster) or rec
    cited[#cited + 1] = redis.call('SMEMBERS', d .. ':c:' .. cluster)
  end
end
local stop = n + 1
local read = nil  -- the buckets of the document stopped at, when they were read
for i = 1, n do
  local w = string.sub(want, i, i)
  local ukey, hkey = string.sub(uk, 8 * i - 7, 8 * i), string.sub(hk, 8 * i - 7, 8 * i)
  local got, row4 = nil, nil
  if check or w == '?' or w == 'u' or w == 'h' then  -- else the view holds: neither key is known
    row4 = get(U, ukey)
    if row4 then
      got = 'u'
    else
      row4 = get(H, hkey)
      if row4 then got = 'h'; put(U, ukey, row4); wrote = true end
    end
  end
  if got then
    rowof[i] = row4
    note(got, row4)
    if w ~= '?' and w ~= got then stop = i + 1; break end
  else
    if w == 'u' or w == 'h' then stop = i; break end
    local keys, vals, over, any, conflict = {}, {}, {}, false, false
    local ops = extra[i][3]
    if w == 'k' and not check and ops ~= '' then
      -- the view holds: the worker sent each bucket's value (the rows before this one)
      local pos = 1
      for b = 1, nb do
        local o = ((i - 1) * nb + b - 1) * 8
        keys[b] = string.sub(bk, o + 1, o + 8)
        local op = string.sub(ops, pos, pos)
        if op == 'a' then
          over[b] = true; pos = pos + 1
        elseif op == 'v' then
          local len = string.byte(ops, pos + 1)
          vals[b] = string.sub(ops, pos + 2, pos + 1 + len); pos = pos + 2 + len
        else
          pos = pos + 1
        end
      end
    elseif w ~= 'n' or check then
      for b = 1, nb do
        local o = ((i - 1) * nb + b - 1) * 8
        keys[b] = string.sub(bk, o + 1, o + 8)
        vals[b], over[b] = bucket(keys[b])
        if vals[b] then
          any = true
          if check and w ~= '?' and fresh(vals[b]) then conflict = true end
        end
      end
    end
    if conflict or (w == '?' and any) then stop = i; read = {vals, over}; break end
    if w == 'n' then
      local t = string.sub(tg, 4 * i - 3, 4 * i)
      local r = struct.unpack('>I4', t)
      if r >= @IN_CALL@ then t = rowof[r - @IN_CALL@ + 1] end
      put(U, ukey, t); put(H, hkey, t); wrote = true
      rowof[i] = t
      note('n', t)
    else
      seq = seq + 1
      local row = struct.pack('>I4', seq)
      for b = 1, nb do
        local key, v = keys[b], vals[b]
        if over[b] then
          redis.call('APPEND', d .. ':o:' .. key, row)
        elseif not v then
          put(B, key, row)
        elseif #v >= 60 then
          redis.call('SET', d .. ':o:' .. key, v .. row); put(B, key, '')
        else
          put(B, key, v .. row)
        end
      end
      local c, slot = math.floor(seq / chunk), seq % chunk
      local skey = d .. ':s:' .. c
      if slot == 0 or seq == 1 then redis.call('SET', skey, string.rep('\\0', chunk * sigb)) end
      redis.call('SETRANGE', skey, slot * sigb, string.sub(sg, (i - 1) * sigb + 1, i * sigb))
      put(U, ukey, row); put(H, hkey, row)
      local cluster, rec = extra[i][1], extra[i][2]
      redis.call('HSET', d .. ':r', row, rec)
      if cluster ~= '' then redis.call('HSETNX', d .. ':k', cluster, rec) end
      wrote = true
      rowof[i] = row
      note('k', row)
    end
  end
end
if wrote then
  redis.call('SET', d .. ':seq', seq)
  ver = tostring(redis.call('INCR', d .. ':ver'))
  save_tables()
end
local vu, vh, vc, vn = {}, {}, {}, {}
for i = stop, n do
  local reuse = i == stop and read  -- its keys were not found either
  vu[#vu + 1] = (not reuse and get(U, string.sub(uk, 8 * i - 7, 8 * i))) and '1' or '0'
  vh[#vh + 1] = (not reuse and get(H, string.sub(hk, 8 * i - 7, 8 * i))) and '1' or '0'
  local found, counts = {}, {}
  for b = 1, nb do
    local v, spilled
    if reuse then
      v, spilled = read[1][b], read[2][b]
    else
      local o = ((i - 1) * nb + b - 1) * 8
      v, spilled = bucket(string.sub(bk, o + 1, o + 8))
    end
    v = v or ''
    found[b] = v
    counts[b] = struct.pack('>I4', #v / 4 + (spilled and 2147483648 or 0))
  end
  vc[#vc + 1] = table.concat(found)
  vn[#vn + 1] = table.concat(counts)
end
return {table.concat(kinds), table.concat(rows), kept, cited, seq, ver,
        table.concat(vu), table.concat(vh), table.concat(vc), table.concat(vn)}
"""
)

# ARGV: prefix, signature bytes, rows a signature string, rows (4 bytes each)
_SIGNATURES = (
    _TABLES
    + """
local sigb, chunk, packed = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local out = {}
for o = 1, #packed, 4 do
  local r = struct.unpack('>I4', packed, o)
  local s = (r % chunk) * sigb
  out[#out + 1] = redis.call('GETRANGE', d .. ':s:' .. math.floor(r / chunk), s, s + sigb - 1)
end
return table.concat(out)
"""
)

_SET_KEPT = """
local d = ARGV[1] .. ':dd'
local current = redis.call('HGET', d .. ':k', ARGV[2])
if current and cjson.decode(current)['id'] ~= ARGV[3] then return current end
redis.call('HSET', d .. ':k', ARGV[2], ARGV[4])
if ARGV[5] ~= '' then redis.call('SADD', d .. ':c:' .. ARGV[2], ARGV[5]) end
redis.call('INCR', d .. ':ver')
return 1
"""

_CITE = """
redis.call('SADD', ARGV[1] .. ':dd:c:' .. ARGV[2], ARGV[3])
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


def _source(text: str) -> str:
    return (
        text.replace("@LAYOUT@", LAYOUT)
        .replace("@LAYOUT_REPLY@", LAYOUT_REPLY)
        .replace("@LOAD@", str(LOAD))
        .replace("@IN_CALL@", str(IN_CALL))
    )


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


def _rows(packed: bytes) -> NDArray[np.int64]:
    return np.frombuffer(packed, dtype=">u4").astype(np.int64)


class SignatureCache:
    """The signatures of the last ``capacity`` rows this worker inserted or fetched.

    Rows never change once inserted, so a cached signature stays right.
    """

    def __init__(self, width: int, capacity: int = SIG_CACHE_ROWS) -> None:
        self.sigs = np.zeros((capacity, width), dtype=np.uint32)
        self.owner = np.full(capacity, -1, dtype=np.int64)
        self.slots: dict[int, int] = {}
        self.next = 0

    def missing(self, rows: Sequence[int]) -> list[int]:
        return [r for r in rows if r not in self.slots]

    def put(self, rows: Sequence[int], sigs: NDArray[np.uint32]) -> None:
        for row, sig in zip(rows, sigs, strict=True):
            if row in self.slots:
                continue
            slot = self.next
            self.next = (slot + 1) % len(self.owner)
            old = int(self.owner[slot])
            if old >= 0:
                del self.slots[old]
            self.owner[slot] = row
            self.sigs[slot] = sig
            self.slots[row] = slot

    def get(self, rows: Sequence[int]) -> NDArray[np.uint32]:
        return self.sigs[[self.slots[r] for r in rows]]


SPILLED = 1 << 31  # a bucket count's flag: the rows are in ``D:o:<key>``


@dataclass
class _View:
    """What the server held for one document when it stopped.

    Whether its url and content-hash keys are known, the rows in its buckets
    (``cands``), and per bucket where its packed rows start in ``rows``, how many
    bytes they take and whether they spilled over to a string of their own.
    """

    url: bool
    hash: bool
    cands: NDArray[np.int64]
    rows: bytes
    counts: NDArray[np.uint32]

    @classmethod
    def parse_all(
        cls, urls: bytes, hashes: bytes, rows: bytes, counts: bytes, bands: int
    ) -> list[_View]:
        """The views of a script's reply: ``0``/``1`` a document for its url and content-hash
        keys, the packed rows of all their buckets and the per-bucket counts."""
        per = np.frombuffer(counts, ">u4").reshape(-1, bands)
        ends = np.cumsum(4 * (per & (SPILLED - 1)).sum(axis=1)).tolist()
        out, at = [], 0
        for j, end in enumerate(ends):
            mine = rows[at:end]
            at = end
            out.append(cls(urls[j] == 49, hashes[j] == 49, np.unique(_rows(mine)), mine, per[j]))
        return out

    def buckets(self) -> list[tuple[bytes, bool]]:
        """Per bucket its packed rows and whether they spilled over."""
        sizes = 4 * (self.counts & (SPILLED - 1))
        ends = np.cumsum(sizes).tolist()
        spilled = (self.counts >= SPILLED).tolist()
        out, at = [], 0
        for end, spill in zip(ends, spilled, strict=True):
            out.append((self.rows[at:end], spill))
            at = end
        return out


def _bucket_ops(
    keys: Sequence[int], view: _View, changed: dict[int, tuple[bytes, bool]], row: bytes
) -> bytes:
    """What a kept document finds in its buckets, for the script to append ``row``.

    Per bucket ``a`` (spilled over: appended), ``v`` with a length byte and the
    packed rows, or ``-`` (empty); ``changed`` holds the buckets the call's
    earlier kept documents appended to, and gets this one's.
    """
    out = []
    for key, seen in zip(keys, view.buckets(), strict=True):
        value, spilled = changed.get(key, seen)
        if spilled:
            out.append(b"a")
            changed[key] = (b"", True)
        elif value:
            out.append(b"v%c%s" % (len(value), value))
            changed[key] = (b"", True) if len(value) >= 60 else (value + row, False)
        else:
            out.append(b"-")
            changed[key] = (row, False)
    return b"".join(out)


class RedisIndex:
    """Exact and near-duplicate decisions against the tables in Redis."""

    def __init__(self, link: RedisLink, params: IndexParams, threshold: float) -> None:
        self.link = link
        self.params = params
        self.threshold = threshold
        self.bands = params.bands
        self.sig_bytes = params.num_perm * 4
        self.chunk = SIG_CHUNK_BYTES // self.sig_bytes
        self.cache = SignatureCache(params.num_perm)
        self._scripts = {
            name: link.script(_source(src))
            for name, src in (
                ("decide", _DECIDE),
                ("signatures", _SIGNATURES),
                ("set_kept", _SET_KEPT),
                ("cite", _CITE),
                ("take_moves", _TAKE_MOVES),
                ("push_moves", _PUSH_MOVES),
            )
        }
        self._check_layout()

    def _check_layout(self) -> None:
        """Record the layout in a new crawl's meta; refuse a crawl that has another one."""
        client, meta = self.link.client, self.link.key("meta")
        found = self.link.call(lambda: client.hget(meta, "dd-layout"))
        if found is None:
            old = [self.link.key("dd", k) for k in _OLD_KEYS]
            if self.link.call(lambda: client.exists(*old)):
                raise RedisLayoutMismatch(layout_message(self.link, "1", LAYOUT))
            self.link.call(lambda: client.hsetnx(meta, "dd-layout", LAYOUT))
            found = self.link.call(lambda: client.hget(meta, "dd-layout"))
        if _text(found) != LAYOUT:
            raise RedisLayoutMismatch(layout_message(self.link, _text(found), LAYOUT))

    def _run(self, name: str, *args: Any) -> Any:
        script = self._scripts[name]
        return self.link.call(lambda: script(args=[self.link.prefix, *args]))

    def _signatures(self, rows: Sequence[int]) -> dict[int, NDArray[np.uint32]]:
        """Signatures of ``rows``: from the cache, the others fetched in one call."""
        missing = self.cache.missing(rows)
        cached = [r for r in rows if r in self.cache.slots]
        found = dict(zip(cached, self.cache.get(cached), strict=True))
        if missing:
            packed = np.asarray(missing, dtype=">u4").tobytes()
            got = self._run("signatures", self.sig_bytes, self.chunk, packed)
            fetched = np.frombuffer(got, dtype=np.uint32).reshape(len(missing), -1)
            found.update(zip(missing, fetched, strict=True))
            self.cache.put(missing, fetched)
        return found

    def decide(self, prep: Prepared, records: Sequence[Mapping[str, Any]]) -> list[Decision]:
        """Decide a batch in order; kept records are inserted.

        ``records``: per document its ``id``, ``url`` and ``crawler.dedup.index.META_FIELDS``
        (``cluster`` set), plus ``owner`` (the process folder that writes it).
        """
        n = len(records)
        ukeys = prep.url_keys.astype(">u8").tobytes()
        hkeys = prep.hash_keys.astype(">u8").tobytes()
        bands = prep.bands.astype(">u8").tobytes()
        sigs = prep.sigs.astype("<u4").tobytes()  # as numpy reads them back
        nb, sb = self.bands * 8, self.sig_bytes
        clusters: list[bytes] = []
        recs: list[bytes] = []
        ops: list[bytes] = [b""] * n
        for rec in records:
            cluster = str(rec.get("cluster") or rec["id"])
            packed = {k: v for k, v in rec.items() if v is not None}
            packed["cluster"] = cluster
            clusters.append(b"" if cluster == rec["id"] else cluster.encode())
            recs.append(json.dumps(packed, ensure_ascii=False, separators=(",", ":")).encode())
        out: list[Decision] = []
        start, seq, ver = 0, -1, ""
        want, targets, sims = "?" * n, bytes(4 * n), [1.0] * n
        while start < n:
            parts = (clusters[start:], recs[start:], ops[start:])
            lens = np.array([[len(x) for x in p] for p in parts], dtype=">u4").T.tobytes()
            raw = self._run(
                "decide", self.bands, sb, self.chunk, seq, ver, want, targets,
                ukeys[8 * start:], hkeys[8 * start:], bands[nb * start:], sigs[sb * start:],
                *(b"".join(p) for p in parts), lens,
            )  # fmt: skip
            kinds, rows = _text(raw[0]), _rows(raw[1]).tolist()
            dups = iter(zip(raw[2], raw[3], strict=True))
            for j, (kind, row) in enumerate(zip(kinds, rows, strict=True)):
                i = start + j
                if kind == "k":
                    self.cache.put([row], prep.sigs[i : i + 1])
                    cluster = str(records[i].get("cluster") or records[i]["id"])
                    out.append(Decision(None, row, 1.0, cluster))
                    continue
                kept_raw, cited = next(dups)
                kept = {
                    **dict.fromkeys(("id", "url", *META_FIELDS, "owner")),
                    **json.loads(kept_raw),
                }
                match = {"u": "url", "h": "content_hash", "n": "minhash"}[kind]
                sim = sims[j] if kind == "n" else 1.0
                cluster = str(kept.get("cluster") or kept["id"])
                out.append(
                    Decision(match, row, sim, cluster, kept, sorted(_text(s) for s in cited))
                )
            start += len(kinds)
            if start == n:
                break
            seq, ver = int(raw[4]), _text(raw[5])
            views = _View.parse_all(raw[6], raw[7], raw[8], raw[9], self.bands)
            want, targets, sims, ops[start:] = self._local(prep, start, views, seq)
        return out

    def _local(
        self, prep: Prepared, start: int, views: Sequence[_View], seq: int
    ) -> tuple[str, bytes, list[float], list[bytes]]:
        """Verdicts of documents ``start:`` from the server's views, as one process decides.

        A document's candidates are its view's rows and the call's earlier kept
        documents sharing a band key; the most similar wins, the earliest on a tie.
        """
        m = len(views)
        lens = [len(v.cands) for v in views]
        doc_of = np.repeat(np.arange(m), lens)
        cands = np.concatenate([v.cands for v in views]) if m else np.zeros(0, np.int64)
        known = np.unique(cands)
        got = self._signatures(known.tolist())
        table = np.stack([got[r] for r in known.tolist()]) if len(known) else prep.sigs[:0]
        # every document against its candidates at once; per document the highest
        # estimate, the earliest row on a tie
        view_best = np.full(m, -1, dtype=np.int64)
        view_sim = np.full(m, -1.0)
        if len(cands):
            equal = table[np.searchsorted(known, cands)] == prep.sigs[start + doc_of]
            sims_all = np.count_nonzero(equal, axis=1) / prep.sigs.shape[1]
            order = np.lexsort((cands, -sims_all, doc_of))
            firsts = order[np.r_[True, doc_of[order][1:] != doc_of[order][:-1]]]
            view_best[doc_of[firsts]] = cands[firsts]
            view_sim[doc_of[firsts]] = sims_all[firsts]
        urls: set[int] = set()
        hashes: set[int] = set()
        buckets: dict[int, list[int]] = {}
        want: list[str] = []
        ops: list[bytes] = []
        changed: dict[int, tuple[bytes, bool]] = {}
        targets = np.zeros(len(views), dtype=">u4")
        sims: list[float] = []
        for j, view in enumerate(views):
            i = start + j
            ukey, hkey = int(prep.url_keys[i]), int(prep.hash_keys[i])
            sim, op = 1.0, b""
            if view.url or ukey in urls:
                kind = "u"
            elif view.hash or hkey in hashes:
                kind = "h"
                urls.add(ukey)
            else:
                sig = prep.sigs[i]
                best, sim = int(view_best[j]), float(view_sim[j])
                keys = prep.bands[i].tolist()
                local = sorted({d for key in keys for d in buckets.get(key, ())})
                if local:
                    found = estimate(sig, prep.sigs[[start + d for d in local]])
                    k = int(np.argmax(found))
                    if found[k] > sim:  # later than every row: only a higher estimate wins
                        best, sim = IN_CALL + local[k], float(found[k])
                if best >= 0 and sim >= self.threshold:
                    kind = "n"
                    targets[j] = best
                    urls.add(ukey)
                    hashes.add(hkey)
                else:
                    kind = "k"
                    urls.add(ukey)
                    hashes.add(hkey)
                    for key in keys:
                        buckets.setdefault(key, []).append(j)
                    # rows follow the view's last if no other process writes meanwhile
                    seq += 1
                    op = _bucket_ops(keys, view, changed, seq.to_bytes(4, "big"))
            want.append(kind)
            sims.append(sim)
            ops.append(op)
        return "".join(want), targets.tobytes(), sims, ops

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
        if verdict.match == "url" and kept.get("id") == item.id and kept.get("owner") == self.owner:
            # this process's own insert, seen again: a decide script whose reply was lost
            # ran again when the connection came back
            item.cluster = cluster
            return self._kept(item)
        while verdict.match != "url" and kept.get("id") != item.id:
            if not better_origin(fields, kept, self.names, verdict.cited):
                break
            taken = {**record, "cluster": cluster}
            current = self.index.set_kept(cluster, str(kept["id"]), taken, kept.get("source"))
            if current is None:
                return self._replace(item, kept, cluster, verdict.similarity, verdict.match)
            kept = current  # another process took the cluster over meanwhile: decide again
        self.index.cite(cluster, item.source)
        kept_id, kept_url, match = str(kept["id"]), kept.get("url"), verdict.match
        drop_duplicate(self.crawler, item, kept_id, kept_url, match, verdict.similarity, cluster)

    def _kept(self, item: ArticleItem) -> ArticleItem:
        self.stats.inc_value("dedup/kept")
        return item

    def _replace(
        self, item: ArticleItem, kept: dict[str, Any], cluster: str, similarity: float, match: str
    ) -> ArticleItem:
        item.cluster = cluster
        op = journal.demote_op(kept["id"], item.id, similarity, match, cluster)
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
