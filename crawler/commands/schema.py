"""Write the JSON Schema of the records (generated from crawler/items.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

from crawler.recordschema import SCHEMA_DIR, write_schemas


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dir", type=Path, default=SCHEMA_DIR, help="output directory (default: crawler/schema)"
    )


def run(args: argparse.Namespace) -> int:
    for path in write_schemas(args.dir):
        print(path)
    return 0
