"""DedupPipeline on ArticleItems: kept, url, content hash, near duplicate, same topic kept."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from pages import article_item
from scrapy.exceptions import DropItem, NotConfigured
from scrapy.utils.test import get_crawler

from crawler import signals
from crawler.items import ArticleItem, DuplicateItem
from pipelines.dedup import DedupPipeline

PAIRS = Path(__file__).parent / "data" / "dedup" / "pairs.jsonl"


def _pair(kind: str, note_start: str = "") -> dict[str, Any]:
    with PAIRS.open(encoding="utf-8") as f:
        for line in f:
            pair = json.loads(line)
            if pair["kind"] == kind and pair["note"].startswith(note_start):
                return pair
    raise AssertionError(kind)


def article(text: str, url: str, site: str = "lnchangan") -> ArticleItem:
    return article_item(
        text,
        url,
        site,
        published_at="2022-07-15T00:00:00+08:00",
        published_precision="day",
        source="辽宁日报",
        fetched_at="2022-07-16T08:00:00+08:00",
    )


@pytest.fixture
def crawler(tmp_path: Path) -> Any:
    return get_crawler(
        settings_dict={
            "STATE_DIR": str(tmp_path / "state"),
            "OUTPUT_DIR": str(tmp_path / "output"),
            "DEDUP_SAVE_EVERY": 2,
        }
    )


def test_disabled_raises_not_configured(tmp_path: Path) -> None:
    crawler = get_crawler(settings_dict={"DEDUP_ENABLED": False})
    with pytest.raises(NotConfigured):
        DedupPipeline.from_crawler(crawler)


def test_pipeline_keeps_the_first_and_drops_reprints(
    crawler: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    found: list[DuplicateItem] = []

    def on_duplicate(item: DuplicateItem, **kwargs: Any) -> None:
        found.append(item)

    crawler.signals.connect(on_duplicate, signal=signals.duplicate_found)
    pipe = DedupPipeline.from_crawler(crawler)
    pipe.open_spider()
    reprint = _pair("first_line", "000")
    same_topic = _pair("same_meeting", "000 vs shenyang")
    original = article(reprint["a"], "http://www.lnchangan.gov.cn/a/1.html")
    assert pipe.process_item(original) is original

    with caplog.at_level(logging.INFO, logger="pipelines.dedup"), pytest.raises(DropItem):
        pipe.process_item(article(reprint["b"], "https://news.example.cn/x/2.html", "other"))
    assert (
        "https://news.example.cn/x/2.html is a reprint of http://www.lnchangan.gov.cn/a/1.html"
        in caplog.text
    )

    with pytest.raises(DropItem):  # the same text elsewhere: exact duplicate
        pipe.process_item(article(reprint["a"], "http://www.gov.example.cn/3.html", "gov"))
    with pytest.raises(DropItem):  # the same page again (https, tracking parameter)
        pipe.process_item(
            article(reprint["a"] + "更新", "https://www.lnchangan.gov.cn/a/1.html?from=timeline")
        )
    different = article(same_topic["b"], "http://www.sy.gov.cn/4.html", "shenyang")
    assert pipe.process_item(different) is different  # same meeting, another article: kept
    pipe.process_item(object())  # not an article: passed on untouched

    stats = crawler.stats.get_stats()
    assert stats["dedup/kept"] == 2
    assert stats["dedup/near_duplicate"] == 1
    assert stats["dedup/content_hash"] == 1
    assert stats["dedup/url"] == 1
    assert [d.match for d in found] == ["minhash", "content_hash", "url"]
    near = found[0]
    assert isinstance(near, DuplicateItem)
    assert near.duplicate_of == original.id
    assert 0.5 <= near.similarity < 1.0
    assert near.url == "https://news.example.cn/x/2.html"
    assert near.text == reprint["b"]
    assert found[1].similarity == 1.0

    pipe.close_spider()
    # the next run knows the kept records without any output written
    pipe2 = DedupPipeline.from_crawler(get_crawler(settings_dict=dict(crawler.settings)))
    pipe2.open_spider()
    with pytest.raises(DropItem):
        pipe2.process_item(article(reprint["b"], "http://www.third.cn/5.html", "third"))
    pipe2.close_spider()


def test_pipeline_rebuilds_from_the_stores_output(crawler: Any, tmp_path: Path) -> None:
    text = _pair("edits", "001")["a"]
    kept = article(text, "http://www.dali.gov.cn/1.html", "dali")
    out = tmp_path / "output" / "dali" / "articles.jsonl"
    out.parent.mkdir(parents=True)
    from dataclasses import asdict

    out.write_text(json.dumps(asdict(kept), ensure_ascii=False) + "\n", encoding="utf-8")
    pipe = DedupPipeline.from_crawler(crawler)
    pipe.open_spider()  # no index yet: built from the JSONL
    with pytest.raises(DropItem, match=kept.id):
        pipe.process_item(article(_pair("edits", "001")["b"], "http://www.yn.gov.cn/9.html", "yn"))
    pipe.close_spider()


def _write_kept(output: Path, site: str, item: ArticleItem) -> None:
    """What the store does for a kept record: one JSON line in <site>/articles.jsonl."""
    path = output / site / "articles.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(dataclasses.asdict(item), ensure_ascii=False) + "\n")


def test_two_portals_crawled_at_once_share_the_index(tmp_path: Path) -> None:
    """Two runs open the index together; both saves keep both runs' records."""
    settings = {
        "STATE_DIR": str(tmp_path / "state"),
        "OUTPUT_DIR": str(tmp_path / "output"),
        "DEDUP_SAVE_EVERY": 1000,
    }
    first, second = (DedupPipeline.from_crawler(get_crawler(settings_dict=settings)) for _ in "ab")
    first.open_spider()
    second.open_spider()
    texts = [_pair("dropped_paragraph", "000")["a"], _pair("dropped_paragraph", "004")["a"]]
    a = article(texts[0], "http://www.lnzf.gov.cn/szyw/a.html", site="lnzf")
    b = article(texts[1], "http://www.scfzw.net/shzl/b.html", site="scfzw")
    assert first.process_item(a) is a
    _write_kept(tmp_path / "output", "lnzf", a)
    assert second.process_item(b) is b
    _write_kept(tmp_path / "output", "scfzw", b)
    first.close_spider()
    second.close_spider()  # saves after the first: must merge, not overwrite

    third = DedupPipeline.from_crawler(get_crawler(settings_dict=settings))
    third.open_spider()
    assert third.index is not None
    assert len(third.index) == 2
    for original in (a, b):
        reprint = article(original.text, original.url.replace(".html", "-copy.html"), site="cri")
        with pytest.raises(DropItem, match=original.id):
            third.process_item(reprint)
    third.close_spider()


