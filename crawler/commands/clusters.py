"""Print reprint clusters: each kept article and who reprinted it.

    python -m crawler clusters OUTPUT_DIR [--min-size 2] [--json]

Reads OUTPUT_DIR/*/articles.jsonl and */duplicates.jsonl (or the flat
articles.jsonl / duplicates.jsonl the offline dedup writes) and groups the
records by their ``cluster`` field (records written before it existed: by
``duplicate_of``), largest cluster first: the kept record (site, published_at,
title, url), then each reprint's site, date, similarity, match and url.
Unreadable lines are skipped and counted on stderr.

Each cluster also names its ``origin`` by the rule the crawl keeps by
(:mod:`crawler.dedup.origin`); it is the kept record unless a move is still
waiting in a portal's journal (then both copies are in ``articles.jsonl`` and
the other is listed with match ``kept``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from crawler.dedup import origin
from crawler.dedup.index import META_FIELDS

KEPT_FIELDS = ("id", *META_FIELDS, "title", "url")
DUP_FIELDS = (*KEPT_FIELDS, "similarity", "match")


def origin_of(members: list[dict[str, Any]]) -> str | None:
    """URL of the cluster's origin by the crawl's rule (``crawler.dedup.origin``)."""
    best: dict[str, Any] | None = None
    for m in members:
        if not m.get("url"):
            continue
        if best is None:
            best = m
            continue
        others = [x.get("source") for x in members if x is not m and x is not best]
        if origin.better_origin(m, best, {}, others):  # on a tie the one listed first
            best = m
    return str(best["url"]) if best else None


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
        key = rec.get("cluster") or rec.get("duplicate_of")
        if isinstance(key, str):
            reprints.setdefault(key, []).append({k: rec.get(k) for k in DUP_FIELDS})
    kept_by: dict[str, list[dict[str, Any]]] = {}
    by_id: dict[str, str] = {}
    for rec in _read(_files(root, "articles.jsonl"), bad):
        rid = rec.get("id")
        key = rec.get("cluster") or rid
        if isinstance(key, str):
            kept_by.setdefault(key, []).append({k: rec.get(k) for k in KEPT_FIELDS})
            if isinstance(rid, str):
                by_id[rid] = key
    for key in list(reprints):  # records without ``cluster``: grouped by duplicate_of
        if key not in kept_by and key in by_id:
            reprints.setdefault(by_id[key], []).extend(reprints.pop(key))
    clusters: list[dict[str, Any]] = []
    for key in sorted(set(reprints) & set(kept_by)):
        kept_all = kept_by[key]
        found = reprints[key]
        best = origin_of([*kept_all, *found]) if len(kept_all) > 1 else kept_all[0]["url"]
        kept = next((k for k in kept_all if k["url"] == best), kept_all[0])
        found += [{**k, "similarity": None, "match": "kept"} for k in kept_all if k is not kept]
        found.sort(key=lambda d: (str(d.get("published_at") or ""), str(d.get("url") or "")))
        clusters.append(
            {"cluster": key, "kept": kept, "reprints": found, "origin": origin_of([kept, *found])}
        )
    for key in sorted(set(reprints) - set(kept_by)):  # kept record not in these files
        kept = dict.fromkeys(KEPT_FIELDS)
        kept["cluster"] = key
        found = reprints[key]
        clusters.append(
            {"cluster": key, "kept": kept, "reprints": found, "origin": origin_of(found)}
        )
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
