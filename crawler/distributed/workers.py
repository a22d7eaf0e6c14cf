"""The name of this crawl process among the workers: ``<host>-<pid>``."""

from __future__ import annotations

import os
import re
import socket


def worker_id() -> str:
    """``<host>-<pid>``: the folder of this process's output and its name in Redis."""
    host = re.sub(r"[^A-Za-z0-9_.-]", "_", socket.gethostname()) or "host"
    return f"{host}-{os.getpid()}"
