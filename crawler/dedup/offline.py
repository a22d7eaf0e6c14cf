"""Deduplicate existing JSONL files with the crawl's algorithm and origin rule.

:func:`dedup_files` works in two passes over the inputs:

1. **Decide.**  Every input is cut into byte ranges of about ``chunk_bytes``
   (a range owns the lines that start in it).  Worker processes read their
   range themselves, parse each line with orjson, check it, and compute the
   signatures, band keys and exact keys (:func:`crawler.dedup.engine.prepare`,
   on text in the crawl's form: ``crawler.ids.comparable_text``); they send
   back only the keys and a few fields, never the text.  The main process
   takes the ranges in input order and runs the sequential decisions
   (:class:`crawler.dedup.engine.Deduplicator`) while the workers read and
   hash the next ranges.
2. **Write.**  Each cluster's kept record is chosen by the crawl's rule
   (:mod:`crawler.dedup.origin`: the copy another copy names as its 来源, else
   the earliest published, else the first seen), then the inputs are read
   again in order: a kept record's line is copied unchanged (bytes), a
   reprint's line gets ``duplicate_of``, ``similarity``, ``match`` and
   ``cluster`` added (spliced into the line's bytes when it has none of them,
   else re-serialized).

A record needs ``id``, ``url`` and ``text`` (strings); ``content_hash`` is
computed when missing (and added to reprints).  A malformed line (bad JSON,
not an object, a missing or mistyped field) is reported with its file and
line number, skipped and counted.  Both outputs are written as temporary
files in the output folder (fsync-ed) and renamed into place only when
complete: a run that fails leaves the folder as it was.
:func:`check_output` refuses an output folder that holds an input, or that
holds files at all unless forced.
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing as mp
import os
import sys
import tempfile
import time
from collections import Counter, deque
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import orjson
from numpy.typing import NDArray

from crawler.dedup import origin
from crawler.dedup.engine import MATCHES, Deduplicator, Prepared, prepare
from crawler.dedup.index import DedupIndex, IndexParams
from crawler.dedup.minhash import estimate

REQUIRED = ("id", "url", "text")
OUTPUTS = ("articles.jsonl", "duplicates.jsonl")
ADDED = ("duplicate_of", "similarity", "match", "cluster")  # fields a reprint gains
ORIGIN_FIELDS = ("site", "site_name", "source", "published_at", "published_precision", "fetched_at")
_HAS_HASH = 1  # the line has its own content_hash
_PLAIN = 2  # the line is a JSON object with none of ADDED: reprint fields can be spliced in
_OWN_CLUSTER = 4  # the line has a ``cluster`` of its own (a string)
_WS = b" \t\r\n"


@dataclass
class Summary:
    """Counts of one offline run."""

    read: int = 0
    kept: int = 0
    duplicates: Counter[str] = field(default_factory=Counter)
    malformed: int = 0
    seconds: float = 0.0
    origins_moved: int = 0  # clusters whose kept record is not the first seen
    errors: list[str] = field(default_factory=list)  # "file:line: reason", first 1,000

    def line(self) -> str:
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(self.duplicates.items())) or "none"
        rate = self.read / self.seconds if self.seconds > 0 else 0.0
        return (
            f"dedup: read {self.read}, kept {self.kept}, duplicates "
            f"{sum(self.duplicates.values())} ({kinds}), malformed skipped {self.malformed}, "
            f"{rate:,.0f} docs/s"
        )


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
def _atomic_outputs(out_dir: Path) -> Iterator[tuple[BinaryIO, BinaryIO]]:
    """Temporary files in ``out_dir``, renamed to :data:`OUTPUTS` when the block succeeds."""
    out_dir.mkdir(parents=True, exist_ok=True)
    temps: list[Path] = []
    files: list[BinaryIO] = []
    try:
        for name in OUTPUTS:
            fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=out_dir)
            temps.append(Path(tmp_name))
            files.append(os.fdopen(fd, "wb", buffering=1 << 20))
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


# --- pass 1: ranges read, checked and hashed (in worker processes) --------------------


@dataclass
class Range:
    """What a worker found in one byte range of one input."""

    file_no: int
    start: int  # offset of the first line the range owns
    end: int  # offset after its last line
    lines: int  # lines in the range (blank ones included): for line numbers
    errors: list[tuple[int, str]]  # (line number within the range, 1-based; reason)
    starts: NDArray[np.int64]  # each valid record's line: absolute offsets
    ends: NDArray[np.int64]  # (the line without its newline and surrounding blanks)
    flags: NDArray[np.uint8]  # _HAS_HASH | _PLAIN | _OWN_CLUSTER
    ids: list[str]
    urls: list[str]
    clusters: list[str | None]  # a record's own ``cluster`` (kept from an earlier run)
    prep: Prepared


def _ranges(paths: list[Path], chunk_bytes: int) -> Iterator[tuple[int, str, int, int]]:
    """``(file number, path, start, end)`` byte ranges covering every input."""
    for no, path in enumerate(paths):
        size = path.stat().st_size
        for start in range(0, max(size, 1), chunk_bytes):
            yield no, str(path), start, min(start + chunk_bytes, size)


def _read_range(f: BinaryIO, start: int, end: int) -> tuple[int, bytes]:
    """The lines that start in ``[start, end)``: (offset of the first, their bytes)."""
    if start > 0:
        f.seek(start - 1)
        start = start - 1 + len(f.readline())  # the line going on at start is the previous range's
    else:
        f.seek(0)
    if start >= end:
        return start, b""
    data = f.read(end - start)
    if data and not data.endswith(b"\n"):
        data += f.readline()
    return start, data


def scan_range(job: tuple[int, str, int, int, IndexParams]) -> Range:
    """Pass 1 on one byte range: read, parse, check, prepare (runs in a worker)."""
    file_no, path, start, end, params = job
    with open(path, "rb") as f:  # noqa: PTH123 - a binary file object, seekable
        base, data = _read_range(f, start, end)
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    errors: list[tuple[int, str]] = []
    starts: list[int] = []
    ends: list[int] = []
    flags: list[int] = []
    ids: list[str] = []
    urls: list[str] = []
    texts: list[str] = []
    hashes: list[str | None] = []
    clusters: list[str | None] = []
    pos = base
    for lineno, raw in enumerate(lines, 1):
        line_start = pos
        pos += len(raw) + 1
        body = raw.strip(_WS)
        if not body:
            continue
        try:
            rec = orjson.loads(body)
            reason = _check(rec)
        except orjson.JSONDecodeError as exc:
            reason = f"bad JSON ({exc.__class__.__name__}: {exc})"
        if reason is not None:
            errors.append((lineno, reason))
            continue
        lead = len(raw) - len(raw.lstrip(_WS))
        starts.append(line_start + lead)
        ends.append(line_start + lead + len(body))
        ch = rec.get("content_hash")
        cl = rec.get("cluster")
        own = isinstance(cl, str) and bool(cl)
        flags.append(
            (_HAS_HASH if ch else 0)
            | (0 if any(k in rec for k in ADDED) else _PLAIN)
            | (_OWN_CLUSTER if own else 0)
        )
        ids.append(rec["id"])
        urls.append(rec["url"])
        texts.append(rec["text"])
        hashes.append(ch or None)
        clusters.append(cl if own else None)
    return Range(
        file_no=file_no,
        start=base,
        end=base + len(data),
        lines=len(lines),
        errors=errors,
        starts=np.asarray(starts, dtype=np.int64),
        ends=np.asarray(ends, dtype=np.int64),
        flags=np.asarray(flags, dtype=np.uint8),
        ids=ids,
        urls=urls,
        clusters=clusters,
        prep=prepare(texts, urls, hashes, params),
    )


def _in_order(
    jobs: Iterator[tuple[int, str, int, int, IndexParams]], pool: Executor | None, ahead: int
) -> Iterator[Range]:
    """Ranges scanned in input order; with a pool, ``ahead`` of them in flight."""
    if pool is None:
        for job in jobs:
            yield scan_range(job)
        return
    pending: deque[Future[Range]] = deque()
    for job in jobs:
        pending.append(pool.submit(scan_range, job))
        if len(pending) >= ahead:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


# --- the origin of each cluster ------------------------------------------------------


def choose_origin(members: Sequence[Mapping[str, Any]], names: origin.Names) -> int:
    """Index in ``members`` (in input order) of the copy kept: the crawl's origin rule.

    The copies another copy names as its 来源 are the candidates (all copies when
    none is named); among them the earliest published, else the first seen
    (:func:`crawler.dedup.origin.compare`; on a tie the earlier copy stays).
    """
    sources = [m.get("source") for m in members]
    named = [
        i
        for i, m in enumerate(members)
        if origin.cited(m, [s for j, s in enumerate(sources) if j != i], names)
    ]
    pool = named or list(range(len(members)))
    best = pool[0]
    for i in pool[1:]:
        others = [s for j, s in enumerate(sources) if j not in (i, best)]
        if origin.compare(members[i], members[best], names, others) < 0:
            best = i
    return best


def _portal_names() -> origin.Names:
    """Display names and aliases of the portals in ``SEEDS_DIR`` (empty when unreadable)."""
    from crawler import settings
    from crawler.portals import PortalError, load_portals, seeds_dir_from_settings

    try:
        return origin.portal_names(load_portals(seeds_dir_from_settings(settings.SEEDS_DIR)))
    except PortalError:
        return {}


# --- the driver ----------------------------------------------------------------------


class _Records:
    """Pass 1's per-record results, in input order (numpy columns, grown per range)."""

    def __init__(self) -> None:
        self.file_no: list[NDArray[np.int16]] = []
        self.starts: list[NDArray[np.int64]] = []
        self.ends: list[NDArray[np.int64]] = []
        self.flags: list[NDArray[np.uint8]] = []
        self.match: list[NDArray[np.uint8]] = []
        self.row: list[NDArray[np.int64]] = []
        self.sim: list[NDArray[np.float32]] = []
        self.hash_keys: list[NDArray[np.uint64]] = []
        self.url_keys: list[NDArray[np.uint64]] = []
        self.ids: list[str] = []
        self.clusters: list[str] = []  # the cluster id of each kept row (by row)
        # record -> the ``cluster`` its line has, where that is not the record's id
        self.own_clusters: dict[int, str] = {}
        self.hashes: dict[int, str] = {}  # record -> content hash computed (line has none)
        self.dup_sigs: dict[int, NDArray[np.uint32]] = {}  # record -> signature (reprints)

    def columns(self) -> dict[str, NDArray[Any]]:
        def cat(parts: list[NDArray[Any]], dtype: Any) -> NDArray[Any]:
            return np.concatenate(parts) if parts else np.empty(0, dtype=dtype)

        return {
            "file_no": cat(self.file_no, np.int16),
            "starts": cat(self.starts, np.int64),
            "ends": cat(self.ends, np.int64),
            "flags": cat(self.flags, np.uint8),
            "match": cat(self.match, np.uint8),
            "row": cat(self.row, np.int64),
            "sim": cat(self.sim, np.float32),
            "hash_keys": cat(self.hash_keys, np.uint64),
            "url_keys": cat(self.url_keys, np.uint64),
        }


