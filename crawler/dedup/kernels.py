"""Compiled loops of the sequential dedup decision (numba, imported on first use).

The decision of a batch (:meth:`crawler.dedup.engine.Deduplicator.decide`) is
a loop over its records in order, each looking up the rows added since the
last flush (which may be the batch's own earlier records) and inserting
itself when kept.  In Python dictionaries that loop cost about 95 µs a
record at 100,000 records; here it runs over numpy arrays:

- the rows added since the last flush are hash tables with open addressing
  and linear probing (no library offers one that numba code can use):
  ``keys`` (uint64) and ``vals`` (int64, -1 for an empty slot), and for the
  LSH bands a chain per band key: ``vals`` holds the last entry
  ``local_row * bands + band`` with that key, ``chain[entry]`` the entry
  before it (-1: none);
- the segments' sorted band keys are searched through their top-bit
  directory (:class:`crawler.dedup.index.KeyTable`), and each candidate's
  signature compared once per record, keeping the most equal values, the
  earliest row on a tie;
- both wait for memory far more than they compute (random reads in tables of
  tens of MB): the loops fetch the cache lines of the next iterations ahead
  (:func:`_prefetch`), which halves the segment lookups and takes a quarter
  off the buffer decisions at 100,000 records;
- a flush sorts the buffer's keys into a segment's table and merges tables
  (:func:`sort_table`, :func:`merge_tables`): linear passes instead of
  ``np.argsort`` and ``np.searchsorted`` (2-4x faster).

Similarity is counted in equal signature values; the estimate is that count
divided by the number of permutations, as :func:`crawler.dedup.minhash.estimate`.
This module imports numba at import time: :mod:`crawler.dedup.index` imports
it when a record is first added or looked up.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import numpy as np
from llvmlite import ir
from numpy.typing import NDArray

from crawler.dedup.jit import numba_module

numba = numba_module()
from numba.core import cgutils, types  # noqa: E402 - after numba_module()'s patch
from numba.extending import intrinsic  # noqa: E402

_MUL = np.uint64(0x9E3779B97F4A7C15)
_S32 = np.uint64(32)

KEPT, URL, CONTENT_HASH, MINHASH = 0, 1, 2, 3  # match codes of decide_batch


def _prefetch_intrinsic(typingctx: Any, arr: Any, idx: Any) -> Any:  # pragma: no cover
    """``_prefetch(arr, idx)`` in compiled code: start loading the cache line of
    ``arr[idx]`` (LLVM's ``prefetch``: for reading, kept in every cache level).  A
    hint only: it never faults, whatever the address.

    The index's lookups and signature comparisons wait for memory, not for the
    CPU: loops that know the addresses of the next iterations fetch them
    ahead.  numba has no prefetch of its own, hence this intrinsic.
    """
    sig = types.void(arr, idx)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]], wraparound=False)
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        rw, locality, data = ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)
        builder.call(fn, [builder.bitcast(ptr, i8p), rw, locality, data])
        return context.get_dummy_value()

    return sig, codegen


_prefetch = cast(Callable[[NDArray[Any], Any], None], intrinsic(_prefetch_intrinsic))


@numba.njit(cache=True, nogil=True, boundscheck=False, inline="always")
def _slot(key: np.uint64, mask: int) -> np.int64:  # pragma: no cover - compiled
    h = key * _MUL
    h ^= h >> _S32
    return np.int64(h & np.uint64(mask))


@numba.njit(cache=True, nogil=True, boundscheck=False, inline="always")
def _find(
    keys: NDArray[np.uint64], vals: NDArray[np.int64], key: np.uint64
) -> np.int64:  # pragma: no cover - compiled
    """The slot holding ``key``, else the empty slot where it would go."""
    mask = keys.shape[0] - 1
    s = _slot(key, mask)
    while vals[s] >= 0 and keys[s] != key:
        s = (s + 1) & mask
    return s


@numba.njit(cache=True, nogil=True, boundscheck=False)
def table_get(keys: NDArray[np.uint64], vals: NDArray[np.int64], key: np.uint64) -> int:
    """The value stored for ``key`` (-1: none)."""  # pragma: no cover - compiled
    return int(vals[_find(keys, vals, key)])


@numba.njit(cache=True, nogil=True, boundscheck=False)
def table_put(
    keys: NDArray[np.uint64], vals: NDArray[np.int64], key: np.uint64, val: int
) -> bool:  # pragma: no cover - compiled
    """Store ``val`` for ``key`` unless it has a value; True when stored."""
    s = _find(keys, vals, key)
    if vals[s] >= 0:
        return False
    keys[s] = key
    vals[s] = val
    return True


@numba.njit(cache=True, nogil=True, boundscheck=False)
def table_rehash(
    keys: NDArray[np.uint64],
    vals: NDArray[np.int64],
    new_keys: NDArray[np.uint64],
    new_vals: NDArray[np.int64],
) -> None:  # pragma: no cover - compiled
    """Copy every entry of one table into a larger empty one."""
    for s in range(keys.shape[0]):
        if vals[s] >= 0:
            table_put(new_keys, new_vals, keys[s], int(vals[s]))


@numba.njit(cache=True, nogil=True, boundscheck=False, inline="always")
def _listed(values: NDArray[np.int64], lo: int, hi: int, value: int) -> bool:  # pragma: no cover
    """Whether ``values[lo:hi]`` holds ``value`` (a record's few candidate rows so far)."""
    for k in range(lo, hi):  # noqa: SIM110 - a plain loop: numba compiles no generator here
        if values[k] == value:
            return True
    return False


@numba.njit(cache=True, nogil=True, boundscheck=False, inline="always")
def _equal(a: NDArray[np.uint32], b: NDArray[np.uint32]) -> int:  # pragma: no cover - compiled
    n = 0
    for k in range(a.shape[0]):
        if a[k] == b[k]:
            n += 1
    return n


@numba.njit(cache=True, nogil=True, boundscheck=False)
def chain_put(
    keys: NDArray[np.uint64],
    heads: NDArray[np.int64],
    chain: NDArray[np.int64],
    key: np.uint64,
    entry: int,
) -> None:  # pragma: no cover - compiled
    """Add ``entry`` to the chain of ``key``."""
    s = _find(keys, heads, key)
    keys[s] = key
    chain[entry] = heads[s]  # -1 for a new key
    heads[s] = entry


@numba.njit(cache=True, nogil=True, boundscheck=False)
def chain_rows(
    keys: NDArray[np.uint64],
    heads: NDArray[np.int64],
    chain: NDArray[np.int64],
    bands: NDArray[np.uint64],
    out: NDArray[np.int64],
) -> int:  # pragma: no cover - compiled
    """Local rows sharing a band key with ``bands`` into ``out`` (repeats kept); their count."""
    nb = bands.shape[0]
    n = 0
    for b in range(nb):
        e = heads[_find(keys, heads, bands[b])]
        while e >= 0:
            if n < out.shape[0]:
                out[n] = e // nb
            n += 1
            e = chain[e]
    return n


@numba.njit(cache=True, nogil=True, boundscheck=False)
def insert_row(
    buf_sigs: NDArray[np.uint32],
    buf_bands: NDArray[np.uint64],
    local: int,
    sig: NDArray[np.uint32],
    bands: NDArray[np.uint64],
    band_keys: NDArray[np.uint64],
    band_heads: NDArray[np.int64],
    band_chain: NDArray[np.int64],
) -> None:  # pragma: no cover - compiled
    """Row ``local`` of the buffer: its signature, band keys and their chains."""
    nb = bands.shape[0]
    buf_sigs[local] = sig
    buf_bands[local] = bands
    for b in range(nb):
        chain_put(band_keys, band_heads, band_chain, bands[b], local * nb + b)


_AHEAD = 16  # lookups ahead whose cache lines are fetched
_SIG_AHEAD = 4  # signature comparisons ahead (a signature is 8 cache lines)
_RECORDS_AHEAD = 2  # records ahead whose table slots decide_batch fetches


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _segment_candidates(
    flat: NDArray[np.uint64],
    nb: int,
    pos: NDArray[np.int64],
    end: NDArray[np.int64],
    tkeys: NDArray[np.uint64],
    trows: NDArray[np.uint32],
    cand_rec: NDArray[np.int64],
    cand_row: NDArray[np.int64],
) -> int:  # pragma: no cover - compiled
    """The (record, row) pairs of equal band keys, each row once per record, into
    ``cand_rec`` / ``cand_row`` as far as they hold; the number of pairs (when more
    than they hold, an upper bound: repeats are found among the pairs held only)."""
    m = flat.shape[0]
    cap = cand_rec.shape[0]
    nc = 0
    for i in range(m // nb):
        first = nc  # this record's pairs start here
        for j in range(i * nb, (i + 1) * nb):
            if j + _AHEAD < m and pos[j + _AHEAD] < end[j + _AHEAD]:
                _prefetch(tkeys, pos[j + _AHEAD])
                _prefetch(trows, pos[j + _AHEAD])
            q = flat[j]
            p = pos[j]
            while p < end[j]:
                k = tkeys[p]
                if k > q:  # sorted within a slot
                    break
                if k == q:
                    r = np.int64(trows[p])
                    if not _listed(cand_row, first, min(nc, cap), r):
                        if nc < cap:
                            cand_rec[nc] = i
                            cand_row[nc] = r
                        nc += 1
                p += 1
    return nc


@numba.njit(cache=True, nogil=True, boundscheck=False)
def segment_best(
    bands: NDArray[np.uint64],
    sigs: NDArray[np.uint32],
    directory: NDArray[np.uint32],
    shift: np.uint64,
    tkeys: NDArray[np.uint64],
    trows: NDArray[np.uint32],
    seg_sigs: NDArray[np.uint32],
    base: int,
    best_row: NDArray[np.int64],
    best_cnt: NDArray[np.int64],
) -> None:  # pragma: no cover - compiled
    """Per record, the segment row sharing a band with the most equal values (earliest on a tie).

    ``best_row`` / ``best_cnt`` hold the best so far (-1: none) and are updated.
    ``bands`` is C-contiguous.  In three loops over the whole batch, each
    fetching the memory of the iterations ahead (the lookups are independent,
    and waiting for memory is what they cost): every band's directory slot,
    the rows whose key equals a band (each row once per record), then the
    signature comparisons.
    """
    n, nb = bands.shape
    m = n * nb
    flat = bands.reshape(m)
    pos = np.empty(m, dtype=np.int64)
    end = np.empty(m, dtype=np.int64)
    for j in range(m):
        if j + _AHEAD < m:
            _prefetch(directory, np.int64(flat[j + _AHEAD] >> shift))
        slot = np.int64(flat[j] >> shift)
        pos[j] = directory[slot]
        end[j] = directory[slot + 1]
    cand_rec = np.empty(m, dtype=np.int64)
    cand_row = np.empty(m, dtype=np.int64)
    nc = _segment_candidates(flat, nb, pos, end, tkeys, trows, cand_rec, cand_row)
    if nc > m:  # more pairs than band lookups: again with room for all (the count past
        # the room was an upper bound: pairs beyond it were not checked for repeats)
        cand_rec = np.empty(nc, dtype=np.int64)
        cand_row = np.empty(nc, dtype=np.int64)
        nc = _segment_candidates(flat, nb, pos, end, tkeys, trows, cand_rec, cand_row)
    width = seg_sigs.shape[1]
    lines = seg_sigs.reshape(seg_sigs.shape[0] * width)
    for c in range(nc):
        if c + _SIG_AHEAD < nc:
            at = (cand_row[c + _SIG_AHEAD] - base) * width
            for w in range(0, width, 16):  # 16 values a cache line
                _prefetch(lines, at + w)
        i = cand_rec[c]
        r = cand_row[c]
        e = _equal(sigs[i], seg_sigs[r - base])
        if e > best_cnt[i] or (e == best_cnt[i] and r < best_row[i]):
            best_cnt[i] = e
            best_row[i] = r


@numba.njit(cache=True, nogil=True, boundscheck=False)
def decide_batch(
    sigs: NDArray[np.uint32],
    bands: NDArray[np.uint64],
    hash_keys: NDArray[np.uint64],
    url_keys: NDArray[np.uint64],
    seg_url: NDArray[np.int64],
    seg_hash: NDArray[np.int64],
    seg_row: NDArray[np.int64],
    seg_cnt: NDArray[np.int64],
    threshold: float,
    base: int,
    buf_n: int,
    buf_sigs: NDArray[np.uint32],
    buf_bands: NDArray[np.uint64],
    band_keys: NDArray[np.uint64],
    band_heads: NDArray[np.int64],
    band_chain: NDArray[np.int64],
    url_tkeys: NDArray[np.uint64],
    url_tvals: NDArray[np.int64],
    hash_tkeys: NDArray[np.uint64],
    hash_tvals: NDArray[np.int64],
    fill: NDArray[np.int64],
    match: NDArray[np.uint8],
    rows: NDArray[np.int64],
    counts: NDArray[np.int64],
) -> int:  # pragma: no cover - compiled
    """Decide records in order against the segments' results and the buffer; returns buf_n.

    Per record: its URL key in the buffer, else in the segments → URL; its
    content-hash key likewise → content hash (its URL key then points at that
    row); else the candidate with the most equal signature values, the
    segments' (``seg_row``, ``seg_cnt``) replaced only by a buffer row with
    strictly more (buffer rows are later), if ``count / num_perm >=
    threshold`` → MinHash (its content hash and URL then point at that row);
    else the record is kept: a new buffer row.  ``fill`` counts the entries of
    the URL and content-hash tables (``[url, hash]``); the caller sizes every
    table for the whole batch beforehand.
    """
    n, nb = bands.shape
    perm = sigs.shape[1]
    umask = url_tkeys.shape[0] - 1
    hmask = hash_tkeys.shape[0] - 1
    bmask = band_keys.shape[0] - 1
    seen = np.empty(4 * nb, dtype=np.int64)  # buffer rows compared for the record
    for i in range(n):
        ahead = i + _RECORDS_AHEAD  # its table slots fetched now (a hint: the tables may change)
        if ahead < n:
            _prefetch(url_tvals, _slot(url_keys[ahead], umask))
            _prefetch(hash_tvals, _slot(hash_keys[ahead], hmask))
            for b in range(nb):
                s = _slot(bands[ahead, b], bmask)
                _prefetch(band_keys, s)
                _prefetch(band_heads, s)
        ukey = url_keys[i]
        hkey = hash_keys[i]
        counts[i] = perm
        row = table_get(url_tkeys, url_tvals, ukey)
        if row < 0:
            row = seg_url[i]
        if row >= 0:
            match[i] = URL
            rows[i] = row
            continue
        row = table_get(hash_tkeys, hash_tvals, hkey)
        if row < 0:
            row = seg_hash[i]
        if row >= 0:
            if table_put(url_tkeys, url_tvals, ukey, row):
                fill[0] += 1
            match[i] = CONTENT_HASH
            rows[i] = row
            continue
        sig = sigs[i]
        best_row = seg_row[i]
        best_cnt = seg_cnt[i]
        buf_row = -1
        buf_cnt = -1
        ns = 0
        for b in range(nb):
            e = band_heads[_find(band_keys, band_heads, bands[i, b])]
            while e >= 0:
                local = e // nb
                e = band_chain[e]
                if _listed(seen, 0, ns, local):  # a row sharing several bands: compared once
                    continue
                if ns < seen.shape[0]:
                    seen[ns] = local
                    ns += 1
                c = _equal(sig, buf_sigs[local])
                if c > buf_cnt or (c == buf_cnt and local < buf_row):
                    buf_cnt = c
                    buf_row = local
        if buf_row >= 0 and buf_cnt > best_cnt:
            best_row = base + buf_row
            best_cnt = buf_cnt
        if best_row >= 0 and best_cnt / perm >= threshold:
            if table_put(hash_tkeys, hash_tvals, hkey, best_row):
                fill[1] += 1
            if table_put(url_tkeys, url_tvals, ukey, best_row):
                fill[0] += 1
            match[i] = MINHASH
            rows[i] = best_row
            counts[i] = best_cnt
            continue
        insert_row(buf_sigs, buf_bands, buf_n, sig, bands[i], band_keys, band_heads, band_chain)
        row = base + buf_n
        buf_n += 1
        if table_put(hash_tkeys, hash_tvals, hkey, row):
            fill[1] += 1
        if table_put(url_tkeys, url_tvals, ukey, row):
            fill[0] += 1
        match[i] = KEPT
        rows[i] = row
    return buf_n


_SLOT_SORT = 32  # a directory slot longer than this is sorted by np.argsort, not by insertion


@numba.njit(cache=True, nogil=True, boundscheck=False)
def sort_table(
    keys: NDArray[np.uint64], rows: NDArray[np.uint32], bits: int
) -> tuple[NDArray[np.uint64], NDArray[np.uint32]]:  # pragma: no cover - compiled
    """``keys`` sorted with their ``rows``, equal keys in their order (a stable sort).

    A counting sort on the keys' top ``bits`` (the key table's directory slots),
    then each slot sorted in place (insertion; a long slot by a stable argsort):
    two passes over the keys instead of a comparison sort's twenty-odd over
    scattered memory (4x faster on 500,000 keys).
    """
    n = keys.shape[0]
    shift = np.uint64(64 - bits)
    slots = 1 << bits
    start = np.zeros(slots + 1, dtype=np.int64)
    for j in range(n):
        start[np.int64(keys[j] >> shift) + 1] += 1
    for t in range(slots):
        start[t + 1] += start[t]
    fill = start[:-1].copy()
    out_keys = np.empty(n, dtype=np.uint64)
    out_rows = np.empty(n, dtype=np.uint32)
    for j in range(n):
        slot = np.int64(keys[j] >> shift)
        p = fill[slot]
        fill[slot] = p + 1
        out_keys[p] = keys[j]
        out_rows[p] = rows[j]
    for t in range(slots):
        a = start[t]
        b = start[t + 1]
        if b - a > _SLOT_SORT:
            order = np.argsort(out_keys[a:b], kind="mergesort") + a
            out_keys[a:b] = out_keys[order]
            out_rows[a:b] = out_rows[order]
            continue
        for p in range(a + 1, b):
            k = out_keys[p]
            r = out_rows[p]
            q = p - 1
            while q >= a and out_keys[q] > k:  # equal keys are not passed: stable
                out_keys[q + 1] = out_keys[q]
                out_rows[q + 1] = out_rows[q]
                q -= 1
            out_keys[q + 1] = k
            out_rows[q + 1] = r
    return out_keys, out_rows


@numba.njit(cache=True, nogil=True, boundscheck=False)
def merge_tables(
    keys1: NDArray[np.uint64],
    rows1: NDArray[np.uint32],
    keys2: NDArray[np.uint64],
    rows2: NDArray[np.uint32],
) -> tuple[NDArray[np.uint64], NDArray[np.uint32]]:  # pragma: no cover - compiled
    """Two sorted tables as one, the second's entries after the first's equal keys."""
    n1 = keys1.shape[0]
    n2 = keys2.shape[0]
    out_keys = np.empty(n1 + n2, dtype=np.uint64)
    out_rows = np.empty(n1 + n2, dtype=np.uint32)
    i = 0
    j = 0
    for p in range(n1 + n2):
        if j >= n2 or (i < n1 and keys1[i] <= keys2[j]):
            out_keys[p] = keys1[i]
            out_rows[p] = rows1[i]
            i += 1
        else:
            out_keys[p] = keys2[j]
            out_rows[p] = rows2[j]
            j += 1
    return out_keys, out_rows
