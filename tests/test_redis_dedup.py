"""The near-duplicate index in Redis against a real redis-server.

The labelled pairs of tests/data/dedup/ decided through Redis give the embedded
index's verdicts; copies decided at the same moment by two clients keep one.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from redisserver import RedisServer
from synthetic import articles

from crawler import settings as project_settings
from crawler.dedup.engine import Deduplicator, prepare
from crawler.dedup.index import DedupIndex
from crawler.dedup.minhash import estimate
from crawler.distributed.connection import RedisLink
from crawler.distributed.dedup import RedisIndex
from crawler.ids import content_hash, record_id
from pipelines.dedup import params_from_settings

PAIRS = Path(__file__).parent / "data" / "dedup" / "pairs.jsonl"
PARAMS = params_from_settings()
THRESHOLD = project_settings.DEDUP_THRESHOLD


def texts() -> list[str]:
    out: dict[str, None] = {}
    with PAIRS.open(encoding="utf-8") as f:
        for line in f:
            pair = json.loads(line)
            out.setdefault(pair["a"])
            out.setdefault(pair["b"])
    return list(out)


def distinct_texts() -> list[str]:
    """Texts none of which is a copy of another (as the embedded index decides)."""
    corpus = texts()
    urls = [f"http://x.gov.cn/{i}.html" for i in range(len(corpus))]
    prep = prepare(corpus, urls, [None] * len(corpus), PARAMS)
    verdicts = Deduplicator(DedupIndex(None, PARAMS), THRESHOLD).decide(prep, urls, urls)
    return [t for t, v in zip(corpus, verdicts, strict=True) if v.match is None]


def record(text: str, n: int, site: str = "siteA", owner: str = "siteA/h-1") -> dict[str, Any]:
    url = f"http://www.{site}.gov.cn/xw/{n}.html"
    rid = record_id(url)
    return {
        "id": rid,
        "url": url,
        "cluster": rid,
        "site": site,
        "site_name": site,
        "source": None,
        "published_at": None,
        "published_precision": None,
        "fetched_at": None,
        "owner": owner,
        "text": text,
    }


def link(server: RedisServer, tmp_path: Path) -> RedisLink:
    found = RedisLink(server.url, "zhengfa")
    state = tmp_path / "state"
    state.mkdir(exist_ok=True)
    found.join(state)
    return found


def redis_decide(index: RedisIndex, recs: list[dict[str, Any]]) -> list[tuple[str | None, str]]:
    prep = prepare([r["text"] for r in recs], [r["url"] for r in recs], [None] * len(recs), PARAMS)
    fields = [{k: v for k, v in r.items() if k != "text"} for r in recs]
    return [(d.match, str(d.kept.get("id") or "")) for d in index.decide(prep, fields)]


def test_same_verdicts_as_the_embedded_index(redis_server: RedisServer, tmp_path: Path) -> None:
    corpus = texts()
    # every text, then exact copies and a few re-crawled URLs
    recs = [record(t, i) for i, t in enumerate(corpus)]
    recs += [record(corpus[i], 10_000 + i, site="siteB") for i in range(0, len(corpus), 7)]
    recs += [record(corpus[i], i) for i in range(0, len(corpus), 11)]
    embedded = DedupIndex(None, PARAMS)
    prep = prepare([r["text"] for r in recs], [r["url"] for r in recs], [None] * len(recs), PARAMS)
    ids = [r["id"] for r in recs]
    want = Deduplicator(embedded, THRESHOLD).decide(prep, ids, [r["url"] for r in recs])
    index = RedisIndex(link(redis_server, tmp_path), PARAMS, THRESHOLD)
    got: list[tuple[str | None, str]] = []
    for start in range(0, len(recs), 50):  # batches of 50, one script call each
        got += redis_decide(index, recs[start : start + 50])
    assert [g[0] for g in got] == [w.match for w in want]
    assert [g[1] for g in got if g[0]] == [w.kept_id for w in want if w.match]
    kinds = {w.match for w in want}
    assert {"url", "content_hash", "minhash", None} <= kinds  # every path was exercised


def test_two_workers_two_copies_at_once_keep_exactly_one(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    corpus = distinct_texts()[:60]
    a = RedisIndex(link(redis_server, tmp_path), PARAMS, THRESHOLD)
    b = RedisIndex(link(redis_server, tmp_path), PARAMS, THRESHOLD)
    results: dict[str, list[tuple[str | None, str]]] = {"a": [], "b": []}
    barrier = threading.Barrier(2)

    def run(name: str, index: RedisIndex, site: str) -> None:
        for i, text in enumerate(corpus):
            barrier.wait()
            # the same article on two portals, decided at the same moment
            results[name] += redis_decide(index, [record(text, i, site, f"{site}/h-{name}")])

    threads = [
        threading.Thread(target=run, args=("a", a, "siteA")),
        threading.Thread(target=run, args=("b", b, "siteB")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(results["a"]) == len(results["b"]) == len(corpus)
    for (ma, ka), (mb, kb) in zip(results["a"], results["b"], strict=True):
        assert (ma is None) != (mb is None), "both or neither copy kept"
        assert ka or kb  # the duplicate names the kept copy
    kept = sum(m is None for m, _ in results["a"] + results["b"])
    assert kept == len(corpus)


def test_a_cluster_is_taken_over_once(redis_server: RedisServer, tmp_path: Path) -> None:
    index = RedisIndex(link(redis_server, tmp_path), PARAMS, THRESHOLD)
    text = texts()[0]
    first = record(text, 1)
    redis_decide(index, [first])
    cluster = first["id"]
    one = {**record(text, 2, "siteB"), "cluster": cluster}
    two = {**record(text, 3, "siteC"), "cluster": cluster}
    one.pop("text")
    two.pop("text")
    assert index.set_kept(cluster, first["id"], one, None) is None
    lost = index.set_kept(cluster, first["id"], two, None)  # decided against a stale kept
    assert lost is not None
    assert lost["id"] == one["id"]
    again = redis_decide(index, [record(text, 4, "siteD")])
    assert again == [("content_hash", one["id"])]


def test_moves_for_another_process_wait_in_redis(redis_server: RedisServer, tmp_path: Path) -> None:
    index = RedisIndex(link(redis_server, tmp_path), PARAMS, THRESHOLD)
    op = {"op": "demote", "id": "x", "duplicate_of": "y", "similarity": 1.0, "match": "minhash"}
    index.push_moves("siteA/h-1", [op])
    assert index.take_moves("siteB/h-2") == []
    assert index.take_moves("siteA/h-1") == [op]
    assert index.take_moves("siteA/h-1") == []


def test_content_hash_given_is_the_one_used(redis_server: RedisServer, tmp_path: Path) -> None:
    index = RedisIndex(link(redis_server, tmp_path), PARAMS, THRESHOLD)
    text = texts()[1]
    prep = prepare([text], ["http://a.gov.cn/1.html"], [content_hash(text)], PARAMS)
    rec = record(text, 1)
    rec.pop("text")
    assert index.decide(prep, [rec])[0].match is None


def test_moves_for_an_ended_process_are_applied_to_its_folder(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    import subprocess
    import sys

    from crawler.distributed.dedup import apply_orphan_moves
    from crawler.distributed.workers import worker_id

    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)  # fmt: skip
    wid = f"{worker_id().rsplit('-', 1)[0]}-{ended.stdout.strip()}"
    folder = tmp_path / "output" / "dali" / wid
    folder.mkdir(parents=True)
    kept = {"id": "a" * 16, "url": "http://www.dali.gov.cn/1.html", "cluster": "a" * 16}
    other = {"id": "b" * 16, "url": "http://www.dali.gov.cn/2.html", "cluster": "b" * 16}
    (folder / "articles.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in (kept, other)), encoding="utf-8"
    )
    index = RedisIndex(link(redis_server, tmp_path), PARAMS, THRESHOLD)
    op = {"op": "demote", "id": kept["id"], "duplicate_of": "c" * 16, "similarity": 0.9,
          "match": "minhash", "cluster": kept["cluster"]}  # fmt: skip
    index.push_moves(f"dali/{wid}", [op])
    # a live process of this host (this one) is left alone
    index.push_moves(f"dali/{worker_id()}", [op])
    moved = apply_orphan_moves(index, tmp_path / "output", tmp_path / "state")
    assert moved == 1
    arts = [json.loads(x) for x in (folder / "articles.jsonl").read_text("utf-8").splitlines()]
    dups = [json.loads(x) for x in (folder / "duplicates.jsonl").read_text("utf-8").splitlines()]
    assert [r["id"] for r in arts] == [other["id"]]
    assert [(r["id"], r["duplicate_of"]) for r in dups] == [(kept["id"], "c" * 16)]
    assert index.take_moves(f"dali/{worker_id()}") == [op]


def test_grown_tables_and_spilled_buckets_keep_the_verdicts(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """Many documents: the tables split many times and busy buckets spill over."""
    corpus = articles(2500, seed=3)
    recs = [record(t, i, site=f"site{i % 3}") for i, t in enumerate(corpus)]
    prep = prepare(corpus, [r["url"] for r in recs], [None] * len(recs), PARAMS)
    want = Deduplicator(DedupIndex(None, PARAMS), THRESHOLD).decide(
        prep, [r["id"] for r in recs], [r["url"] for r in recs]
    )
    index = RedisIndex(link(redis_server, tmp_path), PARAMS, THRESHOLD)
    got: list[tuple[str | None, str]] = []
    for start in range(0, len(recs), 100):
        got += redis_decide(index, recs[start : start + 100])
    assert [g[0] for g in got] == [w.match for w in want]
    assert [g[1] for g in got if g[0]] == [w.kept_id for w in want if w.match]
    client = redis_server.client()
    assert client.keys("zhengfa:dd:o:*"), "no bucket spilled over: the test lost its point"
    assert int(client.hget("zhengfa:dd:lh", "bi") or 0) >= 8  # the band table split often
    # every band hash stays in Redis's compact encoding
    shards = client.keys("zhengfa:dd:b:*")
    assert {client.object("encoding", k) for k in shards} == {b"listpack"}


def test_a_row_inserted_between_view_and_verdict_is_taken_into_account(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """Worker b decides x on a view; worker a inserts a reprint of x before b's verdict."""
    corpus = distinct_texts()
    paras = [t.split("\n") for t in corpus]
    # x: an article with a reprint y (a paragraph less) that is a near duplicate but not
    # an exact one, and an earlier article t sharing a band with x, below the threshold
    found = None
    for xi, parts in enumerate(paras):
        if len(parts) < 4:
            continue
        x, y = "\n".join(parts), "\n".join(parts[:-1])
        px = prepare([x, y], ["http://x/1", "http://x/2"], [None, None], PARAMS)
        if estimate(px.sigs[0], px.sigs[1:])[0] < THRESHOLD:
            continue
        for ti, other in enumerate(corpus):
            if ti == xi:
                continue
            pt = prepare([other], ["http://x/3"], [None], PARAMS)
            shared = set(pt.bands[0].tolist()) & set(px.bands[0].tolist())
            if shared and estimate(px.sigs[0], pt.sigs)[0] < THRESHOLD:
                found = (x, y, other)
                break
        if found:
            break
    assert found, "no suitable texts in tests/data/dedup"
    x, y, t = found
    a = RedisIndex(link(redis_server, tmp_path), PARAMS, THRESHOLD)
    b = RedisIndex(link(redis_server, tmp_path), PARAMS, THRESHOLD)
    assert redis_decide(a, [record(t, 1, "siteA")]) == [(None, "")]
    reprint = record(y, 2, "siteA")
    decide_locally = b._local
    views: list[str] = []

    def meanwhile(*args: Any) -> Any:
        verdicts = decide_locally(*args)
        views.append(verdicts[0])
        if len(views) == 1:
            assert verdicts[0] == "k"  # on its view (t only), x is kept
            assert redis_decide(a, [reprint]) == [(None, "")]  # a inserts y meanwhile
        return verdicts

    b._local = meanwhile  # type: ignore[method-assign,assignment]
    got = redis_decide(b, [record(x, 3, "siteB")])
    assert got == [("minhash", reprint["id"])]  # decided again against y
    assert views == ["k", "n"]
    # the same as one process deciding t, y, x in this order
    prep = prepare([t, y, x], ["http://a/1", "http://a/2", "http://a/3"], [None] * 3, PARAMS)
    one = Deduplicator(DedupIndex(None, PARAMS), THRESHOLD).decide(
        prep, ["t", "y", "x"], ["1", "2", "3"]
    )
    assert [v.match for v in one] == [None, None, "minhash"]
    assert one[2].kept_id == "y"


