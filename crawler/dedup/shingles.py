"""Character shingles of the dedup text, hashed to 32 bits, vectorized with numpy.

The dedup stage compares ``crawler.ids.dedup_text(text)``: the text in the
form the page pipeline writes (converter pinyin removed, simplified script,
NFKC: ``crawler.ids.comparable_text``, so JSONL from elsewhere compares like
crawled text), without punctuation, symbols, whitespace and control
characters.  Python's per
character ``unicodedata.category`` loop costs about as much as the whole
MinHash signature, so :func:`normalized_codes` computes the same string as an
array of code points through a lookup table (tested equal to ``dedup_text``).

Shingles are character n-grams of that string.  Each is hashed with a 32-bit
polynomial rolling hash over its code points (multiplier: the 32-bit FNV
prime) followed by the MurmurHash3 32-bit finalizer, in small numba kernels
(one pass each for the kept code points and for the shingle hashes; numpy
took a pass per operation, 0.03 ms per 2,000-character document, against
0.8 ms for ``xxhash.xxh32_intdigest`` called on each shingle; both
:func:`shingle_hash` and :func:`xxhash_shingle_hash` stay as the per-shingle
reference functions that ``datasketch.MinHash(hashfunc=...)`` accepts, tested
equal).  No library hashes all n-grams of a code-point array at once, hence
this code.
"""

from __future__ import annotations

import io
import sys
import unicodedata
from pathlib import Path

import numpy as np
import xxhash
from numpy.typing import NDArray

from crawler.dedup.jit import lazy_njit
from crawler.fsutil import write_atomic
from crawler.ids import _STRIP_CATEGORIES, comparable_text
from pipelines.script import TONED, strip_pinyin, traditional_only

# Polynomial base (the 32-bit FNV prime) and MurmurHash3 fmix32 constants.
_POLY = 0x01000193
_FMIX1 = 0x85EBCA6B
_FMIX2 = 0xC2B2AE35
_MASK32 = (1 << 32) - 1

SHINGLE_HASH = "poly32-fmix32"  # recorded in the index manifest

_KEEP = np.uint8(1)  # kept by dedup_text
_TRAD = np.uint8(2)  # a traditional-only character (pipelines.script.traditional_only)
# A character that may change under NFKC in context (not NFKC-stable alone, a combining
# mark, the second half of a canonical composition, a Hangul vowel or final jamo; outside
# planes 0-1 everything but the CJK ideograph planes 2-3 bar the compatibility
# ideographs): a text without any is NFKC.
_SLOW = np.uint8(4)
# A tone-marked letter: only a text holding one can have converter pinyin to strip
# (pipelines.script.strip_pinyin).
_TONE = np.uint8(8)
_flags: NDArray[np.uint8] | None = None


def _slow_bits() -> NDArray[np.bool_]:
    """Code point -> whether it is a :data:`_SLOW` character (~0.07 s)."""
    slow = np.ones(0x110000, dtype=np.bool_)
    slow[0x20000:0x40000] = False  # ideographs without decompositions (tested) ...
    slow[0x2F800:0x2FA20] = True  # ... bar the compatibility ideographs supplement
    seconds: set[int] = set()
    for c in range(0x20000):
        ch = chr(c)
        d = unicodedata.decomposition(ch)
        # a character without a decomposition mapping is NFKC-stable on its own
        slow[c] = unicodedata.combining(ch) != 0 or (
            bool(d) and unicodedata.normalize("NFKC", ch) != ch
        )
        if d and not d.startswith("<") and len(parts := d.split()) == 2:
            seconds.add(int(parts[1], 16))
    slow[sorted(seconds)] = True
    slow[0x1161:0x1176] = True  # Hangul vowel jamo: compose with a leading consonant
    slow[0x11A8:0x11C3] = True  # Hangul final jamo: compose with an LV syllable
    slow[0xD800:0xE000] = True  # lone surrogates
    return slow


def _build_flag_table() -> NDArray[np.uint8]:
    """Code point -> _KEEP | _TRAD | _SLOW | _TONE, computed (~0.15-0.4 s)."""
    strip = frozenset(_STRIP_CATEGORIES)
    flags = np.zeros(0x110000, dtype=np.uint8)
    # Planes 4-13 are unassigned and planes 15-16 private use (categories Cn, Co:
    # stripped), so only planes 0-3 and 14 are looked up (a third of the time).
    for lo, hi in ((0, 0x40000), (0xE0000, 0xF0000)):
        flags[lo:hi] = np.fromiter(
            (unicodedata.category(chr(c))[0] not in strip for c in range(lo, hi)),
            dtype=np.uint8,
            count=hi - lo,
        )
    flags[:0x10000] |= traditional_only().astype(np.uint8) * _TRAD
    flags |= _slow_bits().astype(np.uint8) * _SLOW
    flags[[ord(ch) for ch in TONED]] |= _TONE
    return flags


