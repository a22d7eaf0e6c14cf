"""Conservative repair of Chinese mojibake in a decoded document.

Three kinds of damage are repaired, each only where the repaired run is clearly
more plausible Chinese than the damaged one, judged by the frequency of common
characters (``data/charfreq.txt``, see ``data/build_charfreq.py`` for its sources):

* ``mojibake:utf8_as_gbk`` -- UTF-8 bytes shown as GBK (``鍏ㄧ渷`` for 全省);
* ``mojibake:gbk_as_latin1`` -- GBK bytes shown as Latin-1/cp1252 (``È«Ê¡`` for 全省),
  and ``mojibake:utf8_as_latin1`` (``å…¨çœ``), re-encoded with ftfy's sloppy
  cp1252 codec and, for the UTF-8 case, fixed by ftfy itself;
* ``mojibake:gbk_shift`` -- GBK decoded one byte out of step after a lost byte
  (``?!包h委`` for ``。“黨委``): the decoder shows the lost byte as ``?`` (or U+FFFD),
  then pairs each trail byte with the next lead byte until an ASCII byte brings it
  back in step.  The run after the marker is re-encoded, every lead byte that could
  have been lost is tried, and the most plausible decoding is kept.  A ``?`` that
  ends such a run stands for the lost trail byte (and, before converter pinyin such
  as ``?huì)``, for the ``(`` the decoder swallowed with it).

Finally a ``?`` that stands for a character lost with nothing to recover it from
-- an ASCII ``?`` between a CJK character and a digit (``本報訊?7月15日``) in a
sentence without a question word -- becomes U+FFFD (fix ``lost_bytes``).  This
lives here, not in ``pipelines.normalize``, because it needs the raw document,
where a page's real question marks are still full-width ``？``, and because only
this stage reports fixes.

ftfy fixes UTF-8 mixed up with single-byte codecs but knows nothing of GBK, so the
GBK cases and the plausibility model are written here.
"""

from __future__ import annotations

import contextlib
import math
import re
from functools import lru_cache
from pathlib import Path

import ftfy
import ftfy.bad_codecs
import numpy as np

__all__ = ["char_cost", "plausibility", "repair_mojibake"]

_DATA = Path(__file__).with_name("data")

# Punctuation of Chinese text: as plausible as the most common characters.
_PUNCT = "，。、“”‘’：；！？（）《》〈〉【】「」『』…—·～　％"
_PUNCT_COST = 3.0
_ASCII_COST = 6.0
_RARE_CJK_COST = 15.0  # a CJK character outside the common table
_SYMBOL_COST = 14.0  # Latin-1 letters, Greek, bopomofo, box drawing...
_BAD_COST = 16.0  # U+FFFD, private use, controls
# A repaired run must cost this many bits less than the damaged one (plus 1 per char).
_MARGIN = 4.0

# Code-point classes of the fast pre-check (one numpy pass over the document).
_F_COMMON = 1  # in the frequency table or Chinese punctuation
_F_LATIN = 2  # U+00A1-U+00FF: GBK/UTF-8 shown as Latin-1
_F_UTF8GBK = 4  # GBK characters whose bytes are a UTF-8 lead byte + continuation byte
_F_CJK = 16  # any CJK ideograph


@lru_cache(maxsize=1)
def _table() -> dict[str, float]:
    """Character -> cost in bits (lower is more common)."""
    lines = (_DATA / "charfreq.txt").read_text(encoding="utf-8").splitlines()
    chars = "".join(line.strip() for line in lines if line and not line.startswith("#"))
    costs = {ch: 1.0 + math.log2(rank + 2) for rank, ch in enumerate(chars)}
    for ch in _PUNCT:
        costs[ch] = _PUNCT_COST
    return costs