def test_an_index_in_another_key_layout_is_refused(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    import pytest

    from crawler.distributed.connection import RedisLayoutMismatch

    client = redis_server.client()
    first = link(redis_server, tmp_path)
    client.hset("zhengfa:dd:url", "1", "1")  # what the first layout wrote
    with pytest.raises(RedisLayoutMismatch, match="layout 1; this version reads layout 2"):
        RedisIndex(first, PARAMS, THRESHOLD)
    client.delete("zhengfa:dd:url")
    index = RedisIndex(first, PARAMS, THRESHOLD)
    assert client.hget("zhengfa:meta", "dd-layout") == b"2"
    client.hset("zhengfa:meta", "dd-layout", "3")  # a later version's, found mid-crawl
    with pytest.raises(RedisLayoutMismatch, match="layout 3; this version reads layout 2"):
        redis_decide(index, [record(texts()[0], 1)])


def test_a_decision_sent_again_keeps_the_record(redis_server: RedisServer, tmp_path: Path) -> None:
    """A decide script whose reply was lost runs again: the record is this process's own."""
    from pages import article_item
    from scrapy import Spider
    from scrapy.utils.test import get_crawler

    from crawler.distributed.dedup import RedisDedupPipeline

    class Portal(Spider):
        name = "siteA"

    settings = {k: getattr(project_settings, k) for k in dir(project_settings) if k.isupper()}
    settings.update(REDIS_URL=redis_server.url, STATE_DIR=str(tmp_path / "state"))
    link(redis_server, tmp_path)
    crawler = get_crawler(Portal, settings)
    crawler.spider = Portal()
    pipe = RedisDedupPipeline(crawler)
    pipe.open_spider()
    text = texts()[0]
    url = "http://www.siteA.gov.cn/xw/1.html"
    item = article_item(text, url, "siteA")
    prep = prepare([text], [url], [item.content_hash], PARAMS)
    # the first run of the script stored it, its reply was lost
    pipe.index.decide(prep, [{**record(text, 1), "owner": pipe.owner}])
    assert pipe.process_item(item) is item
    assert crawler.stats.get_value("dedup/kept") == 1
    assert not crawler.stats.get_value("dedup/duplicates/url")
