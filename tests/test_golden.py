"""Golden fixtures: every field of every case, and a quality gate over all of them.

Each ``tests/fixtures/<site>/<case>/`` holds ``page.html`` (the page's bytes in
its real encoding), ``meta.json`` (URL, Content-Type, pinned ``fetched_at``,
charset override and selectors) and ``expected.json`` (the record fields).
``expected.json`` keys are record fields, compared exactly (``quality_flags`` as
a set), plus ``fixes_include`` / ``quality_flags_include`` (must be present),
``encoding`` (same codec) and ``rejection`` (``pipelines.validate`` reason).

The gate: per-field accuracy over all fixtures (title, published_at day,
source, authors, editors, responsible_editors; text as the mean character-bigram
F1) must stay at or above the floors in ``tests/golden_floors.json``.  Raising a
floor is free; lowering one needs ``GOLDEN_ALLOW_LOWER=1`` and a ``reason`` in
that file (checked against the committed version).

``python tests/test_golden.py`` prints our scores next to plain
``trafilatura.extract(..., with_metadata=True)`` on the same decoded pages.
"""

from __future__ import annotations

import codecs
import json
import sys
from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # for ``python tests/test_golden.py``
    sys.path.insert(0, str(ROOT))

from floors import assert_not_lowered  # noqa: E402

from crawler.items import ArticleItem, PageItem  # noqa: E402
from crawler.page import process_page  # noqa: E402
from crawler.settings import MIN_TEXT_CHARS  # noqa: E402
from pipelines.validate import rejection_reason  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"
FLOORS = ROOT / "tests" / "golden_floors.json"
SCORED = ("title", "published_at", "source", "authors", "editors", "responsible_editors", "text")


@dataclass(frozen=True)
class Fixture:
    path: Path
    meta: dict[str, Any]
    expected: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.path.relative_to(FIXTURES))

    def page(self) -> PageItem:
        m = self.meta
        return PageItem(
            url=m["url"],
            body=(self.path / "page.html").read_bytes(),
            site=m.get("site") or self.path.parent.name,
            site_name=m.get("site_name") or "",
            fetched_at=m["fetched_at"],
            content_type=m.get("content_type"),
            charset=m.get("charset"),
            selectors=m.get("selectors") or {},
        )


def load_fixtures() -> list[Fixture]:
    out = []
    for page in sorted(FIXTURES.glob("*/*/page.html")):
        d = page.parent
        out.append(
            Fixture(
                d,
                json.loads((d / "meta.json").read_text("utf-8")),
                json.loads((d / "expected.json").read_text("utf-8")),
            )
        )
    return out


ALL = load_fixtures()


@cache
def processed(name: str) -> ArticleItem:
    fx = next(f for f in ALL if f.name == name)
    return process_page(fx.page())


# --- Scores ---------------------------------------------------------------------------


def bigram_f1(expected: str, got: str) -> float:
    """F1 of character-bigram multisets (whitespace ignored); two empty texts score 1."""
    a = "".join(expected.split())
    b = "".join(got.split())
    ca = Counter(a[i : i + 2] for i in range(len(a) - 1))
    cb = Counter(b[i : i + 2] for i in range(len(b) - 1))
    if not ca and not cb:
        return 1.0
    if not ca or not cb:
        return 0.0
    common = sum((ca & cb).values())
    if not common:
        return 0.0
    precision, recall = common / sum(cb.values()), common / sum(ca.values())
    return 2 * precision * recall / (precision + recall)


def field_ok(field: str, expected: Any, got: Any) -> bool:
    if field == "published_at":
        return (expected or "")[:10] == (got or "")[:10]
    return bool(expected == got)


def score(records: dict[str, dict[str, Any]]) -> dict[str, float]:
    """Per-field accuracy (text: mean bigram F1) of ``records`` (fixture name -> fields)."""
    totals: dict[str, list[float]] = {f: [] for f in SCORED}
    for fx in ALL:
        got = records[fx.name]
        for field in SCORED:
            if field not in fx.expected:
                continue
            if field == "text":
                totals[field].append(bigram_f1(fx.expected["text"], got.get("text") or ""))
            else:
                totals[field].append(float(field_ok(field, fx.expected[field], got.get(field))))
    return {f: round(sum(v) / len(v), 4) for f, v in totals.items() if v}


def our_records() -> dict[str, dict[str, Any]]:
    out = {}
    for fx in ALL:
        item = processed(fx.name)
        out[fx.name] = {f: getattr(item, f) for f in SCORED}
    return out


