"""The move journal: changes to a portal's output decided outside its files' writer.

When a better origin takes a reprint cluster over (:mod:`crawler.dedup.origin`),
the record kept until then must move from its portal's ``articles.jsonl`` to
its ``duplicates.jsonl``; when two clusters merge (two runs kept two copies of
one article at once), the records of one take the other's ``cluster``.  A
portal's files are written only under its lock (``STATE_DIR/<site>.lock``), so
such a change is first appended to ``STATE_DIR/journal/<site>.jsonl``, then
applied by whoever holds that lock: the run deciding it when it is the portal's
own or the portal is idle, else the portal's running (or next) run.

Operations, one JSON object a line:

- ``{"op": "demote", "id": ID, "duplicate_of": ID, "similarity": x, "match": m,
  "cluster": C}``: the record ``ID`` leaves ``articles.jsonl`` and is appended
  to ``duplicates.jsonl`` with those fields;
- ``{"op": "relabel", "from": C1, "to": C2}``: records of cluster ``C1`` get
  ``cluster`` ``C2`` (in both files).

:func:`apply` is idempotent and safe at any kill point: ``duplicates.jsonl`` is
rewritten first (a temporary file, fsync, rename), then ``articles.jsonl``, then
the applied operations leave the journal.  A kill in between leaves the record
in both files, and the next application, still finding the operation, removes
it from ``articles.jsonl`` without appending it twice.  Readers never see a
half-written file.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from crawler.fsutil import write_atomic

logger = logging.getLogger(__name__)

JOURNAL_DIR = "journal"


def demote_op(
    record: str, duplicate_of: str, similarity: float, match: str, cluster: str
) -> dict[str, Any]:
    """The ``demote`` operation (see the module docstring), similarity to 4 places."""
    return {
        "op": "demote",
        "id": record,
        "duplicate_of": duplicate_of,
        "similarity": round(similarity, 4),
        "match": match,
        "cluster": cluster,
    }


def journal_path(state_root: Path, site: str) -> Path:
    """``STATE_DIR/journal/<site>.jsonl``."""
    return state_root / JOURNAL_DIR / f"{site}.jsonl"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[BinaryIO]:
    """The journal file, open for reading and appending, with an exclusive flock."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield fh
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def record(state_root: Path, site: str, ops: list[dict[str, Any]]) -> None:
    """Append ``ops`` to the portal's journal (fsync-ed before returning)."""
    if not ops:
        return
    data = b"".join(json.dumps(op, ensure_ascii=False).encode() + b"\n" for op in ops)
    with _locked(journal_path(state_root, site)) as fh:
        fh.seek(0, os.SEEK_END)
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _read_ops(fh: BinaryIO) -> list[dict[str, Any]]:
    fh.seek(0)
    ops: list[dict[str, Any]] = []
    for line in fh.read().split(b"\n"):
        if not line.strip():
            continue
        try:
            op = json.loads(line)
        except ValueError:
            logger.warning("move journal %s: unreadable line skipped", fh.name)
            continue
        if isinstance(op, dict) and op.get("op") in ("demote", "relabel"):
            ops.append(op)
    return ops


def pending(state_root: Path, site: str) -> list[dict[str, Any]]:
    """The operations waiting in the portal's journal."""
    path = journal_path(state_root, site)
    if not path.exists() or not path.stat().st_size:
        return []
    with _locked(path) as fh:
        return _read_ops(fh)


@dataclass
class Applied:
    """What :func:`apply` did."""

    demoted: list[str] = field(default_factory=list)  # ids moved to duplicates.jsonl
    relabelled: int = 0  # records whose cluster changed
    waiting: int = 0  # operations left in the journal (their record not written yet)
    dropped: int = 0  # operations whose record is in neither file


def _lines(path: Path) -> Iterator[bytes]:
    try:
        fh = path.open("rb")
    except FileNotFoundError:
        return
    with fh:
        yield from fh


def _parse(line: bytes) -> dict[str, Any] | None:
    try:
        rec = json.loads(line)
    except ValueError:
        return None
    return rec if isinstance(rec, dict) else None


def _encode(rec: dict[str, Any]) -> bytes:
    return json.dumps(rec, ensure_ascii=False).encode("utf-8") + b"\n"


def _mentions(line: bytes, needles: list[bytes]) -> bool:
    return any(n in line for n in needles)


