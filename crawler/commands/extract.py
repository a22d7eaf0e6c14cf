"""Run the page pipeline on saved HTML files: one JSON record per file on stdout.

    python -m crawler extract [--url URL] [--site NAME] [--encoding X] FILE...

Records are printed in input order, one line each (UTF-8, not ``\\u`` escaped).
Without ``--url`` a record's URL is ``file://`` + the file's absolute path
(``--url`` needs exactly one FILE); its ``fetched_at`` is the file's
modification time, against which relative dates (``3小时前``) are resolved.
``--site`` names a portal from ``seeds/``: its display name, charset override and
selectors are used.  ``--encoding`` overrides the charset for every file.

A page that the crawl's validation would drop (list page, boilerplate only,
empty) is still printed, with the reason added to ``quality_flags``: the command
is for inspecting pages, and a record that says why it would be dropped is more
useful than silence.  A file that cannot be processed (unreadable, not HTML, an
error) prints ``{"file": …, "url": …, "error": "…"}``; the others are still
processed and the exit status is 1.
"""

from __future__ import annotations

import argparse
import codecs
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from crawler.page import process_file
from crawler.settings import MIN_TEXT_CHARS
from pipelines.validate import rejection_reason

# Bytes that open an HTML (or XML) document, after whitespace and a BOM.
_HTML_START = (b"<!doctype", b"<html", b"<head", b"<body", b"<meta", b"<?xml", b"<!--", b"<")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="saved HTML page(s)")
    parser.add_argument("--url", help="the page's URL (only with exactly one FILE)")
    parser.add_argument("--site", help="portal name from seeds/ (display name, charset, selectors)")
    parser.add_argument("--encoding", help="decode every file with this codec")


def _portal_options(site: str | None) -> dict[str, Any]:
    if not site:
        return {}
    from crawler.portals import load_portals, seeds_dir_from_settings
    from crawler.settings import SEEDS_DIR

    portals = load_portals(seeds_dir_from_settings(SEEDS_DIR))
    if site not in portals:
        raise SystemExit(f"extract: unknown site {site!r} (known: {', '.join(sorted(portals))})")
    portal = portals[site]
    return {
        "site": portal.name,
        "site_name": portal.display_name,
        "charset": portal.charset,
        "selectors": portal.selectors.model_dump(exclude_none=True),
    }


def _looks_like_html(path: Path) -> bool:
    with path.open("rb") as fh:
        head = fh.read(2048)
    for bom in (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        if head.startswith(bom):
            return True
    head = head.lstrip().lower()
    return bool(head) and (head.startswith(_HTML_START) or b"<html" in head or b"<body" in head)


def run(args: argparse.Namespace) -> int:
    if args.url and len(args.files) != 1:
        print("extract: --url needs exactly one FILE", file=sys.stderr)
        return 2
    if args.encoding:
        try:
            codecs.lookup(args.encoding)
        except LookupError:
            print(f"extract: unknown encoding {args.encoding!r}", file=sys.stderr)
            return 2
    options = _portal_options(args.site)
    if args.encoding:
        options["charset"] = args.encoding
    status = 0
    out = sys.stdout
    for name in args.files:
        path = Path(name)
        url = args.url or "file://" + str(path.resolve())
        try:
            if not path.is_file():
                raise OSError(f"not a file: {name}")
            if not _looks_like_html(path):
                raise ValueError("not an HTML document")
            item = process_file(path, url=url, **options)
        except Exception as exc:  # every failure is reported per file, the run goes on
            status = 1
            record: dict[str, Any] = {
                "file": name,
                "url": url,
                "error": f"{type(exc).__name__}: {exc}",
            }
        else:
            reason = rejection_reason(item, MIN_TEXT_CHARS)
            if reason and reason not in item.quality_flags:
                item.quality_flags.append(reason)
            record = dataclasses.asdict(item)
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        out.flush()
    return status
