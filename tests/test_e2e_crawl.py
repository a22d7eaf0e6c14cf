"""End to end: real ``scrapy crawl`` processes against the offline replica.

Every seed portal is crawled once, in the order ``make demo`` uses, into one
output directory (the dedup index is shared, so reprints across portals are
caught).  The records are checked against the replica's manifest (the ground
truth of what each page says) and against the seed documents' values.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import jsonschema
import pandas as pd
import pytest
from crawlrun import CrawlResult, crawl

from crawler.recordschema import SCHEMA_DIR
from crawler.replica.sites import MANIFEST_PATH

pytestmark = pytest.mark.e2e

ORDER = ["cri", "dali", "docin", "lnzf", "scfzw"]
MANIFEST: dict[str, Any] = json.loads(MANIFEST_PATH.read_text(encoding="utf-8"))

# The seed documents' values (../shared/seeds): title, published_at, source, authors,
# editors, responsible_editors, first and last sentence of the text.
SEEDS: dict[str, dict[str, Any]] = {
    "cri": {
        "title": "辽宁省社会治理工作会议召开",
        "original_title": "全省社会治理工作会议召开 张国清讲话 李乐成主持 周波出席",
        "published_at": "2022-07-15T10:12:31+08:00",
        "source": "辽宁日报",
        "authors": ["杨忠厚"],
        "editors": ["王巍"],
        "responsible_editors": ["李胜兰"],
        "first": "7月14日,辽宁省社会治理工作会议在沈阳召开。",
        # the page closes with "(辽宁日报记者 杨忠厚)": byline (authors), not text
        "last": "各市、县(市、区)和沈抚示范区设分会场。",
        "original_script": "simplified",
    },
    "dali": {
        "title": "我州召开平安大理建设暨市域社会治理现代化试点工作推进会",
        "original_title": None,
        "published_at": "2020-06-23T11:12:00+08:00",
        "source": None,
        "authors": ["黄莎"],
        "editors": [],
        "responsible_editors": [],
        "first": "6月11日上午,平安大理建设暨市域社会治理现代化试点工作领导小组办公室第一次主任会议",
        "last": "州委平安大理建设领导小组办公室全体工作人员参加会议。",
        "original_script": "simplified",
    },
    "docin": {
        "title": "全省市域社会治理现代化工作会议讲话",
        "original_title": None,
        "published_at": None,
        "source": None,
        "authors": [],
        "editors": [],
        "responsible_editors": [],
        "first": "同志们:",
        "last": "以上就是我的发言,谢谢大家!",
        "original_script": "simplified",
        "flags": {"template_placeholders", "truncated_preview"},
    },
    "lnzf": {
        "title": "于天敏赴本溪市调研市域社会治理现代化工作",
        "original_title": None,
        "published_at": "2020-07-16T08:45:00+08:00",
        "source": "辽宁法制报",
        "authors": ["白国军"],
        "editors": [],
        "responsible_editors": [],
        "first": "本报讯",
        "last": "省委政法委副书记卢秉宇随同调研。",
        "original_script": "traditional",
        "contains": "进行了面对面交流。“党委政府站位高、推动工作举措实、创新探索有新招。”"
        "于天敏对本溪市市域社会治理现代化试点工作给予肯定。",
    },
    "scfzw": {
        "title": "渠县召开社会治理形势分析暨平安渠县建设工作会",
        "original_title": None,
        "published_at": "2021-09-02T17:33:01+08:00",
        "source": "渠县政法委",
        "authors": [],
        "editors": [],
        "responsible_editors": ["李位川"],
        "first": "9月1日,达州市渠县召开社会治理形势分析暨平安渠县建设工作会,",
        "last": "夏华勇、张洪波、董中平、钱文军等县领导参加会议。",
        "original_script": "simplified",
    },
}

FIELDS = ["title", "published_at", "source", "authors", "editors", "responsible_editors"]


@pytest.fixture(scope="module")
def crawled(replica_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, CrawlResult]:
    workdir = tmp_path_factory.mktemp("e2e")
    return {site: crawl(site, replica_url, workdir) for site in ORDER}


def all_records(crawled: dict[str, CrawlResult], name: str) -> list[dict[str, Any]]:
    any_result = next(iter(crawled.values()))
    return [r for site in ORDER for r in any_result.records(site, name)]


def by_url(crawled: dict[str, CrawlResult]) -> dict[str, tuple[str, dict[str, Any]]]:
    out: dict[str, tuple[str, dict[str, Any]]] = {}
    for name in ("articles", "duplicates"):
        for record in all_records(crawled, name):
            assert record["url"] not in out, f"{record['url']} written twice"
            out[record["url"]] = (name, record)
    return out


def test_every_crawl_succeeds(crawled: dict[str, CrawlResult]) -> None:
    for site, result in crawled.items():
        assert result.returncode == 0, f"{site}: {result.stderr[-3000:]}"
        assert "Traceback" not in result.stderr, result.stderr[-3000:]


def test_records_match_the_json_schema(crawled: dict[str, CrawlResult]) -> None:
    for name, schema_file in (("articles", "record"), ("duplicates", "duplicate")):
        schema = json.loads((SCHEMA_DIR / f"{schema_file}.schema.json").read_text("utf-8"))
        validator = jsonschema.Draft202012Validator(schema)
        for record in all_records(crawled, name):
            errors = [e.message for e in validator.iter_errors(record)]
            assert not errors, (record["url"], errors)


def test_every_article_is_written_exactly_once(crawled: dict[str, CrawlResult]) -> None:
    written = by_url(crawled)
    expected = {a["url"] for p in MANIFEST["portals"].values() for a in p["articles"]}
    assert set(written) == expected
    kept = all_records(crawled, "articles")
    assert len(kept) == MANIFEST["expected_kept_total"]
    assert len({r["id"] for r in kept}) == len(kept)


def test_the_origin_is_kept_and_reprints_share_its_cluster(
    crawled: dict[str, CrawlResult],
) -> None:
    written = by_url(crawled)
    for group in MANIFEST["duplicate_groups"]:
        name, kept_record = written[group["kept"]]
        assert name == "articles", group["kept"]  # the manifest's origin, whatever the order
        for dup in group["duplicates"]:
            where, record = written[dup["url"]]
            assert where == "duplicates", dup["url"]
            assert record["duplicate_of"] == kept_record["id"]
            assert record["cluster"] == kept_record["cluster"]
            assert record["match"] in {"content_hash", "minhash"}
            assert 0.7 <= record["similarity"] <= 1.0


def test_different_reports_of_one_meeting_are_all_kept(crawled: dict[str, CrawlResult]) -> None:
    written = by_url(crawled)
    for urls in MANIFEST["same_event"].values():
        for url in urls:
            if url in {d["url"] for g in MANIFEST["duplicate_groups"] for d in g["duplicates"]}:
                continue
            assert written[url][0] == "articles", url


def test_records_carry_what_the_pages_say(crawled: dict[str, CrawlResult]) -> None:
    written = by_url(crawled)
    mismatches = []
    for portal in MANIFEST["portals"].values():
        for article in portal["articles"]:
            record = written[article["url"]][1]
            for field in [*FIELDS, "original_title", "original_script"]:
                if record[field] != article[field]:
                    mismatches.append((article["url"], field, record[field], article[field]))
            if not record["text"].startswith(article["text_start"]):
                mismatches.append((article["url"], "text_start", record["text"][:40]))
            if not record["text"].endswith(article["text_end"]):
                mismatches.append((article["url"], "text_end", record["text"][-40:]))
            if article["text"] is not None and record["text"] != article["text"]:
                mismatches.append((article["url"], "text", "differs"))
            missing_flags = set(article["quality_flags"]) - set(record["quality_flags"])
            if missing_flags:
                mismatches.append((article["url"], "quality_flags", missing_flags))
    assert not mismatches, "\n".join(map(str, mismatches))


@pytest.mark.parametrize("site", ORDER)
def test_seed_article_has_the_seed_documents_values(
    crawled: dict[str, CrawlResult], site: str
) -> None:
    written = by_url(crawled)
    seed_url = next(
        a["url"] for a in MANIFEST["portals"][site]["articles"] if a["seed"] is not None
    )
    record = written[seed_url][1]
    expected = SEEDS[site]
    for field in [*FIELDS, "original_title", "original_script"]:
        assert record[field] == expected[field], field
    assert record["text"].startswith(expected["first"])
    assert record["text"].endswith(expected["last"])
    if "contains" in expected:
        assert expected["contains"] in record["text"]
    assert set(expected.get("flags", set())) <= set(record["quality_flags"])
    assert record["site"] == site
    assert record["fetched_at"].endswith("+08:00")


def test_feed_export_receives_the_same_records(replica_url: str, tmp_path: Path) -> None:
    feed = tmp_path / "feed.jsonl"
    result = crawl("scfzw", replica_url, tmp_path, "-O", str(feed))
    assert result.returncode == 0, result.stderr[-3000:]
    stored = result.records("scfzw")
    exported = [json.loads(line) for line in feed.read_text("utf-8").splitlines()]
    assert len(stored) == MANIFEST["portals"]["scfzw"]["expected_kept_alone"]
    key = lambda r: r["id"]  # noqa: E731
    assert sorted(exported, key=key) == sorted(stored, key=key)
    assert "\\u" not in feed.read_text("utf-8")  # Chinese written as text


@pytest.mark.parametrize("site", ORDER)
def test_generic_spider_finds_the_portals_articles(
    replica_url: str, tmp_path: Path, site: str
) -> None:
    """``scrapy crawl portal -a url=…`` with no portal file finds exactly the articles."""
    portal = MANIFEST["portals"][site]
    result = crawl(
        "portal", replica_url, tmp_path, "-a", f"url={portal['start_url']}",
        settings={"DEDUP_ENABLED": "False"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    records = result.records(portal["host"])
    assert {r["url"] for r in records} == {a["url"] for a in portal["articles"]}
    seed = next(a for a in portal["articles"] if a["seed"] is not None)
    record = next(r for r in records if r["url"] == seed["url"])
    for field in FIELDS:
        assert record[field] == SEEDS[site][field], field
    # the site's name from the list page's title, not the host name
    assert record["site_name"] != portal["host"]
    assert record["site_name"]


def test_clusters_name_the_original_of_every_reprint(crawled: dict[str, CrawlResult]) -> None:
    """``clusters`` groups by ``cluster`` and names the original (manifest truth)."""
    from crawler.commands.clusters import build_clusters

    clusters, bad = build_clusters(next(iter(crawled.values())).output_dir)
    assert bad == 0
    origins = {c["origin"] for c in clusters}
    assert origins == {group["kept"] for group in MANIFEST["duplicate_groups"]}


LIST_FIELDS = ("authors", "editors", "responsible_editors", "quality_flags", "fixes")


def test_output_loads_with_one_type_per_column_in_pandas_and_duckdb(
    crawled: dict[str, CrawlResult], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Crawl output plus a day-only page (extract) read as the README says."""
    output = next(iter(crawled.values())).output_dir
    day_only = Path(__file__).parent / "fixtures" / "trs_sx" / "trs_url_date_only"
    meta = json.loads((day_only / "meta.json").read_text(encoding="utf-8"))
    extracted = subprocess.run(
        [sys.executable, "-m", "crawler", "extract", "--url", meta["url"],
         str(day_only / "page.html")],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout  # fmt: skip
    assert json.loads(extracted)["published_precision"] == "day"
    data = tmp_path / "data"
    for path in output.glob("*/*.jsonl"):
        target = data / path.parent.name / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    (data / "trs_sx").mkdir()
    (data / "trs_sx" / "articles.jsonl").write_text(extracted, encoding="utf-8")
    files = sorted(f for f in data.glob("*/*.jsonl") if f.stat().st_size)
    df = pd.concat(
        [pd.read_json(f, lines=True) for f in sorted(data.glob("*/articles.jsonl"))],
        ignore_index=True,
    )
    assert df["published_precision"].isna().sum() == df["published_at"].isna().sum()
    assert {"second", "minute", "day"} <= set(df["published_precision"].dropna())
    for one in [pd.read_json(f, lines=True) for f in files]:
        for column in ("published_at", "fetched_at"):
            if one[column].notna().any():
                assert isinstance(one[column].dtype, pd.DatetimeTZDtype), (column, one.dtypes)
                assert str(one[column].dtype.tz) == "UTC+08:00"
        for column in LIST_FIELDS:
            assert all(isinstance(v, list) for v in one[column]), column
    monkeypatch.chdir(data)
    con = duckdb.connect()
    types = dict(
        con.execute(
            "select column_name, column_type from (describe select * from "
            "read_json_auto('*/*.jsonl', union_by_name = true))"
        ).fetchall()
    )
    assert types["published_at"] == "TIMESTAMP WITH TIME ZONE"
    assert types["fetched_at"] == "TIMESTAMP WITH TIME ZONE"
    for column in LIST_FIELDS:
        assert types[column] == "VARCHAR[]", column
    assert types["published_precision"] == "VARCHAR"
    (day,) = con.execute(
        "select strftime(published_at at time zone 'Asia/Shanghai', '%Y-%m-%d %H:%M') "
        "from read_json_auto('trs_sx/articles.jsonl')"
    ).fetchone()
    assert day == "2021-03-05 00:00"
    counts = con.execute(
        "select site, count(*) from read_json_auto('*/articles.jsonl') group by 1"
    ).fetchall()
    assert sum(n for _, n in counts) == len(df)


def test_readme_analysis_lines_run_as_written(crawled: dict[str, CrawlResult]) -> None:
    """Each ``python …`` line of the README's analysis block, in a folder holding output/."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    block = readme.split("then, from the repository with the virtualenv active:", 1)[1]
    block = block.split("```", 2)[1]
    lines = [ln for ln in block.splitlines() if ln.startswith("python ")]
    assert len(lines) >= 5
    cwd = next(iter(crawled.values())).output_dir.parent
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root)}
    for line in lines:
        done = subprocess.run(  # noqa: S602
            line.replace("python ", f"{sys.executable} ", 1),
            shell=True,  # the README's own lines, run as a user types them
            cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert done.returncode == 0, (line, done.stderr[-2000:])
        if "dtypes" in line:
            assert "datetime64" in done.stdout, done.stdout
            assert "UTC+08:00" in done.stdout, done.stdout
