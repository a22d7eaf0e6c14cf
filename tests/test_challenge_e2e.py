"""End to end: a crawl of a portal behind bot walls counts the challenge pages, retries
them, writes none of them and exits 77 ("portal is blocking the crawler")."""

from __future__ import annotations

import json

import pytest
from crawlrun import CrawlResult, crawl, stat

from crawler.extensions import EXIT_BLOCKED

pytestmark = pytest.mark.e2e

PORTAL = """
name = "walls"
display_name = "反爬虫页面测试"
allowed_domains = ["faults.test"]
start_urls = ["http://faults.test/challenge/index.html", "http://faults.test/challenge/blocked-list.html"]

[links]
article = ['^http://faults\\.test/(?:article\\.html|challenge/(?!index|blocked))']

[pagination]
style = "none"
"""


@pytest.fixture(scope="module")
def walls_crawl(replica_url: str, tmp_path_factory: pytest.TempPathFactory) -> CrawlResult:
    workdir = tmp_path_factory.mktemp("walls")
    seeds = workdir / "seeds"
    seeds.mkdir()
    (seeds / "walls.toml").write_text(PORTAL, encoding="utf-8")
    return crawl(
        "walls",
        replica_url,
        workdir,
        settings={
            "SEEDS_DIR": str(seeds),
            "CHALLENGE_RETRY_TIMES": "2",
            "CHALLENGE_BACKOFF": "0.1",
            "DEDUP_ENABLED": "False",  # the passing pages carry the control article
            "PAGE_WORKERS": "0",
        },
        timeout=120,
    )


def test_challenge_pages_are_never_written(walls_crawl: CrawlResult) -> None:
    written = {r["url"] for r in walls_crawl.records("walls")}
    assert written == {
        "http://faults.test/article.html",
        "http://faults.test/challenge/pass/once.html?kind=ruishu&n=1",
        "http://faults.test/challenge/pass/twice.html?kind=jiasule&n=2",
    }


def test_each_wall_is_counted_retried_and_given_up(walls_crawl: CrawlResult) -> None:
    # three answers (the page and two retries) per wall page; the passing pages add theirs
    # the paged article's second page is a 瑞数 page: three more, and no half article
    assert stat(walls_crawl, "blocked/ruishu") == 3 + 1 + 3
    assert stat(walls_crawl, "blocked/jiasule") == 3 + 2
    assert stat(walls_crawl, "blocked/interstitial") == 3 + 3  # the article and the list page
    assert stat(walls_crawl, "blocked/waf") == 3
    assert stat(walls_crawl, "blocked/given_up") == 6
    assert stat(walls_crawl, "blocked/given_up/ruishu") == 2
    assert stat(walls_crawl, "blocked/retries") == 5 * 2 + 2 + 1 + 2
    assert stat(walls_crawl, "multipage/blocked") == 1


def test_the_exit_status_and_summary_say_the_portal_is_blocking(walls_crawl: CrawlResult) -> None:
    assert walls_crawl.returncode == EXIT_BLOCKED == 77, walls_crawl.stderr[-3000:]
    assert "portal is blocking the crawler: 6 pages" in walls_crawl.stderr
    runs = sorted((walls_crawl.output_dir / "walls" / "runs").glob("*.json"))
    summary = json.loads(runs[-1].read_text(encoding="utf-8"))
    assert summary["exit_status"] == 77
    assert summary["blocked"] == {
        "seen": {"interstitial": 6, "jiasule": 5, "ruishu": 7, "waf": 3},
        "retries": 15,
        "given_up": 6,
    }
    # a blocked page is no download error and no removed article
    assert "download failed" not in walls_crawl.stderr
    assert not any("no article links found" in p for p in summary["problems"])
