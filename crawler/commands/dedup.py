"""Deduplicate existing JSONL files (other machines' output, older runs).

    python -m crawler dedup INPUT.jsonl... --out DIR [--force] [--threshold X] [--shingle N]

Writes DIR/articles.jsonl (kept records, unchanged) and DIR/duplicates.jsonl
(reprints with duplicate_of, similarity and match added), with the crawl's
algorithm and DEDUP_* defaults.  DIR may not be the folder of an input, and a
DIR that holds files is refused unless --force; both files are written as
temporary files and renamed into place once complete, so a failed run leaves
DIR as it was.  Malformed lines are reported as FILE:LINE on stderr, skipped
and counted; the exit status is 1 when any line was skipped, 2 on bad
arguments, unreadable input or an output that cannot be written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from crawler import settings
from crawler.dedup.index import IndexParams
from crawler.dedup.minhash import SCHEMES
from crawler.dedup.offline import check_output, dedup_files

# Both outputs are closed and fsynced when run() returns: `python -m crawler` may end the
# process at once, without the interpreter's teardown (see crawler/__main__.py).
EXIT_AT_ONCE = True


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", type=Path, metavar="INPUT.jsonl")
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="output directory")
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace articles.jsonl and duplicates.jsonl in a DIR that already holds files",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=settings.DEDUP_THRESHOLD,
        help="estimated Jaccard at or above which a record is a reprint "
        f"({settings.DEDUP_THRESHOLD})",
    )
    parser.add_argument(
        "--shingle",
        type=int,
        default=settings.DEDUP_SHINGLE_SIZE,
        help=f"characters per shingle ({settings.DEDUP_SHINGLE_SIZE})",
    )
    parser.add_argument(
        "--num-perm",
        type=int,
        default=settings.DEDUP_NUM_PERM,
        help=f"MinHash permutations ({settings.DEDUP_NUM_PERM})",
    )
    parser.add_argument(
        "--lsh-threshold",
        type=float,
        default=settings.DEDUP_LSH_THRESHOLD,
        help=f"LSH candidate threshold ({settings.DEDUP_LSH_THRESHOLD})",
    )
    parser.add_argument(
        "--scheme",
        choices=SCHEMES,
        default=settings.DEDUP_SCHEME,
        help=f"datasketch permutation scheme ({settings.DEDUP_SCHEME})",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="processes computing signatures (0 or 1: in this process)",
    )


def run(args: argparse.Namespace) -> int:
    if not 0.0 < args.threshold <= 1.0 or args.shingle < 1 or args.num_perm < 2:
        print(
            "dedup: --threshold must be in (0, 1], --shingle >= 1, --num-perm >= 2", file=sys.stderr
        )
        return 2
    for path in args.inputs:
        if not path.is_file():
            print(f"dedup: {path}: no such file", file=sys.stderr)
            return 2
    problem = check_output(args.inputs, args.out, force=args.force)
    if problem is not None:
        print(f"dedup: {problem}", file=sys.stderr)
        return 2
    params = IndexParams(
        shingle_size=args.shingle,
        num_perm=args.num_perm,
        seed=settings.DEDUP_SEED,
        scheme=args.scheme,
        lsh_threshold=args.lsh_threshold,
    )
    try:
        summary = dedup_files(
            args.inputs,
            args.out,
            params,
            args.threshold,
            workers=args.workers,
            progress=sys.stderr.isatty(),
        )
    except OSError as exc:
        print(f"dedup: {exc}", file=sys.stderr)
        return 2
    print(summary.line(), file=sys.stderr)
    return 1 if summary.malformed else 0
