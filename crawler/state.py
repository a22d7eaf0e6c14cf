"""Per-portal persistent state: the run lock, JSONL tail repair, the seen-URL store.

Files, for a portal ``<site>``:

- ``STATE_DIR/<site>.lock``: held with ``fcntl.flock`` for the whole run, so
  one run per portal at a time.  The kernel releases the lock when the process
  dies (``kill -9`` included), so a lock is never stale; the file is never
  deleted (deleting a lock file others may have open breaks ``flock``).  It
  holds the pid of the current holder, for the message a refused run prints.
- ``STATE_DIR/<site>/seen``: append-only log of the ``crawler.ids.url_key`` of
  every article written to ``OUTPUT_DIR/<site>/articles.jsonl`` or
  ``duplicates.jsonl``, one key a line.
- ``STATE_DIR/<site>/run.json``: whether the last run read its list pages to
  the end.  Written ``complete: false`` when a run starts and ``true`` when it
  finishes normally with no list-page error.  When it is not ``true`` and output
  exists, the next run is a catch-up: the incremental watermark is off for it,
  so articles the interrupted run never reached (further down the lists than
  the ones it wrote) are still found.
- ``STATE_DIR/<site>/seen.checkpoint``: JSON written by rename, stating that the
  first ``seen_bytes`` of the log hold exactly the keys of the first ``size``
  bytes of each JSONL file (with a SHA-1 of the bytes just before each offset,
  so a rewritten file is noticed).  It also holds the SHA-1 of those
  ``seen_bytes`` (``seen_sha1``, kept up to date as keys are appended), the
  number of keys (``keys``) and of JSONL lines without a usable key
  (``unusable``): at start the log's bytes must match the checksum and the
  keys plus unusable lines must equal the JSONL's lines up to the checkpoint
  (newlines counted), so a bit flip, overwritten bytes or a truncation of the
  log, even with a checkpoint edited to match, are found and the set is
  rebuilt from the JSONL.

The JSONL output is the truth.  At start the log is trusted up to the
checkpoint and the JSONL written after the checkpoint is replayed (that is
the tail a killed run left: usually a few lines); the log is cut back to the
checkpoint and the replayed keys appended, so a key with no record is dropped
and a record with no key is added.  When the checkpoint is missing, corrupt or
disagrees with the files, the whole set is rebuilt from the JSONL and the log
rewritten, with a log line saying why; the store is never started empty while
output exists.

The JSONL files themselves are repaired by ``repair_jsonl_tail``: a last line
with no newline (a write cut by ``kill -9``, a full disk or a power loss) or
that does not parse as JSON is cut with ``ftruncate``.  This runs while the
lock is held and before any pipeline opens the files.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import re
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crawler import journal
from crawler.fsutil import append_whole, write_atomic
from crawler.ids import url_key

logger = logging.getLogger(__name__)

ARTICLES_FILE = "articles.jsonl"
DUPLICATES_FILE = "duplicates.jsonl"
OUTPUT_FILES = (ARTICLES_FILE, DUPLICATES_FILE)
SEEN_FILE = "seen"
CHECKPOINT_FILE = "seen.checkpoint"
RUN_FILE = "run.json"
CHECKPOINT_VERSION = 2
_TAIL_HASH_BYTES = 4096
_READ_BLOCK = 1 << 16
# The url of a record as ``encode_record`` writes it (``id`` first, ``url`` second, no
# escapes): read without parsing the whole line, 2x faster rebuilds; others are parsed.
_URL_FIELD = re.compile(rb'\{"id": "[0-9a-f]*", "url": "([^"\\]*)"')
_MAX_TAIL_CUTS = 100  # trailing unparsable lines cut at most; beyond that the file is left alone
# seconds a run waits for a portal lock held by another run applying the portal's move
# journal (a rewrite of its two files), instead of exiting 75 at once
JOURNAL_LOCK_WAIT = 30.0


def site_of(spider: Any) -> str:
    """The portal's output name: ``spider.site`` when set, else ``spider.name``."""
    return str(getattr(spider, "site", "") or spider.name)


# --- JSONL tail repair ----------------------------------------------------------


