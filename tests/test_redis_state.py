"""The switch and the seen store of a Redis crawl, against a real redis-server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from redisserver import RedisServer
from scrapy.settings import Settings

from crawler import settings as project_settings
from crawler.distributed.addon import REDIS_DEDUP, REDIS_SCHEDULER, RedisAddon
from crawler.distributed.connection import RedisLink, RedisStateLost
from crawler.distributed.state import RedisSeenStore
from crawler.ids import url_key
from crawler.state import PortalLock


def project() -> Settings:
    return Settings({k: getattr(project_settings, k) for k in dir(project_settings) if k.isupper()})


def test_without_redis_url_nothing_changes() -> None:
    settings = project()
    before = (settings.get("SCHEDULER"), dict(settings.getdict("ITEM_PIPELINES")))
    RedisAddon().update_settings(settings)
    assert (settings.get("SCHEDULER"), dict(settings.getdict("ITEM_PIPELINES"))) == before


def test_redis_url_switches_scheduler_and_dedup_stage() -> None:
    settings = project()
    settings.set("REDIS_URL", "redis://127.0.0.1:1/0", priority="cmdline")
    RedisAddon().update_settings(settings)
    assert settings.get("SCHEDULER") == REDIS_SCHEDULER
    pipelines = settings.getdict("ITEM_PIPELINES")
    assert pipelines["pipelines.dedup.DedupPipeline"] is None
    assert (
        pipelines[REDIS_DEDUP] == project_settings.ITEM_PIPELINES["pipelines.dedup.DedupPipeline"]
    )


def joined(server: RedisServer, tmp_path: Path, **link_args: Any) -> RedisLink:
    """A link that joined the crawl on ``server``, its machine's state in ``tmp_path/state``."""
    link = RedisLink(server.url, "zhengfa", **link_args)
    (tmp_path / "state").mkdir()
    link.join(tmp_path / "state")
    return link


def write_jsonl(path: Path, urls: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for url in urls:
            f.write(json.dumps({"id": "x", "url": url}) + "\n")


def test_seen_set_starts_from_the_output_on_this_machine(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    site_dir = tmp_path / "output" / "scfzw"
    write_jsonl(site_dir / "articles.jsonl", ["http://www.scfzw.net/a/1.html"])
    write_jsonl(site_dir / "old-1" / "duplicates.jsonl", ["http://www.scfzw.net/a/2.html"])
    link = joined(redis_server, tmp_path)
    store = RedisSeenStore(link, "scfzw", tmp_path / "state" / "scfzw" / "h-2", site_dir / "h-2")
    info = store.open()
    assert info.keys == 2
    assert url_key("http://www.scfzw.net/a/2.html") in store
    # another process on another machine sees what this one adds
    other = RedisSeenStore(link, "scfzw", tmp_path / "s2", tmp_path / "o2" / "scfzw" / "h-3")
    assert other.open().keys == 2  # loaded once, not again
    store.add(url_key("http://www.scfzw.net/a/3.html"))
    assert url_key("http://www.scfzw.net/a/3.html") in other
    redis_server.client().flushall()
    with pytest.raises(RedisStateLost):
        store.add(url_key("http://www.scfzw.net/a/4.html"))
    assert redis_server.client().keys("*") == []


def record_line(url: str) -> bytes:
    return (json.dumps({"id": url_key(url), "url": url}) + "\n").encode()


def process_store(link: RedisLink, tmp_path: Path, wid: str) -> RedisSeenStore:
    """The seen store of process ``wid`` (``<host>-<pid>``) of portal scfzw."""
    store = RedisSeenStore(
        link, "scfzw", tmp_path / "state" / "scfzw" / wid, tmp_path / "output" / "scfzw" / wid
    )
    store.open()
    return store


def test_a_claimed_record_is_written_once_whatever_the_kill_point(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    link = joined(redis_server, tmp_path)
    client = redis_server.client()
    one, two = "http://www.scfzw.net/a/1.html", "http://www.scfzw.net/a/2.html"
    folder = tmp_path / "output" / "scfzw"
    # processes h-1 and h-4 are killed below; h-2 goes on; g-7 runs on another host,
    # h-3 on this one
    wrote, claimed, other, elsewhere, running = (
        process_store(link, tmp_path, wid) for wid in ("h-1", "h-4", "h-2", "g-7", "h-3")
    )
    # h-1 killed after writing `two`, before its entry was deleted (at its next claim)
    assert wrote.claim(url_key(two), "articles.jsonl", record_line(two))
    (folder / "h-1").mkdir(parents=True)
    (folder / "h-1" / "articles.jsonl").write_bytes(record_line(two))
    wrote.add(url_key(two))
    # h-4 killed after claiming `one`, before writing it (its file has other records)
    (folder / "h-4").mkdir(parents=True)
    (folder / "h-4" / "duplicates.jsonl").write_bytes(record_line("http://x/0") + b'{"url": "ht')
    assert claimed.claim(url_key(one), "duplicates.jsonl", record_line(one))
    assert client.hlen("zhengfa:pending:scfzw") == 2
    # the worker that fetches both pages again writes neither
    assert not other.claim(url_key(one), "articles.jsonl", record_line(one))
    assert not other.claim(url_key(two), "articles.jsonl", record_line(two))
    # a process of another host and a live one of this host keep theirs
    assert elsewhere.claim("k-g", "articles.jsonl", b'{"url": "http://www.scfzw.net/g"}\n')
    assert running.claim("k-h3", "articles.jsonl", b'{"url": "http://www.scfzw.net/h3"}\n')
    running_lock = PortalLock(tmp_path / "state" / "scfzw" / "h-3.lock", "scfzw")
    running_lock.acquire()
    # closing, it finishes the dead process's write: `one` appended, `two` not doubled
    other.close()
    assert (folder / "h-1" / "articles.jsonl").read_bytes() == record_line(two)
    # the torn last line cut, the claimed record appended
    assert (folder / "h-4" / "duplicates.jsonl").read_bytes() == record_line(
        "http://x/0"
    ) + record_line(one)
    pending = client.hkeys("zhengfa:pending:scfzw")
    assert sorted(pending) == [b"k-g", b"k-h3"]
    running_lock.release()


def test_a_failed_write_gives_its_claim_back(redis_server: RedisServer, tmp_path: Path) -> None:
    link = joined(redis_server, tmp_path)
    store = process_store(link, tmp_path, "h-1")
    url = "http://www.scfzw.net/a/1.html"
    assert store.claim(url_key(url), "articles.jsonl", record_line(url))
    store.release(url_key(url))
    assert url_key(url) not in store
    assert redis_server.client().hlen("zhengfa:pending:scfzw") == 0
    assert store.claim(url_key(url), "articles.jsonl", record_line(url))  # written next time


def test_closing_while_redis_is_away_does_not_hang(
    redis_server: RedisServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from crawler.distributed import state

    monkeypatch.setattr(state, "CLOSE_WAIT", 0.5)
    link = joined(redis_server, tmp_path, retry_max=0.1)
    store = process_store(link, tmp_path, "h-1")
    url = "http://www.scfzw.net/a/1.html"
    assert store.claim(url_key(url), "articles.jsonl", record_line(url))
    store.add(url_key(url))
    redis_server.stop()
    try:
        store.close()  # gives up after CLOSE_WAIT, the entry stays for the next process
    finally:
        redis_server.start()
    assert "Redis unreachable at close" in caplog.text
    assert "zhengfa:pending:scfzw until the next crawl process on this host" in caplog.text
