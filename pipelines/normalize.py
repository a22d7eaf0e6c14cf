"""Text normalization of record fields and body paragraphs.

The records follow the seed texts' convention: NFKC (ASCII ``,:()!;?`` where pages
have full-width forms; ``。、“”《》`` have no compatibility decomposition and stay),
no zero-width characters or controls, every kind of space (no-break, ideographic,
en/em...) a plain space, whitespace runs collapsed to one space, nothing at either
end, empty paragraphs dropped.

A line break between two wide (CJK) characters is removed rather than turned into
a space: it is a line wrap in the HTML source, and CSS Text 3 ("segment break
transformation rules") removes it there too.  Spaces typed between Chinese words
(``张国清讲话 李乐成主持``) are kept.

The ``?`` that stands for a lost character is handled in ``pipelines.mojibake``, on
the raw document, where real question marks are still full-width.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

__all__ = ["normalize_paragraphs", "normalize_text"]

# Zero-width and invisible format characters, and C0/C1 controls except whitespace.
_INVISIBLE = re.compile("[\u200b-\u200d\u2060\ufeff\u00ad\u180e\x00-\x08\x0e-\x1f\x7f-\x9f]")
_WIDE = r"[\u2e80-\u303f\u3040-\u9fff\uf900-\ufaff\uff00-\uffef\U00020000-\U0003ffff]"
_WRAP = re.compile(rf"(?<={_WIDE})[ \t\r]*[\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]\s*(?={_WIDE})")


def normalize_text(text: str) -> str:
    """Normalize one field or paragraph (see the module docstring)."""
    if not text:
        return ""
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE.sub("", text)
    if "\n" in text or "\x0b" in text or "\x0c" in text or "\u2028" in text or "\u2029" in text:
        text = _WRAP.sub("", text)
    # str.split() splits on every Unicode space (U+00A0 and U+3000 are spaces after NFKC).
    return " ".join(text.split())


def normalize_paragraphs(paragraphs: Iterable[str]) -> str:
    """Normalize each paragraph, drop the empty ones, join the rest with ``\\n``."""
    return "\n".join(p for p in map(normalize_text, paragraphs) if p)