def _after_last_newline(fd: int, limit: int) -> int:
    """Offset just after the last ``\\n`` in bytes ``[0, limit)`` of ``fd``; 0 if none."""
    pos = limit
    while pos > 0:
        start = max(0, pos - _READ_BLOCK)
        idx = os.pread(fd, pos - start, start).rfind(b"\n")
        if idx >= 0:
            return start + idx + 1
        pos = start
    return 0


def _parses(data: bytes) -> bool:
    try:
        json.loads(data)
    except ValueError:
        return False
    return True


def repair_jsonl_tail(path: Path | str) -> int:
    """Cut a partial or unparsable last line of a JSONL file; return the bytes cut.

    A last line without ``\\n`` is always cut (it is a write that did not
    finish); then trailing lines that do not parse as JSON are cut (blocks of
    NUL bytes a power loss can leave).  Lines before the last valid one are
    never touched.  Missing files are fine (0).  Call it only while holding the
    portal lock: it must not race a writer.
    """
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return 0
    try:
        size = os.fstat(fd).st_size
        end = size
        if end and os.pread(fd, 1, end - 1) != b"\n":
            end = _after_last_newline(fd, end)  # an unfinished write
        for _ in range(_MAX_TAIL_CUTS):
            if end == 0:
                break
            start = _after_last_newline(fd, end - 1)
            line = os.pread(fd, end - start, start)
            if line.strip() and _parses(line):
                break
            end = start
        cut = size - end
        if cut:
            os.ftruncate(fd, end)
            os.fsync(fd)
            logger.warning(
                "%s: cut %d bytes of an incomplete or unreadable last record at byte %d "
                "(a previous run was interrupted while writing)",
                path,
                cut,
                end,
            )
        return cut
    finally:
        os.close(fd)


def iter_jsonl_keys(path: Path, start: int = 0) -> Iterator[str]:
    """``url_key`` of the ``url`` of each record in ``path`` from byte ``start``.

    Lines that do not parse or carry no URL are skipped with a warning: they
    cannot be crawled again by URL anyway.
    """
    try:
        fh = path.open("rb")
    except FileNotFoundError:
        return
    with fh:
        fh.seek(start)
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            fast = _URL_FIELD.match(line)
            if fast:
                url: Any = fast.group(1).decode("utf-8", "replace")
            else:
                try:
                    url = json.loads(line).get("url")
                except (ValueError, AttributeError):
                    url = None
            if not isinstance(url, str) or not url:
                logger.warning(
                    "%s: record %d after byte %d has no readable url", path, lineno, start
                )
                continue
            yield url_key(url)


def _count_lines(path: Path, size: int | None, start: int = 0) -> int:
    """Newlines in bytes ``[start, size)`` of ``path`` (to its end when ``size`` is None)."""
    try:
        fh = path.open("rb")
    except FileNotFoundError:
        return 0
    count = 0
    with fh:
        fh.seek(start)
        left = None if size is None else max(0, size - start)
        while left is None or left > 0:
            chunk = fh.read(_READ_BLOCK * 16 if left is None else min(left, _READ_BLOCK * 16))
            if not chunk:
                break
            count += chunk.count(b"\n")
            if left is not None:
                left -= len(chunk)
    return count


def _tail_sha1(path: Path, size: int) -> str:
    with path.open("rb") as fh:
        start = max(0, size - _TAIL_HASH_BYTES)
        fh.seek(start)
        return hashlib.sha1(fh.read(size - start)).hexdigest()


# --- the lock ---------------------------------------------------------------------


class PortalLocked(RuntimeError):
    """Another run of the same portal holds its lock."""

    def __init__(self, site: str, path: Path, pid: int | None):
        self.site, self.path, self.pid = site, path, pid
        holder = f"process {pid}" if pid else "another process"
        super().__init__(
            f"{site}: another run of this portal is in progress ({holder} holds {path}); "
            f"this run stops without writing anything"
        )


