"""One typed table of an output folder, for tools that want columns.

    python -m crawler export OUTPUT_DIR --format parquet|csv --out FILE [--duplicates]

Reads ``OUTPUT_DIR/*/articles.jsonl`` (and ``OUTPUT_DIR/articles.jsonl``, the
offline ``dedup`` layout): the kept records, one row each, with the record's
columns in its order.  ``--duplicates`` adds every copy from
``duplicates.jsonl`` with ``duplicate_of``, ``similarity`` and ``match`` (null
for kept records) and a ``kept`` column; ``cluster`` joins the copies of one
article.  Types: ``published_at`` and ``fetched_at`` are timestamps in China
time (``+08:00``), list fields lists of strings, ``similarity`` a float, object
fields and lists of objects (``archive``, ``attachments``, ``xxgk``) JSON text, every
other field a string; a field a record lacks (``cluster`` in output written
before it existed) is null.

Parquet goes through pyarrow (``pip install '.[analysis]'``), written in row
groups as it reads, so memory stays flat; CSV needs nothing (lists as JSON
arrays, timestamps as ISO 8601).  A malformed line is reported as FILE:LINE
on stderr and skipped; the exit status is then 1; 2 on bad arguments or a
missing pyarrow.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import sys
import typing
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import typing_extensions

from crawler.items import ArticleItem, DuplicateItem

TIMESTAMPS = ("published_at", "fetched_at")
ROW_GROUP = 10_000


def columns(duplicates: bool) -> list[tuple[str, str]]:
    """``(name, kind)`` of the table's columns; kind: string, list, float, timestamp, bool."""
    cls = DuplicateItem if duplicates else ArticleItem
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        if f.name in TIMESTAMPS:
            kind = "timestamp"
        elif _holds_objects(hint):
            kind = "json"
        elif typing.get_origin(hint) is list:
            kind = "list"
        elif hint is float:
            kind = "float"
        else:
            kind = "string"
        out.append((f.name, kind))
    if duplicates:
        out.append(("kept", "bool"))
    return out


def _holds_objects(hint: Any) -> bool:
    """A TypedDict, a list of them or an optional one: written as JSON text."""
    if typing_extensions.is_typeddict(hint):
        return True
    return any(_holds_objects(arg) for arg in typing.get_args(hint))


def timestamp(value: Any) -> datetime | None:
    """A record's timestamp field as an aware datetime (a day-only date at 00:00 +08:00)."""
    if not isinstance(value, str) or not value:
        return None
    if len(value) == 10:  # YYYY-MM-DD, output written before published_at was always full
        value += "T00:00:00+08:00"
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo is not None else None


def _files(root: Path, name: str) -> list[Path]:
    return sorted(root.glob(name)) + sorted(root.glob(f"*/{name}"))


def read_rows(root: Path, duplicates: bool, bad: list[str]) -> Iterator[dict[str, Any]]:
    """Records of the output folder, kept ones first; malformed lines go to ``bad``."""
    sources = [(p, True) for p in _files(root, "articles.jsonl")]
    if duplicates:
        sources += [(p, False) for p in _files(root, "duplicates.jsonl")]
    for path, kept in sources:
        with path.open("rb") as f:
            for lineno, raw in enumerate(f, 1):
                if not raw.strip():
                    continue
                try:
                    rec = orjson.loads(raw)
                except orjson.JSONDecodeError as exc:
                    bad.append(f"{path}:{lineno}: bad JSON ({exc})")
                    continue
                if not isinstance(rec, dict):
                    bad.append(f"{path}:{lineno}: not a JSON object")
                    continue
                if duplicates:
                    rec["kept"] = kept
                yield rec


def _cell(kind: str, value: Any) -> Any:
    """A record value in the column's type (None where it has another type)."""
    if value is None:
        return None
    if kind == "timestamp":
        return timestamp(value)
    if kind == "list":
        return [str(v) for v in value] if isinstance(value, list) else None
    if kind == "float":
        return float(value) if isinstance(value, int | float) else None
    if kind == "bool":
        return bool(value)
    if kind == "json":
        return orjson.dumps(value).decode()
    return value if isinstance(value, str) else str(value)


