"""The persistent index: round trip, merges, corrupt files, replay and rebuild."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from crawler.dedup.engine import Deduplicator, prepare
from crawler.dedup.index import DedupIndex, IndexCorruptError, IndexParams
from crawler.dedup.state import open_index
from crawler.ids import content_hash, record_id

PARAMS = IndexParams(shingle_size=5, num_perm=64, lsh_threshold=0.4)
PAIRS = Path(__file__).parent / "data" / "dedup" / "pairs.jsonl"


def _bodies() -> list[str]:
    """Distinct article bodies (the pair set's negatives: different articles)."""
    seen: dict[str, None] = {}
    with PAIRS.open(encoding="utf-8") as f:
        for line in f:
            pair = json.loads(line)
            if pair["label"] == 0 and pair["kind"] in ("seed_vs_seed", "same_meeting"):
                seen.setdefault(pair["a"])
                seen.setdefault(pair["b"])
    return list(seen)


def _record(text: str, n: int, site: str = "siteA") -> dict[str, object]:
    url = f"http://www.{site}.gov.cn/xw/{n}.html"
    return {
        "id": record_id(url),
        "url": url,
        "site": site,
        "title": f"标题{n}",
        "published_at": "2022-07-15T00:00:00+08:00",
        "text": text,
        "content_hash": content_hash(text),
    }


def _add(index: DedupIndex, records: list[dict[str, object]]) -> list[str | None]:
    prep = prepare(
        [str(r["text"]) for r in records],
        [str(r["url"]) for r in records],
        [str(r["content_hash"]) for r in records],
        index.params,
    )
    verdicts = Deduplicator(index, 0.5).decide(
        prep, [str(r["id"]) for r in records], [str(r["url"]) for r in records]
    )
    return [v.match for v in verdicts]


def _write_output(
    output: Path,
    records: list[dict[str, object]],
    name: str = "articles.jsonl",
    site: str = "siteA",
) -> Path:
    path = output / site / name
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        for rec in records:
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return path


def test_save_and_reopen_round_trip(tmp_path: Path) -> None:
    bodies = _bodies()
    records = [_record(t, i) for i, t in enumerate(bodies)]
    index = DedupIndex(tmp_path / "dedup", PARAMS, flush_every=3)  # several segments, merged
    assert _add(index, records) == [None] * len(records)
    index.checkpoint = {"siteA/articles.jsonl": {"offset": 10, "lines": 1}}
    index.save()
    reopened = DedupIndex.open(tmp_path / "dedup", PARAMS)
    assert len(reopened) == len(records)
    assert reopened.checkpoint == index.checkpoint
    assert isinstance(reopened.segments[0].sigs, np.memmap)
    for row, rec in enumerate(records):
        assert reopened.label(row) == (rec["id"], rec["url"])
    assert np.array_equal(
        reopened.signatures(list(range(len(records)))), index.signatures(list(range(len(records))))
    )
    # the same texts under other URLs are content-hash duplicates of the saved rows
    again = [_record(str(r["text"]), 100 + i, "siteB") for i, r in enumerate(records)]
    assert _add(reopened, again) == ["content_hash"] * len(records)
    # a reprint with another lead paragraph is a near duplicate
    reprint = "本报讯 记者从会上获悉。\n" + bodies[0].split("\n", 1)[1]
    assert _add(reopened, [_record(reprint, 999, "siteC")]) == ["minhash"]


def test_segments_merge_and_lookups_stay_right(tmp_path: Path) -> None:
    bodies = _bodies()
    index = DedupIndex(tmp_path / "dedup", PARAMS, flush_every=2)
    for i, text in enumerate(bodies):
        assert _add(index, [_record(text, i)]) == [None]
        index.maybe_flush()
        if i % 4 == 3:
            index.save()
    index.save()
    assert len(index.segments) < len(bodies) // 2
    reopened = DedupIndex.open(tmp_path / "dedup", PARAMS)
    assert _add(reopened, [_record(t, i) for i, t in enumerate(bodies)]) == ["url"] * len(bodies)
    names = {p.name for p in (tmp_path / "dedup").iterdir()}
    assert names == {"manifest.json"} | {s.name for s in reopened.segments}


def _saved_index_with_output(tmp_path: Path) -> tuple[Path, Path, list[dict[str, object]]]:
    state, output = tmp_path / "state", tmp_path / "output"
    records = [_record(t, i) for i, t in enumerate(_bodies())]
    index = open_index(state, output, PARAMS)
    assert _add(index, records) == [None] * len(records)
    path = _write_output(output, records)
    dup = dict(
        records[0],
        url="http://www.siteB.gov.cn/a.html",
        duplicate_of=records[0]["id"],
        similarity=1.0,
        match="content_hash",
        site="siteB",
    )
    _write_output(output, [dup], "duplicates.jsonl", "siteB")
    from crawler.dedup.state import sync

    sync(index, output)
    index.save()
    assert index.checkpoint["siteA/articles.jsonl"]["offset"] == path.stat().st_size
    return state, output, records


def _corrupt_truncate(d: Path) -> None:
    f = next(d.glob("seg-*/sigs.npy"))
    f.write_bytes(f.read_bytes()[:-100])


def _corrupt_flip(d: Path) -> None:
    f = next(d.glob("seg-*/band_keys.npy"))
    data = bytearray(f.read_bytes())
    data[-5] ^= 0xFF
    f.write_bytes(bytes(data))


def _corrupt_garbage_manifest(d: Path) -> None:
    (d / "manifest.json").write_bytes(b"\x00\xffnot json{")


def _corrupt_missing_file(d: Path) -> None:
    next(d.glob("seg-*/labels.npy")).unlink()


def _corrupt_wrong_version(d: Path) -> None:
    m = json.loads((d / "manifest.json").read_text())
    m["format_version"] = 99
    (d / "manifest.json").write_text(json.dumps(m))


def _corrupt_manifest_checksum(d: Path) -> None:
    m = json.loads((d / "manifest.json").read_text())
    seg = m["segments"][0]
    seg["files"]["sigs"][0] ^= 1
    (d / "manifest.json").write_text(json.dumps(m))


def _corrupt_missing_manifest(d: Path) -> None:
    (d / "manifest.json").unlink()


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (_corrupt_truncate, "corrupt"),
        (_corrupt_flip, "checksum mismatch"),
        (_corrupt_garbage_manifest, "unreadable manifest"),
        (_corrupt_missing_file, "missing file"),
        (_corrupt_wrong_version, "format version 99"),
        (_corrupt_manifest_checksum, "checksum mismatch"),
        (_corrupt_missing_manifest, "missing"),
    ],
)
def test_corrupt_or_missing_index_is_rebuilt_from_the_jsonl(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, corrupt, message: str
) -> None:
    state, output, records = _saved_index_with_output(tmp_path)
    corrupt(state / "dedup")
    with caplog.at_level(logging.INFO, logger="crawler.dedup.state"):
        index = open_index(state, output, PARAMS)
    text = caplog.text
    assert message in text
    assert "rebuilt from" in text
    assert len(index) == len(records)  # never silently empty
    # the rebuilt index still knows the kept records, the reprint's URL and hashes
    assert _add(index, records[:2]) == ["url", "url"]
    assert index.lookup_url(index.segments[0].urls.keys[0]) is not None
    reopened = DedupIndex.open(state / "dedup", PARAMS)  # and it was saved sound
    assert len(reopened) == len(records)


