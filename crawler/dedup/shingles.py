"""Character shingles of the dedup text, hashed to 32 bits, vectorized with numpy.

The dedup stage compares ``crawler.ids.dedup_text(text)``: NFKC, without
punctuation, symbols, whitespace and control characters.  Python's per
character ``unicodedata.category`` loop costs about as much as the whole
MinHash signature, so :func:`normalized_codes` computes the same string as an
array of code points through a lookup table (tested equal to ``dedup_text``).

Shingles are character n-grams of that string.  Each is hashed with a 32-bit
polynomial rolling hash over its code points (multiplier: the 32-bit FNV
prime) followed by the MurmurHash3 32-bit finalizer.  Measured on
2,000-character texts: 0.03 ms per document vectorized, against 0.8 ms for
``xxhash.xxh32_intdigest`` called on each shingle (both kept:
:func:`shingle_hash` and :func:`xxhash_shingle_hash` are the per-shingle
reference functions that ``datasketch.MinHash(hashfunc=...)`` accepts).
No library hashes all n-grams of a code-point array at once, hence this code.
"""

from __future__ import annotations

import unicodedata

import numpy as np
import xxhash
from numpy.typing import NDArray

from crawler.ids import _STRIP_CATEGORIES

# Polynomial base (the 32-bit FNV prime) and MurmurHash3 fmix32 constants.
_POLY = 0x01000193
_FMIX1 = 0x85EBCA6B
_FMIX2 = 0xC2B2AE35
_MASK32 = (1 << 32) - 1

SHINGLE_HASH = "poly32-fmix32"  # recorded in the index manifest

_keep: NDArray[np.bool_] | None = None


def _keep_table() -> NDArray[np.bool_]:
    """Code point -> kept by ``dedup_text`` (built once per process, ~0.3 s)."""
    global _keep
    if _keep is None:
        strip = frozenset(_STRIP_CATEGORIES)
        _keep = np.fromiter(
            (unicodedata.category(chr(c))[0] not in strip for c in range(0x110000)),
            dtype=np.bool_,
            count=0x110000,
        )
    return _keep


def normalized_codes(text: str) -> NDArray[np.uint32]:
    """Code points of ``crawler.ids.dedup_text(text)``."""
    # is_normalized is a quick check (0.2 us on 2,000 characters, against 0.3 ms for
    # normalize, which does not short-cut): crawled text is already NFKC.
    norm = text if unicodedata.is_normalized("NFKC", text) else unicodedata.normalize("NFKC", text)
    codes = np.frombuffer(norm.encode("utf-32-le", "surrogatepass"), dtype="<u4")
    return codes[_keep_table()[codes]].astype(np.uint32, copy=False)


def _fmix32(h: NDArray[np.uint32]) -> NDArray[np.uint32]:
    h ^= h >> np.uint32(16)
    h *= np.uint32(_FMIX1)
    h ^= h >> np.uint32(13)
    h *= np.uint32(_FMIX2)
    h ^= h >> np.uint32(16)
    return h


def code_shingle_hashes(codes: NDArray[np.uint32], size: int) -> NDArray[np.uint32]:
    """32-bit hashes of every ``size``-gram of ``codes`` (repeats kept).

    A text shorter than ``size`` is one shingle (itself); an empty text has none.
    """
    n = len(codes) - size + 1
    if len(codes) == 0:
        return np.empty(0, dtype=np.uint32)
    if n <= 0:
        size, n = len(codes), 1
    h = codes[:n].astype(np.uint32)  # a copy: updated in place below
    prime = np.uint32(_POLY)
    for j in range(1, size):
        h *= prime
        h += codes[j : j + n]
    return _fmix32(h)


def shingle_hashes(text: str, size: int) -> NDArray[np.uint32]:
    """32-bit hashes of the ``size``-character shingles of ``dedup_text(text)``."""
    return code_shingle_hashes(normalized_codes(text), size)


def shingles(text: str, size: int) -> list[str]:
    """The shingles themselves (reference path, for tests and the baseline)."""
    from crawler.ids import dedup_text

    norm = dedup_text(text)
    if not norm:
        return []
    if len(norm) < size:
        return [norm]
    return [norm[i : i + size] for i in range(len(norm) - size + 1)]


def shingle_hash(shingle: str) -> int:
    """The vectorized hash of one shingle, in plain Python (a datasketch ``hashfunc``)."""
    h = 0
    for ch in shingle:
        h = (h * _POLY + ord(ch)) & _MASK32
    h ^= h >> 16
    h = (h * _FMIX1) & _MASK32
    h ^= h >> 13
    h = (h * _FMIX2) & _MASK32
    h ^= h >> 16
    return h


def xxhash_shingle_hash(shingle: str) -> int:
    """xxh32 of the UTF-8 shingle: the per-shingle alternative (measured slower)."""
    return xxhash.xxh32_intdigest(shingle.encode("utf-8"))


def xxhash_shingle_hashes(text: str, size: int) -> NDArray[np.uint32]:
    """Shingle hashes with :func:`xxhash_shingle_hash`, one Python call per shingle."""
    return np.fromiter(
        (xxhash.xxh32_intdigest(s.encode("utf-8")) for s in shingles(text, size)),
        dtype=np.uint32,
    )
