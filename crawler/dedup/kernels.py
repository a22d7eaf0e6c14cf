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
  signature compared at once, keeping per record the most equal values, the
  earliest row on a tie: no candidate pairs are materialised.

Similarity is counted in equal signature values; the estimate is that count
divided by the number of permutations, as :func:`crawler.dedup.minhash.estimate`.
This module imports numba at import time: :mod:`crawler.dedup.index` imports
it when a record is first added or looked up.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from crawler.dedup.jit import numba_module

numba = numba_module()

_MUL = np.uint64(0x9E3779B97F4A7C15)
_S32 = np.uint64(32)

KEPT, URL, CONTENT_HASH, MINHASH = 0, 1, 2, 3  # match codes of decide_batch


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
    """
    n, nb = bands.shape
    for i in range(n):
        sig = sigs[i]
        for b in range(nb):
            q = bands[i, b]
            slot = int(q >> shift)
            pos = np.int64(directory[slot])
            end = np.int64(directory[slot + 1])
            while pos < end:
                k = tkeys[pos]
                if k > q:  # sorted within a slot
                    break
                if k == q:
                    r = int(trows[pos])
                    c = _equal(sig, seg_sigs[r - base])
                    if c > best_cnt[i] or (c == best_cnt[i] and r < best_row[i]):
                        best_cnt[i] = c
                        best_row[i] = r
                pos += 1


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
    for i in range(n):
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
        for b in range(nb):
            e = band_heads[_find(band_keys, band_heads, bands[i, b])]
            while e >= 0:
                local = e // nb
                c = _equal(sig, buf_sigs[local])
                if c > buf_cnt or (c == buf_cnt and local < buf_row):
                    buf_cnt = c
                    buf_row = local
                e = band_chain[e]
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
