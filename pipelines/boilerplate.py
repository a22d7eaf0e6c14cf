"""The boilerplate vocabulary (``pipelines/data/boilerplate.toml``), compiled once.

Every stage that tells article text from page furniture reads it from here:
the body stage (``pipelines.extract``: which lines end, break or leave the
article, which blocks are comments or sidebars), the byline stage
(``COPYRIGHT``: a footer line is no byline) and the title stage (``COPYRIGHT``:
a footer is no headline).  A phrase added to the data file applies to all of
them at once.
"""

from __future__ import annotations

import re
import tomllib
from importlib import resources
from typing import Any

from pipelines.vocab import alternation


def _load() -> dict[str, Any]:
    path = resources.files("pipelines").joinpath("data/boilerplate.toml")
    return tomllib.loads(path.read_text(encoding="utf-8"))


_DATA = _load()


def _patterns(section: str, flags: int = 0) -> re.Pattern[str]:
    """One alternation of a section's ``patterns``."""
    try:
        return re.compile("|".join(_DATA[section]["patterns"]), flags)
    except re.error as exc:
        raise ValueError(f"boilerplate.toml [{section}]: {exc}") from exc


def _words(section: str, key: str = "words") -> list[str]:
    return list(_DATA[section][key])


END_OF_ARTICLE = _patterns("end_of_article")
NOTICE = _patterns("notice")
PROMO = _patterns("promo")
CAPTION = _patterns("caption")
TAIL_MARKERS = _patterns("tail_marker")
WEAK_TAIL = _patterns("weak_tail")
STRONG_TAIL = _patterns("strong_tail")
PAYWALL = _patterns("paywall")
PAYWALL_BUTTON = _patterns("paywall_button")
COPYRIGHT_CLAUSE = _patterns("copyright_clause")
DROP = _patterns("drop")
COPYRIGHT = _patterns("copyright", re.I)
WIDGET_PREFIX = re.compile(
    r"^(?:[【\[]\s*(?:" + alternation(_words("widget_prefix")) + r")\s*[】\]]\s*)+"
)
RELATED_HEADING = re.compile(r"^(?:【|\[)?(?:" + alternation(_words("related_heading")) + ")")
LEAD_BOX = re.compile(r"^[【\[]?(?:" + alternation(_words("lead_box")) + r")[】\]]?\s*[::]")
SITE_NOTICE = re.compile(alternation(_words("site_notice")))
OUTSIDE_WORDS = frozenset(_words("zones", "outside_words"))
OUTSIDE_PREFIXES = tuple(_words("zones", "outside_prefixes"))
INSIDE_WORDS = frozenset(_words("zones", "inside_words"))
INSIDE_PREFIXES = tuple(_words("zones", "inside_prefixes"))