def _table_file() -> Path:
    """Where the table is kept between runs: beside numba's compiled kernels, under a name
    that changes with everything the table depends on (the Unicode and codec tables of
    this Python, the OpenCC release, the code of the modules that define the flags)."""
    import hashlib
    import importlib.metadata

    import crawler.ids
    import pipelines.script

    key = hashlib.sha1(f"{sys.version}|{unicodedata.unidata_version}".encode())
    try:
        key.update(importlib.metadata.version("opencc").encode())
    except importlib.metadata.PackageNotFoundError:
        key.update(b"opencc ?")
    for module in (__file__, crawler.ids.__file__, pipelines.script.__file__):
        key.update(Path(module).read_bytes())
    return Path(__file__).parent / "__pycache__" / f"flags-{key.hexdigest()[:16]}.npy"


def _load_table(path: Path) -> NDArray[np.uint8] | None:
    """The table saved at ``path``; None when missing or unreadable (it is then rebuilt)."""
    try:
        table = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    if table.dtype != np.uint8 or table.shape != (0x110000,):
        return None
    return np.asarray(table)


def _save_table(path: Path, table: NDArray[np.uint8]) -> None:
    """Save ``table`` at ``path`` atomically; a folder that cannot be written is left alone."""
    data = io.BytesIO()
    np.save(data, table, allow_pickle=False)
    try:
        path.parent.mkdir(exist_ok=True)
        write_atomic(path, data.getvalue())
    except OSError:
        pass  # built again by the next process


def _flag_table() -> NDArray[np.uint8]:
    """Code point -> _KEEP | _TRAD | _SLOW | _TONE (once per process; read from a file
    saved by an earlier run when there is one: 1 ms instead of building it)."""
    global _flags
    if _flags is None:
        path = _table_file()
        flags = _load_table(path)
        if flags is None:
            flags = _build_flag_table()
            _save_table(path, flags)
        _flags = flags
    return _flags


def normalized_codes(text: str) -> NDArray[np.uint32]:
    """Code points of ``crawler.ids.dedup_text(text)`` (script, pinyin and NFKC included)."""
    # The fast path: crawled text is simplified and NFKC already.  NFKC only adds
    # traditional-only characters (compatibility ideographs), so when the table finds
    # none, comparable_text would have returned exactly this text.
    if "(" in text or "（" in text:
        text, _ = strip_pinyin(text)
    # is_normalized is a quick check (0.2 us on 2,000 characters, against 0.3 ms for
    # normalize, which does not short-cut).
    norm = text if unicodedata.is_normalized("NFKC", text) else unicodedata.normalize("NFKC", text)
    codes = np.frombuffer(norm.encode("utf-32-le", "surrogatepass"), dtype="<u4")
    table = _flag_table()
    kept, traditional = _kept_codes(codes, table)
    if traditional:
        norm = comparable_text(text)
        codes = np.frombuffer(norm.encode("utf-32-le", "surrogatepass"), dtype="<u4")
        kept, _ = _kept_codes(codes, table)
    return kept


@lazy_njit
def _kept_codes(
    codes: NDArray[np.uint32], table: NDArray[np.uint8]
) -> tuple[NDArray[np.uint32], bool]:  # pragma: no cover - compiled by numba
    """(the code points ``table`` keeps, whether one is traditional-only): one pass."""
    out = np.empty(codes.shape[0], dtype=np.uint32)
    n = 0
    traditional = False
    for c in codes:
        f = table[c]
        if f & 2:
            traditional = True
        if f & 1:
            out[n] = c
            n += 1
    return out[:n], traditional


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
    if len(codes) == 0:
        return np.empty(0, dtype=np.uint32)
    return _shingle_kernel(np.ascontiguousarray(codes, dtype=np.uint32), size)


@lazy_njit
def _shingle_kernel(
    codes: NDArray[np.uint32], size: int
) -> NDArray[np.uint32]:  # pragma: no cover - compiled by numba
    n = codes.shape[0] - size + 1
    if n <= 0:
        size, n = codes.shape[0], 1
    mask = np.uint64(0xFFFFFFFF)
    out = np.empty(n, dtype=np.uint32)
    for i in range(n):
        h = np.uint64(0)
        for j in range(size):
            h = (h * np.uint64(0x01000193) + np.uint64(codes[i + j])) & mask
        h ^= h >> np.uint64(16)
        h = (h * np.uint64(0x85EBCA6B)) & mask
        h ^= h >> np.uint64(13)
        h = (h * np.uint64(0xC2B2AE35)) & mask
        h ^= h >> np.uint64(16)
        out[i] = np.uint32(h)
    return out


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
