"""The origin is kept whatever the crawl order, with portals crawled at once, and through kills.

Real ``scrapy crawl`` processes against the replica.  The replica's manifest
is the truth: each duplicate group's ``kept`` URL is the origin (the copy the
others cite as 来源, else the earliest published).
"""

from __future__ import annotations

import json
import signal
import subprocess
import urllib.error
from pathlib import Path
from typing import Any

import pytest
from test_e2e_crawl import FIELDS, MANIFEST, ORDER, SEEDS
from test_incremental_e2e import ROOT, control, crawl, crawl_cmd, manifest, read_jsonl
from test_kill import SLOW, complete_lines, wait_for_records

from crawler import journal
from crawler.ids import url_key

pytestmark = pytest.mark.e2e

ORDERS = {"demo order": ORDER, "reverse order": ORDER[::-1]}


def written(output: Path, sites: list[str]) -> dict[str, tuple[str, dict[str, Any]]]:
    """url -> (file, record) over every portal's two files; each URL in one place only."""
    out: dict[str, tuple[str, dict[str, Any]]] = {}
    for site in sites:
        for name in ("articles", "duplicates"):
            for record in read_jsonl(output / site / f"{name}.jsonl"):
                assert record["url"] not in out, f"{record['url']} written twice"
                out[record["url"]] = (name, record)
    return out


def check_state(work: Path, sites: list[str]) -> None:
    """No move left waiting; every seen store holds exactly its portal's written URLs."""
    for site in sites:
        assert journal.pending(work / "state", site) == [], site
        out = work / "output" / site
        urls = [
            r["url"] for n in ("articles", "duplicates") for r in read_jsonl(out / f"{n}.jsonl")
        ]
        seen = (work / "state" / site / "seen").read_text("utf-8").split()
        assert sorted(seen) == sorted(url_key(u) for u in urls), site


def expected_kept(truth: dict[str, Any], sites: list[str]) -> set[str]:
    return {
        a["url"]
        for site in sites
        for a in truth["portals"][site]["articles"]
        if a["reprint_of"] is None
    }


@pytest.fixture(scope="module", params=list(ORDERS))
def crawled(
    request: pytest.FixtureRequest, replica_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    work = tmp_path_factory.mktemp("origin")
    for site in ORDERS[request.param]:
        result = crawl(site, replica_url, work, PAGE_WORKERS="2")
        assert result.returncode == 0, result.stderr[-3000:]
        assert "Traceback" not in result.stderr, result.stderr[-3000:]
    return work


@pytest.mark.parametrize("site", ORDER)
def test_every_seed_article_is_kept_by_its_own_portal_with_the_seed_values(
    crawled: Path, site: str
) -> None:
    records = written(crawled / "output", ORDER)
    seed_url = next(
        a["url"] for a in MANIFEST["portals"][site]["articles"] if a["seed"] is not None
    )
    name, record = records[seed_url]
    assert name == "articles"
    assert record["site"] == site
    for field in [*FIELDS, "original_title", "original_script"]:
        assert record[field] == SEEDS[site][field], field
    assert record["text"].startswith(SEEDS[site]["first"])
    assert record["text"].endswith(SEEDS[site]["last"])


def test_each_reprint_is_a_duplicate_of_the_origin_in_its_cluster(crawled: Path) -> None:
    records = written(crawled / "output", ORDER)
    assert {u for u, (n, _) in records.items() if n == "articles"} == expected_kept(MANIFEST, ORDER)
    for group in MANIFEST["duplicate_groups"]:
        _, kept = records[group["kept"]]
        for dup in group["duplicates"]:
            name, record = records[dup["url"]]
            assert name == "duplicates", dup["url"]
            assert record["duplicate_of"] == kept["id"]
            assert record["cluster"] == kept["cluster"]
    clusters = [r["cluster"] for _, r in records.values()]
    assert len(set(clusters)) == MANIFEST["expected_kept_total"]  # one cluster per kept record
    check_state(crawled, ORDER)


def test_the_clusters_command_reads_the_cluster_field(crawled: Path) -> None:
    from crawler.commands.clusters import build_clusters

    clusters, bad = build_clusters(crawled / "output")
    assert bad == 0
    assert {c["kept"]["url"] for c in clusters} == {g["kept"] for g in MANIFEST["duplicate_groups"]}
    assert all(c["origin"] == c["kept"]["url"] for c in clusters)


def _add_cross_reprints(url: str, pairs: list[tuple[str, str]]) -> int:
    """A reprint on ``to`` of every original of ``of`` (converter pages cannot be copied)."""
    truth = manifest(url)
    added = 0
    for of, to in pairs:
        for article in truth["portals"][of]["articles"]:
            if article["reprint_of"] is not None:
                continue
            try:
                control(url, "add", {"site": to, "reprint_of": article["url"]})
            except urllib.error.HTTPError:
                continue
            added += 1
    return added


def test_portals_crawled_at_once_keep_what_a_sequential_crawl_keeps(
    fresh_replica: Any, tmp_path: Path
) -> None:
    url = fresh_replica.url
    sites = ["cri", "lnzf"]
    assert _add_cross_reprints(url, [("cri", "lnzf"), ("lnzf", "cri")]) >= 8
    truth = manifest(url)
    logs = [(tmp_path / f"{s}.log").open("wb") for s in sites]
    procs = [
        subprocess.Popen(
            crawl_cmd(s, url, tmp_path), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log
        )
        for s, log in zip(sites, logs, strict=True)
    ]
    try:
        codes = [p.wait(timeout=180) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        for log in logs:
            log.close()
    for site, code in zip(sites, codes, strict=True):
        assert code == 0, (tmp_path / f"{site}.log").read_text("utf-8")[-3000:]
    records = written(tmp_path / "output", sites)
    assert set(records) == {a["url"] for s in sites for a in truth["portals"][s]["articles"]}
    kept = {u for u, (n, _) in records.items() if n == "articles"}
    assert kept == expected_kept(truth, sites)
    # every cluster has exactly one kept record: the join key for its reprints
    kept_by_cluster: dict[str, list[str]] = {}
    for name, record in records.values():
        if name == "articles":
            kept_by_cluster.setdefault(record["cluster"], []).append(record["url"])
    assert all(len(urls) == 1 for urls in kept_by_cluster.values()), kept_by_cluster
    for name, record in records.values():
        if name == "duplicates":
            assert record["cluster"] in kept_by_cluster, record["url"]
    check_state(tmp_path, sites)


@pytest.mark.parametrize("after", [1, 3, 5])
def test_a_kill_while_the_origin_replaces_a_reprint_loses_and_doubles_nothing(
    replica_url: str, tmp_path: Path, after: int
) -> None:
    """lnzf first (its reprint of cri's seed article is kept), then cri killed and resumed."""
    first = crawl("lnzf", replica_url, tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    articles = tmp_path / "output" / "cri" / "articles.jsonl"
    with (tmp_path / "killed.log").open("wb") as log:
        proc = subprocess.Popen(
            crawl_cmd("cri", replica_url, tmp_path, **SLOW),
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        try:
            wait_for_records(proc, articles, after)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
    accepted = [json.loads(line)["url"] for line in complete_lines(articles)]
    resumed = crawl("cri", replica_url, tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    sites = ["cri", "lnzf"]
    records = written(tmp_path / "output", sites)
    assert set(records) == {a["url"] for s in sites for a in MANIFEST["portals"][s]["articles"]}
    assert set(accepted) <= set(records)
    kept = {u for u, (n, _) in records.items() if n == "articles"}
    assert kept == expected_kept(MANIFEST, sites)
    check_state(tmp_path, sites)
