"""Deduplicate existing JSONL files with the crawl's algorithm and origin rule.

:func:`dedup_files` works in two passes over the inputs:

1. **Decide.**  Every input is cut into byte ranges of about ``chunk_bytes``
   (a range owns the lines that start in it).  Worker processes read their
   range themselves, take each line's few fields and its text as code points
   (:func:`crawler.dedup.jsonl.parse_lines`: msgspec and compiled loops, the
   text never built as a string), check it, and compute the signatures, band
   keys and exact keys (:func:`crawler.dedup.engine.prepare`, on text in the
   crawl's form: ``crawler.ids.comparable_text``); they send back only the keys
   and a few fields, never the text.  The main process takes the ranges in
   input order and runs the sequential decisions
   (:class:`crawler.dedup.engine.Deduplicator`) while the workers read and
   hash the next ranges.  One worker first reads the portal names the origin
   rule needs.
2. **Write.**  Each cluster's kept record is chosen by the crawl's rule
   (:mod:`crawler.dedup.origin`: the copy another copy names as its 来源, else
   the earliest published, else the first seen); then what each record
   becomes is laid out: a kept record's line unchanged (``cluster`` spliced in
   when it has none), a reprint's line with ``duplicate_of``, ``similarity``,
   ``match`` and ``cluster`` spliced into its bytes (re-serialized when it
   has some of them already).  With every output line's length known, two
   threads per output copy the lines with positional reads and writes
   (``pread``, ``pwritev``: the GIL released, no line copied through Python
   but its new tail), each into its own part of the file, and start the
   write-back of what they wrote as they go, so the closing fsync waits for
   little more than the last megabytes.

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
import time
from collections import Counter, deque
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import orjson
from numpy.typing import NDArray

from crawler.dedup import origin
from crawler.dedup.engine import MATCHES, Deduplicator, Prepared, prepare
from crawler.dedup.index import DedupIndex, IndexParams
from crawler.dedup.jsonl import (
    HAS_HASH,
    OWN_CLUSTER,
    PLAIN,
    Texts,
    load_line,
    origin_fields,
    parse_lines,
)
from crawler.dedup.minhash import estimate
from crawler.fsutil import create_temp

OUTPUTS = ("articles.jsonl", "duplicates.jsonl")


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
            fd, tmp = create_temp(out_dir, f".{name}.")
            temps.append(tmp)
            files.append(os.fdopen(fd, "wb", buffering=0))  # written by pwritev only
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
    flags: NDArray[np.uint8]  # HAS_HASH | PLAIN | OWN_CLUSTER
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
    parsed = parse_lines(data)
    texts = Texts(parsed)
    return Range(
        file_no=file_no,
        start=base,
        end=base + len(data),
        lines=parsed.lines,
        errors=parsed.errors,
        starts=parsed.starts + base,
        ends=parsed.ends + base,
        flags=parsed.flags,
        ids=parsed.ids,
        urls=parsed.urls,
        clusters=parsed.clusters,
        prep=prepare(
            texts,
            parsed.urls,
            parsed.hashes,
            params,
            codes=(parsed.codes, parsed.code_offs, parsed.texts),
        ),
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
    """Index in ``members`` (in input order) of the copy kept: the crawl's origin rule
    (:func:`crawler.dedup.origin.choose`)."""
    return origin.choose(members, names)


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
    warm = parse_lines('{"id": "w", "url": "http://warm.up/", "text": "预热\\n"}\n'.encode())
    prepare(Texts(warm), warm.urls, warm.hashes, params, (warm.codes, warm.code_offs, warm.texts))
    if workers > 1:
        methods = mp.get_all_start_methods()
        ctx = mp.get_context("fork" if "fork" in methods else None)
        pool = ProcessPoolExecutor(workers, mp_context=ctx)
    # The portal names are read by a worker while the other reads the first range.
    names_job: Future[origin.Names] | None = None
    if names is None and pool is not None:
        names_job = pool.submit(_portal_names)
    elif names is None:
        names = _portal_names()
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
            for i in np.flatnonzero((rng.flags & HAS_HASH) == 0).tolist():
                recs.hashes[first + i] = rng.prep.content_hashes[i]
            if progress and time.perf_counter() - last > 0.5:
                last = time.perf_counter()
                print(
                    f"\r{summary.read:,} read, {summary.read / (last - start):,.0f} docs/s",
                    end="",
                    file=report,
                    flush=True,
                )
        if names_job is not None:
            names = names_job.result()
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    assert names is not None
    cols = recs.columns()
    _write(inputs, out_dir, cols, recs, index, names, summary)
    if progress:
        print(file=report)
    summary.seconds = time.perf_counter() - start
    return summary


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
    fds: list[int] = []
    try:
        fds.extend(os.open(p, os.O_RDONLY) for p in inputs)
        reader = _Reader(fds, *(cols[k].tolist() for k in ("file_no", "starts", "ends")))
        kept_of, first_of_row = _origins(reader, cols, recs, names, summary)
        plan = _plan(reader, cols, recs, index, kept_of, first_of_row, summary)
        _emit(plan, out_dir)
    finally:
        for fd in fds:
            os.close(fd)


@dataclass
class _Reader:
    """Records' lines read again from the inputs (positional reads: threads share them)."""

    fds: list[int]
    file_no: list[int]
    starts: list[int]
    ends: list[int]

    def line(self, r: int) -> bytes:
        return os.pread(self.fds[self.file_no[r]], self.ends[r] - self.starts[r], self.starts[r])