def _batches(
    rows: Iterator[dict[str, Any]], cols: list[tuple[str, str]]
) -> Iterator[dict[str, list[Any]]]:
    batch: dict[str, list[Any]] = {name: [] for name, _ in cols}
    n = 0
    for rec in rows:
        for name, kind in cols:
            batch[name].append(_cell(kind, rec.get(name)))
        n += 1
        if n >= ROW_GROUP:
            yield batch
            batch = {name: [] for name, _ in cols}
            n = 0
    if n:
        yield batch


def write_parquet(rows: Iterator[dict[str, Any]], cols: list[tuple[str, str]], out: Path) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    types = {
        "string": pa.string(),
        "json": pa.string(),
        "list": pa.list_(pa.string()),
        "float": pa.float64(),
        "timestamp": pa.timestamp("s", tz="+08:00"),
        "bool": pa.bool_(),
    }
    schema = pa.schema([pa.field(name, types[kind]) for name, kind in cols])
    written = 0
    with pq.ParquetWriter(out, schema) as writer:
        for batch in _batches(rows, cols):
            table = pa.Table.from_pydict(batch, schema=schema)
            writer.write_table(table)
            written += table.num_rows
        if not written:
            writer.write_table(schema.empty_table())
    return written


def write_csv(rows: Iterator[dict[str, Any]], cols: list[tuple[str, str]], out: Path) -> int:
    written = 0
    with out.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([name for name, _ in cols])
        for rec in rows:
            line = []
            for name, kind in cols:
                value = _cell(kind, rec.get(name))
                if value is None:
                    line.append("")
                elif kind == "timestamp":
                    line.append(value.isoformat())
                elif kind == "list":
                    line.append(orjson.dumps(value).decode())
                elif kind == "bool":
                    line.append("true" if value else "false")
                else:
                    line.append(value)
            writer.writerow(line)
            written += 1
    return written


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("output_dir", type=Path, metavar="OUTPUT_DIR")
    parser.add_argument("--format", choices=("parquet", "csv"), required=True)
    parser.add_argument("--out", type=Path, required=True, metavar="FILE")
    parser.add_argument(
        "--duplicates",
        action="store_true",
        help="every copy (duplicates.jsonl too), with duplicate_of, similarity, match, kept",
    )


def run(args: argparse.Namespace) -> int:
    if not args.output_dir.is_dir():
        print(f"export: {args.output_dir}: no such folder", file=sys.stderr)
        return 2
    if not _files(args.output_dir, "articles.jsonl"):
        print(f"export: {args.output_dir}: no articles.jsonl in it or its folders", file=sys.stderr)
        return 2
    if args.format == "parquet":
        try:
            import pyarrow.parquet  # noqa: F401
        except ImportError:
            print(
                "export: --format parquet needs pyarrow, which is not installed: "
                "pip install '.[analysis]' (or pip install pyarrow), or use --format csv",
                file=sys.stderr,
            )
            return 2
    cols = columns(args.duplicates)
    bad: list[str] = []
    tmp = args.out.with_name(f".{args.out.name}.tmp")
    try:
        rows = read_rows(args.output_dir, args.duplicates, bad)
        writer = write_parquet if args.format == "parquet" else write_csv
        written = writer(rows, cols, tmp)
        tmp.replace(args.out)
    except OSError as exc:
        print(f"export: {exc}", file=sys.stderr)
        return 2
    finally:
        tmp.unlink(missing_ok=True)
    for msg in bad:
        print(f"{msg}; line skipped", file=sys.stderr)
    print(
        f"export: {written} records, {len(cols)} columns -> {args.out}"
        + (f" ({len(bad)} malformed lines skipped)" if bad else ""),
        file=sys.stderr,
    )
    return 1 if bad else 0
