"""End to end: a real crawl survives every fault the replica's ``faults.test`` host serves.

A portal definition written for the test crawls ``http://faults.test/index.html``
(which links the fault endpoints as articles) plus a few faults as start URLs;
assertions are on the records written and on Scrapy's stats.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from crawlrun import CrawlResult, crawl, stat

pytestmark = pytest.mark.e2e

PORTAL = """
name = "faults"
display_name = "故障测试"
allowed_domains = ["faults.test"]
start_urls = [
  "http://faults.test/index.html",
  "http://faults.test/flaky/list?fail=2&code=503",
  "http://faults.test/hang?seconds=20",
  "http://faults.test/redirect/data",
]

[links]
article = ['^http://faults\\.test/(?!index)']

[pagination]
style = "none"
"""


@pytest.fixture(scope="module")
def faults_crawl(replica_url: str, tmp_path_factory: pytest.TempPathFactory) -> CrawlResult:
    workdir = tmp_path_factory.mktemp("faults")
    seeds = workdir / "seeds"
    seeds.mkdir()
    (seeds / "faults.toml").write_text(PORTAL, encoding="utf-8")
    return crawl(
        "faults",
        replica_url,
        workdir,
        settings={
            "SEEDS_DIR": str(seeds),
            "DOWNLOAD_TIMEOUT": "3",
            "RETRY_TIMES": "2",
            "DEDUP_ENABLED": "False",  # every fault page carries the same control article
        },
        timeout=180,
    )


def records(result: CrawlResult) -> dict[str, dict[str, Any]]:
    return {r["url"]: r for r in result.records("faults")}


def test_the_run_finishes_and_writes_the_good_pages(faults_crawl: CrawlResult) -> None:
    assert "Traceback" not in faults_crawl.stderr, faults_crawl.stderr[-4000:]
    written = records(faults_crawl)
    assert "http://faults.test/article.html" in written
    for line in (
        (faults_crawl.output_dir / "faults" / "articles.jsonl").read_text("utf-8").splitlines()
    ):
        json.loads(line)  # every line parses


def test_server_errors_are_retried_then_given_up_and_counted(faults_crawl: CrawlResult) -> None:
    written = records(faults_crawl)
    for code in (500, 503, 429):
        assert f"http://faults.test/status/{code}" not in written
    assert stat(faults_crawl, "retry/max_reached") >= 3
    assert stat(faults_crawl, "downloader/response_status_count/503") >= 3  # first try + 2 retries
    summary = latest_summary(faults_crawl)
    assert summary["errors"]["total"] >= 3
    # Errors pass ERROR_RATE_LIMIT: the run says so with its exit status.
    assert summary["exit_status"] == 1
    assert faults_crawl.returncode == 1


def test_a_flaky_page_succeeds_on_retry(faults_crawl: CrawlResult) -> None:
    # /status/503 fails 3 times (2 retries), /flaky/list twice and then answers 200.
    assert stat(faults_crawl, "downloader/response_status_count/503") == 5
    assert stat(faults_crawl, "retry/reason_count/503 Service Unavailable") == 4
    assert "Gave up retrying <GET http://faults.test/flaky" not in faults_crawl.stderr


def test_a_hung_server_times_out(faults_crawl: CrawlResult) -> None:
    # The first try and two retries, each given up after DOWNLOAD_TIMEOUT.
    timeouts = "downloader/exception_type_count/scrapy.exceptions.DownloadTimeoutError"
    assert stat(faults_crawl, timeouts) == 3
    assert "download failed: http://faults.test/hang?seconds=20: DownloadTimeoutError" in (
        faults_crawl.stderr
    )


def test_truncated_bodies_are_never_articles(faults_crawl: CrawlResult) -> None:
    written = records(faults_crawl)
    for path in ("/drop", "/short-length", "/broken-chunked"):
        assert f"http://faults.test{path}" not in written, path
    lost = "downloader/exception_type_count/scrapy.exceptions.ResponseDataLossError"
    assert stat(faults_crawl, lost) == 9  # three pages, each tried three times


def test_wrong_charsets_give_the_right_text(faults_crawl: CrawlResult) -> None:
    written = records(faults_crawl)
    control = written["http://faults.test/article.html"]["text"]
    gbk = written["http://faults.test/charset/gbk-as-utf8"]
    utf8 = written["http://faults.test/charset/utf8-as-gb2312"]
    assert gbk["encoding"] == "gb18030"
    assert utf8["encoding"] == "utf-8"
    assert gbk["text"] == control
    assert utf8["text"] == control
    assert "\ufffd" not in gbk["text"] + utf8["text"]


def test_redirects_loop_and_scheme_rules(faults_crawl: CrawlResult) -> None:
    written = records(faults_crawl)
    assert not any("redirect-loop" in u for u in written)
    assert "http://faults.test/redirect/file" not in written
    assert "http://faults.test/redirect/ftp" not in written
    assert not any(u.startswith(("file:", "ftp:", "data:")) for u in written)
    assert "root:" not in json.dumps(list(written.values()))  # /etc/passwd never read
    for target in ("file", "ftp", "data"):  # not followed: the 302 goes to the errback
        failed = rf"HTTP 302 for (list|article) page: http://faults\.test/redirect/{target}\n"
        assert re.search(failed, faults_crawl.stderr)
    # The loop alternates between two URLs: the second visit is a filtered duplicate.
    assert stat(faults_crawl, "dupefilter/filtered") >= 1


def test_compression_bombs_are_dropped(faults_crawl: CrawlResult) -> None:
    written = records(faults_crawl)
    assert "http://faults.test/gzip-bomb" not in written
    assert "exceeded DOWNLOAD_MAXSIZE" in faults_crawl.stderr
    # A gzip body sent without Content-Encoding is never inflated into an article.
    assert "http://faults.test/gzip-no-encoding" not in written


def latest_summary(result: CrawlResult) -> dict[str, Any]:
    runs = sorted((result.output_dir / "faults" / "runs").glob("*.json"))
    assert runs, "no run summary written"
    data: dict[str, Any] = json.loads(runs[-1].read_text("utf-8"))
    return data


def robots_crawl(replica_url: str, tmp_path: Path, host: str) -> CrawlResult:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    escaped = re.escape(host)  # a TOML literal string keeps backslashes as they are
    (seeds / "faults.toml").write_text(
        f"""
