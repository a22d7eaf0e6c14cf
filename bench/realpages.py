"""Score the page pipeline on real saved pages with hand-made labels.

    .venv/bin/python bench/realpages.py [--devset DIR] [--json FILE] [--worst 10]
                                        [--no-url] [--no-baseline]

The development set (``../shared/devset/`` beside the repository by default,
or ``$REALPAGES_DEVSET``) holds real article pages under ``pages/`` and a label
for each in ``gold.json`` (field conventions in its ``README.md``).  Every page
goes through ``crawler.page.process_file`` — the code behind
``python -m crawler extract`` — with the label's URL when it gives one (as
``extract --url`` does; ``--no-url`` scores without it), and through
``trafilatura.extract(output_format="json", with_metadata=True)`` on the same
decoded HTML as the baseline.

Per field, the share of pages that match exactly:

* ``title``, ``source``: equal after folding (NFKC, traditional → simplified,
  runs of white space as one space); an empty label must give an empty value;
* ``authors``, ``editors``, ``responsible_editors``: equal as sets;
* ``published_at``: equal at the label's precision (the day, the minute, or the
  second when the label's seconds are not ``:00``); a prediction that carries
  only a day does not match a label with a time; a null label needs a null;
* ``text_starts`` / ``text_ends``: the folded body, white space removed, starts /
  ends with the snippet; ``text_has``: every snippet is in it; ``text_lacks``:
  none is.

Also printed: how many pages came out with an empty or short body (under half
the characters between the label's first and last snippet), the pages per
second of each extractor, and the worst pages with what differed.  ``--json``
writes every per-page result.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import unicodedata
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crawler.page import process_file  # noqa: E402

FIELDS = (
    "title",
    "published_at",
    "source",
    "authors",
    "editors",
    "responsible_editors",
    "text_starts",
    "text_ends",
    "text_has",
    "text_lacks",
)
DEFAULT_DEVSET = ROOT.parent / "shared" / "devset"
FLOORS = ROOT / "tests" / "realpages_floors.json"


def devset_dir(path: str | None = None) -> Path:
    """The development set: ``path``, else ``$REALPAGES_DEVSET``, else ``../shared/devset``."""
    return Path(path or os.environ.get("REALPAGES_DEVSET") or DEFAULT_DEVSET)


@lru_cache(maxsize=1)
def _t2s() -> Any:
    import opencc

    return opencc.OpenCC("t2s")


def fold(text: str | None) -> str:
    """NFKC, simplified script, white space runs as one space, stripped."""
    if not text:
        return ""
    text = _t2s().convert(unicodedata.normalize("NFKC", text))
    return re.sub(r"\s+", " ", text).strip()


def squash(text: str | None) -> str:
    """``fold`` with all white space removed (how text snippets are compared)."""
    return re.sub(r"\s+", "", fold(text))


def _names(values: Any) -> set[str]:
    if not values:
        return set()
    if isinstance(values, str):
        values = re.split(r"\s*[;,、]\s*", values)
    return {fold(v) for v in values if fold(v)}


_TS = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2})(?::(\d{2}))?)?")


def date_matches(label: str | None, pred: str | None, precision: str | None = None) -> bool:
    """``pred`` equals ``label`` at the label's precision (see the module docstring)."""
    if not label:
        return not pred
    if not pred:
        return False
    lm, pm = _TS.match(label), _TS.match(pred)
    if not lm or not pm or lm.group(1) != pm.group(1):
        return False
    if not lm.group(2):
        return True
    if precision == "day" or not pm.group(2) or lm.group(2) != pm.group(2):
        return False
    if label[-6:] != pred[-6:] and re.search(r"[+-]\d{2}:\d{2}$", pred):
        return False
    seconds = lm.group(3) or "00"
    return seconds == "00" or seconds == (pm.group(3) or "00")


@dataclass
class Prediction:
    """What an extractor said about one page."""

    title: str | None = None
    published_at: str | None = None
    published_precision: str | None = None
    source: str | None = None
    authors: list[str] = field(default_factory=list)
    editors: list[str] = field(default_factory=list)
    responsible_editors: list[str] = field(default_factory=list)
    text: str = ""


