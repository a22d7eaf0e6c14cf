"""Rebuild the output from WARC archives, with today's page pipeline, without crawling.

    python -m crawler reprocess ARCHIVE... --out DIR [--site NAME] [-j N] [--since DAY]

ARCHIVE is a WARC file (``.warc`` or ``.warc.gz``, this project's or any
other crawler's) or a directory searched for them.  The article pages in them
go through the crawl's own item pipelines (page pipeline in ``-j N`` worker
processes, validation, duplicate detection, the JSONL store) into
``DIR/<site>/articles.jsonl`` and ``duplicates.jsonl``, the state (seen store,
dedup index) in ``--state-dir`` (default ``DIR/.state``).  See
``crawler.reprocess`` for which records are pages and how sites are named.

A progress bar on a terminal, one summary line on stderr.  Exit status: 0;
1 when a file was cut short or corrupt (named with the offset; the records
before it are processed) or a page failed; 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from crawler.warc import is_warc


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("archives", nargs="+", type=Path, metavar="ARCHIVE")
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="OUTPUT_DIR")
    parser.add_argument("--site", help="put every record under this site (a portal in seeds/)")
    parser.add_argument(
        "-j",
        "--workers",
        type=int,
        default=None,
        help="page worker processes (default: the PAGE_WORKERS setting; 0: in this process)",
    )
    parser.add_argument("--since", help="only articles published on or after YYYY-MM-DD")
    parser.add_argument("--state-dir", type=Path, help="STATE_DIR (default: DIR/.state)")
    parser.add_argument("--seeds-dir", default=None, help="SEEDS_DIR (default: the setting)")


def collect(archives: list[Path]) -> list[Path]:
    """The WARC files named or found below the named directories, each once, in order."""
    files: list[Path] = []
    for path in archives:
        if path.is_dir():
            found = sorted(
                p for p in path.rglob("*") if p.is_file() and p.name.endswith((".warc", ".warc.gz"))
            )
            files += found
        else:
            files.append(path)
    return list(dict.fromkeys(files))


def run(args: argparse.Namespace) -> int:
    from crawler import reprocess
    from crawler.portals import PortalError, load_portals, seeds_dir_from_settings
    from crawler.settings import SEEDS_DIR

    files = collect(args.archives)
    for path in files:
        if not path.is_file():
            print(f"reprocess: {path}: no such file", file=sys.stderr)
            return 2
        if not is_warc(path):
            print(f"reprocess: {path}: not a WARC file", file=sys.stderr)
            return 2
    if not files:
        print("reprocess: no WARC files found", file=sys.stderr)
        return 2
    if args.workers is None:
        from scrapy.utils.project import get_project_settings

        args.workers = get_project_settings().getint("PAGE_WORKERS")
    if args.workers < 0:
        print("reprocess: -j must be 0 or more", file=sys.stderr)
        return 2
    try:
        portals = load_portals(seeds_dir_from_settings(args.seeds_dir or SEEDS_DIR))
    except PortalError as exc:
        print(f"error: invalid portal definition:\n{exc}", file=sys.stderr)
        return 2
    if args.site and args.site not in portals:
        print(
            f"reprocess: unknown site {args.site!r} (known: {', '.join(sorted(portals))})",
            file=sys.stderr,
        )
        return 2
    if args.since:
        from crawler.spiders.base import BaseNewsSpider

        try:
            BaseNewsSpider._check_since(args.since)
        except ValueError as exc:
            print(f"reprocess: {exc}", file=sys.stderr)
            return 2
    started = time.monotonic()
    the_plan = reprocess.plan(files, portals, args.site)
    for error in the_plan.errors:
        print(f"reprocess: {error}; the records before it are processed", file=sys.stderr)
    out: Path = args.out
    state_dir: Path = args.state_dir or out / ".state"
    results = []
    if the_plan.sites:
        results = reprocess.run_plan(
            the_plan,
            portals,
            out,
            state_dir,
            args.workers,
            args.since,
            {},
            progress=reprocess.Progress(sys.stderr.isatty()),
        )

    def total(key: str) -> int:
        return sum(int(r.stats.get(key) or 0) for r in results)

    dropped = sum(
        int(v or 0)
        for r in results
        for k, v in r.stats.items()
        if k.startswith("validate/dropped/") or k == "incremental/before_since"
    )
    page_errors = total("page/errors")
    pages = total("reprocess/pages")
    seconds = time.monotonic() - started
    print(
        f"reprocess: {len(files)} file{'s' if len(files) != 1 else ''}, "
        f"{the_plan.responses} responses, {pages} article pages in "
        f"{len(results)} site{'s' if len(results) != 1 else ''} → "
        f"{total('store/articles')} kept, {total('store/duplicates')} duplicates, "
        f"{dropped} dropped, {page_errors} page errors, "
        f"{len(the_plan.errors)} unreadable file{'s' if len(the_plan.errors) != 1 else ''} "
        f"in {seconds:.1f} s ({pages / max(seconds, 1e-9):.1f} pages/s) → {out}",
        file=sys.stderr,
    )
    return 1 if the_plan.errors or page_errors else 0
