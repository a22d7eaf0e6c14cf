"""The fields the offline dedup needs from JSONL lines, without building the text as ``str``.

A record's ``text`` is most of its line (about 6 KB of UTF-8 in a 8.5 KB line).
Parsing the whole line (orjson) and encoding the text again for the signature
kernel cost about 40 us a record, most of it building the Python string of the
text and converting it to code points.  :func:`parse_lines` instead decodes a
range's lines with msgspec into a struct that holds the few fields needed
(``id``, ``url``, ``content_hash``, ``cluster``, whether a reprint field is
present) and takes ``text`` as ``msgspec.Raw``: the JSON string literal,
validated but not decoded.  Compiled loops then check that every line is UTF-8
(msgspec does not check the fields it skips) and decode the text literals of the
whole range straight into the code points the signature kernel reads.

A line the fast path does not take as it stands (msgspec refuses it, a field has
another type, the line is not UTF-8, the text literal holds an escape it does not
decode) is parsed again the reference way, ``orjson.loads`` and
:func:`check_record`: that gives the error message, or the record (its text then
goes through the per-document reference path).  So a line is a record when the
reference parse takes it, and only then, but for one case (tested line by line
on malformed and random input): a number beyond a double's range (``1e999``) in
a field the dedup does not read, which msgspec skips as valid JSON and orjson
refuses; :func:`load_line` reads such a line with the number kept as written.
No library decodes JSON string literals into a code-point array, hence the two
loops below.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, overload

import msgspec
import numpy as np
import orjson
from numpy.typing import NDArray

from crawler.dedup import origin
from crawler.dedup.jit import lazy_njit

REQUIRED = ("id", "url", "text")
ADDED = ("duplicate_of", "similarity", "match", "cluster")  # fields a reprint gains
HAS_HASH = 1  # the line has its own content_hash
PLAIN = 2  # the line is a JSON object with none of ADDED: reprint fields can be spliced in
OWN_CLUSTER = 4  # the line has a ``cluster`` of its own (a string)
_WS = b" \t\r\n"
_UNSET = msgspec.UNSET
T = TypeVar("T")


class _Fields(msgspec.Struct):
    """The fields read from a line (any other is skipped, its JSON still checked)."""

    id: Any = _UNSET
    url: Any = _UNSET
    text: msgspec.Raw | msgspec.UnsetType = _UNSET
    content_hash: Any = _UNSET
    cluster: Any = _UNSET
    duplicate_of: msgspec.Raw | msgspec.UnsetType = _UNSET
    similarity: msgspec.Raw | msgspec.UnsetType = _UNSET
    match: msgspec.Raw | msgspec.UnsetType = _UNSET


_decode = msgspec.json.Decoder(_Fields).decode


# the fields the origin rule reads (crawler.dedup.origin), absent ones None
_Origin = msgspec.defstruct("_Origin", [(k, Any, None) for k in ("id", *origin.FIELDS)])
_decode_origin = msgspec.json.Decoder(_Origin).decode


def origin_fields(line: bytes | memoryview) -> dict[str, Any]:
    """The origin-rule fields of a record's line (absent ones None)."""
    try:
        return msgspec.structs.asdict(_decode_origin(line))
    except (msgspec.DecodeError, RecursionError):  # a line only the reference parse took
        rec = load_line(line)
        return {k: rec.get(k) for k in _Origin.__struct_fields__}


def load_line(line: bytes | memoryview) -> Any:
    """A record's line parsed (orjson); a line orjson refuses for a number beyond a
    double's range only is read with its numbers kept as written (``orjson.Fragment``)."""
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return json.loads(bytes(line), parse_float=orjson.Fragment, parse_int=orjson.Fragment)


def check_record(rec: Any) -> str | None:
    """Why a parsed line is not a record (None when it is one)."""
    if not isinstance(rec, dict):
        return "not a JSON object"
    for key in REQUIRED:
        if key not in rec:
            return f"missing field {key!r}"
        if not isinstance(rec[key], str):
            return f"field {key!r} is {type(rec[key]).__name__}, expected a string"
    ch = rec.get("content_hash")
    if ch is not None and not isinstance(ch, str):
        return f"field 'content_hash' is {type(ch).__name__}, expected a string"
    return None


def parse_reference(line: bytes) -> tuple[dict[str, Any] | None, str | None]:
    """(record, None) or (None, reason): the reference parse of one line."""
    try:
        rec = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return None, f"bad JSON ({exc.__class__.__name__}: {exc})"
    reason = check_record(rec)
    return (None, reason) if reason is not None else (rec, None)


