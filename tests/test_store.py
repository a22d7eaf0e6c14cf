"""pipelines.store: whole lines, fsync, partial-line repair at open, disk full, duplicates."""

from __future__ import annotations

import asyncio
import errno
import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
import scrapy
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.utils.test import get_crawler

from crawler import signals as project_signals
from crawler.ids import record_id, url_key
from crawler.items import ArticleItem, DuplicateItem
from crawler.state import SEEN_FILE, portal_state
from pipelines.store import (
    STORE_ERROR_REASON,
    JsonlAppender,
    JsonlStorePipeline,
    SinceFilterPipeline,
    encode_record,
)


class ScfzwSpider(scrapy.Spider):
    name = "scfzw"
    since: str | None = None
    full = False


def article(n: int, **extra: Any) -> ArticleItem:
    url = f"http://www.scfzw.net/a/2021/0902/{n}.html"
    fields: dict[str, Any] = {
        "id": record_id(url),
        "url": url,
        "site": "scfzw",
        "site_name": "四川法制网",
        "title": f"渠县召开平安建设推进会（{n}）",
        "original_title": None,
        "published_at": "2021-09-02T17:33:01+08:00",
        "published_precision": "second",
        "source": "渠县政法委",
        "authors": [],
        "editors": [],
        "responsible_editors": ["李位川"],
        "text": "会议要求，坚持和发展新时代“枫桥经验”。\n把矛盾纠纷化解在基层。",
        "content_hash": f"{n:040x}",
        "fetched_at": "2026-11-22T12:00:00+08:00",
        "encoding": "gb18030",
        "original_script": "simplified",
    }
    fields.update(extra)
    return ArticleItem(**fields)


def duplicate(n: int, of: int) -> DuplicateItem:
    base = article(n)
    return DuplicateItem(
        **{k: getattr(base, k) for k in base.__dataclass_fields__},
        duplicate_of=record_id(article(of).url),
        similarity=0.93,
        match="minhash",
    )


def make_crawler(tmp_path: Path, **settings: Any) -> Crawler:
    crawler = get_crawler(
        ScfzwSpider,
        {
            "OUTPUT_DIR": str(tmp_path / "output"),
            "STATE_DIR": str(tmp_path / "state"),
            "STORE_FSYNC_EVERY": 0,
            **settings,
        },
    )
    crawler.spider = ScfzwSpider()
    return crawler


def open_pipeline(crawler: Crawler) -> JsonlStorePipeline:
    pipe = JsonlStorePipeline.from_crawler(crawler)
    pipe.open_spider()
    return pipe


def close(pipe: JsonlStorePipeline, crawler: Crawler) -> None:
    pipe.close_spider()
    portal_state(crawler).close()


def lines(path: Path) -> list[dict[str, Any]]:
    data = path.read_bytes()
    assert not data or data.endswith(b"\n")
    return [json.loads(line) for line in data.decode("utf-8").splitlines()]


def test_records_are_whole_utf8_lines_with_every_field(tmp_path: Path) -> None:
    crawler = make_crawler(tmp_path)
    pipe = open_pipeline(crawler)
    for n in range(3):
        assert pipe.process_item(article(n)) is not None
    close(pipe, crawler)
    path = tmp_path / "output" / "scfzw" / "articles.jsonl"
    raw = path.read_bytes()
    assert "渠县召开平安建设推进会".encode() in raw  # ensure_ascii=False
    records = lines(path)
    assert [r["url"] for r in records] == [article(n).url for n in range(3)]
    assert set(records[0]) == set(ArticleItem.__dataclass_fields__)
    assert records[0]["quality_flags"] == []
    assert crawler.stats.get_value("store/articles") == 3


def test_each_line_is_one_write(tmp_path: Path) -> None:
    calls: list[int] = []

    class Recording(io.FileIO):
        def write(self, data: Any) -> int:
            calls.append(len(data))
            return super().write(data)

    path = tmp_path / "a.jsonl"
    appender = JsonlAppender(path, Recording(path, "ab"))
    line = encode_record(article(1))
    appender.append(line)
    appender.close()
    assert calls == [len(line)]