def _origins(
    reader: _Reader,
    cols: dict[str, NDArray[Any]],
    recs: _Records,
    names: origin.Names,
    summary: Summary,
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(record -> the record its cluster keeps, row -> its first record): the origin rule
    on each cluster with reprints (the kept record may change)."""
    n = len(cols["row"])
    rows = cols["row"]
    is_dup = cols["match"] > 0
    first_of_row = np.full(len(recs.clusters), -1, dtype=np.int64)
    kept_recs = np.nonzero(~is_dup)[0]
    first_of_row[rows[kept_recs]] = kept_recs
    kept_of = first_of_row[rows] if n else np.empty(0, dtype=np.int64)
    if is_dup.any():
        order = np.argsort(rows, kind="stable")
        sorted_rows = rows[order]
        bounds = np.flatnonzero(np.r_[True, sorted_rows[1:] != sorted_rows[:-1], True])
        for a, b in itertools.pairwise(bounds.tolist()):
            if b - a < 2:
                continue
            members = order[a:b]  # input order: the first kept, then its reprints
            fields = [origin_fields(reader.line(m)) for m in members.tolist()]
            best = int(members[choose_origin(fields, names)])
            if best != members[0]:
                kept_of[members] = best
                summary.origins_moved += 1
    return kept_of, first_of_row


def _plan(
    reader: _Reader,
    cols: dict[str, NDArray[Any]],
    recs: _Records,
    index: DedupIndex,
    kept_of: NDArray[np.int64],
    first_of_row: NDArray[np.int64],
    summary: Summary,
) -> _Plan:
    """What each record becomes: its line (``cut``: without its closing brace) and a tail."""
    n = len(cols["row"])
    rows = cols["row"]
    flags_l, rows_l, kept_l = cols["flags"].tolist(), rows.tolist(), kept_of.tolist()
    match_l, hash_l, url_l = (cols[k].tolist() for k in ("match", "hash_keys", "url_keys"))
    first_l, sim_l = first_of_row.tolist(), cols["sim"].tolist()
    dest = np.zeros(n, dtype=np.uint8)  # 0: articles.jsonl, 1: duplicates.jsonl
    cut = np.zeros(n, dtype=np.bool_)
    whole = np.zeros(n, dtype=np.bool_)  # the tail replaces the line (re-serialized)
    estimated: list[int] = []  # reprints whose similarity to a new kept record is estimated
    extras: dict[int, dict[str, Any]] = {}
    kept = kept_of == np.arange(n)
    summary.kept += int(kept.sum())
    # most kept records: a plain line without a cluster of its own, ``cluster`` spliced in
    # (``_with_fields``'s bytes for one field, 90 % of the lines in one loop)
    simple = kept & ((cols["flags"] & (PLAIN | OWN_CLUSTER)) == PLAIN)
    tails: list[bytes] = [b""] * n
    clusters = recs.clusters
    at = np.flatnonzero(simple)
    head = _field("cluster")
    for r, row in zip(at.tolist(), rows[at].tolist(), strict=True):
        tails[r] = head + orjson.dumps(clusters[row]) + _CLOSE
    cut[at] = True
    for r in np.flatnonzero(kept & ~simple).tolist():
        flags = flags_l[r]
        cluster = clusters[rows_l[r]]
        own = recs.own_clusters.get(r, recs.ids[r]) if flags & OWN_CLUSTER else None
        if own == cluster:
            tails[r] = b"\n"
        else:
            cut[r], whole[r], tails[r] = _with_fields(reader, r, {"cluster": cluster}, flags)
    for r in np.flatnonzero(~kept).tolist():
        flags = flags_l[r]
        cluster = clusters[rows_l[r]]
        k = kept_l[r]
        dest[r] = 1
        code = match_l[r]
        if code and k == first_l[rows_l[r]]:  # matched to the record still kept
            match, sim = MATCHES[code], round(sim_l[r], 4)
        elif hash_l[r] == hash_l[k]:
            match, sim = "content_hash", 1.0
        elif url_l[r] == url_l[k]:
            match, sim = "url", 1.0
        else:
            match, sim = "minhash", 0.0
            estimated.append(r)
        extra: dict[str, Any] = {
            "duplicate_of": recs.ids[k],
            "similarity": sim,
            "match": match,
            "cluster": cluster,
        }
        if not flags & HAS_HASH:
            extra = {"content_hash": recs.hashes[r], **extra}
        extras[r] = extra
    if estimated:  # all at once: one gather of the signatures the index holds

        def signatures(records: list[int]) -> NDArray[np.uint32]:
            out = np.empty((len(records), index.params.num_perm), dtype=np.uint32)
            held = [i for i, r in enumerate(records) if r not in recs.dup_sigs]
            for i, r in enumerate(records):
                if r in recs.dup_sigs:
                    out[i] = recs.dup_sigs[r]
            if held:
                out[held] = index.signatures(rows[np.asarray(records)[held]])
            return out

        sims = estimate(signatures(estimated), signatures([kept_l[r] for r in estimated]))
        for r, e in zip(estimated, sims.tolist(), strict=True):
            extras[r]["similarity"] = round(e, 4)
    for r, extra in extras.items():
        summary.duplicates[extra["match"]] += 1
        cut[r], whole[r], tails[r] = _with_fields(reader, r, extra, flags_l[r])
    return _Plan(reader, dest, cut.tolist(), whole.tolist(), tails)


def _emit(plan: _Plan, out_dir: Path) -> None:
    """Both outputs, each written by :data:`_WRITERS` threads at offsets computed first."""
    line_len = np.asarray(plan.reader.ends) - np.asarray(plan.reader.starts)
    tail_len = np.fromiter(map(len, plan.tails), dtype=np.int64, count=len(plan.tails))
    out_len = np.where(plan.whole, 0, line_len - np.asarray(plan.cut)) + tail_len
    with _atomic_outputs(out_dir) as outs:
        jobs = []
        for d, f in enumerate(outs):
            records = np.flatnonzero(plan.dest == d)
            offsets = np.concatenate([[0], np.cumsum(out_len[records])])
            for part in np.array_split(np.arange(len(records)), _WRITERS):
                if len(part):
                    jobs.append((f.fileno(), int(offsets[part[0]]), records[part].tolist()))
        with ThreadPoolExecutor(len(jobs) or 1) as threads:
            for done in [threads.submit(plan.write, *job) for job in jobs]:
                done.result()


_WRITERS = 2  # threads writing each output (positional writes, the GIL released in them)
_KICK_BYTES = 32 << 20
_BLOCK = 4 << 20  # bytes of input read at once
_DONTNEED = getattr(os, "POSIX_FADV_DONTNEED", 4)


@dataclass
class _Plan:
    """The output of each record: its line (maybe cut before its closing brace), a tail."""

    reader: _Reader
    dest: NDArray[np.uint8]  # 0: articles.jsonl, 1: duplicates.jsonl
    cut: list[bool]
    whole: list[bool]  # the tail is the whole output (the line re-serialized)
    tails: list[bytes]

    def write(self, fd: int, offset: int, records: list[int], batch: int = 1000) -> None:
        """Write ``records``' output at ``offset`` of ``fd`` (``pwritev`` of 1,000 pieces)."""
        parts: list[bytes | memoryview] = []
        kicked = offset
        rd = self.reader
        block, block_file, block_start, block_end = memoryview(b""), -1, 0, 0
        for r in records:
            if not self.whole[r]:
                no, a, b = rd.file_no[r], rd.starts[r], rd.ends[r]
                if no != block_file or a < block_start or b > block_end:
                    block = memoryview(os.pread(rd.fds[no], max(_BLOCK, b - a), a))
                    block_file, block_start, block_end = no, a, a + len(block)
                parts.append(block[a - block_start : (b - 1 if self.cut[r] else b) - block_start])
            parts.append(self.tails[r])
            if len(parts) >= batch:
                offset = _pwrite_all(fd, parts, offset)
                parts = []
                if offset - kicked >= _KICK_BYTES and hasattr(os, "posix_fadvise"):
                    # start writing back what is written so far (Linux: DONTNEED starts the
                    # write-back of dirty pages without waiting for it): the closing fsync
                    # then waits for the tail, not for the whole file
                    os.posix_fadvise(fd, kicked, offset - kicked, _DONTNEED)
                    kicked = offset
        _pwrite_all(fd, parts, offset)


def _pwrite_all(fd: int, parts: list[bytes | memoryview], offset: int) -> int:
    """``pwritev`` every piece at ``offset`` (going on after a short write); the end offset."""
    while parts:
        done = os.pwritev(fd, parts, offset)
        offset += done
        while parts and done >= len(parts[0]):
            done -= len(parts[0])
            parts = parts[1:]
        if parts and done:
            parts = [memoryview(parts[0])[done:], *parts[1:]]
    return offset


def _field(key: str) -> bytes:
    """What a field spliced into a line starts with: ``, "key": `` (the crawl's style)."""
    return b", " + orjson.dumps(key) + b": "


_CLOSE = b"}\n"  # what a spliced line ends with


def _with_fields(
    reader: _Reader, r: int, extra: dict[str, Any], flags: int
) -> tuple[bool, bool, bytes]:
    """``(cut, whole, tail)`` of record ``r``'s line with ``extra`` set.

    A plain line (none of the keys present) keeps its bytes, cut before its closing
    brace, and the tail adds the fields in the crawl's ``", "`` / ``": "`` style;
    another is re-serialized whole (the tail is the new line).
    """
    if flags & PLAIN:
        return True, False, b"".join(_field(k) + orjson.dumps(v) for k, v in extra.items()) + _CLOSE
    rec = load_line(reader.line(r))
    rec.update(extra)
    return False, True, orjson.dumps(rec) + b"\n"
