"""The byline vocabulary (``pipelines/data/vocab.toml``), loaded once for both stages.

The body stage uses it to tell credit lines from text (``META_LINE``,
``LABEL_COLON``), the byline stage to read them (``FIELD_OF_LABEL``,
``ROLE_OF_WORD``, ``NOT_NAMES``): a label known to one is known to the other.

Fields: ``source``, ``author``, ``editor``, ``responsible_editor``, ``date``,
``ignored_credit`` (校对, 摄影: credits of nobody the record names) and
``widget`` (浏览次数, 字号: page widgets written like labels).
``pipelines/data/surnames.txt`` lists Chinese family names.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from importlib import resources
from typing import Any

CREDIT_FIELDS = ("source", "author", "editor", "responsible_editor", "ignored_credit")


def _load() -> dict[str, Any]:
    text = resources.files("pipelines").joinpath("data/vocab.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def _by_word(table: dict[str, list[str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for field, words in table.items():
        for word in words:
            if word in out:
                raise ValueError(f"vocab.toml: {word!r} is listed under {out[word]} and {field}")
            out[word] = field
    return out


def alternation(words: Iterable[str]) -> str:
    """A regex alternation of ``words``, longest first (so 责任编辑 wins over 编辑)."""
    return "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))


_DATA = _load()

# label word -> field
FIELD_OF_LABEL: dict[str, str] = _by_word(_DATA["labels"])
# role word in a credit -> field ("记者" -> author, "责编" -> responsible_editor)
ROLE_OF_WORD: dict[str, str] = _by_word(_DATA["roles"])
# (widget words glued to values are not names either: "编辑 收藏" is two links)
NOT_NAMES: frozenset[str] = frozenset(_DATA["not_names"]["words"] + _DATA["glued_widgets"]["words"])
NOT_SOURCES: frozenset[str] = frozenset(_DATA["not_sources"]["words"])
GLUED_WIDGETS: tuple[str, ...] = tuple(_DATA["glued_widgets"]["words"])
OUTLET_ENDINGS: tuple[str, ...] = tuple(_DATA["outlets"]["endings"])


def _surnames() -> tuple[frozenset[str], frozenset[str]]:
    text = resources.files("pipelines").joinpath("data/surnames.txt").read_text(encoding="utf-8")
    words = {w for line in text.splitlines() if not line.startswith("#") for w in line.split()}
    return frozenset(w for w in words if len(w) == 1), frozenset(w for w in words if len(w) == 2)


# Chinese family names: single-character and compound (欧阳, 司马).
SURNAMES, COMPOUND_SURNAMES = _surnames()

# Any label and its colon, anywhere in a line; ``LABEL_RE.findall`` counts the
# labels of an info line (``来源:… 作者:… 时间:…``).
LABEL_RE = re.compile(rf"(?P<label>{alternation(FIELD_OF_LABEL)})\s*[::]")
LABEL_COLON = LABEL_RE
# A line that starts with a credit label (source, author, editor, proof-reader…)
# and its colon, optionally in brackets: ``责任编辑:张三``, ``【来源:新华社】``.
META_LINE = re.compile(
    r"^[(\[【]?\s*(?:"
    + alternation(w for w, f in FIELD_OF_LABEL.items() if f in CREDIT_FIELDS)
    + r")\s*[::]"
)
# A label at the start of a line with a bar or slash for its colon: "编辑|张三", "责编丨李四".
BAR_LABEL = re.compile(rf"^\s*[(\[【]?\s*({alternation(FIELD_OF_LABEL)})\s*[|丨/]\s*(?=\S)")
# Role words of credits, longest first.
ROLE_WORDS = alternation(ROLE_OF_WORD)