def dedup_files(
    inputs: list[Path],
    out_dir: Path,
    params: IndexParams,
    threshold: float,
    workers: int = 0,
    chunk_bytes: int = 4 << 20,
    report: Any = None,
    progress: bool = False,
    names: origin.Names | None = None,
) -> Summary:
    """Deduplicate ``inputs`` into ``out_dir/articles.jsonl`` and ``duplicates.jsonl``.

    Messages (malformed lines, progress) go to ``report`` (default: stderr).
    ``names``: portal display names and aliases for the origin rule (default:
    the portal files in ``SEEDS_DIR``).
    """
    report = report if report is not None else sys.stderr
    names = _portal_names() if names is None else names
    summary = Summary()
    start = time.perf_counter()
    index = DedupIndex(None, params)
    dedup = Deduplicator(index, threshold)
    recs = _Records()
    line_base = [0] * len(inputs)  # lines of each input before the current range
    last = start
    pool: Executor | None = None
    # Warm up before the workers fork: they inherit the character table and the
    # compiled kernels instead of building and loading them each (about 1 s).
    prepare(["预热"], ["http://warm.up/"], [None], params)
    if workers > 1:
        methods = mp.get_all_start_methods()
        ctx = mp.get_context("fork" if "fork" in methods else None)
        pool = ProcessPoolExecutor(workers, mp_context=ctx)
    try:
        jobs = ((no, p, s, e, params) for no, p, s, e in _ranges(inputs, chunk_bytes))
        for rng in _in_order(jobs, pool, 2 * workers + 1):
            path = inputs[rng.file_no]
            for lineno, reason in rng.errors:
                summary.malformed += 1
                msg = f"{path}:{line_base[rng.file_no] + lineno}: {reason}; line skipped"
                if len(summary.errors) < 1000:
                    summary.errors.append(msg)
                print(msg, file=report)
            line_base[rng.file_no] += rng.lines
            summary.read += len(rng.errors) + len(rng.ids)
            if not rng.ids:
                continue
            metas = [{"cluster": c} if c else None for c in rng.clusters]
            match, row, sims = dedup.decide_arrays(
                rng.prep, rng.ids, rng.urls, metas if any(metas) else None
            )
            n = len(rng.ids)
            first = len(recs.ids)
            sim = sims.astype(np.float32)
            for i in np.flatnonzero(match == 0).tolist():  # kept: new rows, in order
                recs.clusters.append(rng.clusters[i] or rng.ids[i])
            for i in np.flatnonzero(match).tolist():
                recs.dup_sigs[first + i] = rng.prep.sigs[i].copy()
            recs.file_no.append(np.full(n, rng.file_no, dtype=np.int16))
            recs.starts.append(rng.starts)
            recs.ends.append(rng.ends)
            recs.flags.append(rng.flags)
            recs.match.append(match)
            recs.row.append(row)
            recs.sim.append(sim)
            recs.hash_keys.append(rng.prep.hash_keys)
            recs.url_keys.append(rng.prep.url_keys)
            recs.ids.extend(rng.ids)
            for i, c in enumerate(rng.clusters):
                if c and c != rng.ids[i]:
                    recs.own_clusters[first + i] = c
            for i in np.flatnonzero((rng.flags & _HAS_HASH) == 0).tolist():
                recs.hashes[first + i] = rng.prep.content_hashes[i]
            if progress and time.perf_counter() - last > 0.5:
                last = time.perf_counter()
                print(
                    f"\r{summary.read:,} read, {summary.read / (last - start):,.0f} docs/s",
                    end="",
                    file=report,
                    flush=True,
                )
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    cols = recs.columns()
    _write(inputs, out_dir, cols, recs, index, names, summary)
    if progress:
        print(file=report)
    summary.seconds = time.perf_counter() - start
    return summary


