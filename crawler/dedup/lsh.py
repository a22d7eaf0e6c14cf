"""datasketch's LSH banding, with band keys as uint64 numbers for numpy indexes.

The number of bands ``b`` and rows per band ``r`` come from
``datasketch.lsh._optimal_param(threshold, num_perm, 0.5, 0.5)`` (what
``MinHashLSH(threshold, num_perm)`` picks) and band ``i`` covers signature
values ``[i*r, (i+1)*r)``, datasketch's ``hashranges``.  Where datasketch keys a
bucket by the band's bytes, this module hashes them to 64 bits, salted with
the band number so that one sorted array can hold every band; a 64-bit
collision only adds a candidate, which the similarity check then rejects.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import xxhash
from datasketch.lsh import _optimal_param
from numpy.typing import NDArray

_MUL = np.uint64(0x9E3779B97F4A7C15)
_FMIX1 = np.uint64(0xFF51AFD7ED558CCD)
_FMIX2 = np.uint64(0xC4CEB9FE1A85EC53)
_S33 = np.uint64(33)
_MASK64 = (1 << 64) - 1


@lru_cache(maxsize=32)
def lsh_params(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows) as datasketch's ``MinHashLSH(threshold, num_perm)`` chooses them."""
    bands, rows = _optimal_param(threshold, num_perm, 0.5, 0.5)
    return int(bands), int(rows)


def band_keys(sigs: NDArray[np.uint32], bands: int, rows: int) -> NDArray[np.uint64]:
    """One uint64 key per band and signature: shape ``(len(sigs), bands)``."""
    sigs = np.atleast_2d(sigs)
    n = sigs.shape[0]
    out = np.empty((n, bands), dtype=np.uint64)
    for i in range(bands):
        h = np.full(n, ((i + 1) * int(_MUL)) & _MASK64, dtype=np.uint64)
        for j in range(i * rows, (i + 1) * rows):
            h ^= sigs[:, j].astype(np.uint64)
            h *= _MUL
            h ^= h >> _S33
        h *= _FMIX1
        h ^= h >> _S33
        h *= _FMIX2
        h ^= h >> _S33
        out[:, i] = h
    return out


def url_hash(url_key: str) -> int:
    """64-bit key of a canonical URL key (``crawler.ids.url_key``)."""
    return int(xxhash.xxh3_64_intdigest(url_key.encode("utf-8")))


def text_hash_key(content_hash: str) -> int:
    """64-bit key of a ``content_hash`` (its first 16 hex digits; any other string hashed)."""
    try:
        if len(content_hash) >= 16:
            return int(content_hash[:16], 16)
    except ValueError:
        pass
    return int(xxhash.xxh3_64_intdigest(content_hash.encode("utf-8")))
