"""Print reprint clusters: each kept article and who reprinted it.

    python -m crawler clusters OUTPUT_DIR [--min-size 2] [--json]

Reads OUTPUT_DIR/*/articles.jsonl and */duplicates.jsonl (or the flat
articles.jsonl / duplicates.jsonl the offline dedup writes), largest cluster
first: the kept record (site, published_at, title, url), then each reprint's
site, date, similarity, match and url.  Unreadable lines are skipped and
counted on stderr.

The kept record is the first copy the crawl saw, not always the original.
Each cluster also names its likely ``origin``: the copy whose portal another
copy names as its 来源 (``source``), else the earliest published one (marked
``origin`` in the listing, ``"origin": URL`` with ``--json``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

KEPT_FIELDS = ("id", "site", "site_name", "source", "published_at", "title", "url")
DUP_FIELDS = (*KEPT_FIELDS, "similarity", "match")


def origin_of(members: list[dict[str, Any]]) -> str | None:
    """URL of the cluster's likely original: named as source by another copy, else earliest."""
    sources = {m.get("source") for m in members if m.get("source")}
    named = [m for m in members if m.get("site_name") and m.get("site_name") in sources]
    dated = [m for m in members if m.get("published_at") and m.get("url")]
    if len(named) == 1 and named[0].get("url"):
        return str(named[0]["url"])
    pool = [m for m in named if m in dated] or dated
    if not pool:
        return None
    # ISO 8601 strings in China time sort in time order ("2020-07-16" before its "T…" forms).
    return str(min(pool, key=lambda m: str(m["published_at"]))["url"])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("output_dir", type=Path, metavar="OUTPUT_DIR")
    parser.add_argument(
        "--min-size", type=int, default=2, help="smallest cluster shown, kept record included (2)"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per cluster")


def _files(root: Path, name: str) -> list[Path]:
    return sorted(root.glob(name)) + sorted(root.glob(f"*/{name}"))


def _read(paths: list[Path], bad: list[int]) -> Iterator[dict[str, Any]]:
    for path in paths:
        with path.open("rb") as f:
            for raw in f:
                try:
                    rec = json.loads(raw)
                except (UnicodeDecodeError, json.JSONDecodeError):
                    bad[0] += 1
                    continue
                if isinstance(rec, dict):
                    yield rec
                else:
                    bad[0] += 1


def build_clusters(root: Path) -> tuple[list[dict[str, Any]], int]:
    """Clusters (kept record + its reprints), largest first; and the skipped line count."""
    bad = [0]
    reprints: dict[str, list[dict[str, Any]]] = {}
    for rec in _read(_files(root, "duplicates.jsonl"), bad):
        kept = rec.get("duplicate_of")
        if isinstance(kept, str):
            reprints.setdefault(kept, []).append({k: rec.get(k) for k in DUP_FIELDS})
    clusters: list[dict[str, Any]] = []
    for rec in _read(_files(root, "articles.jsonl"), bad):
        rid = rec.get("id")
        if isinstance(rid, str) and rid in reprints:
            found = sorted(
                reprints.pop(rid),
                key=lambda d: (str(d.get("published_at") or ""), str(d.get("url") or "")),
            )
            kept = {k: rec.get(k) for k in KEPT_FIELDS}
            clusters.append({"kept": kept, "reprints": found, "origin": origin_of([kept, *found])})
    for rid, found in reprints.items():  # kept record not in these files
        kept = dict.fromkeys(KEPT_FIELDS)
        kept["id"] = rid
        clusters.append({"kept": kept, "reprints": found, "origin": origin_of(found)})
    clusters.sort(key=lambda c: (-len(c["reprints"]), str(c["kept"].get("published_at") or "")))
    return clusters, bad[0]


def _s(value: Any) -> str:
    return "-" if value is None or value == "" else str(value)


def run(args: argparse.Namespace) -> int:
    if not args.output_dir.is_dir():
        print(f"clusters: {args.output_dir}: not a directory", file=sys.stderr)
        return 2
    clusters, bad = build_clusters(args.output_dir)
    shown = [c for c in clusters if 1 + len(c["reprints"]) >= args.min_size]
    try:
        _print(shown, args.json, sys.stdout)
    except BrokenPipeError:  # piped into head: stop quietly
        sys.stdout = Path(os.devnull).open("w")  # noqa: SIM115 - replaces the closed pipe until exit
    if bad:
        print(f"clusters: {bad} unreadable lines skipped", file=sys.stderr)
    return 0


def _mark(record: dict[str, Any], origin: str | None) -> str:
    return "  origin" if origin and record.get("url") == origin else ""


def _print(shown: list[dict[str, Any]], as_json: bool, out: TextIO) -> None:
    for n, c in enumerate(shown, 1):
        if as_json:
            out.write(json.dumps(c, ensure_ascii=False) + "\n")
            continue
        k = c["kept"]
        origin = c.get("origin")
        out.write(f"#{n} {1 + len(c['reprints'])} records: {_s(k['title'])}\n")
        kept_line = f"  kept     {_s(k['site'])}  {_s(k['published_at'])}  {_s(k['url'])}"
        out.write(f"{kept_line}{_mark(k, origin)}\n")
        for d in c["reprints"]:
            sim = d.get("similarity")
            sim_s = f"{sim:.2f}" if isinstance(sim, int | float) else "-"
            out.write(
                f"  reprint  {_s(d['site'])}  {_s(d['published_at'])}  {sim_s}  "
                f"{_s(d['match'])}  {_s(d['url'])}{_mark(d, origin)}\n"
            )
    if not as_json:
        total = sum(len(c["reprints"]) for c in shown)
        out.write(f"{len(shown)} clusters, {total} reprints\n")
    out.flush()
