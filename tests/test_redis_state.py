"""The switch and the seen store of a Redis crawl, against a real redis-server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from redisserver import RedisServer
from scrapy.settings import Settings

from crawler import settings as project_settings
from crawler.distributed.addon import REDIS_DEDUP, REDIS_SCHEDULER, RedisAddon
from crawler.distributed.connection import RedisLink, RedisStateLost
from crawler.distributed.state import RedisSeenStore
from crawler.ids import url_key


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
    link = RedisLink(redis_server.url, "zhengfa")
    (tmp_path / "state").mkdir()
    link.join(tmp_path / "state")
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
