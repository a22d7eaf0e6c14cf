"""Open the persistent index for a crawl: reopen, replay the JSONL tail, or rebuild.

The index records a checkpoint: for every ``OUTPUT_DIR/<site>/articles.jsonl``
and ``duplicates.jsonl``, the byte offset and line count it contains.  At
start (:func:`open_index`):

- missing or corrupt index (see :class:`crawler.dedup.index.IndexCorruptError`)
  → one WARNING/ERROR line naming the reason, then a rebuild from the JSONL
  already written; never an empty start while output exists;
- a file longer than its checkpoint (killed after writing records, before
  saving the index) → the tail is replayed;
- a file shorter than its checkpoint, or gone (truncated) → full rebuild;
- a file replaced by another (a new inode: the move journal rewrote it, see
  :mod:`crawler.journal`) → read again from the start, idempotently.

Replay is idempotent: a kept record whose URL is already in the index is
skipped, and duplicates only add URL and content-hash aliases of their
cluster's row (``cluster``, else ``duplicate_of``).

With ``decide=True`` (a running crawl reading what other portals' runs wrote,
:func:`sync` and :func:`save_shared`), a kept record of another portal goes
through the dedup decision: when it is a copy of a cluster whose kept record
is a different one (two runs each kept a copy at the same time), the origin
rule (:func:`crawler.dedup.origin.winner`) picks one, and the other's move to
its portal's ``duplicates.jsonl`` is returned as a journal operation
(``Replayer.ops``); two clusters merged this way keep the winner's ``cluster``.

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
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from crawler.dedup import origin
from crawler.dedup.engine import Deduplicator, prepare
from crawler.dedup.index import (
    META_FIELDS,
    DedupIndex,
    IndexCorruptError,
    IndexMissingError,
    IndexParams,
)
from crawler.dedup.lsh import text_hash_key, url_hash
from crawler.dedup.minhash import estimate
from crawler.ids import content_hash, url_key
from crawler.journal import demote_op

logger = logging.getLogger(__name__)

_BATCH = 512


def output_files(output_dir: Path) -> list[Path]:
    """Every ``<site>/articles.jsonl`` then every ``<site>/duplicates.jsonl``."""
    arts = sorted(output_dir.glob("*/articles.jsonl"))
    dups = sorted(output_dir.glob("*/duplicates.jsonl"))
    return arts + dups


Op = tuple[str, dict[str, Any]]  # (site, move-journal operation)


def _complete_lines(f: Any, offset: int) -> Iterator[tuple[int, bytes]]:
    """``(end offset, line)`` for every complete line of open file ``f`` after ``offset``."""
    f.seek(offset)
    pos = offset
    for line in f:
        if not line.endswith(b"\n"):
            return  # a partial last line: not a record yet
        pos += len(line)
        yield pos, line


def _records(f: Any, offset: int) -> Iterator[tuple[int, dict[str, Any] | None]]:
    for pos, line in _complete_lines(f, offset):
        try:
            rec = json.loads(line)
        except (UnicodeDecodeError, json.JSONDecodeError):
            rec = None
        yield pos, rec if isinstance(rec, dict) else None


def record_meta(rec: Any) -> dict[str, Any]:
    """The fields of a record (mapping) the index keeps for origin decisions."""
    meta = {k: rec.get(k) for k in META_FIELDS}
    meta["cluster"] = meta["cluster"] or rec.get("id")
    return meta


class Replayer:
    """Feeds JSONL records into an index and moves its checkpoint."""

    def __init__(
        self,
        index: DedupIndex,
        output_dir: Path,
        names: origin.Names | None = None,
        decide: bool = False,
        threshold: float = 1.0,
    ) -> None:
        self.index = index
        self.output_dir = output_dir
        self.names: origin.Names = names or {}
        self.decide = decide
        self.dedup = Deduplicator(index, threshold)
        self._ids: dict[str, int] | None = None
        self.added = 0
        self.aliases = 0
        self.bad = 0
        self.ops: list[Op] = []  # moves decided while replaying (decide=True)

    def changed(self, path: Path) -> bool:
        """True when ``path`` differs from its checkpoint (grown, shrunk or replaced)."""
        cp = self.index.checkpoint.get(self._key(path))
        try:
            st = path.stat()
        except FileNotFoundError:
            return False
        if cp is None:
            return st.st_size > 0
        return st.st_size != cp["offset"] or cp.get("ino", st.st_ino) != st.st_ino

    def _key(self, path: Path) -> str:
        return path.relative_to(self.output_dir).as_posix()

    def replay(self, path: Path) -> None:
        """Feed the lines of ``path`` after its checkpoint; advance the checkpoint."""
        key = self._key(path)
        try:
            fh = path.open("rb")
        except FileNotFoundError:
            return
        with fh:
            ino = os.fstat(fh.fileno()).st_ino
            cp = self.index.checkpoint.get(key, {"offset": 0, "lines": 0})
            offset, lines = cp["offset"], cp["lines"]
            if cp.get("ino", ino) != ino or os.fstat(fh.fileno()).st_size < offset:
                offset, lines = 0, 0  # replaced by the move journal: read it again
            offset, lines = self._replay_open(fh, offset, lines, path.name == "articles.jsonl")
        self.index.checkpoint[key] = {"offset": offset, "lines": lines, "ino": ino}

    def _replay_open(self, fh: Any, offset: int, lines: int, kept: bool) -> tuple[int, int]:
        batch: list[dict[str, Any]] = []
        for pos, rec in _records(fh, offset):
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
        return offset, lines

    def _prepare(self, batch: list[dict[str, Any]]) -> Any:
        hashes = [
            r.get("content_hash") if isinstance(r.get("content_hash"), str) else None for r in batch
        ]
        return prepare(
            [r["text"] for r in batch], [r["url"] for r in batch], hashes, self.index.params
        )

    def _insert(self, batch: list[dict[str, Any]]) -> None:
        # Records already in the index (written by this crawl) are skipped before
        # their signatures are computed: replay after a save costs little.
        fresh: list[dict[str, Any]] = []
        known: list[tuple[dict[str, Any], int]] = []
        for r in batch:
            row = self.index.lookup_url(url_hash(url_key(r["url"])))
            if row is None:
                fresh.append(r)
            elif self.decide and self.index.kept_record(row)["id"] != r["id"]:
                known.append((r, row))
        if known:  # kept here, not the cluster's kept record in the index
            prep = self._prepare([r for r, _ in known])
            for i, (r, row) in enumerate(known):
                sim = float(estimate(prep.sigs[i], self.index.signatures([row]))[0])
                same = self.index.lookup_hash(int(prep.hash_keys[i])) == row
                self._resolve(r, row, "content_hash" if same else "minhash", sim)
        if not fresh:
            return
        prep = self._prepare(fresh)
        ids = [r["id"] for r in fresh]
        urls = [r["url"] for r in fresh]
        metas = [record_meta(r) for r in fresh]
        if self.decide:
            for r, v in zip(fresh, self.dedup.decide(prep, ids, urls, metas), strict=True):
                if v.match is None:
                    self.added += 1
                else:
                    self._resolve(r, v.row, v.match, v.similarity)
        else:
            self.added += self.dedup.insert_kept(prep, ids, urls, metas)
        self._ids = None

    def _resolve(self, rec: dict[str, Any], row: int, match: str, sim: float) -> None:
        """``rec`` is kept by its portal, ``row``'s cluster keeps another copy: pick one."""
        index = self.index
        kept = index.kept_record(row)
        cluster = str(kept["cluster"])
        rec_cluster = index.cluster_id(str(rec.get("cluster") or rec["id"]))
        won = origin.winner(rec, kept, self.names, index.cited.get(cluster, []))
        lost = kept if won is rec else rec
        final = rec_cluster if won is rec else cluster
        ended = cluster if final == rec_cluster else rec_cluster
        if ended != final:
            index.renamed[ended] = final
            for site_dir in sorted(p.parent for p in self.output_dir.glob("*/articles.jsonl")):
                self.ops.append((site_dir.name, {"op": "relabel", "from": ended, "to": final}))
        index.set_kept({**record_meta(won), "id": won["id"], "url": won["url"], "cluster": final})
        index.add_cited(final, lost.get("source"))
        self.ops.append(
            (
                str(lost.get("site")),
                demote_op(str(lost["id"]), str(won["id"]), sim, match, final),
            )
        )
        logger.info(
            "%s and %s are copies of one article both kept (by runs at the same time, or "
            "a move not applied yet): %s stays, %s moves to its portal's duplicates.jsonl",
            rec.get("url"),
            kept.get("url"),
            won.get("url"),
            lost.get("url"),
        )

    def _alias(self, rec: dict[str, Any]) -> None:
        kept = rec.get("duplicate_of")
        if not isinstance(kept, str):
            self.bad += 1
            return
        if self._ids is None:  # id / cluster -> row, built on the first duplicate that needs it
            self._ids = self._row_map()
        cluster = rec.get("cluster")
        row = None
        if isinstance(cluster, str):
            row = self._ids.get(self.index.cluster_id(cluster), self._ids.get(cluster))
        if row is None:
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
        self.index.add_cited(str(self.index.kept_record(row)["cluster"]), rec.get("source"))
        self.aliases += 1

    def _row_map(self) -> dict[str, int]:
        index = self.index
        index.flush()
        ids: dict[str, int] = {}
        for r in range(len(index)):
            first = index.first_record(r)
            ids.setdefault(str(first["id"]), r)
            ids.setdefault(str(first["cluster"]), r)
        for cluster, kept in index.kept.items():
            row = ids.get(cluster)
            if row is not None:
                ids.setdefault(str(kept.get("id")), row)
        for ended, final in index.renamed.items():
            if final in ids:
                ids.setdefault(ended, ids[final])
        return ids