class PortalLock:
    """``fcntl.flock`` on ``STATE_DIR/<site>.lock``, released by the kernel on exit."""

    def __init__(self, path: Path, site: str):
        self.path = path
        self.site = site
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, purpose: str = "") -> None:
        """Take the lock or raise ``PortalLocked`` at once.

        The one wait: while the holder is another run applying this portal's move
        journal (``purpose="journal"``, a short rewrite), up to ``JOURNAL_LOCK_WAIT``
        seconds.
        """
        if self._fd is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + JOURNAL_LOCK_WAIT
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                holder = os.pread(fd, 64, 0).decode("ascii", "replace").split()
                if (
                    exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN)
                    and holder[1:] == ["journal"]
                    and not purpose
                    and time.monotonic() < deadline
                ):
                    time.sleep(0.05)
                    continue
                pid: int | None = None
                with contextlib.suppress(ValueError, IndexError):
                    pid = int(holder[0]) or None
                os.close(fd)
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise PortalLocked(self.site, self.path, pid) from None
                raise
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()} {purpose}".strip().encode("ascii") + b"\n", 0)
        except OSError as exc:
            os.close(fd)
            raise OSError(exc.errno, exc.strerror, str(self.path)) from None
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


# --- the seen-URL store --------------------------------------------------------------


@dataclass
class SeenOpenInfo:
    """How the seen store was loaded (logged and put in stats)."""

    keys: int = 0
    rebuilt: bool = False
    reason: str = ""
    replayed: int = 0  # keys added from JSONL written after the checkpoint
    dropped: int = 0  # log entries after the checkpoint that had no record