name = "faults"
display_name = "robots.txt {host}"
allowed_domains = ["{host}"]
start_urls = ["http://{host}/index.html"]
[links]
article = ['^http://{escaped}/article\\.html$']
[pagination]
style = "none"
""",
        encoding="utf-8",
    )
    return crawl(
        "faults", replica_url, tmp_path,
        settings={"SEEDS_DIR": str(seeds), "DOWNLOAD_TIMEOUT": "3", "DEDUP_ENABLED": "False"},
        timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("variant", "fetches_pages"),
    [("garbage", True), ("empty", True), ("disallow", False), ("500", False), ("hang", False)],
)
def test_robots_txt_policy(
    replica_url: str, tmp_path: Path, variant: str, fetches_pages: bool
) -> None:
    host = f"robots-{variant}.faults.test"
    result = robots_crawl(replica_url, tmp_path, host)
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    if fetches_pages:
        assert list(records(result)) == [f"http://{host}/article.html"], result.stderr[-3000:]
        assert stat(result, "robotstxt/forbidden") == 0
    else:
        assert records(result) == {}
        # Only robots.txt itself was answered (the hung one never was).
        assert stat(result, "response_received_count") == (variant != "hang")
    if variant == "disallow":
        assert stat(result, "robotstxt/forbidden") == 1
    if variant in {"500", "hang"}:
        assert stat(result, "robotstxt/host_deferred") == 1
        assert stat(result, "robotstxt/deferred") == 1