def test_a_better_origin_arriving_later_replaces_the_kept_reprint(crawler: Any) -> None:
    pipe = DedupPipeline.from_crawler(crawler)
    pipe.open_spider()
    pair = _pair("first_line", "000")
    reprint = dataclasses.replace(
        article(pair["b"], "https://ln.cri.cn/r.html", "cri"),
        published_at="2022-07-16T00:00:00+08:00",
        source="四川法制网",
    )
    assert pipe.process_item(reprint) is reprint
    assert reprint.cluster == reprint.id  # a new cluster is named after its first copy
    origin = dataclasses.replace(
        article(pair["a"], "http://www.scfzw.net/o.html", "scfzw"),
        site_name="四川法制网",
        published_at="2022-07-17T00:00:00+08:00",  # later, but the reprint names it as 来源
    )
    assert pipe.process_item(origin) is origin
    assert origin.cluster == reprint.id  # the cluster keeps its id
    assert origin._dedup_moves == [  # type: ignore[attr-defined]
        (
            "cri",
            {
                "op": "demote",
                "id": reprint.id,
                "duplicate_of": origin.id,
                "similarity": origin._dedup_moves[0][1]["similarity"],  # type: ignore[attr-defined]
                "match": "minhash",
                "cluster": reprint.id,
            },
        )
    ]
    # a third copy, dated earlier than both: the origin another copy cites stays kept
    third = dataclasses.replace(
        article(pair["a"] + "。", "http://www.third.cn/3.html", "third"),
        published_at="2022-07-01T00:00:00+08:00",
    )
    with pytest.raises(DropItem, match=origin.id):
        pipe.process_item(third)
    assert crawler.stats.get_value("dedup/origin_replaced") == 1
    pipe.close_spider()


def test_copies_kept_by_two_runs_at_once_are_reconciled_at_close(tmp_path: Path) -> None:
    settings = {
        "STATE_DIR": str(tmp_path / "state"),
        "OUTPUT_DIR": str(tmp_path / "output"),
        "DEDUP_SAVE_EVERY": 1000,
    }
    crawlers = [get_crawler(settings_dict=settings) for _ in "ab"]
    moves: list[Any] = []

    def on_moves(ops: list[Any], **kwargs: Any) -> None:
        moves.extend(ops)

    for c in crawlers:
        c.signals.connect(on_moves, signal=signals.moves_found)
    first, second = (DedupPipeline.from_crawler(c) for c in crawlers)
    first.open_spider()
    second.open_spider()
    pair = _pair("first_line", "000")
    early = dataclasses.replace(
        article(pair["a"], "http://www.lnzf.gov.cn/a.html", "lnzf"),
        published_at="2022-07-15T08:00:00+08:00",
        published_precision="second",
    )
    late = dataclasses.replace(
        article(pair["b"], "https://ln.cri.cn/b.html", "cri"),
        published_at="2022-07-15T14:00:00+08:00",
        published_precision="second",
    )
    assert first.process_item(early) is early  # neither run has seen the other's copy yet
    assert second.process_item(late) is late
    _write_kept(tmp_path / "output", "lnzf", early)
    _write_kept(tmp_path / "output", "cri", late)
    first.close_spider()
    second.close_spider()
    demotes = {(site, op["id"]) for site, op in moves if op["op"] == "demote"}
    assert demotes == {("cri", late.id)}  # both runs name the same loser
    relabels = {(op["from"], op["to"]) for _, op in moves if op["op"] == "relabel"}
    assert relabels == {(late.id, early.id)}  # the merged cluster keeps the winner's id
