"""Bytes to text: BOM, HTTP header, ``<meta>`` and content sniffing weighed together.

Chinese portals declare their charset carelessly: ``gb2312`` on pages full of
GBK-only characters (镕, 堃), ``gbk`` in ``<meta>`` on pages a later CMS writes in
UTF-8, a header that contradicts the ``<meta>``, or nothing at all.  The rules:

1. ``override`` (the portal's ``charset`` setting) wins.
2. A byte order mark wins over any declaration (WHATWG "decode").
3. A page that is valid UTF-8 with non-ASCII bytes is UTF-8, whatever it declares:
   GB18030 or Big5 text is practically never valid UTF-8 past a few characters.
4. Otherwise the declared encodings (header, then ``<meta>``) are tried strictly;
   when both decode cleanly and disagree, the one whose text is more plausible
   Chinese (share of common characters) wins.  A declared encoding that decodes
   cleanly to implausible text loses to a plausible sniffed one.
5. With nothing usable declared: GB18030 and Big5 (HKSCS) are both tried and
   the more plausible wins; UTF-8 with a few invalid bytes stays UTF-8.
6. Undecodable bytes become one U+FFFD per invalid sequence, never swallowing the
   ASCII markup after it (fix ``lost_bytes``).

UTF-16 without a BOM is recognised before any of 3-5 (HTML in a byte-oriented
codec has no NUL bytes; UTF-16 markup has one in every other byte): fix
``charset:utf-16-le-without-bom`` / ``-be-``.  ``looks_garbled`` judges decoded text
afterwards: replacement and control characters, or rare characters in a proportion
no real text has, mean bytes that are not text (flag ``garbled_text``).

The GB family (``gb2312``, ``gbk``, ``x-gbk``, ``cp936``, ``gb_2312-80``, ``euc-cn``)
is always decoded as GB18030, its superset (Python's ``gb2312`` codec fails on
common GBK characters), and Big5 as Big5-HKSCS.  Label parsing is w3lib's; the
weighing of contradicting declarations is written here because no library does it
for the GB/Big5/UTF-8 confusions these portals produce.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field

from w3lib.encoding import (
    html_body_declared_encoding,
    http_content_type_encoding,
    read_bom,
    resolve_encoding,
)

from pipelines.mojibake import _RARE_CJK_COST, char_cost, plausibility

__all__ = ["Decoded", "canonical_encoding", "decode_html", "looks_garbled", "strip_inline_data"]


@dataclass(frozen=True)
class Decoded:
    """A decoded document and how it was decoded."""

    text: str  # the decoded document (HTML), BOM removed
    encoding: str  # codec actually used, canonical Python name ("utf-8", "gb18030", ...)
    declared: str | None  # what the header / <meta> / BOM said, if anything
    fixes: list[str] = field(default_factory=list)  # e.g. ["charset:gb2312->gb18030"]


# Labels w3lib does not resolve (or resolves to a narrower codec than pages need).
_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "x_gbk": "gb18030",
    "cp936": "gb18030",
    "x-cp936": "gb18030",
    "ms936": "gb18030",
    "windows-936": "gb18030",
    "gb_2312-80": "gb18030",
    "gb_2312": "gb18030",
    "gb2312-80": "gb18030",
    "csgb2312": "gb18030",
    "euc-cn": "gb18030",
    "x-euc-cn": "gb18030",
    "chinese": "gb18030",
    "zh-cn": "gb18030",
    "big5": "big5hkscs",
    "big-5": "big5hkscs",
    "big5-hkscs": "big5hkscs",
    "x-x-big5": "big5hkscs",
    "cn-big5": "big5hkscs",
    "csbig5": "big5hkscs",
    "cp950": "big5hkscs",
    "x-big5": "big5hkscs",
}
# Declarations that are only a default, never a real statement about Chinese bytes.
_WEAK = frozenset({"cp1252", "latin-1", "iso8859-1", "ascii"})
_CJK_CODECS = ("gb18030", "big5hkscs")
_ERRORS = "charset-lost-bytes"
# Share of common characters below which a clean decoding is not believed.
_PLAUSIBLE = 0.6
# UTF-8 decoding of a non-UTF-8 page fails on nearly every non-ASCII byte; a real
# UTF-8 page with a damaged byte or two fails on a handful.
_UTF8_MAX_ERROR_SHARE = 0.02


def _lost_byte(exc: UnicodeError) -> tuple[str, int]:
    """One U+FFFD per undecodable sequence (GB18030's lone 0x80 is the euro sign).

    Python's decoders end an invalid sequence before an ASCII byte, so a lost
    byte never swallows the markup after it.
    """
    assert isinstance(exc, UnicodeDecodeError)
    if exc.object[exc.start] == 0x80 and "18030" in exc.encoding:
        return "\u20ac", exc.start + 1
    return "\ufffd", exc.end


codecs.register_error(_ERRORS, _lost_byte)


def canonical_encoding(label: str | None) -> str | None:
    """The codec used for a declared label (GB family -> gb18030, Big5 -> big5hkscs)."""
    if not label:
        return None
    key = label.strip().strip("\"'").lower()
    if key in _ALIASES:
        return _ALIASES[key]
    name = resolve_encoding(key)
    if name is None:
        return None
    return _ALIASES.get(name, name)


def _label(label: str | None) -> str | None:
    return label.strip().strip("\"'").lower() if label else None


_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.IGNORECASE)
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([\w.:-]+)", re.IGNORECASE)


def _header_label(content_type: str | None) -> str | None:
    if not content_type:
        return None
    match = _HEADER_CHARSET.search(content_type)
    return _label(match.group(1)) if match else None


def _meta_label(body: bytes) -> str | None:
    match = _META_CHARSET.search(body[:4096])
    return _label(match.group(1).decode("ascii", "replace")) if match else None


def _strict(body: bytes, codec: str) -> str | None:
    try:
        return body.decode(codec)
    except UnicodeDecodeError:
        return None


# UTF-16 sniffing: markup characters of the first bytes as UTF-16 code units, at least
# this many and this many times more in one byte order than in the other (HTML in a
# byte-oriented codec has no NUL bytes, so neither order finds any).
_UTF16_SAMPLE = 4096
_UTF16_MARKUP = frozenset(b'<>/="')
_UTF16_MIN = 4
_UTF16_RATIO = 4


def utf16_without_bom(body: bytes) -> str | None:
    """``utf-16-le`` / ``utf-16-be`` when the bytes are UTF-16 text without a BOM."""
    sample = body[:_UTF16_SAMPLE]
    if b"\x00" not in sample:
        return None
    pairs = list(zip(sample[0::2], sample[1::2], strict=False))
    le = sum(1 for lo, hi in pairs if hi == 0 and lo in _UTF16_MARKUP)
    be = sum(1 for hi, lo in pairs if hi == 0 and lo in _UTF16_MARKUP)
    for found, other, codec in ((le, be, "utf-16-le"), (be, le, "utf-16-be")):
        if found >= _UTF16_MIN and found >= other * _UTF16_RATIO:
            return codec
    return None


def decode_html(
    body: bytes, content_type: str | None = None, override: str | None = None
) -> Decoded:
    """Decode a page's bytes; see the module docstring for the rules."""
    header_label = _header_label(content_type)
    header = canonical_encoding(header_label) or canonical_encoding(
        http_content_type_encoding(content_type)
    )
    # w3lib finds the declaration (skipping comments, reading http-equiv and the XML
    # declaration); the raw label is kept for the fix tokens.
    meta = canonical_encoding(html_body_declared_encoding(body))
    meta_label = _meta_label(body)
    if meta is None:
        meta_label = None
    elif canonical_encoding(meta_label) != meta:
        meta_label = meta
    labels = [(label, codec) for label, codec in ((header_label, header), (meta_label, meta))]
    declared_label = header_label or meta_label

    if override:
        codec = canonical_encoding(override) or "utf-8"
        return _finish(body, codec, declared_label, ["charset:override"])

    bom_codec, bom = read_bom(body)
    if bom_codec is not None and bom is not None:
        text = body[len(bom) :].decode(bom_codec, _ERRORS)
        used = codecs.lookup(bom_codec).name
        fixes = _declared_fixes(labels, used) if used == "utf-8" else []
        if "\ufffd" in text:
            fixes.append("lost_bytes")
        return Decoded(text, used, bom_codec, fixes)

    utf16 = utf16_without_bom(body)
    if utf16 is not None:
        usable = body[: len(body) - len(body) % 2]
        return _finish(usable, utf16, declared_label, [f"charset:{utf16}-without-bom"])

    if body.isascii():
        codec = header or meta or "utf-8"
        if codec in ("utf-16", "utf-16-le", "utf-16-be"):
            codec = "utf-8"
        return Decoded(body.decode(codec, _ERRORS), codec, declared_label, [])

    utf8 = _strict(body, "utf-8")
    if utf8 is not None:
        return Decoded(utf8, "utf-8", declared_label, _declared_fixes(labels, "utf-8"))

    declared = [c for c in dict.fromkeys((header, meta)) if c and c not in _WEAK and c != "utf-8"]
    clean: list[tuple[float, str, str]] = []
    for codec in declared:
        attempt = _strict(body, codec)
        if attempt is not None:
            clean.append((plausibility(attempt), codec, attempt))
    if clean:
        best = max(clean, key=lambda item: item[0]) if len(clean) > 1 else clean[0]
        if best[0] >= _PLAUSIBLE:
            return Decoded(best[2], best[1], declared_label, _declared_fixes(labels, best[1]))

    # Nothing declared decodes to plausible text: UTF-8 with a few bad bytes, or sniff.
    replaced = body.decode("utf-8", _ERRORS)
    non_ascii = (len(replaced) - len(replaced.encode("ascii", "ignore"))) or 1
    if replaced.count("\ufffd") / non_ascii <= _UTF8_MAX_ERROR_SHARE:
        fixes = [*_declared_fixes(labels, "utf-8"), "lost_bytes"]
        return Decoded(replaced, "utf-8", declared_label, fixes)
    candidates = list(clean)
    for codec in _CJK_CODECS:
        if codec in declared:
            continue
        attempt = _strict(body, codec)
        if attempt is not None:
            candidates.append((plausibility(attempt), codec, attempt))
    if candidates:
        _score, codec, text = max(candidates, key=lambda item: item[0])
        return Decoded(text, codec, declared_label, _declared_fixes(labels, codec))
    # No codec decodes cleanly: keep the declared one (or the most plausible) with losses.
    lossy = [
        (plausibility(body.decode(codec, _ERRORS)), codec)
        for codec in (declared or list(_CJK_CODECS))
    ]
    codec = max(lossy)[1] if not declared else declared[0]
    return _finish(body, codec, declared_label, _declared_fixes(labels, codec))


def _declared_fixes(labels: list[tuple[str | None, str | None]], used: str) -> list[str]:
    """Fix tokens recording how the codec used differs from what the page said.

    ``charset:gb2312->gb18030`` when a declared label was read as its superset,
    ``charset:declared-gbk-but-utf-8`` when the page contradicted its declaration.
    """
    fixes: list[str] = []
    for label, codec in labels:
        if not label or codec is None:
            continue
        try:
            plain = codecs.lookup(label).name
        except LookupError:
            plain = label
        if codec == used:
            token = f"charset:{label}->{used}" if plain != used else ""
        elif codec in _WEAK:
            token = ""
        else:
            token = f"charset:declared-{label}-but-{used}"
        if token and token not in fixes:
            fixes.append(token)
    return fixes


def _finish(body: bytes, codec: str, declared: str | None, fixes: list[str]) -> Decoded:
    text = body.decode(codec, _ERRORS)
    if "\ufffd" in text:
        fixes = [*fixes, "lost_bytes"]
    return Decoded(text, codec, declared, fixes)


# Inline data: URIs of a kilobyte or more (base64 images pasted into a CMS editor);
# the payload is cut, the URI scheme kept, so the markup around it is unchanged.
_INLINE_DATA = re.compile(rb"(data:[\w.+/-]*(?:;[\w=.+-]*)*,)[A-Za-z0-9+/=%\s]{1024,}")


def strip_inline_data(body: bytes) -> tuple[bytes, list[str]]:
    """``body`` without the payloads of big inline ``data:`` URIs (fix ``inline_data_removed``)."""
    stripped, count = _INLINE_DATA.subn(rb"\1", body)
    return (stripped, ["inline_data_removed"]) if count else (body, [])


# Replacement characters, controls (tab and newline aside), private use, lone surrogates.
_NOT_TEXT = re.compile("[\ufffd\x00-\x08\x0b-\x1f\x7f-\x9f\ue000-\uf8ff\ud800-\udfff]")
_CJK = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")
# Share of not-text characters from which a text is garbage (lost bytes in a real page: < 1 %).
_MAX_NOT_TEXT = 0.05
# Chinese characters judged (a sample), the fewest needed to judge, and the share of
# common ones below which they are not language: real pages, classical names and all,
# stay above 0.8; random bytes read as GB18030 or Big5 give 0.1-0.3.
_CJK_SAMPLE = 2000
_CJK_MIN = 20
_MIN_COMMON_CJK = 0.5


def looks_garbled(text: str) -> bool:
    """Decoded text that is not language: mostly replacement or control characters, or
    Chinese characters that are nearly all rare (bytes that are not text)."""
    if not text:
        return False
    if len(_NOT_TEXT.findall(text)) > len(text) * _MAX_NOT_TEXT:
        return True
    cjk = _CJK.findall(text, 0, _CJK_SAMPLE * 4)[:_CJK_SAMPLE]
    if len(cjk) < _CJK_MIN:
        return False
    common = sum(1 for ch in cjk if char_cost(ch) < _RARE_CJK_COST)
    return common < len(cjk) * _MIN_COMMON_CJK
