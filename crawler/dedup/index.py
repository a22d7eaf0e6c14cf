"""The persistent near-duplicate index: numpy arrays on disk, no server.

Layout of ``STATE_DIR/dedup/``::

    manifest.json          format version, parameters, segments, checksums, checkpoint
    seg-000007/            one immutable segment (rows base .. base+n-1)
        sigs.npy           (n, num_perm) uint32 MinHash signatures (mmap-able)
        band_keys.npy      sorted uint64 LSH band keys of all bands (see crawler.dedup.lsh)
        band_rows.npy      uint32 global row of each band key
        hash_keys.npy      sorted uint64 content-hash keys (kept records and their reprints)
        hash_rows.npy      uint32 row of the kept record
        url_keys.npy       sorted uint64 url keys (kept records and their reprints)
        url_rows.npy       uint32 row of the kept record
        labels.npy         uint8 blob: ``id \\0 url \\0 meta`` of each row, concatenated
                           (meta: JSON of the record's cluster and origin fields)
        label_offs.npy     uint64 offsets into the blob (n + 1)

A row is a reprint cluster: the record first kept, its signature and its
``cluster`` id (stable for the life of the cluster).  When a better origin
takes a cluster over (:mod:`crawler.dedup.origin`), the row stays and
:attr:`DedupIndex.kept` records the cluster's current kept record; ``cited``
holds the 来源 the cluster's reprints name, ``renamed`` the clusters merged
into another.  These three tables are saved in the manifest.

Rows added during a run live in a buffer (numpy arrays and open-addressing
hash tables that compiled code updates, so a document can match one inserted
just before it: :mod:`crawler.dedup.kernels`); every ``flush_every`` rows the
buffer becomes an in-memory segment, and segments are merged size-tiered (a
segment is merged into its predecessor when it is at least a quarter of its
size; the sorted key tables are merged with one ``searchsorted``, not sorted
again), so a lookup searches a handful of sorted arrays through their
top-bit directories.  :meth:`DedupIndex.decide_batch` decides a whole batch
in one compiled loop.  The buffer's arrays are reused from flush to flush
and the heap the merges free is handed back to the system, so the process's
RSS follows the arrays.

:meth:`DedupIndex.save` writes new segments into a temporary directory,
fsyncs every file, renames the directory into place, then writes the manifest
(temporary file, fsync, atomic ``os.replace``, fsync of the directory).  The
manifest names the segments and the xxh3-64 checksum and size of each file;
a reader trusts nothing the manifest does not name.  :meth:`DedupIndex.open`
raises :class:`IndexCorruptError` (with the reason) on a missing or unreadable
manifest, a wrong format version or parameters, a missing, truncated or
altered file: the caller rebuilds from the JSONL output
(:mod:`crawler.dedup.state`).
"""

from __future__ import annotations

import bisect
import contextlib
import ctypes
import json
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import xxhash
from numpy.typing import NDArray

from crawler.dedup import origin
from crawler.dedup.lsh import lsh_params
from crawler.dedup.shingles import SHINGLE_HASH
from crawler.fsutil import fsync_dir, write_atomic

if TYPE_CHECKING:
    from crawler.dedup.engine import Prepared

FORMAT_VERSION = 2
# the record fields a row keeps for origin decisions (crawler.dedup.origin)
META_FIELDS = ("cluster", *origin.FIELDS)
MANIFEST = "manifest.json"
_FILES = (
    "sigs",
    "band_keys",
    "band_rows",
    "hash_keys",
    "hash_rows",
    "url_keys",
    "url_rows",
    "labels",
    "label_offs",
)
_EMPTY_ROWS: list[int] = []


class IndexCorruptError(Exception):
    """The persisted index cannot be used as it is (the message says why)."""


class IndexMissingError(IndexCorruptError):
    """There is no persisted index."""


@dataclass(frozen=True)
class IndexParams:
    """What signatures and band keys depend on: an index is only valid for these."""

    shingle_size: int = 5
    num_perm: int = 128
    seed: int = 1
    scheme: str = "affine32"
    lsh_threshold: float = 0.5
    shingle_hash: str = SHINGLE_HASH

    @property
    def bands(self) -> int:
        return lsh_params(self.lsh_threshold, self.num_perm)[0]

    @property
    def rows(self) -> int:
        return lsh_params(self.lsh_threshold, self.num_perm)[1]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["bands"], d["rows"] = self.bands, self.rows
        return d