def test_duplicates_go_to_their_own_file_through_the_signal(tmp_path: Path) -> None:
    crawler = make_crawler(tmp_path)
    pipe = open_pipeline(crawler)
    pipe.process_item(article(1))
    crawler.signals.send_catch_log(project_signals.duplicate_found, item=duplicate(2, of=1))
    close(pipe, crawler)
    dups = lines(tmp_path / "output" / "scfzw" / "duplicates.jsonl")
    assert len(dups) == 1
    assert dups[0]["duplicate_of"] == record_id(article(1).url)
    assert dups[0]["match"] == "minhash"
    assert crawler.stats.get_value("store/duplicates") == 1
    assert crawler.stats.get_value("store/duplicates/minhash") == 1
    seen = (tmp_path / "state" / "scfzw" / SEEN_FILE).read_text().split()
    assert seen == [url_key(article(1).url), url_key(article(2).url)]


def test_a_url_already_written_is_not_written_again(tmp_path: Path) -> None:
    crawler = make_crawler(tmp_path)
    pipe = open_pipeline(crawler)
    pipe.process_item(article(1))
    close(pipe, crawler)
    # a later run (e.g. -a full=1) meets the same URL, over https this time
    crawler = make_crawler(tmp_path)
    pipe = open_pipeline(crawler)
    with pytest.raises(DropItem, match="already written"):
        pipe.process_item(article(1, url="https://www.scfzw.net/a/2021/0902/1.html"))
    crawler.signals.send_catch_log(project_signals.duplicate_found, item=duplicate(1, of=1))
    close(pipe, crawler)
    assert len(lines(tmp_path / "output" / "scfzw" / "articles.jsonl")) == 1
    assert lines(tmp_path / "output" / "scfzw" / "duplicates.jsonl") == []
    assert crawler.stats.get_value("store/skipped_seen") == 2


def test_partial_last_line_is_cut_at_open_and_counted(tmp_path: Path) -> None:
    out = tmp_path / "output" / "scfzw"
    out.mkdir(parents=True)
    good = encode_record(article(1))
    (out / "articles.jsonl").write_bytes(good + encode_record(article(2))[:100])
    crawler = make_crawler(tmp_path)
    pipe = open_pipeline(crawler)
    pipe.process_item(article(3))
    close(pipe, crawler)
    records = lines(out / "articles.jsonl")
    assert [r["url"] for r in records] == [article(1).url, article(3).url]
    assert crawler.stats.get_value("store/repaired_bytes") == 100
    assert crawler.stats.get_value("store/repaired/articles.jsonl") == 1