def _fields_of(files: Sequence[BinaryIO], cols: dict[str, NDArray[Any]], r: int) -> dict[str, Any]:
    """The origin-rule fields of record ``r`` (its line read again)."""
    f = files[int(cols["file_no"][r])]
    f.seek(int(cols["starts"][r]))
    rec = orjson.loads(f.read(int(cols["ends"][r] - cols["starts"][r])))
    return {k: rec.get(k) for k in ("id", *ORIGIN_FIELDS)}


def _write(
    inputs: list[Path],
    out_dir: Path,
    cols: dict[str, NDArray[Any]],
    recs: _Records,
    index: DedupIndex,
    names: origin.Names,
    summary: Summary,
) -> None:
    """Pass 2: the origin of each cluster, then both outputs in input order."""
    n = len(cols["row"])
    rows = cols["row"]
    is_dup = cols["match"] > 0
    first_of_row = np.full(len(recs.clusters), -1, dtype=np.int64)
    kept_recs = np.nonzero(~is_dup)[0]
    first_of_row[rows[kept_recs]] = kept_recs
    kept_of = first_of_row[rows] if n else np.empty(0, dtype=np.int64)  # record -> kept record
    files: list[BinaryIO] = [p.open("rb") for p in inputs]
    try:
        # The origin rule on each cluster with reprints: the kept record may change.
        if is_dup.any():
            order = np.argsort(rows, kind="stable")
            sorted_rows = rows[order]
            bounds = np.flatnonzero(np.r_[True, sorted_rows[1:] != sorted_rows[:-1], True])
            for a, b in itertools.pairwise(bounds.tolist()):
                if b - a < 2:
                    continue
                members = order[a:b]  # input order: the first kept, then its reprints
                fields = [_fields_of(files, cols, int(m)) for m in members]
                best = int(members[choose_origin(fields, names)])
                if best != members[0]:
                    kept_of[members] = best
                    summary.origins_moved += 1

        def signature(r: int) -> NDArray[np.uint32]:
            sig = recs.dup_sigs.get(r)
            return sig if sig is not None else index.signatures([int(rows[r])])[0]

        lines = _lines(files, cols)
        with _atomic_outputs(out_dir) as (kept_f, dup_f):
            for r in range(n):
                line = next(lines)
                flags = int(cols["flags"][r])
                plain = bool(flags & _PLAIN)
                cluster = recs.clusters[int(rows[r])]
                k = int(kept_of[r])
                if k == r:
                    summary.kept += 1
                    own = recs.own_clusters.get(r, recs.ids[r]) if flags & _OWN_CLUSTER else None
                    if own == cluster:
                        kept_f.write(line)
                        kept_f.write(b"\n")
                    else:
                        _write_with_fields(kept_f, line, {"cluster": cluster}, plain)
                    continue
                code = int(cols["match"][r])
                if code and k == first_of_row[rows[r]]:  # matched to the record still kept
                    match, sim = MATCHES[code], round(float(cols["sim"][r]), 4)
                elif cols["hash_keys"][r] == cols["hash_keys"][k]:
                    match, sim = "content_hash", 1.0
                elif cols["url_keys"][r] == cols["url_keys"][k]:
                    match, sim = "url", 1.0
                else:
                    est = estimate(signature(r), signature(k)[None, :])[0]
                    match, sim = "minhash", round(float(est), 4)
                summary.duplicates[match] += 1
                extra: dict[str, Any] = {
                    "duplicate_of": recs.ids[k],
                    "similarity": sim,
                    "match": match,
                    "cluster": cluster,
                }
                if not flags & _HAS_HASH:
                    extra = {"content_hash": recs.hashes[r], **extra}
                _write_with_fields(dup_f, line, extra, plain)
    finally:
        for f in files:
            f.close()