@lazy_njit
def _utf8_marks(data: NDArray[np.uint8], out: NDArray[np.uint8]) -> None:  # pragma: no cover
    """``out[i]`` nonzero where ``data[i + 3]`` breaks UTF-8 (RFC 3629, as Python's codec).

    Branch-free so that the compiler vectorizes it (about 4 GB/s): a byte is a
    continuation byte exactly where one of the three before it starts a sequence
    that long; C0, C1 and F5-FF never occur; the byte after E0, ED, F0 and F4 is
    restricted (no overlong forms, no surrogates, nothing above U+10FFFF).
    """
    for i in range(data.shape[0] - 3):
        c = data[i + 3]
        p1 = data[i + 2]
        p2 = data[i + 1]
        p3 = data[i]
        need = np.uint8(p1 >= 0xC0) | np.uint8(p2 >= 0xE0) | np.uint8(p3 >= 0xF0)
        cont = np.uint8((c & 0xC0) == 0x80)
        out[i] = (
            (need ^ cont)
            | np.uint8(c == 0xC0)
            | np.uint8(c == 0xC1)
            | np.uint8(c >= 0xF5)
            | (np.uint8(p1 == 0xE0) & np.uint8(c < 0xA0))
            | (np.uint8(p1 == 0xED) & np.uint8(c > 0x9F))
            | (np.uint8(p1 == 0xF0) & np.uint8(c < 0x90))
            | (np.uint8(p1 == 0xF4) & np.uint8(c > 0x8F))
        )


_ASCII3 = np.zeros(3, dtype=np.uint8)
_NEWLINES3 = np.full(3, 10, dtype=np.uint8)


def is_utf8(data: NDArray[np.uint8]) -> bool:
    """Whether ``data`` is UTF-8 as a whole (vectorized; the first and last bytes as if
    ASCII stood before and after)."""
    if len(data) < 4:
        return _decodes(data.tobytes())
    out = np.empty(len(data) - 3, dtype=np.uint8)
    _utf8_marks(data, out)
    ends = np.concatenate([_ASCII3, data[:3], data[-3:], _NEWLINES3])
    edge = np.empty(len(ends) - 3, dtype=np.uint8)
    _utf8_marks(ends, edge)
    return not (edge[:3].any() or edge[6:].any() or out.any())