@lru_cache(maxsize=1)
def _lut() -> np.ndarray:
    lut = np.zeros(0x10000, dtype=np.uint8)
    for ch in _table():
        if ord(ch) < 0x10000:
            lut[ord(ch)] |= _F_COMMON
    lut[0x4E00:0xA000] |= _F_CJK
    lut[0x3400:0x4DC0] |= _F_CJK
    lut[0xF900:0xFB00] |= _F_CJK
    lut[0xA1:0x100] |= _F_LATIN
    # The GBK pairs UTF-8 bytes of Chinese text form: (lead, continuation),
    # (continuation, lead), (continuation, continuation); common characters excluded.
    leads = (*range(0xE2, 0xEA), 0xEF)
    conts = range(0x80, 0xC0)
    pairs = [(a, b) for a in leads for b in conts]
    pairs += [(a, b) for a in conts for b in (*leads, *conts)]
    for first, second in pairs:
        try:
            ch = bytes((first, second)).decode("gbk")
        except UnicodeDecodeError:
            continue
        if not lut[ord(ch)] & _F_COMMON:
            lut[ord(ch)] |= _F_UTF8GBK
    return lut


def _codepoints(text: str) -> np.ndarray:
    # UTF-16 code units: astral characters become surrogates, which no class holds.
    return np.frombuffer(text.encode("utf-16-le", "surrogatepass"), dtype=np.uint16)


def char_cost(ch: str) -> float:
    """Bits of surprise of one character in Chinese text."""
    cost = _table().get(ch)
    if cost is not None:
        return cost
    code = ord(ch)
    if code < 0x80:
        return _ASCII_COST
    if 0xFF01 <= code <= 0xFF5E:  # full-width ASCII forms
        return _ASCII_COST + 1.0
    if 0x3400 <= code <= 0x9FFF or 0xF900 <= code <= 0xFAFF or code >= 0x20000:
        return _RARE_CJK_COST
    if code == 0xFFFD or 0xE000 <= code <= 0xF8FF or code < 0xA0:
        return _BAD_COST
    return _SYMBOL_COST


def _cost(text: str) -> float:
    return sum(char_cost(ch) for ch in text)


def plausibility(text: str, sample: int = 4000) -> float:
    """Share of the (first ``sample``) non-ASCII characters of ``text`` that are common Chinese.

    1.0 when the text has fewer than 8 non-ASCII characters (nothing to judge).
    """
    cps = _codepoints(text)
    wide = cps[cps >= 0x80][:sample]
    if wide.size < 8:
        return 1.0
    common = np.count_nonzero(_lut()[wide] & _F_COMMON)
    return float(common) / float(wide.size)


def _better(original: str, candidate: str, strict: bool = False) -> bool:
    """True when ``candidate`` is clearly more plausible than ``original``.

    Every character of the candidate must be plausible; with ``strict``, a common
    Chinese character or Chinese punctuation.
    """
    if not candidate or any(char_cost(ch) >= _RARE_CJK_COST for ch in candidate):
        return False
    if strict and any(ch not in _table() for ch in candidate):
        return False
    return _cost(candidate) + _MARGIN + len(candidate) <= _cost(original)


# --- GBK / UTF-8 shown as Latin-1 -------------------------------------------------
_LATIN_RUN = re.compile(
    "[\x80-\xff\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc"
    "\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]{2,}"
)


def _fix_latin(text: str, fixes: list[str]) -> str:
    out: list[str] = []
    pos = 0
    for match in _LATIN_RUN.finditer(text):
        run = match.group()
        if sum(1 for ch in run if "\xa1" <= ch <= "\xff") < 2:
            continue
        try:
            raw = run.encode("sloppy-windows-1252")
        except UnicodeEncodeError:
            continue
        end = match.end()
        best: tuple[str, str, int] | None = None
        fixed = ftfy.fix_encoding(run)
        if fixed != run and _better(run, fixed):
            best = (fixed, "mojibake:utf8_as_latin1", end)
        else:
            extra = text[end : end + 1]
            if len(raw) % 2 and extra and "\x40" <= extra <= "\x7e":
                raw, end = raw + extra.encode("ascii"), end + 1
            try:
                decoded = raw.decode("gb18030")
            except UnicodeDecodeError:
                decoded = ""
            if decoded and _better(text[match.start() : end], decoded):
                best = (decoded, "mojibake:gbk_as_latin1", end)
        if best is None:
            continue
        out.append(text[pos : match.start()])
        out.append(best[0])
        pos = best[2]
        if best[1] not in fixes:
            fixes.append(best[1])
    if not out:
        return text
    out.append(text[pos:])
    return "".join(out)


# --- UTF-8 shown as GBK ---------------------------------------------------------------
# Wide characters, with the "?" / U+FFFD a decoder left for bytes it could not pair.
_WIDE_RUN = re.compile(r"[^\x00-\x7f\ufffd](?:[^\x00-\x7f]|\?)*")
_MARKS = re.compile(r"[?\ufffd]+")