def _scan(
    path: Path, needles: list[bytes], demotes: dict[str, Any], renames: dict[str, str]
) -> tuple[dict[str, dict[str, Any]], bool]:
    """Records of ``path`` named by a demotion (by id), and whether one is relabelled."""
    named: dict[str, dict[str, Any]] = {}
    relabel = False
    for line in _lines(path):
        if not _mentions(line, needles):
            continue
        rec = _parse(line)
        if rec is None:
            continue
        if str(rec.get("id")) in demotes:
            named[str(rec["id"])] = rec
        if str(rec.get("cluster")) in renames:
            relabel = True
    return named, relabel


def apply(state_root: Path, site: str, output_dir: Path, keep_missing: bool = False) -> Applied:
    """Apply the portal's journal to ``output_dir`` (``OUTPUT_DIR/<site>``).

    The caller holds the portal's lock.  An operation whose record is in
    neither file waits in the journal when ``keep_missing`` (the record may
    still be on its way to the store), else it is dropped with a log line.
    """
    result = Applied()
    path = journal_path(state_root, site)
    if not path.exists() or not path.stat().st_size:
        return result
    with _locked(path) as fh:
        ops = _read_ops(fh)
        if not ops:
            fh.truncate(0)
            return result
        demotes = {str(op["id"]): op for op in ops if op["op"] == "demote"}
        renames = {str(op["from"]): str(op["to"]) for op in ops if op["op"] == "relabel"}
        # one pass over the articles: the records to move, and whether anything changes
        needles = [f'"{k}"'.encode() for k in (*demotes, *renames)]
        arts_path = output_dir / "articles.jsonl"
        dups_path = output_dir / "duplicates.jsonl"
        moving, arts_relabel = _scan(arts_path, needles, demotes, renames)
        arts_change = bool(moving) or arts_relabel
        in_dups, dups_change = _scan(dups_path, needles, demotes, renames)

        def cluster(value: Any) -> Any:
            seen: set[str] = set()
            while isinstance(value, str) and value in renames and value not in seen:
                seen.add(value)
                value = renames[value]
            return value

        def moved(rec: dict[str, Any]) -> bytes:
            op = demotes[str(rec["id"])]
            out = dict(rec)
            out["cluster"] = cluster(op.get("cluster") or rec.get("cluster"))
            out["duplicate_of"] = op["duplicate_of"]
            out["similarity"] = op.get("similarity", 1.0)
            out["match"] = op.get("match", "minhash")
            return _encode(out)

        def relabelled(line: bytes) -> bytes:
            if not _mentions(line, needles):
                return line
            rec = _parse(line)
            if rec is None or str(rec.get("cluster")) not in renames:
                return line
            rec["cluster"] = cluster(rec["cluster"])
            result.relabelled += 1
            return _encode(rec)

        append = [moved(r) for k, r in moving.items() if k not in in_dups]
        if append or dups_change:

            def dup_lines() -> Iterator[bytes]:
                for line in _lines(dups_path):
                    yield relabelled(line) if dups_change else line
                yield from append

            output_dir.mkdir(parents=True, exist_ok=True)
            write_atomic(dups_path, dup_lines(), sync_dir=True)
        if arts_change:

            def art_lines() -> Iterator[bytes]:
                for line in _lines(arts_path):
                    if _mentions(line, needles):
                        rec = _parse(line)
                        if rec is not None and str(rec.get("id")) in moving:
                            continue
                    yield relabelled(line)

            write_atomic(arts_path, art_lines(), sync_dir=True)
        result.demoted = sorted(moving)
        left: list[dict[str, Any]] = []
        for rec_id, op in demotes.items():
            if rec_id in moving or rec_id in in_dups:
                continue
            if keep_missing:
                left.append(op)
            else:
                result.dropped += 1
                logger.warning(
                    "%s: move of record %s to duplicates.jsonl dropped: it is in neither "
                    "output file (never written)",
                    site,
                    rec_id,
                )
        result.waiting = len(left)
        fh.seek(0)
        fh.truncate(0)
        if left:
            fh.write(b"".join(_encode(op) for op in left))
        fh.flush()
        os.fsync(fh.fileno())
    if result.demoted:
        logger.info(
            "%s: %d record(s) moved to duplicates.jsonl (a better origin was found): %s",
            site,
            len(result.demoted),
            ", ".join(result.demoted),
        )
    return result
