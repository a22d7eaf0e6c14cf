"""End to end: the WARC archive of real crawls, and ``reprocess`` of it into a new folder.

Every seed portal is crawled (the order ``make demo`` uses) with the archive on
(the default); the archive is then read back with warcio, checked against the
bytes the replica served, and fed to ``python -m crawler reprocess``, which must
give the crawl's records (``fetched_at`` aside: it comes from the WARC date).
"""

from __future__ import annotations

import gzip
import io
import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from crawlrun import ROOT, CrawlResult, Replica, crawl, crawl_cmd
from warcio.archiveiterator import ArchiveIterator

from crawler.replica.sites import Replica as ReplicaSites
from crawler.warc import OPEN_SUFFIX, iter_records

pytestmark = pytest.mark.e2e

ORDER = ["cri", "dali", "docin", "lnzf", "scfzw"]


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def warc_files(output: Path) -> list[Path]:
    return sorted(output.glob("*/warc/*.warc.gz"))


def reprocess(*args: str, timeout: float = 300.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crawler", "reprocess", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# Page work in the crawl process: records then reach duplicate detection in the order the
# responses arrived (with worker processes, two copies of a reprint on one portal fetched
# at the same moment are decided in whichever order the workers finish).  ``reprocess``
# keeps archive order with any -j, so its decisions are comparable record for record.
IN_ORDER = {"PAGE_WORKERS": "0"}


@pytest.fixture(scope="module")
def crawled(replica_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, CrawlResult]:
    workdir = tmp_path_factory.mktemp("archive")
    return {site: crawl(site, replica_url, workdir, settings=IN_ORDER) for site in ORDER}


@pytest.fixture(scope="module")
def output(crawled: dict[str, CrawlResult]) -> Path:
    for site, result in crawled.items():
        assert result.returncode == 0, f"{site}: {result.stderr[-3000:]}"
    return next(iter(crawled.values())).output_dir


@pytest.fixture(scope="module")
def reprocessed(output: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("reprocessed") / "output"
    # the default: page worker processes (PAGE_WORKERS)
    done = reprocess(*(str(p) for p in warc_files(output)), "--out", str(out))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert "→ " in done.stderr.splitlines()[-1]  # the summary line
    return out


def test_every_file_is_complete_and_read_by_warcio(output: Path) -> None:
    files = warc_files(output)
    assert {f.parent.parent.name for f in files} == set(ORDER)
    assert not list(output.glob(f"*/warc/*{OPEN_SUFFIX}"))
    for path in files:
        assert path.name.startswith(path.parent.parent.name + "-")
        with path.open("rb") as fh:
            # check_digests: warcio raises on a block or payload digest that does not match
            records = [
                (r.rec_type, dict(r.rec_headers.headers), r.content_stream().read())
                for r in ArchiveIterator(fh, check_digests=True)
            ]
        assert records[0][0] == "warcinfo"
        assert b"isPartOf: " + path.parent.parent.name.encode() in records[0][2]
        responses = {h["WARC-Record-ID"]: h for t, h, _ in records if t == "response"}
        requests = [h for t, h, _ in records if t == "request"]
        assert responses
        # every response has its request record, pointing at it
        assert sorted(h["WARC-Concurrent-To"] for h in requests) == sorted(responses)
        for headers in responses.values():
            assert headers["WARC-Target-URI"].startswith("http")


def test_every_response_is_archived_list_article_robots(output: Path) -> None:
    for site in ORDER:
        urls: dict[str, str] = {}
        for path in sorted((output / site / "warc").glob("*.warc.gz")):
            for rec in iter_records(path):
                if hasattr(rec, "url"):
                    urls[rec.url] = rec.warc_fields.get("Crawler-Page-Kind", "")
        assert urls[next(u for u in urls if u.endswith("/robots.txt"))] == "other", site
        assert "list" in urls.values(), site
        articles = {
            r["url"]
            for n in ("articles", "duplicates")
            for r in read_jsonl(output / site / f"{n}.jsonl")
        }
        assert articles <= {u for u, k in urls.items() if k == "article"}


def test_archived_bytes_are_the_bytes_as_sent(output: Path) -> None:
    """GB18030 bytes, gzip-compressed by the server: archived compressed, byte for byte."""
    sites = ReplicaSites()
    record = read_jsonl(output / "scfzw" / "articles.jsonl")[0]
    ref = record["archive"]
    path = output / "scfzw" / ref["file"]
    rec = next(iter(iter_records(path, start=ref["offset"], stop_after=1)))
    assert not isinstance(rec, type(None))
    assert rec.url == record["url"]
    assert rec.record_id == ref["record_id"]
    served = sites.lookup("www.scfzw.net", record["url"].split("www.scfzw.net", 1)[1])
    assert served is not None
    assert served.gzipped is not None
    assert rec.header("Content-Encoding") == "gzip"  # type: ignore[union-attr]
    assert "gb2312" in (rec.header("Content-Type") or "")  # type: ignore[union-attr]
    assert rec.body == served.gzipped  # type: ignore[union-attr]
    assert gzip.decompress(rec.body) == served.body  # type: ignore[union-attr]


def test_every_record_points_to_its_page_in_the_archive(output: Path) -> None:
    for site in ORDER:
        for name in ("articles", "duplicates"):
            for record in read_jsonl(output / site / f"{name}.jsonl"):
                ref = record["archive"]
                assert not Path(ref["file"]).is_absolute()
                rec = next(iter(iter_records(output / site / ref["file"], ref["offset"], 1)))
                assert getattr(rec, "url", None) == record["url"]
                assert getattr(rec, "record_id", None) == ref["record_id"]
                assert getattr(rec, "offset", None) == ref["offset"]


def _comparable(record: dict[str, Any], site_dir: Path) -> dict[str, Any]:
    out = dict(record)
    out.pop("fetched_at")
    ref = dict(out.pop("archive"))
    ref["file"] = str((site_dir / ref["file"]).resolve())
    out["archive"] = ref
    return out


def test_reprocess_gives_the_crawls_records(output: Path, reprocessed: Path) -> None:
    compared = 0
    for site in ORDER:
        for name in ("articles", "duplicates"):
            crawl_records = read_jsonl(output / site / f"{name}.jsonl")
            again = read_jsonl(reprocessed / site / f"{name}.jsonl")
            a = {r["id"]: _comparable(r, output / site) for r in crawl_records}
            b = {r["id"]: _comparable(r, reprocessed / site) for r in again}
            assert a == b, (site, name)
            compared += len(a)
    assert compared >= 30


def test_reprocess_fetched_at_is_the_warc_date(output: Path, reprocessed: Path) -> None:
    china = ZoneInfo("Asia/Shanghai")
    for record in read_jsonl(reprocessed / "scfzw" / "articles.jsonl"):
        ref = record["archive"]
        rec = next(iter(iter_records(ref["file"], ref["offset"], 1)))
        when: datetime = rec.date  # type: ignore[union-attr]
        assert record["fetched_at"] == when.astimezone(china).isoformat(timespec="seconds")


def test_no_archive_when_turned_off(replica_url: str, tmp_path: Path) -> None:
    result = crawl("scfzw", replica_url, tmp_path, settings={"ARCHIVE_ENABLED": "False"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert not (tmp_path / "output" / "scfzw" / "warc").exists()
    records = result.records("scfzw")
    assert records
    assert all(r["archive"] is None for r in records)


def test_kill_9_leaves_complete_or_open_files_and_the_next_run_recovers(tmp_path: Path) -> None:
    """SIGKILL mid-crawl; the next run finishes the ``.open`` file; every record's page is there."""
    replica = Replica("--bulk", "60")
    try:
        archive = tmp_path / "output" / "scfzw" / "warc"
        with (tmp_path / "crawl.log").open("wb") as log:
            proc = subprocess.Popen(
                crawl_cmd("scfzw", replica.url, tmp_path, settings={"DOWNLOAD_DELAY": "0.05"}),
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
            deadline = time.monotonic() + 90
            opened: list[Path] = []
            while time.monotonic() < deadline and proc.poll() is None:
                opened = [p for p in archive.glob(f"*{OPEN_SUFFIX}") if p.stat().st_size > 60_000]
                if opened:
                    break
                time.sleep(0.01)
            assert opened, "the crawl wrote no archive within 90 s"
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        # only finished files and the .open one; the finished ones hold complete records
        assert {p.name.endswith((".warc.gz", OPEN_SUFFIX)) for p in archive.iterdir()} == {True}
        resumed = crawl("scfzw", replica.url, tmp_path)
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        assert "unfinished WARC file from an interrupted run" in resumed.stderr
        assert not list(archive.glob(f"*{OPEN_SUFFIX}"))
        for path in sorted(archive.glob("*.warc.gz")):
            with path.open("rb") as fh:
                assert sum(1 for _ in ArchiveIterator(fh, check_digests=True)) > 1
        for name in ("articles", "duplicates"):
            for record in resumed.records("scfzw", name):
                ref = record["archive"]
                rec = next(iter(iter_records(archive.parent / ref["file"], ref["offset"], 1)))
                assert getattr(rec, "url", None) == record["url"]
    finally:
        replica.stop()


def _scfzw_warc(output: Path) -> Path:
    return sorted((output / "scfzw" / "warc").glob("*.warc.gz"))[0]


def test_reprocess_of_a_cut_file_names_it_processes_what_precedes_and_exits_1(
    output: Path, tmp_path: Path
) -> None:
    source = _scfzw_warc(output)
    pages = [r for r in iter_records(source) if getattr(r, "warc_fields", {}).get(
        "Crawler-Page-Kind") == "article"]  # fmt: skip
    cut_at = pages[3].offset  # type: ignore[union-attr]
    bad = tmp_path / "cut.warc.gz"
    bad.write_bytes(source.read_bytes()[: cut_at + 300])
    done = reprocess(str(bad), "--out", str(tmp_path / "out"), "-j", "0")
    assert done.returncode == 1, done.stderr[-3000:]
    assert f"{bad}: unreadable WARC record at byte offset {cut_at}" in done.stderr
    written = read_jsonl(tmp_path / "out" / "scfzw" / "articles.jsonl")
    assert sorted(r["url"] for r in written) == sorted(p.url for p in pages[:3])  # type: ignore[union-attr]


def _chunked(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data)


def test_reprocess_reads_another_crawlers_warc(output: Path, tmp_path: Path) -> None:
    """No warcinfo, no page kinds, chunked and gzip-encoded bodies: the portal's rules decide."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    sites = ReplicaSites()
    crawled = read_jsonl(output / "scfzw" / "articles.jsonl")[:2]
    urls = ["http://www.scfzw.net/shzl/index.html"] + [r["url"] for r in crawled]
    path = tmp_path / "other-crawler.warc.gz"
    with path.open("wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        for url in urls:
            served = sites.lookup("www.scfzw.net", url.split("www.scfzw.net", 1)[1])
            assert served is not None
            assert served.gzipped is not None
            headers = [
                *served.headers,
                ("Content-Encoding", "gzip"),
                ("Transfer-Encoding", "chunked"),
            ]
            body = _chunked(served.gzipped)
            head = StatusAndHeaders("200 OK", headers, protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(
                url, "response", payload=io.BytesIO(body), length=len(body), http_headers=head
            ))  # fmt: skip
    done = reprocess(str(path), "--out", str(tmp_path / "out"), "-j", "0")
    assert done.returncode == 0, done.stderr[-3000:]
    again = {r["id"]: r for r in read_jsonl(tmp_path / "out" / "scfzw" / "articles.jsonl")}
    assert set(again) == {r["id"] for r in crawled}  # the list page is not an article
    for record in crawled:
        ours = dict(again[record["id"]])
        theirs = dict(record)
        # cluster: the crawl saw the other portals' copies first (their ids name the
        # clusters); this archive holds one portal's pages only
        for key in ("fetched_at", "archive", "cluster"):
            ours.pop(key)
            theirs.pop(key)
        assert ours == theirs


def test_extract_and_show_read_the_archive(output: Path, tmp_path: Path) -> None:
    source = _scfzw_warc(output)
    done = subprocess.run(
        [sys.executable, "-m", "crawler", "extract", "--site", "scfzw", str(source)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    extracted = {json.loads(line)["url"]: json.loads(line) for line in done.stdout.splitlines()}
    crawled = read_jsonl(output / "scfzw" / "articles.jsonl")
    crawled += read_jsonl(output / "scfzw" / "duplicates.jsonl")
    assert set(extracted) == {r["url"] for r in crawled}
    for record in crawled:
        assert extracted[record["url"]]["text"] == record["text"]
    bad = tmp_path / "cut.warc.gz"
    bad.write_bytes(source.read_bytes()[:-100])
    done = subprocess.run(
        [sys.executable, "-m", "crawler", "extract", str(bad)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    last = json.loads(done.stdout.splitlines()[-1])
    assert last["file"] == str(bad)
    assert "byte offset" in last["error"]

    record = crawled[0]
    shown = subprocess.run(
        [sys.executable, "-m", "crawler", "show", record["id"], "--out", str(output)],
        cwd=ROOT, capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr[-3000:]
    served = ReplicaSites().lookup("www.scfzw.net", record["url"].split("www.scfzw.net", 1)[1])
    assert served is not None
    assert shown.stdout == served.body
    assert record["archive"]["record_id"] in shown.stderr.decode()
    missing = subprocess.run(
        [sys.executable, "-m", "crawler", "show", "0" * 16, "--out", str(output)],
        cwd=ROOT, capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    assert missing.returncode == 1
    assert b"no record" in missing.stderr