def _slot_bits(n: int) -> int:
    """Top bits of a key table's directory slot for ``n`` keys: about 4 keys a slot."""
    return max(1, min(30, (max(n, 4) // 4).bit_length()))


class KeyTable:
    """Sorted uint64 keys with a uint32 row each; many rows may share a key.

    Lookups go through a directory of the keys' top bits (built on first use
    with one ``np.bincount``, not stored): each query then compares a few
    neighbouring keys instead of a ~24-step binary search over tens of
    millions of keys, whose cache misses dominated the index's time at 1 M
    documents.  The directory (uint32, about 4 keys per slot: the keys of a
    slot share one or two cache lines) costs about 1 byte per key.
    """

    def __init__(self, keys: NDArray[np.uint64], rows: NDArray[np.uint32]) -> None:
        self.keys = keys
        self.rows = rows
        self._dir: NDArray[np.uint32] | None = None
        self._shift = np.uint64(63)

    @classmethod
    def build(cls, keys: NDArray[np.uint64], rows: NDArray[np.uint32]) -> KeyTable:
        """The table of ``keys`` and their ``rows``, equal keys in their given order."""
        from crawler.dedup import kernels

        sorted_keys, sorted_rows = kernels.sort_table(
            np.ascontiguousarray(keys, dtype=np.uint64),
            np.ascontiguousarray(rows, dtype=np.uint32),
            _slot_bits(len(keys)),
        )
        return cls(sorted_keys, sorted_rows)

    @classmethod
    def merged(cls, first: KeyTable, second: KeyTable) -> KeyTable:
        """The table of ``first``'s entries then ``second``'s, as :meth:`build` sorts them.

        Both are sorted already: one linear merge (``second``'s entries after the
        equal keys of ``first``), without a concatenated copy and a new sort.
        """
        from crawler.dedup import kernels

        keys, rows = kernels.merge_tables(
            np.ascontiguousarray(first.keys, dtype=np.uint64),
            np.ascontiguousarray(first.rows, dtype=np.uint32),
            np.ascontiguousarray(second.keys, dtype=np.uint64),
            np.ascontiguousarray(second.rows, dtype=np.uint32),
        )
        return cls(keys, rows)

    def _directory(self) -> NDArray[np.uint32]:
        if self._dir is None:
            bits = _slot_bits(len(self.keys))
            self._shift = np.uint64(64 - bits)
            counts = np.bincount(
                (np.asarray(self.keys) >> self._shift).astype(np.int64), minlength=1 << bits
            )
            directory = np.zeros(len(counts) + 1, dtype=np.uint32)
            np.cumsum(counts, out=directory[1:])
            self._dir = directory
        return self._dir

    def directory(self) -> NDArray[np.uint32]:
        """Start of each top-bits slot in :attr:`keys` (and the end): see :attr:`shift`."""
        return self._directory()

    @property
    def shift(self) -> np.uint64:
        """A key's slot in :meth:`directory` is ``key >> shift`` (valid once it is built)."""
        self._directory()
        return self._shift

    def lookup(self, queries: NDArray[np.uint64]) -> tuple[NDArray[np.int64], NDArray[np.uint32]]:
        """``(query positions, rows)``: one pair per stored key equal to a query."""
        if len(self.keys) == 0 or len(queries) == 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.uint32)
        directory = self._directory()
        slot = (queries >> self._shift).astype(np.int64)
        pos = directory[slot].astype(np.int64)
        end = directory[slot + 1].astype(np.int64)
        active = np.nonzero(pos < end)[0]
        pos = pos[active]
        found_q: list[NDArray[np.int64]] = []
        found_p: list[NDArray[np.int64]] = []
        while active.size:
            keys = self.keys[pos]
            q = queries[active]
            hit = keys == q
            if hit.any():
                found_q.append(active[hit])
                found_p.append(pos[hit])
            pos = pos + 1
            more = (keys <= q) & (pos < end[active])  # keys are sorted within a slot
            active = active[more]
            pos = pos[more]
        if not found_q:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.uint32)
        positions = np.concatenate(found_p)
        return np.concatenate(found_q), np.asarray(self.rows[positions], dtype=np.uint32)

    @property
    def nbytes(self) -> int:
        return int(self.keys.nbytes + self.rows.nbytes)


@dataclass
class Segment:
    """Rows ``base .. base + n - 1`` and their keys; immutable once built."""

    base: int
    sigs: NDArray[np.uint32]
    band: KeyTable
    hashes: KeyTable
    urls: KeyTable
    labels: NDArray[np.uint8]
    label_offs: NDArray[np.uint64]
    name: str | None = None  # directory name once saved
    checksums: dict[str, list[int]] = field(default_factory=dict)  # file -> [xxh3, size]

    @property
    def n(self) -> int:
        return int(self.sigs.shape[0])

    def raw_label(self, row: int) -> bytes:
        i = row - self.base
        return bytes(self.labels[int(self.label_offs[i]) : int(self.label_offs[i + 1])])

    def arrays(self) -> dict[str, NDArray[Any]]:
        return {
            "sigs": self.sigs,
            "band_keys": self.band.keys,
            "band_rows": self.band.rows,
            "hash_keys": self.hashes.keys,
            "hash_rows": self.hashes.rows,
            "url_keys": self.urls.keys,
            "url_rows": self.urls.rows,
            "labels": self.labels,
            "label_offs": self.label_offs,
        }

    @property
    def nbytes(self) -> int:
        return int(sum(a.nbytes for a in self.arrays().values()))


def _merge(segments: list[Segment]) -> Segment:
    """One segment holding the rows and keys of consecutive ``segments``."""
    offs = [np.zeros(1, dtype=np.uint64)]
    total = 0
    for seg in segments:
        offs.append(np.asarray(seg.label_offs[1:], dtype=np.uint64) + np.uint64(total))
        total += int(seg.label_offs[-1])

    def table(name: str) -> KeyTable:
        merged: KeyTable = getattr(segments[0], name)
        for seg in segments[1:]:
            merged = KeyTable.merged(merged, getattr(seg, name))
        return merged

    return Segment(
        base=segments[0].base,
        sigs=np.concatenate([s.sigs for s in segments]),
        band=table("band"),
        hashes=table("hashes"),
        urls=table("urls"),
        labels=np.concatenate([s.labels for s in segments]),
        label_offs=np.concatenate(offs),
    )


def _return_free_memory() -> None:
    """Hand the allocator's free heap pages back to the system (glibc ``malloc_trim``).

    Arrays under glibc's mmap threshold (up to 32 MiB: a small segment's, a
    merge's temporaries) live on the heap, and what they leave free when
    segments merge stays in the process's RSS (about 140 MiB at 1 M rows)
    unless trimmed.  A no-op where the C library has no ``malloc_trim``.
    """
    global _malloc_trim
    if _malloc_trim is None:
        try:
            _malloc_trim = ctypes.CDLL(None).malloc_trim
        except (OSError, AttributeError):
            _malloc_trim = False
    if _malloc_trim:
        _malloc_trim(0)


_malloc_trim: Any = None


def _reused(old: NDArray[Any] | None, shape: tuple[int, ...], dtype: Any) -> NDArray[Any]:
    """``old`` when it has ``shape``, else a new array of it (contents undefined)."""
    return old if old is not None and old.shape == shape else np.empty(shape, dtype=dtype)


def _cleared_table(
    keys: NDArray[np.uint64] | None, vals: NDArray[np.int64] | None, entries: int
) -> tuple[NDArray[np.uint64], NDArray[np.int64]]:
    """``keys`` and ``vals`` emptied when they have :func:`_table`'s size, else a new table."""
    if keys is None or vals is None or len(keys) != _table_size(entries):
        return _table(entries)
    keys.fill(0)
    vals.fill(-1)
    return keys, vals


def _table_size(entries: int) -> int:
    size = 16
    while size < 2 * entries:
        size *= 2
    return size


def _table(entries: int) -> tuple[NDArray[np.uint64], NDArray[np.int64]]:
    """An empty open-addressing table for ``entries`` keys (at most half full)."""
    size = _table_size(entries)
    return np.zeros(size, dtype=np.uint64), np.full(size, -1, dtype=np.int64)


def encode_label(rec_id: str, url: str, meta: Mapping[str, object] | None = None) -> bytes:
    """``id \\0 url`` and, when there are any, ``\\0`` and the JSON of the known META_FIELDS.

    Fields that are null, and a ``cluster`` equal to the id, are left out (labels of
    records with no origin fields cost no more than before).
    """
    if not meta:
        return f"{rec_id}\0{url}".encode()
    fields = {k: v for k in META_FIELDS if (v := meta.get(k)) is not None}
    if fields.get("cluster") == rec_id:
        del fields["cluster"]
    if not fields:
        return f"{rec_id}\0{url}".encode()
    packed = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    return f"{rec_id}\0{url}\0{packed}".encode()


def decode_label(raw: bytes) -> dict[str, object]:
    """The record fields of a label: ``id``, ``url`` and :data:`META_FIELDS`."""
    rec_id, url, packed = ([*raw.decode("utf-8").split("\x00", 2), "", ""])[:3]
    meta: dict[str, object] = {}
    with contextlib.suppress(ValueError):
        loaded = json.loads(packed) if packed else {}
        if isinstance(loaded, dict):
            meta = loaded
    out: dict[str, object] = dict.fromkeys(META_FIELDS)
    out.update(meta)
    out["cluster"] = out["cluster"] or rec_id
    return {"id": rec_id, "url": url, **out}


def _checksum(path: Path) -> list[int]:
    h = xxhash.xxh3_64()
    with path.open("rb") as f:
        while chunk := f.read(1 << 24):
            h.update(chunk)
    return [h.intdigest(), path.stat().st_size]


class DedupIndex:
    """Signatures, LSH band keys, content-hash and URL keys of the kept records.

    ``directory=None`` gives an index that lives in memory only (offline runs).
    """

    def __init__(
        self, directory: Path | None, params: IndexParams, flush_every: int = 16384
    ) -> None:
        self.directory = directory
        self.params = params
        self.flush_every = flush_every
        self.segments: list[Segment] = []
        self.checkpoint: dict[str, dict[str, int]] = {}
        # cluster -> fields of its current kept record, when not the row's first record
        self.kept: dict[str, dict[str, object]] = {}
        # cluster -> the 来源 its reprints name (distinct)
        self.cited: dict[str, list[str]] = {}
        # cluster -> the cluster it was merged into
        self.renamed: dict[str, str] = {}
        # moves found while replaying at open (crawler.dedup.state), for the caller: not saved
        self.moves: list[tuple[str, dict[str, Any]]] = []
        self._saved_names: list[str] = []
        self._next_seg = 0
        self._reset_buffer()

    # -- buffer ---------------------------------------------------------------
    def _reset_buffer(self) -> None:
        """An empty buffer for ``flush_every`` rows.

        The previous buffer's arrays are cleared and reused where they have the
        size a new one would get (about 33 MB at 16,384 rows of 128 values):
        fresh ones at every flush left freed heap in the process's RSS.
        """
        self._base = self.segments[-1].base + self.segments[-1].n if self.segments else 0
        cap = max(1, self.flush_every)
        nb = self.params.bands
        self._buf_n = 0
        shape = (cap, self.params.num_perm)
        self._buf_sigs = _reused(getattr(self, "_buf_sigs", None), shape, np.uint32)
        self._buf_bands = _reused(getattr(self, "_buf_bands", None), (cap, nb), np.uint64)
        self._buf_labels: list[bytes] = []
        # band key -> the chain of the buffer entries (local row * bands + band) holding it
        self._band_keys, self._band_heads = _cleared_table(
            getattr(self, "_band_keys", None), getattr(self, "_band_heads", None), cap * nb
        )
        self._band_chain = _reused(getattr(self, "_band_chain", None), (cap * nb,), np.int64)
        # content-hash and URL key -> row (kept records and the reprints pointed at them)
        self._hash_keys, self._hash_vals = _cleared_table(
            getattr(self, "_hash_keys", None), getattr(self, "_hash_vals", None), cap
        )
        self._url_keys, self._url_vals = _cleared_table(
            getattr(self, "_url_keys", None), getattr(self, "_url_vals", None), cap
        )
        self._fill = np.zeros(2, dtype=np.int64)  # entries in the URL and hash tables

    def make_room(self, rows: int) -> None:
        """Flush first when ``rows`` more would take the buffer past ``flush_every``.

        The buffer then keeps its size (it grows only for a batch larger than
        ``flush_every``) and its arrays are reused at every flush.
        """
        if self._buf_n and self._buf_n + rows > self.flush_every:
            self.flush()

    def _reserve(self, rows: int) -> None:
        """Room in the buffer for ``rows`` more rows and as many URL and hash entries."""
        from crawler.dedup import kernels

        need = self._buf_n + rows
        nb = self.params.bands
        if need > len(self._buf_sigs):
            cap = max(need, 2 * len(self._buf_sigs))
            sigs = np.empty((cap, self._buf_sigs.shape[1]), dtype=np.uint32)
            sigs[: self._buf_n] = self._buf_sigs[: self._buf_n]
            bands = np.empty((cap, nb), dtype=np.uint64)
            bands[: self._buf_n] = self._buf_bands[: self._buf_n]
            chain = np.empty(cap * nb, dtype=np.int64)
            chain[: self._buf_n * nb] = self._band_chain[: self._buf_n * nb]
            self._buf_sigs, self._buf_bands, self._band_chain = sigs, bands, chain
            if 2 * cap * nb > len(self._band_keys):
                keys, heads = _table(cap * nb)
                kernels.table_rehash(self._band_keys, self._band_heads, keys, heads)
                self._band_keys, self._band_heads = keys, heads
        for k, (keys_name, vals_name) in enumerate(
            (("_url_keys", "_url_vals"), ("_hash_keys", "_hash_vals"))
        ):
            keys = getattr(self, keys_name)
            if 2 * (int(self._fill[k]) + rows) > len(keys):
                new_keys, new_vals = _table(2 * (int(self._fill[k]) + rows))
                kernels.table_rehash(keys, getattr(self, vals_name), new_keys, new_vals)
                setattr(self, keys_name, new_keys)
                setattr(self, vals_name, new_vals)

    def __len__(self) -> int:
        return self._base + self._buf_n

    @property
    def dirty(self) -> bool:
        return bool(self._buf_n or self._fill.any()) or any(s.name is None for s in self.segments)

    def add(
        self,
        sig: NDArray[np.uint32],
        bands: NDArray[np.uint64],
        hash_key: int,
        url_key: int,
        rec_id: str,
        url: str,
        meta: Mapping[str, object] | None = None,
    ) -> int:
        """Insert a kept record (a new cluster); returns its row."""
        from crawler.dedup import kernels

        self._reserve(1)
        row = len(self)
        kernels.insert_row(
            self._buf_sigs,
            self._buf_bands,
            self._buf_n,
            np.asarray(sig, dtype=np.uint32),
            np.asarray(bands, dtype=np.uint64),
            self._band_keys,
            self._band_heads,
            self._band_chain,
        )
        self._buf_n += 1
        self._buf_labels.append(encode_label(rec_id, url, meta))
        self._put(1, hash_key, row)
        self._put(0, url_key, row)
        return row

    def _put(self, table: int, key: int, row: int) -> None:
        """Point ``key`` at ``row`` in the buffer's URL (0) or hash (1) table unless it is there."""
        from crawler.dedup import kernels

        keys, vals = (
            (self._url_keys, self._url_vals) if table == 0 else (self._hash_keys, self._hash_vals)
        )
        if kernels.table_put(keys, vals, np.uint64(key), row):
            self._fill[table] += 1

    def maybe_flush(self) -> None:
        """Flush the buffer once it holds ``flush_every`` rows (call between batches)."""
        if self._buf_n >= self.flush_every:
            self.flush()

    def add_alias(self, hash_key: int | None, url_key: int | None, row: int) -> None:
        """Point a reprint's content hash and URL at the kept record ``row``."""
        self._reserve(1)
        if hash_key is not None and self.lookup_hash(hash_key) is None:
            self._put(1, hash_key, row)
        if url_key is not None and self.lookup_url(url_key) is None:
            self._put(0, url_key, row)

    def flush(self) -> None:
        """Turn the buffer into an in-memory segment and merge small segments."""
        if not (self._buf_n or self._fill.any()):
            return
        n = self._buf_n
        rows = np.arange(self._base, self._base + n, dtype=np.uint32)
        p = self.params
        sigs = self._buf_sigs[:n].copy()
        bands = self._buf_bands[:n].reshape(-1)
        lens = np.fromiter((len(b) for b in self._buf_labels), dtype=np.uint64, count=n)
        offs = np.zeros(n + 1, dtype=np.uint64)
        np.cumsum(lens, out=offs[1:])

        def table(keys: NDArray[np.uint64], vals: NDArray[np.int64]) -> KeyTable:
            used = vals >= 0
            return KeyTable.build(keys[used], vals[used].astype(np.uint32))

        seg = Segment(
            base=self._base,
            sigs=sigs,
            band=KeyTable.build(bands, np.repeat(rows, p.bands)),
            hashes=table(self._hash_keys, self._hash_vals),
            urls=table(self._url_keys, self._url_vals),
            labels=np.frombuffer(b"".join(self._buf_labels), dtype=np.uint8).copy(),
            label_offs=offs,
        )
        self.segments.append(seg)
        while len(self.segments) > 1 and (
            self.segments[-1].n * 4 >= self.segments[-2].n or len(self.segments) > 16
        ):
            last = self.segments.pop()
            prev = self.segments.pop()
            self.segments.append(_merge([prev, last]))
            del last, prev  # freed before the next merge allocates
        self._reset_buffer()
        _return_free_memory()

    # -- lookups --------------------------------------------------------------
    def lookup_url(self, url_key: int) -> int | None:
        row = self.buffer_url(url_key)
        if row is not None:
            return row
        q = np.array([url_key], dtype=np.uint64)
        for seg in self.segments:
            _, rows = seg.urls.lookup(q)
            if len(rows):
                return int(rows[0])
        return None

    def lookup_hash(self, hash_key: int) -> int | None:
        row = self.buffer_hash(hash_key)
        if row is not None:
            return row
        q = np.array([hash_key], dtype=np.uint64)
        for seg in self.segments:
            _, rows = seg.hashes.lookup(q)
            if len(rows):
                return int(rows[0])
        return None

    def segment_matches(
        self,
        bands: NDArray[np.uint64],
        hash_keys: NDArray[np.uint64],
        url_keys: NDArray[np.uint64],
    ) -> tuple[list[int], list[int], tuple[NDArray[np.int64], NDArray[np.int64]]]:
        """Batch lookup in the segments (not the buffer).

        ``bands`` is ``(n, bands)``; returns per document the first URL row
        (-1 if none) and the first content-hash row (-1 if none), and the LSH
        candidates as unique ``(document, row)`` pairs (two arrays).
        """
        n = len(hash_keys)
        url_rows = [-1] * n
        hash_rows = [-1] * n
        nb = bands.shape[1] if bands.ndim == 2 else 1
        flat = bands.reshape(-1)
        docs: list[NDArray[np.int64]] = []
        rows: list[NDArray[np.int64]] = []
        for seg in self.segments:  # oldest first: the first kept record wins
            for i, row in zip(*(a.tolist() for a in seg.urls.lookup(url_keys)), strict=True):
                if url_rows[i] < 0:
                    url_rows[i] = row
            for i, row in zip(*(a.tolist() for a in seg.hashes.lookup(hash_keys)), strict=True):
                if hash_rows[i] < 0:
                    hash_rows[i] = row
            qs, found = seg.band.lookup(flat)
            docs.append(qs // nb)
            rows.append(found.astype(np.int64))
        if not docs or not sum(len(d) for d in docs):
            empty = np.empty(0, dtype=np.int64)
            return url_rows, hash_rows, (empty, empty)
        pairs = np.unique((np.concatenate(docs) << 32) | np.concatenate(rows))
        return url_rows, hash_rows, (pairs >> 32, pairs & 0xFFFFFFFF)

    def buffer_candidates(self, bands: NDArray[np.uint64]) -> list[int]:
        """Rows of this run's buffer sharing a band key with ``bands`` (repeats possible)."""
        from crawler.dedup import kernels

        bands = np.ascontiguousarray(bands, dtype=np.uint64)
        out = np.empty(4 * len(bands), dtype=np.int64)
        args = (self._band_keys, self._band_heads, self._band_chain, bands)
        n = kernels.chain_rows(*args, out)
        if n > len(out):
            out = np.empty(n, dtype=np.int64)
            kernels.chain_rows(*args, out)
        return (out[:n] + self._base).tolist()

    def buffer_url(self, url_key: int) -> int | None:
        from crawler.dedup import kernels

        row = kernels.table_get(self._url_keys, self._url_vals, np.uint64(url_key))
        return None if row < 0 else int(row)

    def buffer_hash(self, hash_key: int) -> int | None:
        from crawler.dedup import kernels

        row = kernels.table_get(self._hash_keys, self._hash_vals, np.uint64(hash_key))
        return None if row < 0 else int(row)

    def decide_batch(
        self,
        prep: Prepared,
        ids: Sequence[str],
        urls: Sequence[str],
        metas: Sequence[Mapping[str, object] | None] | None,
        threshold: float,
    ) -> tuple[NDArray[np.uint8], NDArray[np.int64], NDArray[np.float64]]:
        """The dedup decision of a batch in order, kept records inserted (compiled loop).

        Returns per record the match code (0 kept, 1 URL, 2 content hash, 3
        MinHash: ``crawler.dedup.kernels``), the row (the kept record's, or the
        new row) and the similarity.  The rule is
        :meth:`crawler.dedup.engine.Deduplicator.decide`'s.
        """
        from crawler.dedup import kernels

        n = len(ids)
        sigs = np.ascontiguousarray(prep.sigs, dtype=np.uint32)
        bands = np.ascontiguousarray(prep.bands, dtype=np.uint64).reshape(n, -1)
        hash_keys = np.ascontiguousarray(prep.hash_keys, dtype=np.uint64)
        url_keys = np.ascontiguousarray(prep.url_keys, dtype=np.uint64)
        url_rows, hash_rows, _ = self.segment_matches(bands[:0], hash_keys, url_keys)
        seg_row = np.full(n, -1, dtype=np.int64)
        seg_cnt = np.full(n, -1, dtype=np.int64)
        for seg in self.segments:
            if n and len(seg.band.keys):
                directory = seg.band.directory()
                kernels.segment_best(
                    bands,
                    sigs,
                    directory,
                    seg.band.shift,
                    np.asarray(seg.band.keys),
                    np.asarray(seg.band.rows),
                    np.asarray(seg.sigs),
                    seg.base,
                    seg_row,
                    seg_cnt,
                )
        self._reserve(n)
        match = np.empty(n, dtype=np.uint8)
        rows = np.empty(n, dtype=np.int64)
        counts = np.empty(n, dtype=np.int64)
        first = self._buf_n
        self._buf_n = kernels.decide_batch(
            sigs,
            bands,
            hash_keys,
            url_keys,
            np.asarray(url_rows, dtype=np.int64),
            np.asarray(hash_rows, dtype=np.int64),
            seg_row,
            seg_cnt,
            float(threshold),
            self._base,
            self._buf_n,
            self._buf_sigs,
            self._buf_bands,
            self._band_keys,
            self._band_heads,
            self._band_chain,
            self._url_keys,
            self._url_vals,
            self._hash_keys,
            self._hash_vals,
            self._fill,
            match,
            rows,
            counts,
        )
        kept = np.flatnonzero(match == kernels.KEPT).tolist()
        assert len(kept) == self._buf_n - first
        if metas is None:
            self._buf_labels.extend(f"{ids[i]}\0{urls[i]}".encode() for i in kept)
        else:
            self._buf_labels.extend(encode_label(ids[i], urls[i], metas[i]) for i in kept)
        return match, rows, counts / sigs.shape[1] if sigs.shape[1] else counts.astype(float)

    def signatures(self, rows: list[int] | NDArray[np.int64]) -> NDArray[np.uint32]:
        """Signatures of ``rows`` (any order), one per row."""
        idx = np.asarray(rows, dtype=np.int64)
        out = np.empty((len(idx), self.params.num_perm), dtype=np.uint32)
        in_buf = idx >= self._base
        if in_buf.any():
            out[in_buf] = self._buf_sigs[idx[in_buf] - self._base]
        if not in_buf.all():
            bases = np.array([s.base for s in self.segments], dtype=np.int64)
            which = np.searchsorted(bases, idx, side="right") - 1
            for k in np.unique(which[~in_buf]).tolist():
                sel = (which == k) & ~in_buf
                seg = self.segments[k]
                out[sel] = seg.sigs[idx[sel] - seg.base]
        return out

    def _raw_label(self, row: int) -> bytes:
        if row >= self._base:
            return self._buf_labels[row - self._base]
        bases = [s.base for s in self.segments]
        return self.segments[bisect.bisect_right(bases, row) - 1].raw_label(row)

    def first_record(self, row: int) -> dict[str, object]:
        """The fields of the record first kept at ``row`` (``id``, ``url``, META_FIELDS)."""
        return decode_label(self._raw_label(row))

    def cluster_id(self, cluster: str) -> str:
        """``cluster`` after the merges recorded in :attr:`renamed`."""
        seen = {cluster}
        while cluster in self.renamed:
            cluster = self.renamed[cluster]
            if cluster in seen:
                break
            seen.add(cluster)
        return cluster

    def kept_record(self, row: int) -> dict[str, object]:
        """The fields of the cluster's current kept record at ``row`` (cluster resolved)."""
        first = self.first_record(row)
        cluster = self.cluster_id(str(first["cluster"]))
        rec = dict(self.kept.get(cluster) or first)
        rec["cluster"] = cluster
        return rec

    def set_kept(self, record: Mapping[str, object]) -> None:
        """Make ``record`` (with ``id``, ``url`` and META_FIELDS) its cluster's kept record."""
        fields = {k: record.get(k) for k in ("id", "url", *META_FIELDS)}
        self.kept[str(fields["cluster"])] = fields

    def add_cited(self, cluster: str, source: object) -> None:
        """Remember that a copy of ``cluster`` names ``source`` as its 来源."""
        if isinstance(source, str) and source:
            names = self.cited.setdefault(cluster, [])
            if source not in names:
                names.append(source)

    def label(self, row: int) -> tuple[str, str]:
        """``(id, url)`` of the cluster's current kept record at ``row``."""
        rec = self.kept_record(row)
        return str(rec["id"]), str(rec["url"])

    def stats(self) -> dict[str, int]:
        """Row count, segment count and bytes of the arrays (mapped or in memory)."""
        return {
            "rows": len(self),
            "segments": len(self.segments),
            "array_bytes": sum(s.nbytes for s in self.segments),
        }

    # -- persistence ----------------------------------------------------------
    def save(self) -> None:
        """Write new segments and the manifest crash-safely (no-op in memory)."""
        if self.directory is None:
            return
        self.flush()
        self.directory.mkdir(parents=True, exist_ok=True)
        for seg in self.segments:
            if seg.name is None:
                self._write_segment(seg)
        manifest = {
            "format_version": FORMAT_VERSION,
            "params": self.params.to_dict(),
            "rows": len(self),
            "next_segment": self._next_seg,
            "segments": [
                {"name": s.name, "base": s.base, "n": s.n, "files": s.checksums}
                for s in self.segments
            ],
            "checkpoint": self.checkpoint,
            "clusters": {"kept": self.kept, "cited": self.cited, "renamed": self.renamed},
        }
        text = json.dumps(manifest, indent=1, sort_keys=True)
        write_atomic(self.directory / MANIFEST, text.encode("utf-8"), sync_dir=True)
        self._cleanup()

    def _write_segment(self, seg: Segment) -> None:
        assert self.directory is not None
        name = f"seg-{self._next_seg:06d}"
        self._next_seg += 1
        while (self.directory / name).exists():  # left by an index this one replaces
            name = f"seg-{self._next_seg:06d}"
            self._next_seg += 1
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=self.directory))
        checksums: dict[str, list[int]] = {}
        for fname, arr in seg.arrays().items():
            path = tmp / f"{fname}.npy"
            with path.open("wb") as f:
                np.save(f, np.ascontiguousarray(arr), allow_pickle=False)
                f.flush()
                os.fsync(f.fileno())
            checksums[fname] = _checksum(path)
        fsync_dir(tmp)
        tmp.replace(self.directory / name)
        fsync_dir(self.directory)
        seg.name = name
        seg.checksums = checksums

    def remove_temporaries(self) -> None:
        """Remove what an interrupted save left (call holding the index lock)."""
        if self.directory is not None and self.directory.is_dir():
            self._cleanup()

    def _cleanup(self) -> None:
        """Remove segment directories and temporaries the manifest does not name."""
        assert self.directory is not None
        keep = {s.name for s in self.segments} | {MANIFEST}
        for entry in self.directory.iterdir():
            if entry.name not in keep:
                if entry.is_dir():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    with contextlib.suppress(OSError):
                        entry.unlink()

    @classmethod
    def open(
        cls, directory: Path, params: IndexParams, flush_every: int = 16384, verify: bool = True
    ) -> DedupIndex:
        """Load a saved index (arrays memory-mapped); raises :class:`IndexCorruptError`."""
        path = directory / MANIFEST
        if not path.exists():
            raise IndexMissingError(f"no index at {directory}")
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise IndexCorruptError(f"unreadable manifest {path}: {exc}") from exc
        if not isinstance(manifest, dict):
            raise IndexCorruptError(f"manifest {path} is not an object")
        version = manifest.get("format_version")
        if version != FORMAT_VERSION:
            raise IndexCorruptError(f"format version {version!r}, expected {FORMAT_VERSION}")
        if manifest.get("params") != params.to_dict():
            raise IndexCorruptError(
                f"index built with {manifest.get('params')}, settings ask for {params.to_dict()}"
            )
        index = cls(directory, params, flush_every)
        try:
            index._next_seg = int(manifest["next_segment"])
            index.checkpoint = {
                str(k): {"offset": int(v["offset"]), "lines": int(v["lines"])}
                | ({"ino": int(v["ino"])} if "ino" in v else {})
                for k, v in manifest["checkpoint"].items()
            }
            clusters = manifest["clusters"]
            index.kept = {str(k): dict(v) for k, v in clusters["kept"].items()}
            index.cited = {str(k): [str(x) for x in v] for k, v in clusters["cited"].items()}
            index.renamed = {str(k): str(v) for k, v in clusters["renamed"].items()}
            expected_base = 0
            for entry in manifest["segments"]:
                seg = _load_segment(directory, entry, params, verify)
                if seg.base != expected_base:
                    raise IndexCorruptError(f"segment {seg.name} starts at {seg.base}")
                expected_base += seg.n
                index.segments.append(seg)
            if expected_base != int(manifest["rows"]):
                raise IndexCorruptError(
                    f"{expected_base} rows in segments, manifest says {manifest['rows']}"
                )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise IndexCorruptError(f"malformed manifest {path}: {exc!r}") from exc
        index._reset_buffer()
        return index


