"""crawler.warc and crawler.archive: files, rotation, recovery, errors naming file and offset."""

from __future__ import annotations

import asyncio
import errno
import gzip
import io
import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler
from warcio.archiveiterator import ArchiveIterator

from crawler import settings as project_settings
from crawler.archive import ARCHIVE_ERROR_REASON, WarcArchiveMiddleware
from crawler.spiders.base import BaseNewsSpider
from crawler.warc import (
    ArchivedResponse,
    WarcError,
    WarcFileWriter,
    WarcInfo,
    http_headers,
    is_warc,
    iter_records,
    recover_open_files,
    warcinfo_fields,
)

WHEN = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
PAGE = "<html><head><meta charset=gbk></head><body><p>政法委召开会议</p></body></html>"


def write_pages(directory: Path, n: int, max_bytes: int = 10**9, **kw: Any) -> WarcFileWriter:
    writer = WarcFileWriter(directory, "site", max_bytes, warcinfo_fields("site", "站", "t"), **kw)
    for i in range(n):
        body = gzip.compress((PAGE * (i + 1)).encode("gb18030"))
        writer.write_exchange(
            f"http://example.gov.cn/{i}.html",
            http_headers("GET /x", [(b"Host", b"example.gov.cn")], "HTTP/1.1"),
            http_headers(
                "200 OK",
                [
                    (b"Content-Type", b"text/html; charset=gbk"),
                    (b"Content-Encoding", b"gzip"),
                    (b"Transfer-Encoding", b"chunked"),
                ],
                "HTTP/1.1",
            ),
            body,
            WHEN,
            extra={"Crawler-Page-Kind": "article"},
        )
    return writer


def responses(path: Path) -> list[ArchivedResponse]:
    return [r for r in iter_records(path) if isinstance(r, ArchivedResponse)]


def test_files_are_open_until_finished_then_renamed(tmp_path: Path) -> None:
    writer = write_pages(tmp_path, 3)
    [open_file] = list(tmp_path.iterdir())
    assert open_file.name.endswith(".warc.gz.open")
    assert open_file.name.startswith("site-")
    assert "-00000." in open_file.name
    final = writer.close_file()
    assert final is not None
    assert final.exists()
    assert not open_file.exists()
    records = list(iter_records(final))
    assert isinstance(records[0], WarcInfo)
    assert records[0].fields["isPartOf"] == "site"
    pages = responses(final)
    assert [p.url for p in pages] == [f"http://example.gov.cn/{i}.html" for i in range(3)]
    assert gzip.decompress(pages[0].body) == PAGE.encode("gb18030")
    assert pages[0].header("Content-Encoding") == "gzip"
    # the body was de-chunked below the middleware: the header is kept under another name
    assert pages[0].header("Transfer-Encoding") is None
    assert pages[0].header("X-Archive-Orig-Transfer-Encoding") == "chunked"
    assert pages[0].date == WHEN
    with final.open("rb") as fh:
        types = [r.rec_type for r in ArchiveIterator(fh, check_digests=True)]
    assert types == ["warcinfo"] + ["response", "request"] * 3


def test_files_rotate_by_size_each_with_its_warcinfo(tmp_path: Path) -> None:
    writer = write_pages(tmp_path, 6, max_bytes=1500)
    writer.close_file()
    files = sorted(tmp_path.glob("*.warc.gz"))
    assert len(files) >= 3
    assert [f.name.rsplit("-", 1)[1] for f in files][:2] == ["00000.warc.gz", "00001.warc.gz"]
    for path in files:
        assert isinstance(next(iter(iter_records(path))), WarcInfo)
    assert sum(len(responses(p)) for p in files) == 6


def test_written_offset_reads_back_the_record(tmp_path: Path) -> None:
    writer = WarcFileWriter(tmp_path, "site", 10**9, {"isPartOf": "site"})
    head = http_headers("200 OK", [(b"Content-Type", b"text/html")], "HTTP/1.1")
    req = http_headers("GET /", [], "HTTP/1.1")
    spots = [
        writer.write_exchange(f"http://a.cn/{i}", req, head, b"<p>%d</p>" % i, WHEN)
        for i in range(4)
    ]
    writer.close_file()
    for i, spot in enumerate(spots):
        [rec] = list(iter_records(spot.path, start=spot.offset, stop_after=1))
        assert isinstance(rec, ArchivedResponse)
        assert rec.offset == spot.offset
        assert (rec.url, rec.record_id, rec.body) == (
            f"http://a.cn/{i}",
            spot.record_id,
            b"<p>%d</p>" % i,
        )