def _needs_rebuild(index: DedupIndex, output_dir: Path) -> str | None:
    for key, cp in index.checkpoint.items():
        path = output_dir / key
        try:
            size = path.stat().st_size
        except OSError:
            return f"{path} is in the checkpoint but missing"
        same_file = cp.get("ino", path.stat().st_ino) == path.stat().st_ino
        if size < cp["offset"] and same_file:
            return f"{path} has {size} bytes, fewer than the {cp['offset']} indexed (truncated)"
    return None


def sync(
    index: DedupIndex,
    output_dir: Path,
    names: origin.Names | None = None,
    decide: bool = False,
    threshold: float = 1.0,
    skip_site: str | None = None,
) -> Replayer:
    """Replay every output file past its checkpoint (idempotent).

    ``decide``: other portals' kept records go through the decision (see the module
    docstring); ``skip_site``: a portal whose files are left alone (the caller's own,
    already in the index).  Unchanged files cost one ``stat``.
    """
    rep = Replayer(index, output_dir, names, decide, threshold)
    for path in output_files(output_dir):
        if skip_site is not None and path.parent.name == skip_site:
            continue
        if rep.changed(path):
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
    names: origin.Names | None = None,
    threshold: float = 1.0,
) -> DedupIndex:
    """The crawl's index, reopened, replayed or rebuilt (see module docstring).

    Takes the index lock unless the caller holds it (``locked=True``).  With
    ``names``, the replayed tail is decided like :func:`save_shared` does, and the
    moves found are left in ``index.moves`` for the caller.
    """
    if not locked:
        with index_lock(state_dir):
            return open_index(state_dir, output_dir, params, flush_every, True, names, threshold)
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
    index.remove_temporaries()  # an interrupted save's (a full disk, a kill): lock held
    reason = _needs_rebuild(index, output_dir)
    if reason:
        logger.error("dedup index checkpoint ahead of the output (%s): rebuilding it", reason)
        return rebuild(directory, params, output_dir, flush_every)
    rep = sync(index, output_dir, names, decide=names is not None, threshold=threshold)
    index.moves.extend(rep.ops)
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


def save_shared(
    index: DedupIndex,
    state_dir: Path,
    output_dir: Path,
    names: origin.Names | None = None,
    threshold: float = 1.0,
) -> list[Op]:
    """Replay what the stores wrote since the last save, then save, under the lock.

    The replay covers every portal's JSONL, so when another portal's crawl saved
    meanwhile, this save still names every record (the JSONL is the truth), and
    the lock keeps two saves from writing segment files at the same time.
    """
    with index_lock(state_dir):
        # idempotent: records already indexed are skipped; other portals' kept records
        # are decided, so copies two runs kept at the same time are reconciled
        rep = sync(index, output_dir, names, decide=names is not None, threshold=threshold)
        index.save()
    return rep.ops
