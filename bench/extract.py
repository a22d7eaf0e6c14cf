"""Per-page cost of the page pipeline against plain trafilatura with metadata.

    .venv/bin/python bench/extract.py [--pages 320] [--rounds 3]

Both run on the golden fixture pages (tests/fixtures), repeated to ``--pages``
pages, in one process, after a warm-up of both (trafilatura's first metadata
extraction pays seconds of one-off set-up):

* ours: ``crawler.page.process_page`` — decode, mojibake repair, pinyin, t2s,
  parse, body, metadata, normalization, record;
* trafilatura: ``trafilatura.extract(html, output_format="json", with_metadata=True)``
  on the same pages, already decoded (its input is text, so decoding is not
  counted for it).

Prints ms/page of each (median of ``--rounds``) and the ratio ours/trafilatura.
``--variants`` also times the trafilatura body-extraction settings considered for
``pipelines.extract`` (string vs parsed tree, fast, favor_precision).
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import trafilatura  # noqa: E402

from crawler.items import PageItem  # noqa: E402
from crawler.page import process_page  # noqa: E402
from pipelines.charset import decode_html  # noqa: E402
from pipelines.dom import parse_html  # noqa: E402
from pipelines.extract import unwrap_layout_tables  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"


def load_pages() -> list[PageItem]:
    pages = []
    for path in sorted(FIXTURES.glob("*/*/page.html")):
        meta = json.loads((path.parent / "meta.json").read_text("utf-8"))
        pages.append(
            PageItem(
                url=meta["url"],
                body=path.read_bytes(),
                site=meta.get("site") or path.parent.parent.name,
                site_name=meta.get("site_name") or "",
                fetched_at=meta["fetched_at"],
                content_type=meta.get("content_type"),
                charset=meta.get("charset"),
                selectors=meta.get("selectors") or {},
            )
        )
    return pages


def timed(fn: Callable[[Any], Any], items: list[Any], rounds: int) -> float:
    """Median ms per item over ``rounds`` passes."""
    runs = []
    for _ in range(rounds):
        gc.collect()
        start = time.perf_counter()
        for item in items:
            fn(item)
        runs.append((time.perf_counter() - start) * 1000 / len(items))
    return statistics.median(runs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=320, help="pages per round (>= 200)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variants", action="store_true", help="also time trafilatura settings")
    args = parser.parse_args(argv)

    base = load_pages()
    pages = (base * (args.pages // len(base) + 1))[: max(args.pages, 200)]
    texts = [decode_html(p.body, p.content_type, p.charset).text for p in pages]

    def theirs(html: str) -> Any:
        return trafilatura.extract(html, output_format="json", with_metadata=True)

    for page, html in zip(base, texts, strict=False):  # warm-up of both
        process_page(page)
        theirs(html)

    ours_ms = timed(process_page, pages, args.rounds)
    theirs_ms = timed(theirs, texts, args.rounds)
    print(f"pages per round: {len(pages)} ({len(base)} distinct fixtures), rounds: {args.rounds}")
    print(f"ours  (process_page, whole pipeline)            {ours_ms:7.2f} ms/page")
    print(f"trafilatura extract(json, with_metadata=True)   {theirs_ms:7.2f} ms/page")
    print(f"ratio ours/trafilatura                          {ours_ms / theirs_ms:7.2f}")

    if args.variants:
        trees = [parse_html(t) for t in texts]
        options = {"include_comments": False, "deduplicate": False}
        variants: dict[str, tuple[Callable[[Any], Any], list[Any]]] = {
            "text input, fast": (lambda h: trafilatura.extract(h, fast=True, **options), texts),
            "text input, default": (lambda h: trafilatura.extract(h, **options), texts),
            "text input, fast, favor_precision": (
                lambda h: trafilatura.extract(h, fast=True, favor_precision=True, **options),
                texts,
            ),
            "tree deepcopy, fast": (
                lambda t: trafilatura.extract(copy.deepcopy(t), fast=True, **options),
                trees,
            ),
            "tree deepcopy + unwrap tables, fast": (
                lambda t: trafilatura.extract(_unwrapped(t), fast=True, **options),
                trees,
            ),
            "parse only (lxml, ours)": (parse_html, texts),
            "deepcopy only": (copy.deepcopy, trees),
        }
        for name, (fn, items) in variants.items():
            print(f"  {name:40s} {timed(fn, items, args.rounds):7.2f} ms/page")
    return 0


def _unwrapped(tree: Any) -> Any:
    work = copy.deepcopy(tree)
    unwrap_layout_tables(work)
    return work


if __name__ == "__main__":
    sys.exit(main())
