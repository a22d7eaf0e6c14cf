"""Deduplicate existing JSONL files with the crawl's algorithm.

:func:`dedup_files` streams every input line by line (never a whole file in
memory), in batches of ``batch`` records for the vectorized signatures
(optionally computed in a process pool), and writes kept records unchanged to
``articles.jsonl`` and reprints to ``duplicates.jsonl`` with ``duplicate_of``,
``similarity`` and ``match`` added.  Both are written as temporary files in
the output folder (fsync-ed) and renamed into place only when complete: a
run that fails leaves the folder as it was.  :func:`check_output` refuses an
output folder that holds an input, or that holds files at all unless forced.
A record needs ``id``, ``url`` and ``text`` (strings); ``content_hash`` is
computed when missing.  A malformed line (bad JSON, not an object, a missing
or mistyped field) is reported with its file and line number, skipped and
counted.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from crawler.dedup.engine import Deduplicator, Prepared, prepare
from crawler.dedup.index import DedupIndex, IndexParams

REQUIRED = ("id", "url", "text")
OUTPUTS = ("articles.jsonl", "duplicates.jsonl")


def check_output(inputs: list[Path], out_dir: Path, force: bool = False) -> str | None:
    """Why ``out_dir`` may not receive the output of ``inputs`` (None when it may).

    The folder of an input is never accepted (its files would be replaced while
    being read); a folder holding any file needs ``force``.
    """
    target = out_dir.resolve()
    for path in inputs:
        if path.resolve().parent == target:
            return (
                f"--out {out_dir} is the folder of input {path}: its files would be "
                "overwritten; write the output to another folder"
            )
    if target.exists() and not target.is_dir():
        return f"--out {out_dir} is not a folder"
    if not force and target.is_dir() and any(target.iterdir()):
        held = ", ".join(sorted(p.name for p in target.iterdir())[:5])
        return (
            f"--out {out_dir} already holds data ({held}); "
            "choose an empty folder or pass --force to replace articles.jsonl and duplicates.jsonl"
        )
    return None


@contextlib.contextmanager
def _atomic_outputs(out_dir: Path) -> Iterator[tuple[TextIO, TextIO]]:
    """Temporary files in ``out_dir``, renamed to :data:`OUTPUTS` when the block succeeds."""
    out_dir.mkdir(parents=True, exist_ok=True)
    temps: list[Path] = []
    files: list[TextIO] = []
    try:
        for name in OUTPUTS:
            fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=out_dir)
            temps.append(Path(tmp_name))
            files.append(os.fdopen(fd, "w", encoding="utf-8"))
        yield files[0], files[1]
        for f in files:
            f.flush()
            os.fsync(f.fileno())
            f.close()
        for tmp, name in zip(temps, OUTPUTS, strict=True):
            tmp.replace(out_dir / name)
        temps.clear()
        dir_fd = os.open(out_dir, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    finally:
        for f in files:
            f.close()
        for tmp in temps:
            tmp.unlink(missing_ok=True)


@dataclass
class Summary:
    """Counts of one offline run."""

    read: int = 0
    kept: int = 0
    duplicates: Counter[str] = field(default_factory=Counter)
    malformed: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)  # "file:line: reason", first 1,000

    def line(self) -> str:
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(self.duplicates.items())) or "none"
        rate = self.read / self.seconds if self.seconds > 0 else 0.0
        return (
            f"dedup: read {self.read}, kept {self.kept}, duplicates "
            f"{sum(self.duplicates.values())} ({kinds}), malformed skipped {self.malformed}, "
            f"{rate:,.0f} docs/s"
        )


def _check(rec: Any) -> str | None:
    if not isinstance(rec, dict):
        return "not a JSON object"
    for key in REQUIRED:
        if key not in rec:
            return f"missing field {key!r}"
        if not isinstance(rec[key], str):
            return f"field {key!r} is {type(rec[key]).__name__}, expected a string"
    ch = rec.get("content_hash")
    if ch is not None and not isinstance(ch, str):
        return f"field 'content_hash' is {type(ch).__name__}, expected a string"
    return None


def read_records(paths: list[Path], summary: Summary, report: TextIO) -> Iterator[dict[str, Any]]:
    """Valid records of every file, in order; malformed lines reported and counted."""
    for path in paths:
        with path.open("rb") as f:
            for lineno, raw in enumerate(f, 1):
                if not raw.strip():
                    continue
                summary.read += 1
                try:
                    rec = json.loads(raw)
                    reason = _check(rec)
                except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                    reason = f"bad JSON ({exc.__class__.__name__}: {exc})"
                if reason is not None:
                    summary.malformed += 1
                    msg = f"{path}:{lineno}: {reason}; line skipped"
                    if len(summary.errors) < 1000:
                        summary.errors.append(msg)
                    print(msg, file=report)
                    continue
                yield rec


def _batches(records: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for rec in records:
        batch.append(rec)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _prepare_batch(args: tuple[list[dict[str, Any]], IndexParams]) -> Prepared:
    batch, params = args
    return prepare(
        [r["text"] for r in batch],
        [r["url"] for r in batch],
        [r.get("content_hash") for r in batch],
        params,
    )


def dedup_files(
    inputs: list[Path],
    out_dir: Path,
    params: IndexParams,
    threshold: float,
    workers: int = 0,
    batch: int = 512,
    report: TextIO | None = None,
    progress: bool = False,
) -> Summary:
    """Deduplicate ``inputs`` into ``out_dir/articles.jsonl`` and ``duplicates.jsonl``.

    Messages (malformed lines, progress) go to ``report`` (default: stderr).
    """
    report = report if report is not None else sys.stderr
    summary = Summary()
    index = DedupIndex(None, params)
    dedup = Deduplicator(index, threshold)
    start = time.perf_counter()
    last = start
    pool: Executor | None = ProcessPoolExecutor(workers) if workers > 1 else None
    try:
        with _atomic_outputs(out_dir) as (kept_f, dup_f):
            batches = _batches(read_records(inputs, summary, report), batch)
            jobs = ((b, params) for b in batches)
            pairs: Iterator[tuple[list[dict[str, Any]], Prepared]]
            if pool is not None:
                pending: list[tuple[list[dict[str, Any]], Any]] = []

                def pooled() -> Iterator[tuple[list[dict[str, Any]], Prepared]]:
                    # Bounded look-ahead: at most 2 * workers batches in flight.
                    for job in jobs:
                        pending.append((job[0], pool.submit(_prepare_batch, job)))
                        if len(pending) >= 2 * workers:
                            recs, fut = pending.pop(0)
                            yield recs, fut.result()
                    while pending:
                        recs, fut = pending.pop(0)
                        yield recs, fut.result()

                pairs = pooled()
            else:
                pairs = ((job[0], _prepare_batch(job)) for job in jobs)
            for recs, prep in pairs:
                verdicts = dedup.decide(prep, [r["id"] for r in recs], [r["url"] for r in recs])
                for rec, ch, verdict in zip(recs, prep.content_hashes, verdicts, strict=True):
                    if verdict.match is None:
                        summary.kept += 1
                        kept_f.write(json.dumps(rec, ensure_ascii=False) + "\n")
                    else:
                        summary.duplicates[verdict.match] += 1
                        out = dict(rec)
                        out.setdefault("content_hash", ch)
                        out["duplicate_of"] = verdict.kept_id
                        out["similarity"] = round(verdict.similarity, 4)
                        out["match"] = verdict.match
                        dup_f.write(json.dumps(out, ensure_ascii=False) + "\n")
                if progress and time.perf_counter() - last > 0.5:
                    last = time.perf_counter()
                    rate = summary.read / (last - start)
                    print(
                        f"\r{summary.read:,} read, {summary.kept:,} kept, "
                        f"{sum(summary.duplicates.values()):,} duplicates, {rate:,.0f} docs/s",
                        end="",
                        file=report,
                        flush=True,
                    )
    finally:
        if pool is not None:
            pool.shutdown()
    if progress:
        print(file=report)
    summary.seconds = time.perf_counter() - start
    return summary