def trafilatura_records() -> dict[str, dict[str, Any]]:
    """Plain trafilatura with metadata, on the same decoded, repaired, simplified HTML."""
    import trafilatura

    from pipelines.charset import decode_html
    from pipelines.mojibake import repair_mojibake
    from pipelines.normalize import normalize_text
    from pipelines.script import strip_pinyin, to_simplified

    out = {}
    for fx in ALL:
        page = fx.page()
        html = decode_html(page.body, page.content_type, page.charset).text
        html, _ = repair_mojibake(html)
        html, _ = strip_pinyin(html)
        html, _ = to_simplified(html)
        raw = trafilatura.extract(html, url=page.url, output_format="json", with_metadata=True)
        data = json.loads(raw) if raw else {}
        authors = [normalize_text(a) for a in (data.get("author") or "").split(";") if a.strip()]
        out[fx.name] = {
            "title": normalize_text(data.get("title") or "") or None,
            "published_at": data.get("date"),
            "source": None,  # trafilatura has no notion of 来源 (its sitename is the host site)
            "authors": authors,
            "editors": [],
            "responsible_editors": [],
            "text": "\n".join(normalize_text(x) for x in (data.get("text") or "").splitlines()),
        }
    return out


# --- Per-fixture exact checks --------------------------------------------------------


@pytest.mark.parametrize("name", [f.name for f in ALL])
def test_fixture_fields(name: str) -> None:
    fx = next(f for f in ALL if f.name == name)
    item = processed(name)
    problems = []
    for key, want in fx.expected.items():
        if key == "fixes_include":
            missing = [x for x in want if x not in item.fixes]
            if missing:
                problems.append(f"fixes lack {missing}: {item.fixes}")
        elif key == "quality_flags_include":
            missing = [x for x in want if x not in item.quality_flags]
            if missing:
                problems.append(f"quality_flags lack {missing}: {item.quality_flags}")
        elif key == "encoding":
            if codecs.lookup(want).name != codecs.lookup(item.encoding or "ascii").name:
                problems.append(f"encoding: want {want}, got {item.encoding}")
        elif key == "rejection":
            got = rejection_reason(item, MIN_TEXT_CHARS)
            if got != want:
                problems.append(f"rejection: want {want}, got {got}")
        elif key == "quality_flags":
            if set(want) != set(item.quality_flags):
                problems.append(
                    f"quality_flags: want {sorted(want)}, got {sorted(item.quality_flags)}"
                )
        else:
            got = getattr(item, key)
            if got != want:
                problems.append(f"{key}:\n  want {want!r}\n  got  {got!r}")
    assert not problems, f"{name}:\n" + "\n".join(problems)


def test_fixture_set_covers_the_required_cases() -> None:
    sites = {f.path.parent.name for f in ALL}
    assert len(ALL) >= 25
    declared = " ".join(
        (f.path / "page.html").read_bytes()[:400].decode("ascii", "replace").lower() for f in ALL
    )
    for charset in ("charset=gb2312", "charset=gbk", "charset=big5", "charset=utf-8", "gb18030"):
        assert charset in declared, charset
    assert any("list_page" in f.expected.get("quality_flags_include", []) for f in ALL)
    assert any(f.expected.get("rejection") for f in ALL)
    assert any("date_relative" in f.expected.get("quality_flags", []) for f in ALL)
    assert {"cri", "dali", "docshare", "lncaw", "scfzw"} <= sites


def test_rejected_fixtures_are_not_articles_and_the_rest_are() -> None:
    for fx in ALL:
        reason = rejection_reason(processed(fx.name), MIN_TEXT_CHARS)
        want = fx.expected.get("rejection") or (
            "list_page" if "list_page" in fx.expected.get("quality_flags_include", []) else None
        )
        assert reason == want, fx.name


# --- The quality gate -------------------------------------------------------------------


def _floors() -> dict[str, Any]:
    return json.loads(FLOORS.read_text("utf-8"))


def test_floors_are_not_lowered_without_a_reason() -> None:
    assert_not_lowered(FLOORS, "GOLDEN_ALLOW_LOWER")


def test_we_beat_plain_trafilatura_on_these_pages() -> None:
    ours = score(our_records())
    theirs = score(trafilatura_records())
    print("\ntrafilatura alone:", json.dumps(theirs, ensure_ascii=False))
    for field in ("text", "published_at", "authors", "title"):
        assert ours[field] >= theirs[field], (field, ours[field], theirs[field])


def _print_table(rows: dict[str, dict[str, float]]) -> None:
    names = list(rows)
    print("field".ljust(22) + "".join(n.rjust(14) for n in names))
    for field in SCORED:
        print(field.ljust(22) + "".join(f"{rows[n].get(field, 0):14.3f}" for n in names))


def main(argv: list[str]) -> int:
    """Print the scores; ``--update-floors`` raises floors to the current scores."""
    ours = score(our_records())
    rows: dict[str, dict[str, float]] = {"ours": ours, "trafilatura": score(trafilatura_records())}
    _print_table(rows)
    if "--update-floors" in argv:
        data = _floors()
        data["floors"] = {f: max(data["floors"].get(f, 0.0), ours[f]) for f in SCORED}
        FLOORS.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", "utf-8")
        print("floors raised where the scores are higher")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
