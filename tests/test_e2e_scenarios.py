"""End to end: the reliability scenarios of ``../shared/docs/reliability.md`` not covered elsewhere.

Real ``scrapy crawl`` processes against the replica's ``faults.test`` endpoints
(``crawler/replica/faults.py``): a server that hangs after the headers, brotli
and deflate bombs, a redirect off-site, a DNS failure and a refused connection
among good pages, politeness measured from the replica's access log, a
calendar trap cut by ``max_pages`` and by the depth limit, and a real full
filesystem (a small tmpfs) under the output.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import json
import os
import re
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from crawlrun import CrawlResult, Replica, crawl
from test_e2e_faults import stat

pytestmark = pytest.mark.e2e


def portal_crawl(
    replica_url: str,
    workdir: Path,
    portal: str,
    settings: dict[str, str] | None = None,
    *args: str,
    timeout: float = 180,
) -> CrawlResult:
    seeds = workdir / "seeds"
    seeds.mkdir(exist_ok=True)
    (seeds / "scenario.toml").write_text(portal, encoding="utf-8")
    merged = {
        "SEEDS_DIR": str(seeds),
        "DEDUP_ENABLED": "False",  # the fault pages carry the same control article
        "PAGE_WORKERS": "0",
        **(settings or {}),
    }
    return crawl("scenario", replica_url, workdir, *args, settings=merged, timeout=timeout)


def urls(result: CrawlResult) -> list[str]:
    return [r["url"] for r in result.records("scenario")]


def summary(result: CrawlResult) -> dict[str, Any]:
    runs = sorted((result.output_dir / "scenario" / "runs").glob("*.json"))
    assert runs, "no run summary written"
    data: dict[str, Any] = json.loads(runs[-1].read_text("utf-8"))
    return data


# --- hang after the headers, compression bombs, redirect off-site ------------------

MORE = """
name = "scenario"
display_name = "故障测试"
allowed_domains = ["faults.test"]
start_urls = ["http://faults.test/more.html"]
[links]
article = ['^http://faults\\.test/(?!more)']
[pagination]
style = "none"
"""


@pytest.fixture(scope="module")
def more_crawl(replica_url: str, tmp_path_factory: pytest.TempPathFactory) -> CrawlResult:
    # The default page workers: the limits reach process_page through the pool.
    return portal_crawl(
        replica_url,
        tmp_path_factory.mktemp("more"),
        MORE,
        {"DOWNLOAD_TIMEOUT": "5", "RETRY_TIMES": "1", "PAGE_WORKERS": "2"},
    )


def test_only_the_control_article_and_the_utf16_page_are_written(
    more_crawl: CrawlResult,
) -> None:
    assert "Traceback" not in more_crawl.stderr, more_crawl.stderr[-4000:]
    assert sorted(urls(more_crawl)) == [
        "http://faults.test/article.html",
        "http://faults.test/pages/utf16le",
    ]
    records = {r["url"]: r for r in more_crawl.records("scenario")}
    control = records["http://faults.test/article.html"]
    utf16 = records["http://faults.test/pages/utf16le"]
    assert (utf16["title"], utf16["text"]) == (control["title"], control["text"])
    assert utf16["encoding"] == "utf-16-le"


def test_hostile_pages_are_dropped_with_their_reason_counted(more_crawl: CrawlResult) -> None:
    dropped = summary(more_crawl)["articles"]["dropped"]
    assert dropped == {"garbled_text": 1, "links_only": 1, "too_large": 1}, dropped
    for reason in dropped:
        assert stat(more_crawl, f"validate/dropped/{reason}") == 1


def test_a_server_that_hangs_after_the_headers_times_out(more_crawl: CrawlResult) -> None:
    # The first try and one retry, each given up after DOWNLOAD_TIMEOUT, then the errback.
    url = "http://faults.test/hang-body?seconds=20"
    assert f"Gave up retrying <GET {url}> (failed 2 times)" in more_crawl.stderr
    assert f"download failed: {url}: DownloadTimeoutError" in more_crawl.stderr
    assert stat(more_crawl, "spider/failed/DownloadTimeoutError") >= 1


def test_brotli_and_deflate_bombs_are_cut_at_download_maxsize(more_crawl: CrawlResult) -> None:
    for path in ("/br-bomb", "/deflate-bomb", "/deflate-bomb?raw=1"):
        url = f"http://faults.test{path}"
        assert url not in urls(more_crawl)
        # Scrapy stops inflating once the body passes DOWNLOAD_MAXSIZE (not the 64 MiB).
        assert re.search(rf"{re.escape(url)}.*exceeded DOWNLOAD_MAXSIZE", more_crawl.stderr), path


def test_a_redirect_off_site_is_not_followed(more_crawl: CrawlResult) -> None:
    assert stat(more_crawl, "offsite/filtered") == 1
    assert stat(more_crawl, "offsite/domains") == 1
    assert not any("offsite-portal" in u for u in urls(more_crawl))
    assert "download failed: http://faults.test/redirect/offsite" not in more_crawl.stderr


# --- DNS failure and a refused connection: the run goes on ---------------------------


def test_dns_failure_and_refused_connection_among_good_pages(
    replica_url: str, tmp_path: Path
) -> None:
    # No REPLICA_URL: real name resolution and real connections.  ``.invalid`` never
    # resolves (RFC 6761); port 1 on loopback refuses; the replica answers under its
    # own address (relative links keep the crawl there).
    good = f"{replica_url}/faults.test/relative/index.html"
    portal = f"""
