"""Kept code points, shingle hashes, affine32 signatures and UTF-8 of a whole batch at once.

:func:`crawler.dedup.engine.prepare` spent most of its time per document
outside the arithmetic: three string encodes (UTF-32 of the text, UTF-32 back
to ``str`` and UTF-8 of the dedup text for its SHA-1), ``unicodedata.is_normalized``,
``strip_pinyin``'s regular expressions (most texts hold a parenthesis), a fresh
signature array and three compiled calls.  :func:`batch_signatures` encodes the
texts of a batch to UTF-32 in one call and runs one compiled loop over them
that, per document, keeps the code points ``dedup_text`` keeps (the character
table of :mod:`crawler.dedup.shingles`), writes their UTF-8 (the bytes
``content_hash`` hashes), hashes the shingles and computes the signature into
its row: the same values as :func:`crawler.dedup.shingles.shingle_hashes`
and :meth:`crawler.dedup.minhash.MinHasher.signature` (tested equal).

The loop takes a document only when none of its characters has the table's
``_TRAD`` or ``_SLOW`` bit: such a text is simplified and NFKC, so
``comparable_text`` would return it unchanged unless it has converter pinyin,
which needs a tone-marked letter (``_TONE``: those documents are flagged for
a ``strip_pinyin`` check).  The others (traditional script, full-width forms …)
are flagged and go through the per-document reference path.  No library
computes all of this over a code-point array, hence this code.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from crawler.dedup.jit import lazy_njit
from crawler.dedup.shingles import _flag_table


@lazy_njit
def _batch_kernel(
    codes: NDArray[np.uint32],
    offs: NDArray[np.int64],
    table: NDArray[np.uint8],
    size: int,
    a: NDArray[np.uint32],
    b: NDArray[np.uint32],
    sigs: NDArray[np.uint32],
    utf8: NDArray[np.uint8],
    uoffs: NDArray[np.int64],
    slow: NDArray[np.uint8],
) -> None:  # pragma: no cover - compiled by numba (tested through batch_signatures)
    n_docs = offs.shape[0] - 1
    longest = 1
    for d in range(n_docs):
        longest = max(longest, offs[d + 1] - offs[d])
    kept = np.empty(longest, dtype=np.uint32)
    x = np.empty(longest, dtype=np.uint32)
    poly = np.uint32(0x01000193)
    fmix1 = np.uint32(0x85EBCA6B)
    fmix2 = np.uint32(0xC2B2AE35)
    u = 0
    for d in range(n_docs):
        uoffs[d] = u
        m = 0
        bad = False
        tone = 0
        for p in range(offs[d], offs[d + 1]):
            c = codes[p]
            f = table[c]
            if f & 6:  # _TRAD | _SLOW
                bad = True
                break
            tone |= f & 8  # _TONE
            kept[m] = c
            m += f & 1
        if bad:
            slow[d] = 1
            continue
        if tone:
            slow[d] = 2
        for k in range(m):  # UTF-8, as str.encode("utf-8", "surrogatepass")
            c = kept[k]
            if c < 0x80:
                utf8[u] = c
                u += 1
            elif c < 0x800:
                utf8[u] = 0xC0 | (c >> 6)
                utf8[u + 1] = 0x80 | (c & 0x3F)
                u += 2
            elif c < 0x10000:
                utf8[u] = 0xE0 | (c >> 12)
                utf8[u + 1] = 0x80 | ((c >> 6) & 0x3F)
                utf8[u + 2] = 0x80 | (c & 0x3F)
                u += 3
            else:
                utf8[u] = 0xF0 | (c >> 18)
                utf8[u + 1] = 0x80 | ((c >> 12) & 0x3F)
                utf8[u + 2] = 0x80 | ((c >> 6) & 0x3F)
                utf8[u + 3] = 0x80 | (c & 0x3F)
                u += 4
        if m == 0:
            for i in range(a.shape[0]):
                sigs[d, i] = np.uint32(0xFFFFFFFF)
            continue
        s = size
        ns = m - size + 1
        if ns <= 0:  # shorter than a shingle: the text is its one shingle
            s = m
            ns = 1
        for i in range(ns):
            x[i] = 0
        # 32-bit arithmetic throughout (numba widens a product of two uint32 to 64 bits
        # unless cast back at once; the 32-bit form vectorizes, about twice as fast)
        for j in range(s):  # the polynomial hash, one pass per shingle position
            for i in range(ns):
                x[i] = np.uint32(np.uint32(x[i] * poly) + kept[i + j])
        for i in range(ns):  # fmix32 of the shingle hash, then fmix32 of the affine32 scheme
            v = x[i]
            for _ in range(2):
                v = np.uint32(v ^ (v >> np.uint32(16)))
                v = np.uint32(v * fmix1)
                v = np.uint32(v ^ (v >> np.uint32(13)))
                v = np.uint32(v * fmix2)
                v = np.uint32(v ^ (v >> np.uint32(16)))
            x[i] = v
        for i in range(a.shape[0]):  # a * h + b modulo 2**32, minimum over the shingles
            ai = a[i]
            bi = b[i]
            mn = np.uint32(0xFFFFFFFF)
            for j in range(ns):
                mn = min(mn, np.uint32(np.uint32(ai * x[j]) + bi))
            sigs[d, i] = mn
    uoffs[n_docs] = u


def batch_signatures(
    texts: Sequence[str],
    shingle_size: int,
    a: NDArray[np.uint32],
    b: NDArray[np.uint32],
    sigs: NDArray[np.uint32],
) -> tuple[NDArray[np.uint8], NDArray[np.int64], NDArray[np.uint8]]:
    """Signatures of ``texts`` into ``sigs`` (one row each) and their dedup text in UTF-8.

    Returns ``(utf8, offsets, slow)``: document ``i``'s dedup text is
    ``utf8[offsets[i]:offsets[i + 1]]``.  ``slow[i]`` is 1 where its row and
    bytes are not computed, 2 where they are right only if ``strip_pinyin``
    leaves the text unchanged (it holds a tone-marked letter): the caller takes
    the reference path for those.
    """
    n = len(texts)
    offs = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, texts), dtype=np.int64, count=n), out=offs[1:])
    codes = np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), dtype="<u4")
    return code_signatures(codes, offs, shingle_size, a, b, sigs)


def code_signatures(
    codes: NDArray[np.uint32],
    offs: NDArray[np.int64],
    shingle_size: int,
    a: NDArray[np.uint32],
    b: NDArray[np.uint32],
    sigs: NDArray[np.uint32],
) -> tuple[NDArray[np.uint8], NDArray[np.int64], NDArray[np.uint8]]:
    """:func:`batch_signatures` of texts given as code points: text ``i`` is
    ``codes[offs[i]:offs[i + 1]]``."""
    n = len(offs) - 1
    utf8 = np.empty(4 * len(codes), dtype=np.uint8)
    uoffs = np.zeros(n + 1, dtype=np.int64)
    slow = np.zeros(n, dtype=np.uint8)
    _batch_kernel(codes, offs, _flag_table(), shingle_size, a, b, sigs, utf8, uoffs, slow)
    return utf8, uoffs, slow