def compare(gold: dict[str, Any], pred: Prediction) -> dict[str, bool]:
    """Field name -> matched, for one page."""
    text = squash(pred.text)
    ok: dict[str, bool] = {
        "title": fold(gold.get("title")) == fold(pred.title),
        "published_at": date_matches(
            gold.get("published_at"), pred.published_at, pred.published_precision
        ),
        "source": fold(gold.get("source")) == fold(pred.source),
        "authors": _names(gold.get("authors")) == _names(pred.authors),
        "editors": _names(gold.get("editors")) == _names(pred.editors),
        "responsible_editors": _names(gold.get("responsible_editors"))
        == _names(pred.responsible_editors),
        "text_starts": bool(text) and text.startswith(squash(gold.get("text_starts"))),
        "text_ends": bool(text) and text.endswith(squash(gold.get("text_ends"))),
        "text_has": bool(text) and all(squash(s) in text for s in gold.get("text_has") or []),
        "text_lacks": bool(text)
        and not any(squash(s) in text for s in gold.get("text_lacks") or []),
    }
    return ok


def short_body(gold: dict[str, Any], pred: Prediction) -> bool:
    """The body is empty, or under half the labelled article's span (first to last snippet)."""
    text = squash(pred.text)
    if not text:
        return True
    start, end = squash(gold.get("text_starts")), squash(gold.get("text_ends"))
    i = text.find(start) if start else 0
    j = text.rfind(end) if end else -1
    if i >= 0 and j >= 0:
        return False  # both ends found: the span is there
    # One end missing: compare with the body's expected size from the snippets it holds.
    has = [s for s in gold.get("text_has") or [] if squash(s) in text]
    return not has and len(text) < 200


def ours(path: Path, gold: dict[str, Any], use_url: bool) -> Prediction:
    """The page pipeline, as ``python -m crawler extract [--url URL] FILE`` runs it."""
    item = process_file(path, url=gold.get("url") if use_url else None)
    return Prediction(
        title=item.title,
        published_at=item.published_at,
        published_precision=getattr(item, "published_precision", None),
        source=item.source,
        authors=list(item.authors),
        editors=list(item.editors),
        responsible_editors=list(item.responsible_editors),
        text=item.text,
    )


def baseline(path: Path, gold: dict[str, Any], use_url: bool) -> Prediction:
    """``trafilatura.extract(with_metadata=True)`` on the same decoded HTML."""
    import trafilatura

    from pipelines.charset import decode_html

    html = decode_html(path.read_bytes(), None, None).text
    raw = trafilatura.extract(
        html,
        url=gold.get("url") if use_url else None,
        output_format="json",
        with_metadata=True,
    )
    data = json.loads(raw) if raw else {}
    return Prediction(
        title=data.get("title"),
        published_at=data.get("date"),
        source=data.get("sitename") or data.get("source-hostname"),
        authors=sorted(_names(data.get("author"))),
        text=data.get("text") or data.get("raw_text") or "",
    )


@dataclass
class Run:
    """One extractor over the whole set."""

    name: str
    pages: dict[str, dict[str, Any]] = field(default_factory=dict)
    seconds: float = 0.0

    def scores(self) -> dict[str, float]:
        """Share of pages matching, per field, and ``full_bodies``: share with no short body."""
        n = len(self.pages) or 1
        out = {f: sum(p["ok"][f] for p in self.pages.values()) / n for f in FIELDS}
        out["full_bodies"] = 1 - len(self.short_bodies()) / n
        return out

    def short_bodies(self) -> list[str]:
        return [k for k, p in self.pages.items() if p["short_body"]]


def run_extractor(name: str, fn: Any, devset: Path, use_url: bool) -> Run:
    gold = json.loads((devset / "gold.json").read_text("utf-8"))
    run = Run(name)
    for key in sorted(gold):
        label = gold[key]
        path = devset / "pages" / key
        start = time.perf_counter()
        try:
            pred = fn(path, label, use_url)
            error = None
        except Exception as exc:  # a crash on one page is that page's failure
            pred, error = Prediction(), f"{type(exc).__name__}: {exc}"
        run.seconds += time.perf_counter() - start
        run.pages[key] = {
            "ok": compare(label, pred),
            "short_body": short_body(label, pred),
            "prediction": asdict(pred),
            "error": error,
        }
    return run


