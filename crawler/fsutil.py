"""Crash-safe file replacement: a temporary file, fsync, rename, fsync of the folder.

Hand-written (a few lines): the maintained atomic-write packages are archived.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from collections.abc import Iterable
from pathlib import Path


def fsync_dir(path: Path) -> None:
    """fsync a directory (a rename in it is durable once this returns)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def create_temp(folder: Path, prefix: str, suffix: str = ".tmp") -> tuple[int, Path]:
    """A new file ``folder/<prefix><random><suffix>``, open for writing: ``(fd, path)``.

    Its mode is what a plain ``open`` gives (0o666 less the umask), so that a file
    renamed into place from it is readable as any other output: ``tempfile.mkstemp``
    makes every file 0o600.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        path = folder / f"{prefix}{secrets.token_hex(6)}{suffix}"
        try:
            return os.open(path, flags, 0o666), path
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name {prefix}*{suffix} in {folder}")


def write_atomic(path: Path, chunks: Iterable[bytes] | bytes, sync_dir: bool = False) -> None:
    """Replace ``path`` by ``chunks``: readers see the old file or the new one, never a part.

    The temporary file is ``.<name>.<pid>.tmp`` beside it, removed again when a write
    fails (a full disk); ``sync_dir`` also makes the rename durable.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as out:
            for chunk in [chunks] if isinstance(chunks, bytes) else chunks:
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    if sync_dir:
        fsync_dir(path.parent)


def append_whole(fd: int, data: bytes) -> None:
    """Append ``data`` to ``fd`` (opened ``O_APPEND``) whole or not at all.

    One ``write`` call unless the disk fills; if a write fails, what was
    written of ``data`` is cut again before the error is raised.
    """
    start = os.lseek(fd, 0, os.SEEK_END)
    view = memoryview(data)
    try:
        while view:
            n = os.write(fd, view)
            if n <= 0:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            view = view[n:]
    except OSError:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, start)
        raise