def _lines(
    files: Sequence[BinaryIO], cols: dict[str, NDArray[Any]], block: int = 4 << 20
) -> Iterator[memoryview]:
    """Each record's line, in input order, read in blocks of about ``block`` bytes."""
    file_no, starts, ends = cols["file_no"].tolist(), cols["starts"].tolist(), cols["ends"].tolist()
    buf, buf_file, buf_start, buf_end = memoryview(b""), -1, 0, 0
    for no, a, b in zip(file_no, starts, ends, strict=True):
        if no != buf_file or a < buf_start or b > buf_end:
            f = files[no]
            f.seek(a)
            buf, buf_file, buf_start = memoryview(f.read(max(block, b - a))), no, a
            buf_end = a + len(buf)
        yield buf[a - buf_start : b - buf_start]  # a view: the line is not copied


def _write_with_fields(
    out: BinaryIO, line: bytes | memoryview, extra: dict[str, Any], plain: bool
) -> None:
    """Write ``line`` (a JSON object) with ``extra`` set, newline-terminated, to ``out``.

    A plain line (none of the keys present) gets them spliced before its closing
    brace, in the crawl's ``", "`` / ``": "`` style; otherwise it is re-serialized.
    """
    if plain and line[-1:] == b"}":
        added = b", ".join(orjson.dumps(k) + b": " + orjson.dumps(v) for k, v in extra.items())
        out.write(line[:-1])
        out.write(b", " + added + b"}\n")
        return
    rec = orjson.loads(line)
    rec.update(extra)
    out.write(orjson.dumps(rec) + b"\n")