class SeenStore:
    """The url keys of every article written for one portal.

    ``open()`` loads and reconciles (see the module docstring); ``add(key)``
    appends one key with a single ``write``; ``checkpoint()`` records that the
    log and the JSONL files agree at their current sizes (call it after the
    JSONL files are synced).
    """

    def __init__(self, state_dir: Path, output_dir: Path):
        self.dir = state_dir
        self.output_dir = output_dir
        self.log_path = state_dir / SEEN_FILE
        self.checkpoint_path = state_dir / CHECKPOINT_FILE
        self.keys: set[str] = set()
        self._fd: int | None = None
        self._sha = hashlib.sha1()  # of the log's bytes, updated on every append
        self._unusable = 0  # JSONL lines that give no key (unreadable, or a key twice)

    def __contains__(self, key: object) -> bool:
        return key in self.keys

    def __len__(self) -> int:
        return len(self.keys)

    def _outputs(self) -> dict[str, Path]:
        return {name: self.output_dir / name for name in OUTPUT_FILES}

    def _read_checkpoint(self) -> tuple[dict[str, Any] | None, str]:
        try:
            raw = self.checkpoint_path.read_bytes()
        except FileNotFoundError:
            return None, "no checkpoint"
        try:
            cp = json.loads(raw)
            if not isinstance(cp, dict) or cp.get("version") != CHECKPOINT_VERSION:
                return None, "checkpoint of another version"
            int(cp["seen_bytes"])
            int(cp["keys"])
            int(cp["unusable"])
            str(cp["seen_sha1"])
            for name in OUTPUT_FILES:
                int(cp["outputs"][name]["size"])
                str(cp["outputs"][name]["tail_sha1"])
        except (ValueError, KeyError, TypeError):
            return None, "checkpoint unreadable"
        return cp, ""

    def _verify(self, cp: dict[str, Any]) -> str:
        """Empty when the checkpoint agrees with the files, else why not."""
        try:
            log_size = self.log_path.stat().st_size
        except FileNotFoundError:
            return "seen log missing"
        if log_size < int(cp["seen_bytes"]):
            return "seen log shorter than its checkpoint"
        for name, path in self._outputs().items():
            size = int(cp["outputs"][name]["size"])
            try:
                actual = path.stat().st_size
            except FileNotFoundError:
                actual = 0
            if actual < size:
                return f"{name} is shorter than when the seen store last matched it"
            if size and _tail_sha1(path, size) != cp["outputs"][name]["tail_sha1"]:
                return f"{name} was rewritten since the seen store last matched it"
            if not size and cp["outputs"][name]["tail_sha1"] != hashlib.sha1(b"").hexdigest():
                return "checkpoint inconsistent"
        return ""

    def _load_log(self, cp: dict[str, Any]) -> tuple[set[str] | None, str]:
        """The keys of the checkpointed log, or None and why they cannot be trusted."""
        nbytes = int(cp["seen_bytes"])
        with self.log_path.open("rb") as fh:
            data = fh.read(nbytes)
        if hashlib.sha1(data).hexdigest() != cp["seen_sha1"]:
            return None, "seen log does not match its checksum (altered or cut)"
        if nbytes and not data.endswith(b"\n"):
            return None, "seen log unreadable"
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return None, "seen log unreadable"
        keys = set(text.split("\n")[:-1]) if text else set()
        lines = sum(
            _count_lines(path, int(cp["outputs"][name]["size"]))
            for name, path in self._outputs().items()
        )
        if len(keys) != int(cp["keys"]) or len(keys) + int(cp["unusable"]) != lines:
            return None, (
                f"seen log holds {len(keys)} keys for {lines} records of the output "
                f"({cp['unusable']} without a key)"
            )
        self._sha = hashlib.sha1(data)
        self._unusable = int(cp["unusable"])
        return keys, ""

    def open(self) -> SeenOpenInfo:
        """Load the keys, reconcile with the JSONL output, open the log for appending."""
        self.dir.mkdir(parents=True, exist_ok=True)
        info = SeenOpenInfo()
        cp, reason = self._read_checkpoint()
        keys: set[str] | None = None
        if cp is not None:
            reason = self._verify(cp)
            if not reason:
                keys, reason = self._load_log(cp)
        if keys is not None and cp is not None:
            seen_bytes = int(cp["seen_bytes"])
            log_size = self.log_path.stat().st_size
            replay = [
                key
                for name, path in self._outputs().items()
                for key in iter_jsonl_keys(path, int(cp["outputs"][name]["size"]))
            ]
            fresh = [key for key in dict.fromkeys(replay) if key not in keys]
            tail_lines = sum(
                _count_lines(path, None, int(cp["outputs"][name]["size"]))
                for name, path in self._outputs().items()
            )
            self._unusable += tail_lines - len(fresh)
            # entries after the checkpoint: those with a record come back through ``fresh``
            after = self._load_tail_entries(seen_bytes, log_size)
            info.dropped = len(after - set(fresh) - keys)
            fd = os.open(self.log_path, os.O_WRONLY)
            try:
                os.ftruncate(fd, seen_bytes)
            finally:
                os.close(fd)
            keys.update(fresh)
            self.keys = keys
            self._open_log()
            if fresh:
                self._append_many(fresh)
            info.replayed = len(fresh)
        else:
            has_output = any(p.exists() and p.stat().st_size for p in self._outputs().values())
            has_log = self.log_path.exists()
            self.keys = set()
            lines = 0
            for path in self._outputs().values():
                self.keys.update(iter_jsonl_keys(path))
                lines += _count_lines(path, None)
            self._unusable = lines - len(self.keys)
            data = "".join(f"{k}\n" for k in sorted(self.keys)).encode("utf-8")
            write_atomic(self.log_path, data)
            self._sha = hashlib.sha1(data)
            self._open_log()
            if has_output or has_log:
                info.rebuilt = True
                info.reason = reason
                logger.warning(
                    "%s: seen store rebuilt from %s (%s): %d url keys",
                    self.log_path,
                    self.output_dir,
                    reason,
                    len(self.keys),
                )
        info.keys = len(self.keys)
        self.checkpoint()
        return info

    def _load_tail_entries(self, start: int, end: int) -> set[str]:
        if end <= start:
            return set()
        with self.log_path.open("rb") as fh:
            fh.seek(start)
            data = fh.read(end - start)
        return {line for line in data.decode("utf-8", "replace").split("\n") if line}

    def _open_log(self) -> None:
        self._fd = os.open(self.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def _append_many(self, keys: list[str]) -> None:
        assert self._fd is not None
        data = "".join(f"{k}\n" for k in keys).encode("utf-8")
        append_whole(self._fd, data)
        self._sha.update(data)

    def claim(self, key: str, file: str, line: bytes) -> bool:
        """Before ``line`` (the record of ``key``) is appended to ``file``: False when
        ``key`` was written already.  ``add(key)`` follows a successful write,
        ``release(key)`` a failed one.  Here nothing more than a look: the log is
        reconciled with the JSONL files at open (a Redis crawl claims in Redis,
        ``crawler.distributed.state``)."""
        return key not in self

    def release(self, key: str) -> None:
        """The write claimed for ``key`` failed (see ``claim``): nothing to undo here."""

    def add(self, key: str) -> None:
        """Record ``key`` (already written to the JSONL output)."""
        if key in self.keys or "\n" in key:
            return
        if self._fd is None:
            raise RuntimeError("seen store not open")
        # in memory first: a failed write below must not let this run write the record twice
        self.keys.add(key)
        data = f"{key}\n".encode()
        append_whole(self._fd, data)
        self._sha.update(data)

    def sync(self) -> None:
        if self._fd is not None:
            os.fsync(self._fd)

    def checkpoint(self) -> None:
        """Record that the log and the JSONL files agree now (JSONL synced by the caller)."""
        if self._fd is None:
            return
        self.sync()
        outputs: dict[str, dict[str, Any]] = {}
        for name, path in self._outputs().items():
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                size = 0
            tail = _tail_sha1(path, size) if size else hashlib.sha1(b"").hexdigest()
            outputs[name] = {"size": size, "tail_sha1": tail}
        cp = {
            "version": CHECKPOINT_VERSION,
            "seen_bytes": os.fstat(self._fd).st_size,
            "seen_sha1": self._sha.hexdigest(),
            "keys": len(self.keys),
            "unusable": self._unusable,
            "outputs": outputs,
        }
        write_atomic(self.checkpoint_path, json.dumps(cp, indent=1).encode("utf-8"))

    def close(self) -> None:
        if self._fd is None:
            return
        try:
            self.checkpoint()
        finally:
            os.close(self._fd)
            self._fd = None


# --- per-crawl state shared by the extension, the middleware and the store ------------


@dataclass
class PortalState:
    """What one crawl of one portal shares: paths, the lock, the seen store, the watermark."""

    site: str
    output_dir: Path  # OUTPUT_DIR/<site>
    state_dir: Path  # STATE_DIR/<site>
    lock: PortalLock
    seen: SeenStore
    seen_info: SeenOpenInfo | None = None
    had_records: bool = False  # articles.jsonl held records when the run started
    repaired: dict[str, int] = field(default_factory=dict)  # file -> bytes cut at start
    # start URL -> {"list_pages": n, "last_page": n, "stopped_at": url, "stop": why}
    watermark: dict[str, dict[str, Any]] = field(default_factory=dict)
    # the previous run did not read its list pages to the end (killed, stopped, list-page
    # errors, or unknown while output exists): this run reads them all (see ``open``)
    catch_up: bool = False
    state_root: Path | None = None  # STATE_DIR (the move journal lives there)
    _opened: bool = False

    @property
    def run_path(self) -> Path:
        return self.state_dir / RUN_FILE

    @property
    def articles_path(self) -> Path:
        return self.output_dir / ARTICLES_FILE

    @property
    def duplicates_path(self) -> Path:
        return self.output_dir / DUPLICATES_FILE

    def open(self) -> None:
        """Take the lock, repair the JSONL tails, load the seen store (once)."""
        if self._opened:
            return
        self.lock.acquire()
        self._clean_temporaries()
        for name in OUTPUT_FILES:
            cut = repair_jsonl_tail(self.output_dir / name)
            if cut:
                self.repaired[name] = cut
        try:
            self.had_records = self.articles_path.stat().st_size > 0
        except FileNotFoundError:
            self.had_records = False
        self.seen_info = self.seen.open()
        self.apply_journal(keep_missing=False)
        previous = self._read_run()
        self.catch_up = self.had_records and previous.get("complete") is not True
        if self.catch_up:
            logger.info(
                "%s: the previous run did not read its list pages to the end (%s); this run "
                "reads every list page (articles already written are still skipped)",
                self.site,
                previous.get("why") or "no record of it",
            )
        self.mark_run(False, "running, or killed")
        self._opened = True

    def _clean_temporaries(self) -> None:
        """Remove what an interrupted write left (a full disk, a kill): lock held.

        Temporary files (``.<name>.<pid>.tmp``) in the portal's state and output
        folders and its ``runs/``, and empty run summaries.
        """
        found = [
            p
            for folder in (self.state_dir, self.output_dir, self.output_dir / "runs")
            if folder.is_dir()
            for p in folder.glob(".*.tmp")
        ]
        runs = self.output_dir / "runs"
        if runs.is_dir():
            found += [p for p in runs.glob("*.json") if p.stat().st_size == 0]
        for path in found:
            with contextlib.suppress(OSError):
                path.unlink()
        if found:
            logger.info(
                "%s: removed %d temporary or empty file(s) an interrupted run left: %s",
                self.site,
                len(found),
                ", ".join(sorted(p.name for p in found)),
            )

    def _read_run(self) -> dict[str, Any]:
        try:
            data = json.loads(self.run_path.read_bytes())
        except (FileNotFoundError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def mark_run(self, complete: bool, why: str) -> None:
        """Record whether this run read its list pages to the end (``STATE_DIR/<site>/run.json``).

        Written ``False`` at start, so a killed run leaves ``False`` behind.
        """
        record = {"complete": complete, "why": why, "pid": os.getpid()}
        write_atomic(self.run_path, json.dumps(record).encode("utf-8"))

    def apply_journal(self, keep_missing: bool = True) -> journal.Applied:
        """Apply the moves other runs (or this one) recorded for this portal (lock held)."""
        if self.state_root is None:
            return journal.Applied()
        result = journal.apply(self.state_root, self.site, self.output_dir, keep_missing)
        if result.demoted or result.relabelled:
            self.seen.checkpoint()  # the files were rewritten; the keys are the same
        return result

    def close(self) -> None:
        if not self._opened:
            return
        self._opened = False
        try:
            self.seen.close()
        finally:
            self.lock.release()
        if self.state_root is not None and journal.pending(self.state_root, self.site):
            # recorded by another run after this one's last application, before the
            # lock was released: apply it now rather than at the next run
            apply_pending(self.state_root, self.output_dir.parent, self.site)


def apply_pending(state_root: Path, output_root: Path, site: str) -> bool:
    """Apply ``site``'s move journal when no run of it holds its lock; True when applied."""
    if not journal.pending(state_root, site):
        return True
    lock = PortalLock(state_root / f"{site}.lock", site)
    try:
        lock.acquire(purpose="journal")
    except PortalLocked:
        return False  # the running portal applies it (at its close at the latest)
    try:
        out = output_root / site
        for name in OUTPUT_FILES:
            repair_jsonl_tail(out / name)
        seen = SeenStore(state_root / site, out)
        seen.open()
        try:
            journal.apply(state_root, site, out, keep_missing=False)
        finally:
            seen.close()
    finally:
        lock.release()
    return True


_STATES: weakref.WeakKeyDictionary[Any, PortalState] = weakref.WeakKeyDictionary()


def close_portal_state(crawler: Any) -> None:
    """Close ``crawler``'s portal state if it was opened: lock released, pending moves applied."""
    state = _STATES.pop(crawler, None)
    if state is not None:
        state.close()


def portal_state(crawler: Any) -> PortalState:
    """The ``PortalState`` of ``crawler``'s portal, opened (lock taken) on first call.

    Raises ``PortalLocked`` when another run of the portal holds the lock.
    """
    state = _STATES.get(crawler)
    if state is None:
        if crawler.spider is None:
            raise RuntimeError("portal state needs the crawler's spider")
        if crawler.settings.get("REDIS_URL"):  # per-process folders, seen store in Redis
            from crawler.distributed.state import redis_portal_state

            _STATES[crawler] = state = redis_portal_state(crawler)
            state.open()
            return state
        site = site_of(crawler.spider)
        out_root = Path(crawler.settings.get("OUTPUT_DIR") or "output")
        state_root = Path(crawler.settings.get("STATE_DIR") or "state")
        state = PortalState(
            site=site,
            output_dir=out_root / site,
            state_dir=state_root / site,
            lock=PortalLock(state_root / f"{site}.lock", site),
            seen=SeenStore(state_root / site, out_root / site),
            state_root=state_root,
        )
        _STATES[crawler] = state
    state.open()
    return state
