"""Script repairs: converter pinyin removal and traditional -> simplified.

``strip_pinyin`` removes the pinyin that some traditional-script converters append
to polyphonic characters (``網(wǎng)``, ``會(huì)``, ``發(fā)布時(shí)間``, also with full-width
parentheses): only a parenthesised single syllable with a tone mark right after a
CJK character, never a real parenthesis such as ``(辽宁日报记者 杨忠厚)``.

``to_simplified`` converts with OpenCC's ``tw2s`` configuration.  Measured on seed
003 (a mainland page run through a converter): ``t2s`` and ``hk2s`` give identical
text there and keep ``著眼于``; ``tw2s`` gives the mainland form ``着眼于`` and
differs in nothing else; ``tw2sp`` also rewrites vocabulary and turns ``建立健全``
into ``创建健全``.  Around OpenCC, the exceptions in ``data/t2s_exceptions.txt``
keep proper nouns OpenCC gets wrong (乾安 stays 乾安, not 干安).

``detect_script`` counts the characters that only traditional text uses (OpenCC
changes them and GB 2312 lacks them) against those only simplified text uses
(GB 2312 has them and Big5 lacks them): one numpy lookup, no conversion.
Converters and tables are built once per process, on first use.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import numpy as np
import opencc

__all__ = ["detect_script", "strip_pinyin", "to_simplified", "traditional_only"]

_DATA = Path(__file__).with_name("data")
_CONFIG = "tw2s"  # see the module docstring for why
FIX_T2S = "script:t2s"
FIX_PINYIN = "pinyin_removed"

TONED = "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜńňǹḿ"
# One syllable: at most 4 letters before the toned vowel ("zhuā"), 3 after ("ǎng").
_SYLLABLE = rf"[a-zü]{{0,4}}[{TONED}][a-zü]{{0,3}}"
# Literal-prefix patterns (fast on a whole page); the CJK character before is checked
# in the callback.
_PINYIN = (
    re.compile(rf"\({_SYLLABLE}\)"),
    re.compile(rf"（{_SYLLABLE}）"),
)

_F_TRAD = 1
_F_SIMP = 2


def _is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" or ch >= "\U00020000"


def strip_pinyin(text: str) -> tuple[str, list[str]]:
    """Remove converter pinyin after CJK characters; fix ``pinyin_removed``."""
    removed = False

    def drop(match: re.Match[str]) -> str:
        nonlocal removed
        start = match.start()
        if start and _is_cjk(text[start - 1]):
            removed = True
            return ""
        return match.group()

    for pattern in _PINYIN:
        if pattern.search(text):
            text = pattern.sub(drop, text)
    return text, [FIX_PINYIN] if removed else []


@lru_cache(maxsize=1)
def _converter() -> opencc.OpenCC:
    return opencc.OpenCC(_CONFIG)


def _encodable(ch: str, codec: str) -> bool:
    try:
        ch.encode(codec)
    except UnicodeEncodeError:
        return False
    return True


@lru_cache(maxsize=1)
def _script_lut() -> np.ndarray:
    """Code point -> _F_TRAD / _F_SIMP for characters only one script uses."""
    chars = [chr(c) for c in (*range(0x3400, 0x4DC0), *range(0x4E00, 0xA000))]
    joined = "\n".join(chars)
    to_simp = _converter().convert(joined).split("\n")
    lut = np.zeros(0x10000, dtype=np.uint8)
    for ch, simp in zip(chars, to_simp, strict=True):
        if simp != ch and not _encodable(ch, "gb2312"):
            lut[ord(ch)] |= _F_TRAD
    for lead in range(0xB0, 0xF8):  # GB 2312 hanzi rows
        for trail in range(0xA1, 0xFF):
            try:
                ch = bytes((lead, trail)).decode("gb2312")
            except UnicodeDecodeError:
                continue
            if not _encodable(ch, "big5"):
                lut[ord(ch)] |= _F_SIMP
    return lut


def _counts(text: str) -> tuple[int, int]:
    if text.isascii():
        return 0, 0
    cps = np.frombuffer(text.encode("utf-16-le", "surrogatepass"), dtype=np.uint16)
    flags = np.take(_script_lut(), cps[cps >= 0x3400])
    return int(np.count_nonzero(flags & _F_TRAD)), int(np.count_nonzero(flags & _F_SIMP))


def traditional_only() -> np.ndarray:
    """Boolean table over the BMP: the characters only traditional text uses.

    ``to_simplified`` changes no text without one of them: a quick gate for
    callers that already hold the code points.
    """
    return (_script_lut() & _F_TRAD).astype(bool)


def detect_script(text: str) -> str:
    """``"simplified"``, ``"traditional"`` or ``"mixed"``, by script-specific characters.

    Text with no traditional-only character is simplified; otherwise the share of
    traditional-only among script-specific characters decides: at least 90 %
    traditional, at most 10 % simplified, mixed in between.
    """
    trad, simp = _counts(text)
    if trad == 0:
        return "simplified"
    share = trad / (trad + simp)
    if share >= 0.9:
        return "traditional"
    if share <= 0.1:
        return "simplified"
    return "mixed"


@lru_cache(maxsize=1)
def _exceptions() -> tuple[re.Pattern[str], dict[str, str]]:
    table: dict[str, str] = {}
    for line in (_DATA / "t2s_exceptions.txt").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        source, target = line.split("\t")
        table[source] = target
    keys = sorted(table, key=len, reverse=True)
    return re.compile("|".join(map(re.escape, keys))), table


def to_simplified(text: str) -> tuple[str, list[str]]:
    """Traditional (or mixed) text to simplified; simplified text comes back unchanged."""
    if detect_script(text) == "simplified":
        return text, []
    convert = _converter().convert
    pattern, table = _exceptions()
    out: list[str] = []
    pos = 0
    for match in pattern.finditer(text):
        out.append(convert(text[pos : match.start()]))
        out.append(table[match.group()])
        pos = match.end()
    out.append(convert(text[pos:]))
    return "".join(out), [FIX_T2S]
