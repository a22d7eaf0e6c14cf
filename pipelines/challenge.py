"""Challenge pages: what a portal's bot wall sends in place of the page asked for.

``classify(status, headers, text)`` names the wall (``"ruishu"``, ``"jiasule"``,
``"waf"``, ``"interstitial"``) or returns ``None`` for an ordinary page.  The
rules (status codes, body patterns, cookie names, phrases and how short the
visible text must be) are data, in ``pipelines/data/challenge.toml``; a wall
added there is recognised at once.  Pure: no Scrapy, no I/O after import.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from w3lib.html import remove_tags, remove_tags_with_content, replace_entities

KINDS = ("ruishu", "jiasule", "waf", "interstitial")


@dataclass(frozen=True)
class Rule:
    kind: str
    statuses: frozenset[int]
    patterns: re.Pattern[str] | None
    cookies: tuple[str, ...]
    phrases: tuple[str, ...]
    max_text: int | None


def parse_rules(source: str) -> tuple[Rule, ...]:
    """The rules of a challenge.toml text; a bad rule is a ``ValueError`` naming it."""
    data = tomllib.loads(source)
    rules = []
    for n, raw in enumerate(data.get("rule", []), 1):
        kind = raw.get("kind")
        if kind not in KINDS:
            raise ValueError(f"challenge.toml rule {n}: kind {kind!r} is not one of {KINDS}")
        unknown = set(raw) - {"kind", "statuses", "patterns", "cookies", "phrases", "max_text"}
        if unknown:
            raise ValueError(f"challenge.toml rule {n}: unknown keys {sorted(unknown)}")
        try:
            patterns = re.compile("|".join(raw["patterns"])) if raw.get("patterns") else None
        except re.error as exc:
            raise ValueError(f"challenge.toml rule {n} ({kind}): {exc}") from exc
        if not (patterns or raw.get("cookies") or raw.get("phrases")):
            raise ValueError(f"challenge.toml rule {n} ({kind}): no patterns, cookies or phrases")
        rules.append(
            Rule(
                kind=kind,
                statuses=frozenset(int(s) for s in raw.get("statuses", ())),
                patterns=patterns,
                cookies=tuple(raw.get("cookies", ())),
                phrases=tuple(raw.get("phrases", ())),
                max_text=raw.get("max_text"),
            )
        )
    return tuple(rules)


RULES = parse_rules(
    resources.files("pipelines").joinpath("data/challenge.toml").read_text(encoding="utf-8")
)

_SPACE = re.compile(r"\s+")


def visible_text(html: str) -> str:
    """The text a reader of ``html`` sees: no scripts, styles or tags, spaces collapsed."""
    text = remove_tags_with_content(html, which_ones=("script", "style", "noscript"))
    return _SPACE.sub(" ", replace_entities(remove_tags(text))).strip()


def _as_str(value: Any) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)


def cookie_names(headers: Mapping[Any, Any] | None) -> list[str]:
    """Names of the cookies set by ``headers`` (Scrapy ``Headers`` or a plain mapping)."""
    if not headers:
        return []
    if hasattr(headers, "getlist"):
        values: Iterable[Any] = headers.getlist("Set-Cookie")
    else:
        values = []
        for key, value in headers.items():
            if _as_str(key).lower() == "set-cookie":
                values = value if isinstance(value, list | tuple) else [value]
    return [_as_str(v).split("=", 1)[0].strip() for v in values if "=" in _as_str(v)]


def classify(status: int, headers: Mapping[Any, Any] | None, text: str) -> str | None:
    """The kind of challenge page a response is, or ``None`` for an ordinary page."""
    names: list[str] | None = None
    visible: str | None = None
    for rule in RULES:
        if rule.statuses and status not in rule.statuses:
            continue
        hit = bool(rule.patterns and rule.patterns.search(text))
        if not hit and rule.cookies:
            if names is None:
                names = cookie_names(headers)
            hit = any(n.startswith(rule.cookies) for n in names)
        # a phrase is looked for in the raw body first (cheap), then in the visible text
        phrased = not hit and any(p in text for p in rule.phrases)
        if not (hit or phrased):
            continue
        if phrased or rule.max_text is not None:
            if visible is None:
                visible = visible_text(text)
            if phrased and not any(p in visible for p in rule.phrases):
                continue
            if rule.max_text is not None and len(visible) > rule.max_text:
                continue
        return rule.kind
    return None