def _load_segment(
    directory: Path, entry: dict[str, Any], params: IndexParams, verify: bool
) -> Segment:
    name = str(entry["name"])
    files: dict[str, list[int]] = entry["files"]
    arrays: dict[str, NDArray[Any]] = {}
    for fname in _FILES:
        path = directory / name / f"{fname}.npy"
        want = files.get(fname)
        if want is None:
            raise IndexCorruptError(f"{name}/{fname}.npy is not in the manifest")
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise IndexCorruptError(f"missing file {path}: {exc.strerror}") from exc
        if size != want[1]:
            raise IndexCorruptError(f"{path} has {size} bytes, manifest says {want[1]}")
        if verify and _checksum(path) != list(want):
            raise IndexCorruptError(f"checksum mismatch in {path}")
        try:
            arrays[fname] = np.load(path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            raise IndexCorruptError(f"unreadable {path}: {exc}") from exc
    n = int(entry["n"])
    sigs = arrays["sigs"]
    if sigs.shape != (n, params.num_perm) or sigs.dtype != np.uint32:
        raise IndexCorruptError(
            f"{name}/sigs.npy has shape {sigs.shape}, expected ({n}, {params.num_perm})"
        )
    if arrays["band_keys"].shape != (n * params.bands,) or arrays["label_offs"].shape != (n + 1,):
        raise IndexCorruptError(f"{name}: band keys or labels do not match {n} rows")
    return Segment(
        base=int(entry["base"]),
        sigs=sigs,
        band=KeyTable(arrays["band_keys"], arrays["band_rows"]),
        hashes=KeyTable(arrays["hash_keys"], arrays["hash_rows"]),
        urls=KeyTable(arrays["url_keys"], arrays["url_rows"]),
        labels=arrays["labels"],
        label_offs=arrays["label_offs"],
        name=name,
        checksums={k: list(v) for k, v in files.items()},
    )