def test_a_killed_runs_open_file_is_cut_to_its_last_record_and_renamed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    writer = write_pages(tmp_path, 3)
    [open_file] = list(tmp_path.iterdir())
    data = open_file.read_bytes()
    open_file.write_bytes(data[:-50])  # the last member cut short, as by kill -9 mid-write
    del writer
    with caplog.at_level(logging.WARNING):
        [(final, what)] = recover_open_files(tmp_path, "site")
    assert what == "recovered"
    assert final.name.endswith(".warc.gz")
    assert final.exists()
    assert "unfinished WARC file" in caplog.text
    assert final.name in caplog.text
    # the last exchange lost its request record; the responses before it are whole
    pages = responses(final)
    assert [p.url for p in pages] == [f"http://example.gov.cn/{i}.html" for i in range(3)]
    with final.open("rb") as fh:
        assert sum(1 for _ in ArchiveIterator(fh, check_digests=True)) == 6
    assert gzip.decompress(final.read_bytes())  # every member whole, trailers included


def test_an_open_file_with_no_page_is_set_aside(tmp_path: Path) -> None:
    write_pages(tmp_path, 1)
    [open_file] = list(tmp_path.iterdir())
    open_file.write_bytes(open_file.read_bytes()[:300])  # the warcinfo at most
    [(aside, what)] = recover_open_files(tmp_path, "site")
    assert what == "set_aside"
    assert aside.name.endswith(".warc.gz.partial")
    assert aside.exists()
    assert not list(tmp_path.glob("*.open"))
    assert not list(tmp_path.glob("*.warc.gz"))
    assert recover_open_files(tmp_path, "other") == []


def _cut_at_third_record(path: Path) -> tuple[bytes, int]:
    pages = responses(path)
    return path.read_bytes(), pages[2].offset


@pytest.mark.parametrize("damage", ["truncated", "corrupt"])
def test_a_bad_file_names_the_file_and_offset_after_the_good_records(
    tmp_path: Path, damage: str
) -> None:
    final = write_pages(tmp_path, 4).close_file()
    assert final is not None
    data, third = _cut_at_third_record(final)
    bad = tmp_path / "bad.warc.gz"
    if damage == "truncated":
        bad.write_bytes(data[: third + 200])
    else:
        bad.write_bytes(data[:third] + b"not a record " * 20 + data[third + 100 :])
    seen: list[str] = []

    def read_all() -> None:
        seen.extend(r.url for r in iter_records(bad) if isinstance(r, ArchivedResponse))

    with pytest.raises(WarcError) as caught:
        read_all()
    assert seen == ["http://example.gov.cn/0.html", "http://example.gov.cn/1.html"]
    assert caught.value.path == str(bad)
    if damage == "truncated":
        assert caught.value.offset == third
    else:
        # damage inside gzip members: warcio may read on a little before it fails
        assert third <= caught.value.offset < len(bad.read_bytes())
    assert str(bad) in str(caught.value)
    assert f"offset {caught.value.offset}" in str(caught.value)


def test_plain_uncompressed_warc_is_read(tmp_path: Path) -> None:
    from warcio.warcwriter import WARCWriter

    path = tmp_path / "other.warc"
    with path.open("wb") as fh:
        writer = WARCWriter(fh, gzip=False)
        head = http_headers("200 OK", [(b"Content-Type", b"text/html")], "HTTP/1.0")
        rec = writer.create_warc_record(
            "http://b.cn/1",
            "response",
            payload=io.BytesIO(b"<p>x</p>"),
            length=8,
            http_headers=head,
        )
        writer.write_record(rec)
    assert is_warc(path)
    [page] = responses(path)
    assert (page.url, page.status, page.body) == ("http://b.cn/1", 200, b"<p>x</p>")
    html = tmp_path / "page.html"
    html.write_text("<html></html>")
    assert not is_warc(html)


def test_a_record_whose_bytes_changed_fails_its_digest_naming_file_and_offset(
    tmp_path: Path,
) -> None:
    """Provenance: a body altered after it was archived is an error, not a page."""
    from warcio.warcwriter import WARCWriter

    path = tmp_path / "altered.warc"
    offsets = []
    with path.open("wb") as fh:
        writer = WARCWriter(fh, gzip=False)
        head = http_headers("200 OK", [(b"Content-Type", b"text/html")], "HTTP/1.1")
        for i in range(3):
            body = f"<p>政法委召开第{i}次会议</p>".encode() * 20
            offsets.append(fh.tell())
            writer.write_record(writer.create_warc_record(
                f"http://b.cn/{i}", "response", payload=io.BytesIO(body), length=len(body),
                http_headers=head,
            ))  # fmt: skip
    data = bytearray(path.read_bytes())
    at = data.index("第1次".encode(), offsets[1])
    data[at : at + 3] = "弟".encode()  # one character changed, the length kept
    path.write_bytes(bytes(data))
    seen: list[str] = []
    with pytest.raises(WarcError) as caught:
        seen.extend(r.url for r in iter_records(path) if isinstance(r, ArchivedResponse))
    assert seen == ["http://b.cn/0"]
    assert caught.value.offset == offsets[1]
    assert "digest" in str(caught.value).lower()
    assert str(path) in str(caught.value)