def _fix_utf8_as_gbk(text: str, fixes: list[str]) -> str:
    lut = _lut()
    out: list[str] = []
    pos = 0
    for match in _WIDE_RUN.finditer(text):
        run = match.group()
        if len(run) < 2 or not any(lut[ord(ch)] & _F_UTF8GBK for ch in run if ord(ch) < 0x10000):
            continue
        # Bytes behind a marker are lost: UTF-8 resynchronises at the next lead byte
        # and the damaged character becomes U+FFFD.
        try:
            raw = b"".join(piece.encode("gbk") for piece in _MARKS.split(run))
        except UnicodeEncodeError:
            continue
        decoded = raw.decode("utf-8", "replace")
        lost = decoded.count("\ufffd")
        if lost * 3 > len(decoded) or not _better(run, decoded.replace("\ufffd", "")):
            continue
        out.append(text[pos : match.start()])
        out.append(decoded)
        pos = match.end()
        if "mojibake:utf8_as_gbk" not in fixes:
            fixes.append("mojibake:utf8_as_gbk")
        if lost and "lost_bytes" not in fixes:
            fixes.append("lost_bytes")
    if not out:
        return text
    out.append(text[pos:])
    return "".join(out)


# --- GBK one byte out of step ------------------------------------------------------------
# After the lost-byte marker: double-byte characters, and ASCII punctuation or
# alphanumerics standing for full-width forms (A3xx, e.g. "！" in 。“ read shifted)
# that NFKC may have turned into ASCII; these only when a wide character follows.
_SHIFT_RUN = re.compile(r"[?\ufffd]((?:[^\x00-\x7f\ufffd]|[!-~](?=[^\x00-\x7f\ufffd]))+)")
_PINYIN_TAIL = re.compile(r"[a-zü]{0,5}[āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜńňǹḿ][a-zü]{0,5}\)")


def _encode_shifted(run: str) -> bytes | None:
    parts = []
    for ch in run:
        if ch < "\x80":
            ch = chr(ord(ch) + 0xFEE0)  # back to the full-width form
        try:
            parts.append(ch.encode("gb18030"))
        except UnicodeEncodeError:
            return None
    raw = b"".join(parts)
    # Only two-byte GBK sequences can be read one byte out of step.
    return raw if len(raw) == 2 * len(run) else None


@lru_cache(maxsize=4096)
def _best_pair(prefix: bytes, suffix: bytes) -> tuple[str, float] | None:
    """The most plausible character ``prefix + X`` / ``X + suffix`` over all bytes X."""
    best: tuple[str, float] | None = None
    for x in range(0x40, 0xFF):
        if x == 0x7F:
            continue
        pair = prefix + bytes((x,)) + suffix
        try:
            ch = pair.decode("gbk")
        except UnicodeDecodeError:
            continue
        if len(ch) != 1:
            continue
        cost = char_cost(ch)
        if best is None or cost < best[1]:
            best = (ch, cost)
    return best


def _shift_candidates(text: str, end: int, raw: bytes) -> list[tuple[str, int]]:
    """Repairs of a run ending at ``end`` re-encoded as ``raw``: (repaired, new end)."""
    lead = _best_pair(b"", raw[:1])
    if lead is None:
        return []
    head = lead[0]
    body = raw[1:]
    out: list[tuple[str, int]] = []
    if body[-1:] < b"\x80":
        # The run's last character swallowed the ASCII byte that followed it.
        with contextlib.suppress(UnicodeDecodeError):
            out.append((head + body.decode("gbk"), end))
    nxt = text[end : end + 1]
    if nxt in ("?", "\ufffd"):
        # The run's last lead byte lost its trail byte; before converter pinyin
        # ("?huì)") the marker also swallowed the "(".
        tail = _best_pair(body[-1:], b"")
        if tail is not None:
            try:
                mid = body[:-1].decode("gbk")
            except UnicodeDecodeError:
                mid = None
            if mid is not None:
                paren = "(" if _PINYIN_TAIL.match(text, end + 1) else ""
                out.append((head + mid + tail[0] + paren, end + 1))
    elif nxt and "\x40" <= nxt <= "\x7e":
        # The ASCII byte after the run is the trail byte of its last character.
        with contextlib.suppress(UnicodeDecodeError):
            out.append((head + (body + nxt.encode("ascii")).decode("gbk"), end + 1))
    return out


