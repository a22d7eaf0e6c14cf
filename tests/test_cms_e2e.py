"""End to end: the replica's Hanweb and TRS portals crawled through their portal files
(seeds/dongshan_sft.toml, seeds/qinglan.toml) and through the generic spider, every
record compared field by field with what the portals hold (crawler.replica.cms)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from crawlrun import CrawlResult, crawl, stat

from crawler.recordschema import SCHEMA_DIR
from crawler.replica import cms

pytestmark = pytest.mark.e2e

FIELDS = ("title", "published_at", "source", "text", "pages", "xxgk")


def check_records(records: list[dict[str, Any]], host: str, downloaded: bool) -> None:
    schema = json.loads((SCHEMA_DIR / "record.schema.json").read_text("utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    for record in records:
        validator.validate(record)  # one JSON type per field: lists, xxgk always an object
    want = {e["url"]: e for e in cms.expected()[host]}
    got = {r["url"]: r for r in records}
    assert sorted(got) == sorted(want)  # every article found, each once
    for url, expected in want.items():
        record = got[url]
        for name in FIELDS:
            assert record[name] == expected[name], (url, name)
        assert ("page_missing" in record["quality_flags"]) == bool(expected["missing_pages"])
        listed = [{k: a[k] for k in ("url", "name", "ext")} for a in record["attachments"]]
        assert listed == [
            {k: a[k] for k in ("url", "name", "ext")} for a in expected["attachments"]
        ]
        for entry, truth in zip(record["attachments"], expected["attachments"], strict=True):
            if downloaded:
                assert entry["sha256"] == truth["sha256"], entry["url"]
                assert entry["path"].startswith("files/")
            else:
                assert entry["sha256"] is None
                assert entry["path"] is None


@pytest.fixture(scope="module")
def hanweb(replica_url: str, tmp_path_factory: pytest.TempPathFactory) -> CrawlResult:
    workdir = tmp_path_factory.mktemp("hanweb")
    return crawl(
        "dongshan_sft",
        replica_url,
        workdir,
        settings={"ATTACHMENTS_DOWNLOAD": "True", "PAGE_WORKERS": "0"},
    )


def test_hanweb_jpage_lists_give_every_article_with_its_xxgk_and_files(hanweb: CrawlResult) -> None:
    assert hanweb.returncode == 0, hanweb.stderr[-3000:]
    check_records(hanweb.records("dongshan_sft"), cms.HANWEB_HOST, downloaded=True)
    # two column pages and their dataproxy POSTs (工作动态: 3-4, 5-6; 通知公告: 3-4)
    assert stat(hanweb, "fetch/list") == 2 + 2 + 1
    assert stat(hanweb, "downloader/request_method_count/POST") == 3
    assert stat(hanweb, "attachments/downloaded") == 7


def test_downloaded_files_are_the_portals_bytes(hanweb: CrawlResult) -> None:
    root = hanweb.output_dir / "dongshan_sft"
    files = 0
    for record in hanweb.records("dongshan_sft"):
        for entry in record["attachments"]:
            data = (root / entry["path"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == entry["sha256"]
            assert Path(entry["path"]).suffix == "." + entry["ext"]
            files += 1
    assert files == 7
    # the site's own guide in the footer is no attachment of any record
    assert not any("wzsyzn" in p.name for p in (root / "files").iterdir())


def test_a_second_run_reads_one_column_page_each_and_nothing_else(
    hanweb: CrawlResult, replica_url: str
) -> None:
    workdir = hanweb.output_dir.parent
    again = crawl("dongshan_sft", replica_url, workdir, settings={"PAGE_WORKERS": "0"})
    assert again.returncode == 0, again.stderr[-3000:]
    assert stat(again, "fetch/list") == 2
    assert stat(again, "fetch/article") == 0
    assert stat(again, "incremental/pagination_stopped") == 2


def test_since_stops_the_jpage_list(replica_url: str, tmp_path: Path) -> None:
    done = crawl(
        "dongshan_sft", replica_url, tmp_path, "-a", "since=2024-03-06",
        settings={"PAGE_WORKERS": "0"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    kept = {r["url"] for r in done.records("dongshan_sft")}
    assert kept == {
        e["url"] for e in cms.expected()[cms.HANWEB_HOST] if e["published_at"] >= "2024-03-06"
    }
    # 工作动态: the POST for 3-4 is all older than since: the one for 5-6 is never sent
    assert stat(done, "incremental/since_stopped") >= 1
    assert stat(done, "downloader/request_method_count/POST") == 2


def test_trs_multi_page_articles_are_whole(replica_url: str, tmp_path: Path) -> None:
    done = crawl("qinglan", replica_url, tmp_path, settings={"PAGE_WORKERS": "0"})
    assert done.returncode == 0, done.stderr[-3000:]
    check_records(done.records("qinglan"), cms.TRS_HOST, downloaded=False)
    assert stat(done, "multipage/articles") == 4
    # pager script: 2; numbers: 1; numbers with a 404: 1; 下一页 only (found page by page): 2
    assert stat(done, "multipage/pages") == 2 + 1 + 1 + 2
    assert stat(done, "multipage/missing") == 1
    assert "t20240307_4254415_2.html of" in done.stderr


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("http://sft.dongshan.gov.cn/col/col1229/index.html,"
         "http://sft.dongshan.gov.cn/col/col1230/index.html", cms.HANWEB_HOST),
        ("http://www.qinglan.gov.cn/xwzx/xzdt/index.html", cms.TRS_HOST),
    ],
)  # fmt: skip
def test_the_generic_spider_recognises_both_systems(
    replica_url: str, tmp_path: Path, url: str, host: str
) -> None:
    done = crawl(
        "portal", replica_url, tmp_path, "-a", f"url={url}", settings={"PAGE_WORKERS": "0"}
    )
    assert done.returncode == 0, done.stderr[-3000:]
    check_records(done.records(host), host, downloaded=False)


def test_an_attachment_over_the_size_limit_is_not_downloaded(
    replica_url: str, tmp_path: Path
) -> None:
    done = crawl(
        "dongshan_sft",
        replica_url,
        tmp_path,
        settings={
            "ATTACHMENTS_DOWNLOAD": "True",
            "ATTACHMENTS_MAX_BYTES": "300",
            "PAGE_WORKERS": "0",
        },
    )
    assert done.returncode == 0, done.stderr[-3000:]
    entries = [a for r in done.records("dongshan_sft") for a in r["attachments"]]
    big = [a for a in entries if a["ext"] == "pdf"]  # the one file over 300 bytes
    assert len(big) == 1
    assert big[0]["sha256"] is None
    assert big[0]["path"] is None
    assert all(a["sha256"] for a in entries if a["ext"] != "pdf")
    assert stat(done, "attachments/failed") == 1
    assert stat(done, "attachments/downloaded") == 6