ARCHIVE_SETTINGS = {
    name: getattr(project_settings, name)
    for name in ("ARCHIVE_ENABLED", "ARCHIVE_DIR", "ARCHIVE_MAX_FILE_MB")
}


class _FullDisk(io.FileIO):
    """A file on a disk with ``room`` bytes left: a short write, then ENOSPC."""

    room = 0

    def write(self, data: Any) -> int:
        left = _FullDisk.room - self.tell()
        if left <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return super().write(bytes(data)[:left])


class _Spider(BaseNewsSpider):
    name = "site"
    site = "site"
    site_name = "站"


class _Engine:
    def __init__(self) -> None:
        self.reasons: list[str] = []

    async def close_spider_async(self, reason: str) -> None:
        self.reasons.append(reason)


def test_disk_full_cuts_the_record_logs_once_and_closes_the_crawl(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    asyncio.run(disk_full_scenario(tmp_path, caplog))


async def disk_full_scenario(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    crawler = get_crawler(
        _Spider,
        {
            **ARCHIVE_SETTINGS,
            "OUTPUT_DIR": str(tmp_path / "out"),
            "STATE_DIR": str(tmp_path / "state"),
        },
    )
    crawler.spider = crawler._create_spider()
    middleware = WarcArchiveMiddleware.from_crawler(crawler)
    engine = _Engine()
    crawler.engine = engine  # type: ignore[assignment]
    _FullDisk.room = 3000
    middleware.writer._raw_open = lambda path: _FullDisk(path, "xb")
    body = PAGE.encode("gb18030") * 3
    with caplog.at_level(logging.ERROR):
        for i in range(10):
            request = Request(f"http://example.gov.cn/{i}.html", meta={"kind": "article"})
            response = HtmlResponse(request.url, body=body, request=request)
            assert middleware.process_response(request, response) is response
    await asyncio.sleep(0)  # the close is scheduled, not awaited inside process_response
    errors = [r for r in caplog.records if "disk full writing the WARC archive" in r.getMessage()]
    assert len(errors) == 1
    assert engine.reasons == [ARCHIVE_ERROR_REASON]
    assert crawler.stats.get_value("archive/write_errors") == 1
    archived = crawler.stats.get_value("archive/records")
    assert archived
    assert archived < 10
    # the file was finished with the records before the failure, whole
    [final] = list((tmp_path / "out" / "site" / "warc").iterdir())
    assert final.name.endswith(".warc.gz")
    assert len(responses(final)) == archived


def test_the_request_meta_carries_the_records_position(tmp_path: Path) -> None:
    crawler = get_crawler(
        _Spider,
        {
            **ARCHIVE_SETTINGS,
            "OUTPUT_DIR": str(tmp_path / "out"),
            "STATE_DIR": str(tmp_path / "state"),
        },
    )
    crawler.spider = crawler._create_spider()
    middleware = WarcArchiveMiddleware.from_crawler(crawler)
    request = Request(
        "http://example.gov.cn/a.html", meta={"kind": "article", "list_title": "标题"}
    )
    response = HtmlResponse(request.url, body=b"<p>x</p>", request=request)
    middleware.process_response(request, response)
    cached = HtmlResponse(request.url, body=b"<p>y</p>", request=request, flags=["cached"])
    middleware.process_response(Request(request.url), cached)
    middleware._spider_closed(crawler.spider, "finished")
    ref = request.meta["archive"]
    assert ref["file"].startswith("warc/site-")
    assert ref["file"].endswith(".warc.gz")
    [rec] = responses(tmp_path / "out" / "site" / ref["file"])  # the cached one is not archived
    assert (rec.offset, rec.record_id) == (ref["offset"], ref["record_id"])
    assert rec.warc_fields["Crawler-Page-Kind"] == "article"
    assert rec.warc_fields["Crawler-List-Title"] == "标题"


def test_recovery_reads_files_larger_than_its_chunk(tmp_path: Path) -> None:
    writer = WarcFileWriter(tmp_path, "site", 10**9, {"isPartOf": "site"})
    head = http_headers("200 OK", [(b"Content-Type", b"text/html")], "HTTP/1.1")
    req = http_headers("GET /", [], "HTTP/1.1")
    for i in range(5):  # incompressible bodies: about 1.5 MiB in all, over the 1 MiB chunk
        writer.write_exchange(f"http://a.cn/{i}", req, head, os.urandom(300_000), WHEN)
    [open_file] = list(tmp_path.iterdir())
    open_file.write_bytes(open_file.read_bytes()[:-1000])  # into the last response record
    [(final, what)] = recover_open_files(tmp_path, "site")
    assert what == "recovered"
    assert [r.url for r in responses(final)] == [f"http://a.cn/{i}" for i in range(4)]
    gzip.decompress(final.read_bytes())  # whole members only