name = "scenario"
display_name = "DNS"
allowed_domains = ["dead-portal.invalid", "127.0.0.1"]
start_urls = [
  "http://dead-portal.invalid/index.html",
  "http://127.0.0.1:1/index.html",
  "{good}",
]
[links]
article = ['/relative/(article|other)\\.html$']
[pagination]
style = "none"
"""
    result = portal_crawl(
        "",
        tmp_path,
        portal,
        {"REPLICA_URL": "", "ROBOTSTXT_OBEY": "False", "DNS_TIMEOUT": "5", "RETRY_TIMES": "2"},
    )
    assert "Traceback" not in result.stderr, result.stderr[-4000:]
    written = sorted(urls(result))
    base = f"{replica_url}/faults.test/relative"
    assert written == [f"{base}/article.html", f"{base}/other.html"]
    # Each dead start URL: tried three times (two retries), then one errback line.
    dns, refused = "CannotResolveHostError", "DownloadConnectionRefusedError"
    assert stat(result, f"retry/reason_count/scrapy.exceptions.{dns}") == 2
    assert stat(result, f"retry/reason_count/scrapy.exceptions.{refused}") == 2
    assert f"download failed: http://dead-portal.invalid/index.html: {dns}" in result.stderr
    assert f"download failed: http://127.0.0.1:1/index.html: {refused}" in result.stderr
    assert stat(result, "spider/failed/list") == 2
    run = summary(result)
    assert run["articles"]["new"] == 2
    assert run["errors"]["total"] == 2
    # Two of three start pages dead is above ERROR_RATE_LIMIT: the run says so.
    assert result.returncode == 1


# --- politeness, measured by the server -----------------------------------------------

POLITE = """
name = "scenario"
display_name = "礼貌"
allowed_domains = ["faults.test"]
start_urls = ["http://faults.test/polite/index.html?n=8&ms={ms}"]
[links]
article = ['^http://faults\\.test/polite/\\d+\\.html']
[pagination]
style = "none"
"""


def access_log(replica_url: str) -> list[dict[str, Any]]:
    """The politeness requests in the access log of a replica of the test's own."""
    with urllib.request.urlopen(f"{replica_url}/faults.test/_log", timeout=10) as answer:
        entries: list[dict[str, Any]] = json.loads(answer.read())
    return [e for e in entries if e["path"].startswith(("/polite/", "/robots.txt"))]


def most_at_once(entries: list[dict[str, Any]]) -> int:
    events = sorted([(e["start"], 1) for e in entries] + [(e["end"], -1) for e in entries])
    level = peak = 0
    for _, step in events:
        level += step
        peak = max(peak, level)
    return peak


