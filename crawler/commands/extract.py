"""Run the page pipeline on saved HTML files: one JSON record per file on stdout.

    python -m crawler extract [--url URL] [--site NAME] [--encoding X] FILE...

A FILE may also be a WARC file (``.warc``/``.warc.gz``, this project's archive or
another crawler's): each article page in it (2xx, a page type; with this
project's archives, the pages the crawl took for articles) gives one record,
with the record's URL and its WARC date as ``fetched_at``.  A WARC file cut
short or corrupt gives an error record naming the offset, after the records
before it.

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

from crawler.page import process_file, process_page
from crawler.settings import MIN_TEXT_CHARS
from crawler.warc import is_warc
from pipelines.validate import rejection_reason

# Bytes that open an HTML (or XML) document, after whitespace and a BOM.
_HTML_START = (b"<!doctype", b"<html", b"<head", b"<body", b"<meta", b"<?xml", b"<!--", b"<")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="saved HTML page(s) or WARC files")
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


def _warc_records(path: Path, options: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    """Records of the article pages in a WARC file; status 1 when the file is bad."""
    from crawler.items import PageItem
    from crawler.reprocess import BodyDecoder, is_article
    from crawler.spiders.base import CHINA_TZ, is_page_type
    from crawler.warc import ArchivedResponse, WarcError, iter_records

    decode = BodyDecoder()
    records: list[dict[str, Any]] = []
    status = 0
    try:
        for rec in iter_records(path):
            if not isinstance(rec, ArchivedResponse) or not 200 <= rec.status < 300:
                continue
            if not is_page_type(rec.header("Content-Type")) or not is_article(rec, None):
                continue
            try:
                body, ctype = decode(rec)
                page = PageItem(
                    url=rec.url,
                    body=body,
                    site=options.get("site", "file"),
                    site_name=options.get("site_name", ""),
                    fetched_at=rec.date.astimezone(CHINA_TZ).isoformat(timespec="seconds"),
                    content_type=ctype,
                    charset=options.get("charset"),
                    selectors=dict(options.get("selectors") or {}),
                    archive={
                        "file": str(path.resolve()),
                        "offset": rec.offset,
                        "record_id": rec.record_id,
                    },
                )
                records.append(_checked(process_page(page)))
            except Exception as exc:  # one page's failure is reported, the others go on
                status = 1
                records.append(
                    {"file": str(path), "url": rec.url, "offset": rec.offset, "error": repr(exc)}
                )
    except WarcError as exc:
        status = 1
        records.append({"file": str(path), "offset": exc.offset, "error": str(exc)})
    return records, status


def _checked(item: Any) -> dict[str, Any]:
    reason = rejection_reason(item, MIN_TEXT_CHARS)
    if reason and reason not in item.quality_flags:
        item.quality_flags.append(reason)
    return dataclasses.asdict(item)


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
        if not args.url and path.is_file() and is_warc(path):
            found, bad = _warc_records(path, options)
            status = max(status, bad)
            for one in found:
                out.write(json.dumps(one, ensure_ascii=False) + "\n")
            out.flush()
            continue
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
            record = _checked(item)
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        out.flush()
    return status