def _decodes(data: bytes) -> bool:
    """Whether Python's codec takes ``data`` as UTF-8 (what the vectorized check computes)."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@lazy_njit
def _string_codes(
    data: NDArray[np.uint8],
    starts: NDArray[np.int64],
    ends: NDArray[np.int64],
    codes: NDArray[np.uint32],
    offs: NDArray[np.int64],
    bad: NDArray[np.uint8],
) -> None:  # pragma: no cover - compiled by numba (tested through parse_lines)
    """The code points of the JSON string literals ``data[starts[i]:ends[i]]`` (quotes included).

    Literal ``i``'s code points go to ``codes[offs[i]:offs[i + 1]]``; ``bad[i] = 1``
    (and no code point) where it is not a well-formed literal of UTF-8 text
    (a lone surrogate escape, an unknown escape, a control character).
    """
    escapes = np.zeros(128, dtype=np.int64)
    escapes[34] = 34  # \"
    escapes[92] = 92  # \\
    escapes[47] = 47  # \/
    escapes[98] = 8  # \b
    escapes[102] = 12  # \f
    escapes[110] = 10  # \n
    escapes[114] = 13  # \r
    escapes[116] = 9  # \t
    # hex digit values; -(1 << 20) elsewhere, so that a bad digit makes the value negative
    hexval = np.full(256, -(1 << 20), dtype=np.int64)
    for d in range(10):
        hexval[48 + d] = d
    for d in range(6):
        hexval[97 + d] = 10 + d
        hexval[65 + d] = 10 + d
    n = 0
    for k in range(starts.shape[0]):
        offs[k] = n
        p = starts[k] + 1
        end = ends[k] - 1
        first = n
        good = end >= p and data[starts[k]] == 34 and data[end] == 34
        while good and p < end:
            c = np.int64(data[p])
            if 0xE0 <= c < 0xF0:  # first: the three-byte form of CJK text (checked UTF-8)
                codes[n] = ((c & 0x0F) << 12) | ((data[p + 1] & 0x3F) << 6) | (data[p + 2] & 0x3F)
                n += 1
                p += 3
            elif 0x20 <= c < 0x80 and c != 34 and c != 92:
                codes[n] = c
                n += 1
                p += 1
            elif c == 92:  # an escape
                if p + 1 >= end:
                    good = False
                    break
                e = data[p + 1]
                if e != 117:  # not \u
                    v = escapes[e] if e < 128 else 0
                    if v == 0:
                        good = False
                        break
                    codes[n] = v
                    n += 1
                    p += 2
                    continue
                if p + 6 > end:
                    good = False
                    break
                v = 0
                for q in range(p + 2, p + 6):
                    v = v * 16 + hexval[data[q]]
                p += 6
                if v < 0 or 0xDC00 <= v < 0xE000:
                    good = False
                    break
                if 0xD800 <= v < 0xDC00:  # a high surrogate: its low half must follow
                    if p + 6 > end or data[p] != 92 or data[p + 1] != 117:
                        good = False
                        break
                    w = 0
                    for q in range(p + 2, p + 6):
                        w = w * 16 + hexval[data[q]]
                    if w < 0xDC00 or w >= 0xE000:
                        good = False
                        break
                    v = 0x10000 + ((v - 0xD800) << 10) + (w - 0xDC00)
                    p += 6
                codes[n] = v
                n += 1
            elif c < 0x80:  # a control character or a quote
                good = False
                break
            elif c < 0xE0:
                codes[n] = ((c & 0x1F) << 6) | (data[p + 1] & 0x3F)
                n += 1
                p += 2
            else:
                codes[n] = (
                    ((c & 0x07) << 18)
                    | ((data[p + 1] & 0x3F) << 12)
                    | ((data[p + 2] & 0x3F) << 6)
                    | (data[p + 3] & 0x3F)
                )
                n += 1
                p += 4
        if not good:
            bad[k] = 1
            n = first
    offs[starts.shape[0]] = n


@dataclass
class Parsed:
    """The records of a range of lines, in order, and the lines that are not records."""

    lines: int  # lines in the range (blank ones included)
    errors: list[tuple[int, str]]  # (line number within the range, 1-based; reason)
    starts: NDArray[np.int64]  # each record's line within the data
    ends: NDArray[np.int64]  # (without its newline and surrounding blanks)
    flags: NDArray[np.uint8]  # HAS_HASH | PLAIN | OWN_CLUSTER
    ids: list[str]
    urls: list[str]
    hashes: list[str | None]  # the line's content_hash (None: absent or empty)
    clusters: list[str | None]  # the line's own ``cluster`` (None: absent, empty or not a string)
    codes: NDArray[np.uint32]  # the texts' code points: record i's are
    code_offs: NDArray[np.int64]  # codes[code_offs[i]:code_offs[i + 1]] ...
    texts: dict[int, str]  # ... except the records whose text is here (the reference parse)


def _line_bounds(data: bytes) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Start and end (newline excluded) of each line of ``data``."""
    ends: list[int] = []
    find = data.find
    i = find(b"\n")
    while i >= 0:  # memchr per line: five times numpy's compare and nonzero over the range
        ends.append(i)
        i = find(b"\n", i + 1)
    if data and not data.endswith(b"\n"):
        ends.append(len(data))
    end = np.asarray(ends, dtype=np.int64)
    start = np.empty(len(end), dtype=np.int64)
    if len(end):
        start[0] = 0
        start[1:] = end[:-1] + 1
    return start, end


