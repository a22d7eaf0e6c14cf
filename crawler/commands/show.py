"""Print the archived page behind a record: the WARC response record its ``archive`` names.

    python -m crawler show ID [--out OUTPUT_DIR] [--headers | --raw]

Finds the record ``ID`` in ``OUTPUT_DIR/*/articles.jsonl`` or ``duplicates.jsonl``
and writes the page to stdout as the crawl's spider got it (inflated, in the page's
own charset: ``show ID > page.html``); ``--raw`` writes the body exactly as the server
sent it (still gzip-compressed if it was), ``--headers`` the HTTP status line and
headers.  One line on stderr says where the record is (file, offset, record id,
WARC date).  Exit status 1 when the id or its archived page is not found.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from crawler.warc import ArchivedResponse, WarcError, iter_records


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("id", metavar="ID", help="the record's id (16 hex digits)")
    parser.add_argument("--out", type=Path, default=None, help="OUTPUT_DIR (default: the setting)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--headers", action="store_true", help="the HTTP status line and headers")
    group.add_argument("--raw", action="store_true", help="the body as sent (not inflated)")


def find_record(out: Path, record_id: str) -> tuple[Path, dict[str, Any]] | None:
    """``(site directory, record)`` of the record with this id, or None."""
    needle = f'"id": "{record_id}"'.encode()
    for name in ("articles.jsonl", "duplicates.jsonl"):
        for path in sorted(out.glob(f"*/{name}")):
            with path.open("rb") as fh:
                for line in fh:
                    if needle not in line:
                        continue
                    try:
                        record = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(record, dict) and record.get("id") == record_id:
                        return path.parent, record
    return None


def run(args: argparse.Namespace) -> int:
    from crawler.settings import OUTPUT_DIR

    out: Path = args.out or Path(OUTPUT_DIR)
    found = find_record(out, args.id)
    if found is None:
        print(f"show: no record {args.id} in {out}/*/articles.jsonl or duplicates.jsonl",
              file=sys.stderr)  # fmt: skip
        return 1
    site_dir, record = found
    ref = record.get("archive")
    if not ref:
        print(f"show: record {args.id} ({record.get('url')}) has no archived page "
              f"(crawled with ARCHIVE_ENABLED=False)", file=sys.stderr)  # fmt: skip
        return 1
    path = site_dir / ref["file"]
    try:
        rec = next(iter(iter_records(path, int(ref["offset"]), 1)), None)
    except (OSError, WarcError) as exc:
        print(f"show: {exc}", file=sys.stderr)
        return 1
    if not isinstance(rec, ArchivedResponse) or rec.record_id != ref.get("record_id"):
        print(f"show: {path} at offset {ref['offset']} is not record {ref.get('record_id')}",
              file=sys.stderr)  # fmt: skip
        return 1
    print(f"{args.id} {rec.url}: {path} offset {rec.offset} {rec.record_id} "
          f"fetched {rec.date.isoformat()} status {rec.status}", file=sys.stderr)  # fmt: skip
    stdout = sys.stdout.buffer
    if args.headers:
        lines = [f"HTTP {rec.status}"] + [f"{k}: {v}" for k, v in rec.headers]
        stdout.write(("\r\n".join(lines) + "\r\n").encode("latin-1", "replace"))
    elif args.raw:
        stdout.write(rec.body)
    else:
        from crawler.reprocess import BodyDecoder

        stdout.write(BodyDecoder()(rec)[0])
    stdout.flush()
    return 0