def _settings_params() -> IndexParams:
    from crawler import settings

    return IndexParams(
        settings.DEDUP_SHINGLE_SIZE,
        settings.DEDUP_NUM_PERM,
        settings.DEDUP_SEED,
        settings.DEDUP_SCHEME,
        settings.DEDUP_LSH_THRESHOLD,
    )


@pytest.mark.parametrize(
    "other",
    [
        IndexParams(shingle_size=4, num_perm=64, lsh_threshold=0.4),
        # the current defaults against an index saved with the former ones (64, 16 x 4)
        _settings_params(),
    ],
)
def test_wrong_parameters_mean_a_rebuild(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, other: IndexParams
) -> None:
    assert other != PARAMS
    state, output, records = _saved_index_with_output(tmp_path)
    with pytest.raises(IndexCorruptError, match="settings ask for"):
        DedupIndex.open(state / "dedup", other)
    with caplog.at_level(logging.INFO):
        index = open_index(state, output, other)
    assert "rebuilt" in caplog.text
    assert len(index) == len(records)
    assert DedupIndex.open(state / "dedup", other).params == other  # saved anew


def test_checkpoint_behind_the_jsonl_replays_the_tail(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state, output, records = _saved_index_with_output(tmp_path)
    # killed after the store wrote two more records, before the index was saved
    extra = [
        _record("第一篇" + records[0]["text"][::-1], 500),  # type: ignore[index]
        _record("另一篇" + records[1]["text"][::-1], 501),
    ]  # type: ignore[index]
    path = _write_output(output, extra)
    with path.open("a", encoding="utf-8") as f:
        f.write('{"id": "partial", "url": "http://x/')  # a torn last line is not a record
    with caplog.at_level(logging.INFO, logger="crawler.dedup.state"):
        index = open_index(state, output, PARAMS)
    assert "replayed 2 kept records" in caplog.text
    assert len(index) == len(records) + 2
    assert _add(index, [dict(extra[1], url="http://www.siteZ.gov.cn/z.html")]) == ["content_hash"]
    cp = DedupIndex.open(state / "dedup", PARAMS).checkpoint["siteA/articles.jsonl"]
    assert cp["lines"] == len(records) + 2
    assert cp["offset"] == path.stat().st_size - len('{"id": "partial", "url": "http://x/')


def test_jsonl_shorter_than_the_checkpoint_means_a_full_rebuild(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state, output, _records = _saved_index_with_output(tmp_path)
    path = output / "siteA" / "articles.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[:2]), encoding="utf-8")  # rewritten with fewer records
    with caplog.at_level(logging.INFO, logger="crawler.dedup.state"):
        index = open_index(state, output, PARAMS)
    assert "truncated" in caplog.text
    assert len(index) == 2


def test_no_index_and_no_output_starts_empty(tmp_path: Path) -> None:
    index = open_index(tmp_path / "state", tmp_path / "output", PARAMS)
    assert len(index) == 0
    assert (tmp_path / "state" / "dedup" / "manifest.json").exists()


def test_labels_keep_the_origin_fields_and_cluster_tables_survive_a_reopen(
    tmp_path: Path,
) -> None:
    from crawler.dedup.index import decode_label, encode_label

    bare = encode_label("00ff", "http://a.cn/1")
    assert bare == b"00ff\0http://a.cn/1"  # no origin fields: no bigger than before
    assert decode_label(bare)["cluster"] == "00ff"
    meta = {"cluster": "c1", "site": "cri", "source": "辽宁日报", "published_at": None}
    rec = decode_label(encode_label("00ff", "http://a.cn/1", meta))
    assert (rec["cluster"], rec["site"], rec["source"], rec["published_at"]) == (
        "c1",
        "cri",
        "辽宁日报",
        None,
    )

    index = DedupIndex(tmp_path / "dedup", PARAMS)
    bodies = _bodies()[:2]
    prep = prepare(bodies, ["http://a.cn/1", "http://b.cn/2"], [None, None], PARAMS)
    metas = [{"site": "a"}, {"site": "b", "cluster": "first-b"}]
    verdicts = Deduplicator(index, 0.5).decide(
        prep, ["id-a", "id-b"], ["http://a.cn/1", "http://b.cn/2"], metas
    )
    assert [v.cluster for v in verdicts] == ["id-a", "first-b"]
    index.set_kept({"id": "id-n", "url": "http://n.cn/9", "site": "n", "cluster": "id-a"})
    index.add_cited("id-a", "某报")
    index.renamed["first-b"] = "id-a"
    index.save()
    again = DedupIndex.open(tmp_path / "dedup", PARAMS)
    assert again.label(0) == ("id-n", "http://n.cn/9")  # the cluster's current kept record
    assert again.first_record(0)["id"] == "id-a"
    assert again.kept_record(1)["cluster"] == "id-a"  # merged into the first cluster
    assert again.cited == {"id-a": ["某报"]}


def test_merging_two_key_tables_orders_entries_as_building_from_both() -> None:
    from crawler.dedup.index import KeyTable

    rng = np.random.default_rng(3)
    for n1, n2 in ((0, 5), (5, 0), (200, 300), (1000, 7)):
        # repeated keys within and across the tables, and keys above 2**63
        pool = rng.integers(0, 1 << 64, 50, dtype=np.uint64)
        k1, k2 = rng.choice(pool, n1), rng.choice(pool, n2)
        r1 = rng.integers(0, 1 << 32, n1, dtype=np.uint64).astype(np.uint32)
        r2 = rng.integers(0, 1 << 32, n2, dtype=np.uint64).astype(np.uint32)
        merged = KeyTable.merged(KeyTable.build(k1, r1), KeyTable.build(k2, r2))
        built = KeyTable.build(np.concatenate([k1, k2]), np.concatenate([r1, r2]))
        assert merged.keys.tolist() == built.keys.tolist()
        assert merged.rows.tolist() == built.rows.tolist()
        assert merged.keys.dtype == np.uint64
        assert merged.rows.dtype == np.uint32
        found = merged.lookup(pool)
        assert sorted(zip(*(a.tolist() for a in found), strict=True)) == sorted(
            zip(*(a.tolist() for a in built.lookup(pool)), strict=True)
        )


def test_building_a_key_table_is_a_stable_sort_of_its_keys() -> None:
    from crawler.dedup import kernels
    from crawler.dedup.index import KeyTable

    rng = np.random.default_rng(8)
    crowded = np.uint64(0xABCD) << np.uint64(48)  # one directory slot of many distinct keys
    cases = [
        rng.integers(0, 1 << 64, 0, dtype=np.uint64),
        rng.integers(0, 1 << 64, 1, dtype=np.uint64),
        rng.choice(rng.integers(0, 1 << 64, 40, dtype=np.uint64), 5000),  # many ties
        rng.integers(0, 1 << 64, 20000, dtype=np.uint64),
        crowded + rng.integers(0, 1 << 40, 3 * kernels._SLOT_SORT, dtype=np.uint64),
        np.concatenate(  # a long slot with ties in it, among ordinary keys
            [
                rng.integers(0, 1 << 64, 500, dtype=np.uint64),
                crowded + rng.integers(0, 8, 200, dtype=np.uint64),
            ]
        ),
    ]
    for keys in cases:
        rows = rng.permutation(len(keys)).astype(np.uint32)
        table = KeyTable.build(keys, rows)
        order = np.argsort(keys, kind="stable")
        assert table.keys.tolist() == keys[order].tolist()
        assert table.rows.tolist() == rows[order].tolist()
        assert table.keys.dtype == np.uint64
        assert table.rows.dtype == np.uint32