def test_the_configured_delay_and_user_agent_are_what_the_server_sees(
    fresh_replica: Replica, tmp_path: Path
) -> None:
    # The project's own politeness settings (crawlrun.FAST turns them off: back on here).
    result = portal_crawl(
        fresh_replica.url,
        tmp_path,
        POLITE.format(ms=0),
        {"DOWNLOAD_DELAY": "0.5", "DOWNLOAD_DELAY_JITTER": "0.5", "AUTOTHROTTLE_ENABLED": "True"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(urls(result)) == 8
    entries = access_log(fresh_replica.url)
    assert len(entries) == 10  # robots.txt, the list page, 8 articles
    starts = sorted(e["start"] for e in entries)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    # DOWNLOAD_DELAY 0.5 with jitter 0.5: never two requests within 0.25 s of each other.
    assert min(gaps) >= 0.25 - 0.01, gaps
    assert most_at_once(entries) <= 2
    assert {e["user_agent"] for e in entries} == {
        "zhengfa-crawler/0.1 (research news collector; "
        "+https://github.com/zhengfa-crawler/zhengfa-crawler)"
    }


def test_per_domain_concurrency_is_what_the_server_sees(
    fresh_replica: Replica, tmp_path: Path
) -> None:
    # No delay, slow answers (0.6 s each), 16 requests allowed overall: the per-portal
    # limit of 2 is the only thing that holds the crawl back.
    result = portal_crawl(
        fresh_replica.url,
        tmp_path,
        POLITE.format(ms=600),
        {"CONCURRENT_REQUESTS": "16", "CONCURRENT_REQUESTS_PER_DOMAIN": "2"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(urls(result)) == 8
    entries = [e for e in access_log(fresh_replica.url) if e["path"] != "/robots.txt"]
    assert len(entries) == 9
    assert most_at_once(entries) == 2


# --- pagination and calendar traps ----------------------------------------------------

CALENDAR = """
name = "scenario"
display_name = "日历陷阱"
allowed_domains = ["faults.test"]
start_urls = ["http://faults.test/calendar/0.html"]
[links]
article = ['^http://faults\\.test/calendar/article/\\d+\\.html$']
[pagination]
style = "next"
next_css = ["a.next"]
max_pages = {max_pages}
"""


def test_an_endless_calendar_stops_at_max_pages(replica_url: str, tmp_path: Path) -> None:
    result = portal_crawl(replica_url, tmp_path, CALENDAR.format(max_pages=5))
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(urls(result)) == sorted(
        f"http://faults.test/calendar/article/{n}.html" for n in range(5)
    )
    assert stat(result, "pagination/max_pages_reached") == 1
    assert "/calendar/5.html" not in result.stderr


def test_an_endless_calendar_stops_at_the_depth_limit(replica_url: str, tmp_path: Path) -> None:
    # A portal file with a careless max_pages: the depth limit is the safety net.
    result = portal_crawl(
        replica_url, tmp_path, CALENDAR.format(max_pages=10000), {"DEPTH_LIMIT": "4"}
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # List pages 0-4 are at depths 0-4; the articles of pages 0-3 are within the limit.
    assert sorted(urls(result)) == sorted(
        f"http://faults.test/calendar/article/{n}.html" for n in range(4)
    )
    assert stat(result, "request_depth_max") == 4
    assert stat(result, "pagination/max_pages_reached") == 0


# --- a real full filesystem under the output --------------------------------------------


@contextlib.contextmanager
def small_filesystem(mountpoint: Path, size: str) -> Iterator[None]:
    mountpoint.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mountpoint)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        reason = (done.stderr or done.stdout).strip() or f"exit status {done.returncode}"
        print(f"cannot mount a tmpfs here: {reason}")
        pytest.skip(f"a small tmpfs cannot be mounted on this machine: {reason}")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], capture_output=True, check=False)


def fill(directory: Path, leave: int) -> Path:
    """Fill the filesystem of ``directory``, then free ``leave`` bytes; returns the filler."""
    filler = directory / "filler"
    block = b"\0" * 4096
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        for _ in range(1 << 20):  # bounded: 4 GiB, far above any test filesystem
            try:
                os.write(fd, block)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                break
    finally:
        os.close(fd)
    with contextlib.suppress(OSError):
        os.truncate(filler, max(0, filler.stat().st_size - leave))
    return filler


def test_a_full_output_filesystem_gives_a_clear_error_and_loses_nothing(
    replica_url: str, tmp_path: Path
) -> None:
    from crawlrun import crawl as plain_crawl

    out = tmp_path / "small"
    with small_filesystem(out, "256k"):
        site_dir = out / "scfzw"
        site_dir.mkdir()
        filler = fill(out, leave=8192)  # room for a record or two, not for all of them
        settings = {"OUTPUT_DIR": str(out), "PAGE_WORKERS": "0"}
        full = plain_crawl("scfzw", replica_url, tmp_path, settings=settings)
        assert full.returncode == 1, full.stderr[-3000:]
        assert "Traceback" not in full.stderr, full.stderr[-4000:]
        assert "No space left on device" in full.stderr
        articles = site_dir / "articles.jsonl"
        data = articles.read_bytes() if articles.exists() else b""
        assert not data or data.endswith(b"\n"), "a partial record was left"
        before = [json.loads(line)["url"] for line in data.splitlines()]
        filler.unlink()  # space again: the next run completes the portal
        again = plain_crawl("scfzw", replica_url, tmp_path, settings=settings)
        assert again.returncode == 0, again.stderr[-3000:]
        after = [json.loads(line)["url"] for line in articles.read_bytes().splitlines()]
    assert after[: len(before)] == before
    assert len(after) == len(set(after)), "a record was written twice"
    reference = plain_crawl(
        "scfzw", replica_url, tmp_path / "reference", settings={"PAGE_WORKERS": "0"}
    )
    expected = {r["url"] for r in reference.records("scfzw")}
    assert set(after) == expected
