"""Open the persistent index for a crawl: reopen, replay the JSONL tail, or rebuild.

The index records a checkpoint: for every ``OUTPUT_DIR/<site>/articles.jsonl``
and ``duplicates.jsonl``, the byte offset and line count it contains.  At
start (:func:`open_index`):

- missing or corrupt index (see :class:`crawler.dedup.index.IndexCorruptError`)
  → one WARNING/ERROR line naming the reason, then a rebuild from the JSONL
  already written; never an empty start while output exists;
- a file longer than its checkpoint (killed after writing records, before
  saving the index) → the tail is replayed;
- a file shorter than its checkpoint, or gone (rewritten) → full rebuild.

Replay is idempotent: a kept record whose URL is already in the index is
skipped, and duplicates only add URL and content-hash aliases of their kept
record (``duplicate_of``).

Several portals may crawl at once and share the index.  Opening and saving
``STATE_DIR/dedup`` happen under :func:`index_lock` (``STATE_DIR/dedup.lock``,
``fcntl.flock``, released by the kernel if a process dies), and every save first
replays the JSONL of all portals (:func:`save_shared`), so a save never drops
the records another crawl saved meanwhile.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from crawler.dedup.engine import Deduplicator, prepare
from crawler.dedup.index import DedupIndex, IndexCorruptError, IndexMissingError, IndexParams
from crawler.dedup.lsh import text_hash_key, url_hash
from crawler.ids import content_hash, url_key

logger = logging.getLogger(__name__)

_BATCH = 512


def output_files(output_dir: Path) -> list[Path]:
    """Every ``<site>/articles.jsonl`` then every ``<site>/duplicates.jsonl``."""
    arts = sorted(output_dir.glob("*/articles.jsonl"))
    dups = sorted(output_dir.glob("*/duplicates.jsonl"))
    return arts + dups


def _complete_lines(path: Path, offset: int) -> Iterator[tuple[int, bytes]]:
    """``(end offset, line)`` for every complete line after ``offset``."""
    with path.open("rb") as f:
        f.seek(offset)
        pos = offset
        for line in f:
            if not line.endswith(b"\n"):
                return  # a partial last line: not a record yet
            pos += len(line)
            yield pos, line


def _records(path: Path, offset: int) -> Iterator[tuple[int, dict[str, Any] | None]]:
    for pos, line in _complete_lines(path, offset):
        try:
            rec = json.loads(line)
        except (UnicodeDecodeError, json.JSONDecodeError):
            rec = None
        yield pos, rec if isinstance(rec, dict) else None


class Replayer:
    """Feeds JSONL records into an index and moves its checkpoint."""

    def __init__(self, index: DedupIndex, output_dir: Path) -> None:
        self.index = index
        self.output_dir = output_dir
        self.dedup = Deduplicator(index, 1.0)
        self._ids: dict[str, int] | None = None
        self.added = 0
        self.aliases = 0
        self.bad = 0

    def _key(self, path: Path) -> str:
        return path.relative_to(self.output_dir).as_posix()

    def replay(self, path: Path) -> None:
        """Feed the lines of ``path`` after its checkpoint; advance the checkpoint."""
        key = self._key(path)
        cp = self.index.checkpoint.get(key, {"offset": 0, "lines": 0})
        offset, lines = cp["offset"], cp["lines"]
        kept = path.name == "articles.jsonl"
        batch: list[dict[str, Any]] = []
        for pos, rec in _records(path, offset):
            offset, lines = pos, lines + 1
            if rec is None or not isinstance(rec.get("url"), str):
                self.bad += 1
                continue
            if kept:
                if not isinstance(rec.get("text"), str) or not isinstance(rec.get("id"), str):
                    self.bad += 1
                    continue
                batch.append(rec)
                if len(batch) >= _BATCH:
                    self._insert(batch)
                    batch = []
            else:
                self._alias(rec)
        if batch:
            self._insert(batch)
        self.index.checkpoint[key] = {"offset": offset, "lines": lines}

    def _insert(self, batch: list[dict[str, Any]]) -> None:
        # Records already in the index (written by this crawl) are skipped before
        # their signatures are computed: replay after a save costs little.
        batch = [r for r in batch if self.index.lookup_url(url_hash(url_key(r["url"]))) is None]
        if not batch:
            return
        hashes = [
            r.get("content_hash") if isinstance(r.get("content_hash"), str) else None for r in batch
        ]
        prep = prepare(
            [r["text"] for r in batch], [r["url"] for r in batch], hashes, self.index.params
        )
        self.added += self.dedup.insert_kept(
            prep, [r["id"] for r in batch], [r["url"] for r in batch]
        )
        self._ids = None

    def _alias(self, rec: dict[str, Any]) -> None:
        kept = rec.get("duplicate_of")
        if not isinstance(kept, str):
            self.bad += 1
            return
        if self._ids is None:  # id -> row, built on the first duplicate that needs it
            self.index.flush()
            self._ids = {self.index.label(r)[0]: r for r in range(len(self.index))}
        row = self._ids.get(kept)
        if row is None:
            self.bad += 1
            return
        ch = rec.get("content_hash")
        if not isinstance(ch, str) and isinstance(rec.get("text"), str):
            ch = content_hash(rec["text"])
        self.index.add_alias(
            text_hash_key(ch) if isinstance(ch, str) else None, url_hash(url_key(rec["url"])), row
        )
        self.aliases += 1


def _needs_rebuild(index: DedupIndex, output_dir: Path) -> str | None:
    for key, cp in index.checkpoint.items():
        path = output_dir / key
        try:
            size = path.stat().st_size
        except OSError:
            return f"{path} is in the checkpoint but missing"
        if size < cp["offset"]:
            return f"{path} has {size} bytes, fewer than the {cp['offset']} indexed (rewritten)"
    return None


def sync(index: DedupIndex, output_dir: Path) -> Replayer:
    """Replay every output file past its checkpoint (idempotent)."""
    rep = Replayer(index, output_dir)
    for path in output_files(output_dir):
        rep.replay(path)
    return rep


def rebuild(
    directory: Path | None, params: IndexParams, output_dir: Path, flush_every: int = 16384
) -> DedupIndex:
    """A new index holding every record of ``output_dir``, saved."""
    index = DedupIndex(directory, params, flush_every)
    rep = sync(index, output_dir)
    index.save()
    logger.log(
        logging.WARNING if rep.added or rep.aliases or rep.bad else logging.INFO,
        "dedup index rebuilt from %s: %d kept records, %d reprint aliases, %d unusable lines",
        output_dir,
        rep.added,
        rep.aliases,
        rep.bad,
    )
    return index


def open_index(
    state_dir: Path,
    output_dir: Path,
    params: IndexParams,
    flush_every: int = 16384,
    locked: bool = False,
) -> DedupIndex:
    """The crawl's index, reopened, replayed or rebuilt (see module docstring).

    Takes the index lock unless the caller holds it (``locked=True``).
    """
    if not locked:
        with index_lock(state_dir):
            return open_index(state_dir, output_dir, params, flush_every, locked=True)
    directory = state_dir / "dedup"
    try:
        index = DedupIndex.open(directory, params, flush_every)
    except IndexMissingError as exc:
        level = logging.WARNING if output_files(output_dir) else logging.INFO
        logger.log(
            level, "dedup index missing (%s): building it from the JSONL in %s", exc, output_dir
        )
        return rebuild(directory, params, output_dir, flush_every)
    except IndexCorruptError as exc:
        logger.error(
            "dedup index corrupt (%s): rebuilding it from the JSONL in %s", exc, output_dir
        )
        return rebuild(directory, params, output_dir, flush_every)
    reason = _needs_rebuild(index, output_dir)
    if reason:
        logger.error("dedup index checkpoint ahead of the output (%s): rebuilding it", reason)
        return rebuild(directory, params, output_dir, flush_every)
    rep = sync(index, output_dir)
    if rep.added or rep.aliases:
        logger.warning(
            "dedup index behind the output: replayed %d kept records and %d "
            "reprints written after its last save",
            rep.added,
            rep.aliases,
        )
        index.save()
    logger.info("dedup index opened: %d records, %d segments", len(index), len(index.segments))
    return index


class IndexLockTimeout(RuntimeError):
    """Another process held the dedup index lock for too long."""


@contextlib.contextmanager
def index_lock(state_dir: Path, timeout: float = 600.0) -> Iterator[None]:
    """Hold ``STATE_DIR/dedup.lock`` exclusively (waits up to ``timeout`` seconds)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / "dedup.lock"
    with path.open("a+b") as fh:
        deadline = time.monotonic() + timeout
        waited = False
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not waited:
                    logger.info("waiting for the dedup index lock %s", path)
                    waited = True
                if time.monotonic() > deadline:
                    raise IndexLockTimeout(
                        f"the dedup index lock {path} was held for more than {timeout:.0f} s"
                    ) from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def save_shared(index: DedupIndex, state_dir: Path, output_dir: Path) -> None:
    """Replay what the stores wrote since the last save, then save, under the lock.

    The replay covers every portal's JSONL, so when another portal's crawl saved
    meanwhile, this save still names every record (the JSONL is the truth), and
    the lock keeps two saves from writing segment files at the same time.
    """
    with index_lock(state_dir):
        sync(index, output_dir)  # idempotent: records already indexed are skipped
        index.save()