def parse_lines(data: bytes) -> Parsed:
    """The records in ``data`` (whole lines), each checked as the reference parse checks it."""
    arr = np.frombuffer(data, dtype=np.uint8)
    line_starts, line_ends = _line_bounds(data)
    bounds = list(zip(line_starts.tolist(), line_ends.tolist(), strict=True))
    # the lines the fast path may take: all, or (rare) those Python's codec takes
    whole_ok = is_utf8(arr)
    ok = [whole_ok or _decodes(data[a:b]) for a, b in bounds]
    view = memoryview(data)
    errors: list[tuple[int, str]] = []
    linenos: list[int] = []
    starts: list[int] = []
    ends: list[int] = []
    flags: list[int] = []
    ids: list[str] = []
    urls: list[str] = []
    hashes: list[str | None] = []
    clusters: list[str | None] = []
    raws: list[msgspec.Raw | bytes] = []
    texts: dict[int, str] = {}
    for k, (a, b) in enumerate(bounds):
        if a == b or data[a] != 123 or data[b - 1] != 125:  # not "{...}": blanks around?
            seg = data[a:b]
            body = seg.strip(_WS)
            if not body:
                continue
            a += len(seg) - len(seg.lstrip(_WS))
            b = a + len(body)
        rec: Any = None
        if ok[k]:
            try:
                rec = _decode(view[a:b])
            except (msgspec.DecodeError, RecursionError):  # deep nesting: the reference decides
                rec = None
        ch: Any = None
        cl: Any = None
        if rec is not None:
            ch, cl = rec.content_hash, rec.cluster
            if ch is _UNSET:
                ch = None
            if (
                type(rec.id) is not str
                or type(rec.url) is not str
                or rec.text is _UNSET
                or (ch is not None and type(ch) is not str)
            ):
                rec = None
        if rec is None:  # the reference parse: the error, or a record msgspec did not take
            full, reason = parse_reference(data[a:b])
            if full is None:
                errors.append((k + 1, reason or ""))
                continue
            texts[len(ids)] = full["text"]
            ch = full.get("content_hash")
            cl = full.get("cluster")
            added = any(key in full for key in ADDED)
            rid, url, text = full["id"], full["url"], b'""'
        else:
            added = not (
                cl is _UNSET
                and rec.duplicate_of is _UNSET
                and rec.similarity is _UNSET
                and rec.match is _UNSET
            )
            rid, url, text = rec.id, rec.url, rec.text
        own = type(cl) is str and bool(cl)
        linenos.append(k + 1)
        starts.append(a)
        ends.append(b)
        flags.append(
            (HAS_HASH if ch else 0) | (0 if added else PLAIN) | (OWN_CLUSTER if own else 0)
        )
        ids.append(rid)
        urls.append(url)
        hashes.append(ch or None)
        clusters.append(cl if own else None)
        raws.append(text)
    joined = b"".join(raws)
    lens = np.fromiter(map(len, raws), dtype=np.int64, count=len(raws))
    rends = np.cumsum(lens)
    codes = np.empty(len(joined), dtype=np.uint32)
    code_offs = np.zeros(len(raws) + 1, dtype=np.int64)
    bad = np.zeros(len(raws), dtype=np.uint8)
    _string_codes(np.frombuffer(joined, dtype=np.uint8), rends - lens, rends, codes, code_offs, bad)
    dropped: list[int] = []
    for i in np.flatnonzero(bad).tolist():  # a text literal the loop does not decode
        if i in texts:
            continue
        full, reason = parse_reference(data[starts[i] : ends[i]])
        if full is None:
            errors.append((linenos[i], reason or ""))
            dropped.append(i)
        else:
            texts[i] = full["text"]
    codes = codes[: code_offs[-1]]
    if dropped:  # rare: lines whose text only the reference parse finds malformed
        keep = np.ones(len(ids), dtype=np.bool_)
        keep[dropped] = False
        code_offs = np.delete(code_offs, dropped)  # a bad literal has no code points
        new_no = np.cumsum(keep) - 1
        texts = {int(new_no[i]): t for i, t in texts.items() if keep[i]}
        kept = keep.tolist()

        def only_kept(col: list[T]) -> list[T]:
            return [x for x, k in zip(col, kept, strict=True) if k]

        starts, ends, flags = only_kept(starts), only_kept(ends), only_kept(flags)
        ids, urls, hashes, clusters = (
            only_kept(ids),
            only_kept(urls),
            only_kept(hashes),
            only_kept(clusters),
        )
        errors.sort()
    return Parsed(
        lines=len(line_starts),
        errors=errors,
        starts=np.asarray(starts, dtype=np.int64),
        ends=np.asarray(ends, dtype=np.int64),
        flags=np.asarray(flags, dtype=np.uint8),
        ids=ids,
        urls=urls,
        hashes=hashes,
        clusters=clusters,
        codes=codes,
        code_offs=code_offs,
        texts=texts,
    )


def text_of(parsed: Parsed, i: int) -> str:
    """Record ``i``'s text as a string."""
    text = parsed.texts.get(i)
    if text is not None:
        return text
    a, b = int(parsed.code_offs[i]), int(parsed.code_offs[i + 1])
    return parsed.codes[a:b].tobytes().decode("utf-32-le", "surrogatepass")


class Texts(Sequence[str]):
    """The records' texts as strings, each decoded when asked for (the reference path)."""

    def __init__(self, parsed: Parsed) -> None:
        self.parsed = parsed

    def __len__(self) -> int:
        return len(self.parsed.ids)

    @overload
    def __getitem__(self, i: int) -> str: ...

    @overload
    def __getitem__(self, i: slice) -> list[str]: ...

    def __getitem__(self, i: int | slice) -> str | list[str]:
        if isinstance(i, slice):
            return [text_of(self.parsed, j) for j in range(len(self))[i]]
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        return text_of(self.parsed, i % len(self))
