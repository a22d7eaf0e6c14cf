"""Shared fixtures: the offline replica, started once per test session on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from crawlrun import Replica
from redisserver import RedisServer, have_binary


@pytest.fixture(scope="session")
def replica_url() -> Iterator[str]:
    """Base URL of a replica process shared by the session's read-only crawl tests."""
    replica = Replica()
    try:
        yield replica.url
    finally:
        replica.stop()


@pytest.fixture
def fresh_replica() -> Iterator[Replica]:
    """A replica of its own, for tests that add pages to it."""
    replica = Replica()
    try:
        yield replica
    finally:
        replica.stop()


@pytest.fixture
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A real redis-server of the test's own on a free loopback port (tests/redisserver.py)."""
    missing = have_binary()
    if missing:
        pytest.skip(missing)
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    try:
        yield server
    finally:
        server.stop()
