"""A real ``redis-server`` on a free loopback port, for the tests of the Redis crawl.

Never the system service: each server runs in a temporary folder of its own,
without persistence unless asked for, and is stopped by the test that started it.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from pathlib import Path

import redis

from crawler.commands.demo import stop_process

BINARY = "redis-server"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RedisServer:
    """``redis-server`` on 127.0.0.1; :meth:`stop` and :meth:`start` again on the same port."""

    def __init__(self, folder: Path, persist: bool = False) -> None:
        self.folder = folder
        self.port = free_port()
        self.persist = persist
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=5)

    def start(self, persist: bool | None = None) -> None:
        """Start the server (with ``persist``: loading ``dump.rdb`` in its folder if any)."""
        if persist is not None:
            self.persist = persist
        self.folder.mkdir(parents=True, exist_ok=True)
        args = [BINARY, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder)]
        args += ["--appendonly", "no", "--protected-mode", "no"]
        args += ["--save", "3600 1"] if self.persist else ["--save", ""]
        if not self.persist:
            (self.folder / "dump.rdb").unlink(missing_ok=True)
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if self.client().ping():
                    return
            except redis.exceptions.ConnectionError:
                time.sleep(0.02)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self, save: bool = False) -> None:
        """Stop the server (``save``: writing its data to ``dump.rdb`` first)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        if save:  # saved and stopped in one command: no write between the two
            with contextlib.suppress(redis.exceptions.ConnectionError):
                self.client().shutdown(save=True)
            self.proc.wait(timeout=30)
            return
        stop_process(self.proc)
        if not save:
            (self.folder / "dump.rdb").unlink(missing_ok=True)


def have_binary() -> str:
    """Empty when ``redis-server`` is installed, else why the Redis tests are skipped."""
    if shutil.which(BINARY):
        return ""
    return (
        f"{BINARY} not installed (Debian package redis-server; `make test` installs it "
        f"through tests/tools/ensure_debs.sh)"
    )