def _fix_shift(text: str, fixes: list[str]) -> str:
    out: list[str] = []
    pos = 0
    for match in _SHIFT_RUN.finditer(text):
        if match.start() < pos:
            continue
        run = match.group(1)
        # An ASCII character inside the run is either a full-width form or the raw
        # trail byte that brought the decoder back in step: try both.
        cuts = [k for k in range(1, len(run)) if run[k] < "\x80"] + [len(run)]
        best: tuple[float, str, int] | None = None
        for cut in cuts:
            raw = _encode_shifted(run[:cut])
            if raw is None:
                continue
            run_end = match.start(1) + cut
            for repaired, end in _shift_candidates(text, run_end, raw):
                # A "?" inside Chinese text is itself odd: it costs like a rare character.
                damaged = text[match.start() : end].replace("?", "\u9fff")
                odd = any(ch < "\x80" or char_cost(ch) >= _SYMBOL_COST for ch in damaged[1:])
                if not odd or not _better(damaged, repaired.rstrip("("), strict=True):
                    continue
                gain = _cost(damaged) - _cost(repaired)
                if best is None or gain > best[0]:
                    best = (gain, repaired, end)
        if best is None:
            continue
        out.append(text[pos : match.start()])
        out.append(best[1])
        pos = best[2]
        if "mojibake:gbk_shift" not in fixes:
            fixes.append("mojibake:gbk_shift")
    if not out:
        return text
    out.append(text[pos:])
    return "".join(out)


# --- "?" for a character lost beyond repair --------------------------------------------------
# Literal-prefix searches: much faster than a character class over a whole page.
_QUESTION_WIDE = re.compile(r"\?(?:[^\x00-\x7f]|[!-~][^\x00-\x7f])")
_QUESTION_DIGIT = re.compile(r"\?[0-9０-９]")
_LOST_MARK = re.compile(r"(?<=[\u3400-\u9fff\uf900-\ufaff])\?(?=[0-9０-９])")
_SENTENCE_END = re.compile(r"[。！？!?；;\n>]")
# A question word before the "?" in the same sentence makes it a real question mark.
_QUESTION = re.compile(r"吗|嗎|呢|么|麼|怎|何|哪|谁|誰|几|幾|多少|是否|难道|難道|岂|豈|可否")


def _fix_lost(text: str, fixes: list[str]) -> str:
    def replace(match: re.Match[str]) -> str:
        start = match.start()
        window = text[max(0, start - 60) : start]
        cut = max((m.end() for m in _SENTENCE_END.finditer(window)), default=0)
        if _QUESTION.search(window, cut):
            return "?"
        if "lost_bytes" not in fixes:
            fixes.append("lost_bytes")
        return "\ufffd"

    return _LOST_MARK.sub(replace, text)


def repair_mojibake(text: str) -> tuple[str, list[str]]:
    """Repair GBK/UTF-8/Latin-1 mojibake in ``text``; return it and the fixes applied."""
    fixes: list[str] = []
    if text.isascii():
        return text, fixes
    flags = np.take(_lut(), _codepoints(text))
    seen = int(np.bitwise_or.reduce(flags))
    if seen & _F_LATIN:
        latin = (flags & _F_LATIN) != 0
        if np.any(latin[1:] & latin[:-1]):  # two Latin-1 letters in a row
            text = _fix_latin(text, fixes)
    if seen & _F_UTF8GBK:
        utf8gbk = np.flatnonzero(flags & _F_UTF8GBK)
        if utf8gbk.size >= 2 and np.any(np.diff(utf8gbk) <= 3):
            text = _fix_utf8_as_gbk(text, fixes)
    # Markers left by a UTF-8-as-GBK repair are lost bytes, not a shifted run.
    if "mojibake:utf8_as_gbk" not in fixes and ("\ufffd" in text or _QUESTION_WIDE.search(text)):
        text = _fix_shift(text, fixes)
    for match in _QUESTION_DIGIT.finditer(text):
        if match.start() and _is_cjk(text[match.start() - 1]):
            text = _fix_lost(text, fixes)
            break
    return text, fixes


def _is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"