def test_fsync_every_n_records_and_at_close(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    real_fsync = os.fsync

    def counting_fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    crawler = make_crawler(tmp_path, STORE_FSYNC_EVERY=3)
    pipe = open_pipeline(crawler)
    monkeypatch.setattr(os, "fsync", counting_fsync)
    assert pipe.articles is not None
    articles_fd = pipe.articles.raw.fileno()
    for n in range(7):
        pipe.process_item(article(n))
    assert crawler.stats.get_value("store/fsyncs") == 2  # after records 3 and 6
    assert synced.count(articles_fd) == 2
    pipe.articles.close()  # what close_spider does first
    assert synced.count(articles_fd) == 3  # record 7 synced at close
    pipe.articles = None
    close(pipe, crawler)


class DiskFull(io.FileIO):
    """A file on a disk with ``room`` bytes left: a short write, then ENOSPC."""

    def __init__(self, path: Path, room: int):
        super().__init__(path, "ab")
        self.room = room

    def write(self, data: Any) -> int:
        if self.room <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        n = super().write(bytes(data[: self.room]))
        self.room -= n
        return n


class FakeEngine:
    def __init__(self) -> None:
        self.reasons: list[str] = []

    async def close_spider_async(self, *, reason: str = "cancelled") -> None:
        self.reasons.append(reason)


def test_disk_full_cuts_the_partial_line_and_closes_the_crawl(tmp_path: Path) -> None:
    asyncio.run(disk_full_scenario(tmp_path))


async def disk_full_scenario(tmp_path: Path) -> None:
    crawler = make_crawler(tmp_path)
    engine = FakeEngine()
    crawler.engine = engine  # type: ignore[assignment]
    pipe = open_pipeline(crawler)
    path = tmp_path / "output" / "scfzw" / "articles.jsonl"
    one = encode_record(article(1))
    assert pipe.articles is not None
    pipe.articles.raw.close()
    pipe.articles = JsonlAppender(path, DiskFull(path, room=len(one) + 40))
    pipe.process_item(article(1))
    with pytest.raises(DropItem, match="write failed"):
        pipe.process_item(article(2))  # 40 bytes fit, then the disk is full
    assert path.read_bytes() == one  # the 40 bytes were cut again
    with pytest.raises(DropItem, match="not writable"):
        pipe.process_item(article(3))
    assert crawler.stats.get_value("store/write_errors") == 1
    assert "No space left" in crawler.stats.get_value("store/error")
    await asyncio.sleep(0)  # the close is scheduled, not awaited inside process_item
    assert engine.reasons == [STORE_ERROR_REASON]
    close(pipe, crawler)
    # only the record that was written is seen: the others are fetched again next time
    seen = (tmp_path / "state" / "scfzw" / SEEN_FILE).read_text().split()
    assert seen == [url_key(article(1).url)]


def test_disk_full_logs_a_clear_error(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    crawler = make_crawler(tmp_path)
    pipe = open_pipeline(crawler)
    path = tmp_path / "output" / "scfzw" / "articles.jsonl"
    assert pipe.articles is not None
    pipe.articles.raw.close()
    pipe.articles = JsonlAppender(path, DiskFull(path, room=0))
    with pytest.raises(DropItem):
        pipe.process_item(article(1))
    close(pipe, crawler)
    assert any("disk full writing" in r.getMessage() for r in caplog.records)
    assert path.read_bytes() == b""


def test_appender_cuts_on_a_failed_single_write(tmp_path: Path) -> None:
    class Broken(io.FileIO):
        def write(self, data: Any) -> int:
            super().write(bytes(data[:10]))
            raise OSError(errno.EIO, "I/O error")

    path = tmp_path / "a.jsonl"
    path.write_bytes(b'{"x": 1}\n')
    appender = JsonlAppender(path, Broken(path, "ab"))
    with pytest.raises(OSError, match="I/O error"):
        appender.append(b'{"x": 2, "y": "long enough"}\n')
    appender.raw.close()
    assert path.read_bytes() == b'{"x": 1}\n'


def test_since_filter_drops_older_and_keeps_undated(tmp_path: Path) -> None:
    crawler = make_crawler(tmp_path)
    spider = crawler.spider
    assert spider is not None
    spider.since = "2021-09-01"  # type: ignore[attr-defined]
    pipe = SinceFilterPipeline.from_crawler(crawler)
    crawler.signals.send_catch_log(scrapy.signals.spider_opened, spider=spider)
    assert (
        pipe.process_item(
            article(1, published_at="2021-09-01T00:00:00+08:00", published_precision="day")
        )
        is not None
    )
    assert pipe.process_item(article(2, published_at=None, published_precision=None)) is not None
    with pytest.raises(DropItem, match="before since"):
        pipe.process_item(article(3, published_at="2021-08-31T23:59:00+08:00"))
    assert crawler.stats.get_value("incremental/before_since") == 1


def test_since_filter_without_since_keeps_everything(tmp_path: Path) -> None:
    crawler = make_crawler(tmp_path)
    pipe = SinceFilterPipeline.from_crawler(crawler)
    crawler.signals.send_catch_log(scrapy.signals.spider_opened, spider=crawler.spider)
    assert (
        pipe.process_item(
            article(1, published_at="1999-01-01T00:00:00+08:00", published_precision="day")
        )
        is not None
    )


def test_a_duplicate_of_itself_never_written_is_the_original(tmp_path: Path) -> None:
    """The dedup index kept a record the store could not write (disk full) in an earlier run."""
    crawler = make_crawler(tmp_path)
    pipe = open_pipeline(crawler)
    crawler.signals.send_catch_log(project_signals.duplicate_found, item=duplicate(1, of=1))
    crawler.signals.send_catch_log(project_signals.duplicate_found, item=duplicate(1, of=1))
    close(pipe, crawler)
    records = lines(tmp_path / "output" / "scfzw" / "articles.jsonl")
    assert [r["url"] for r in records] == [article(1).url]
    assert "duplicate_of" not in records[0]
    assert lines(tmp_path / "output" / "scfzw" / "duplicates.jsonl") == []
    assert crawler.stats.get_value("store/recovered") == 1