def score_devset(devset: Path, *, use_url: bool = True) -> Run:
    """Our page pipeline over the development set (what the gate test uses)."""
    return run_extractor("ours", ours, devset, use_url)


def _diff(label: dict[str, Any], page: dict[str, Any]) -> list[str]:
    pred = page["prediction"]
    out = []
    for f in FIELDS:
        if page["ok"][f]:
            continue
        if f.startswith("text_"):
            text = squash(pred["text"])
            if f == "text_starts":
                got = text[:25]
            elif f == "text_ends":
                got = text[-25:]
            elif f == "text_has":
                got = "missing " + "; ".join(s for s in label.get(f) or [] if squash(s) not in text)
            else:
                got = "has " + "; ".join(s for s in label.get(f) or [] if squash(s) in text)
            out.append(f"{f}: want {label.get(f)!r} got {got!r}")
        else:
            out.append(f"{f}: want {label.get(f)!r} got {pred.get(f)!r}")
    if page["error"]:
        out.append("error: " + page["error"])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devset", help="the development set folder (default ../shared/devset)")
    parser.add_argument("--json", metavar="FILE", help="write every per-page result here")
    parser.add_argument("--worst", type=int, default=10, help="how many worst pages to show")
    parser.add_argument("--no-url", action="store_true", help="score without the labels' URLs")
    parser.add_argument("--no-baseline", action="store_true", help="skip trafilatura")
    parser.add_argument(
        "--update-floors",
        action="store_true",
        help="raise tests/realpages_floors.json to today's scores where they are higher",
    )
    args = parser.parse_args(argv)
    devset = devset_dir(args.devset)
    if not (devset / "gold.json").is_file():
        print(f"realpages: no gold.json in {devset}", file=sys.stderr)
        return 2
    gold = json.loads((devset / "gold.json").read_text("utf-8"))
    use_url = not args.no_url
    runs = [score_devset(devset, use_url=use_url)]
    if not args.no_baseline:
        runs.append(run_extractor("trafilatura", baseline, devset, use_url))
    width = max(len(f) for f in FIELDS)
    print(f"{len(gold)} pages in {devset}")
    print(f"{'field':<{width}}  " + "  ".join(f"{r.name:>11}" for r in runs))
    for f in FIELDS:
        print(f"{f:<{width}}  " + "  ".join(f"{r.scores()[f]:>11.3f}" for r in runs))
    print(
        f"{'full_bodies':<{width}}  "
        + "  ".join(f"{r.scores()['full_bodies']:>11.3f}" for r in runs)
    )
    print(
        f"{'pages/s':<{width}}  "
        + "  ".join(f"{len(r.pages) / max(r.seconds, 1e-9):>11.1f}" for r in runs)
    )
    first = runs[0]
    worst = sorted(
        first.pages.items(), key=lambda kv: (-sum(not v for v in kv[1]["ok"].values()), kv[0])
    )
    shown = [(k, p) for k, p in worst if not all(p["ok"].values())][: args.worst]
    if shown:
        print(f"\nworst {len(shown)} pages ({first.name}):")
    for key, page in shown:
        print(f"- {key}")
        for line in _diff(gold[key], page):
            print(f"    {line}")
    if first.short_bodies():
        print("\nshort or empty bodies: " + ", ".join(first.short_bodies()))
    if args.update_floors:
        data = json.loads(FLOORS.read_text("utf-8"))
        now = first.scores()
        data["floors"] = {f: max(data["floors"].get(f, 0.0), round(now[f], 4)) for f in now}
        FLOORS.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", "utf-8")
        print("floors raised where the scores are higher")
    if args.json:
        out = {r.name: {"scores": r.scores(), "pages": r.pages} for r in runs}
        Path(args.json).write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n", "utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
