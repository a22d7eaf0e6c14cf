"""The compiled batch decision gives the step-by-step decision's verdicts and index."""

from __future__ import annotations

import numpy as np
import pytest

from crawler.dedup.engine import Deduplicator, Prepared
from crawler.dedup.index import DedupIndex, IndexParams
from crawler.dedup.lsh import band_keys

PARAMS = IndexParams(shingle_size=5, num_perm=64, lsh_threshold=0.4)


def _batches(seed: int, n: int, size: int) -> list[tuple[Prepared, list[str], list[str]]]:
    """Signatures with planted copies at similarities around the threshold, repeated URLs
    and content hashes, and records whose best candidates tie."""
    rng = np.random.default_rng(seed)
    p = PARAMS.num_perm
    sigs = rng.integers(0, 1 << 32, (n, p), dtype=np.uint64).astype(np.uint32)
    for i in range(1, n):
        kind = rng.integers(0, 6)
        j = int(rng.integers(0, i))
        if kind <= 2:  # a copy of an earlier record with some values changed
            keep = rng.random(p) < rng.uniform(0.3, 1.0)
            sigs[i, keep] = sigs[j, keep]
        elif kind == 3 and i > 2:  # half of one earlier record, half of another: ties
            k = int(rng.integers(0, i))
            sigs[i, : p // 2] = sigs[j, : p // 2]
            sigs[i, p // 2 :] = sigs[k, p // 2 :]
    url_no = np.arange(n)
    repeat_url = rng.random(n) < 0.05
    url_no[repeat_url] = rng.integers(0, n, int(repeat_url.sum()))
    hash_no = np.arange(n)
    repeat_hash = rng.random(n) < 0.05
    hash_no[repeat_hash] = rng.integers(0, n, int(repeat_hash.sum()))
    # a few keys above 2**63 (uint64 keys of any value)
    hash_keys = hash_no.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    url_keys = url_no.astype(np.uint64) * np.uint64(0xC2B2AE3D27D4EB4F) + np.uint64(1)
    out = []
    for a in range(0, n, size):
        b = min(n, a + size)
        prep = Prepared(
            sigs=sigs[a:b].copy(),
            bands=band_keys(sigs[a:b], PARAMS.bands, PARAMS.rows),
            hash_keys=hash_keys[a:b].copy(),
            url_keys=url_keys[a:b].copy(),
            content_hashes=[f"{int(h):016x}" for h in hash_keys[a:b]],
        )
        ids = [f"id{i}" for i in range(a, b)]
        urls = [f"http://a.cn/{int(u)}" for u in url_no[a:b]]
        out.append((prep, ids, urls))
    return out


def _state(index: DedupIndex, batches: list[tuple[Prepared, list[str], list[str]]]) -> object:
    keys = [
        (index.lookup_url(int(u)), index.lookup_hash(int(h)))
        for prep, _, _ in batches
        for u, h in zip(prep.url_keys, prep.hash_keys, strict=True)
    ]
    rows = list(range(len(index)))
    return len(index), keys, index.signatures(rows).tolist(), [index.label(r) for r in rows]


@pytest.mark.parametrize(("seed", "flush_every", "size"), [(1, 16384, 50), (2, 7, 40), (3, 3, 1)])
def test_compiled_decision_equals_the_stepwise_decision(
    seed: int, flush_every: int, size: int
) -> None:
    batches = _batches(seed, 400, size)
    results = []
    for compiled in (True, False):
        index = DedupIndex(None, PARAMS, flush_every=flush_every)
        dedup = Deduplicator(index, 0.5)
        dedup.compiled = compiled
        verdicts = [v for prep, ids, urls in batches for v in dedup.decide(prep, ids, urls)]
        results.append((verdicts, _state(index, batches), len(index.segments)))
    (fast, fast_state, fast_segs), (ref, ref_state, ref_segs) = results
    assert fast == ref
    assert fast_state == ref_state
    assert fast_segs == ref_segs
    kinds = {v.match for v in fast}
    assert kinds == {None, "url", "content_hash", "minhash"}  # every branch was taken
    assert any(0.5 <= v.similarity < 0.6 for v in fast if v.match == "minhash")


def test_the_buffer_grows_past_flush_every_within_a_batch() -> None:
    (prep, ids, urls), *_ = _batches(4, 300, 300)
    index = DedupIndex(None, PARAMS, flush_every=2)
    verdicts = Deduplicator(index, 0.5).decide(prep, ids, urls)
    kept = [v for v in verdicts if v.match is None]
    assert len(kept) == len(index) > 100
    assert [v.row for v in kept] == list(range(len(kept)))
    assert len(index.segments) == 1  # flushed once, after the batch
    # every kept record finds itself again, by URL
    again = Deduplicator(index, 0.5).decide(prep, ids, urls)
    assert all(v.match == "url" for v in again)


def test_flushes_merges_and_the_reused_buffer_decide_as_one_unflushed_buffer() -> None:
    batches = _batches(5, 600, 3)  # batches smaller than the buffer: it is reused
    results = []
    for flush_every in (7, 1 << 20):  # many flushes and merges, the buffer reused / none
        index = DedupIndex(None, PARAMS, flush_every=flush_every)
        dedup = Deduplicator(index, 0.5)
        verdicts = [v for prep, ids, urls in batches for v in dedup.decide(prep, ids, urls)]
        results.append((verdicts, _state(index, batches), len(index.segments)))
    (flushed, flushed_state, segments), (plain, plain_state, _) = results
    assert segments > 1
    assert flushed == plain
    assert flushed_state == plain_state


def test_segment_best_takes_every_row_sharing_a_band_even_past_its_scratch_room() -> None:
    """Far more (record, row) pairs than band lookups (a band value shared by hundreds of
    rows): the best row is still the brute-force best, each row compared once."""
    from crawler.dedup import kernels
    from crawler.dedup.index import KeyTable

    rng = np.random.default_rng(11)
    p, nb, rows = PARAMS.num_perm, PARAMS.bands, PARAMS.rows
    n_seg, base = 700, 1000
    seg_sigs = rng.integers(0, 1 << 32, (n_seg, p), dtype=np.uint64).astype(np.uint32)
    query = rng.integers(0, 1 << 32, (3, p), dtype=np.uint64).astype(np.uint32)
    seg_sigs[:, :rows] = query[0, :rows]  # every row shares the first band of record 0
    for r in rng.choice(n_seg, 40, replace=False):  # and some share more of its values
        keep = rng.random(p) < rng.uniform(0.2, 0.9)
        seg_sigs[r, keep] = query[0, keep]
    seg_sigs[5] = query[2]  # record 2 has one exact twin
    seg_bands = band_keys(seg_sigs, nb, rows)
    table = KeyTable.build(
        seg_bands.reshape(-1), np.repeat(np.arange(base, base + n_seg, dtype=np.uint32), nb)
    )
    bands = np.ascontiguousarray(band_keys(query, nb, rows))
    best_row = np.full(3, -1, dtype=np.int64)
    best_cnt = np.full(3, -1, dtype=np.int64)
    kernels.segment_best(
        bands, query, table.directory(), table.shift, table.keys, table.rows,
        seg_sigs, base, best_row, best_cnt,
    )  # fmt: skip
    for i in range(3):
        sharing = [r for r in range(n_seg) if (seg_bands[r] == bands[i]).any()]
        if not sharing:
            assert (best_row[i], best_cnt[i]) == (-1, -1)
            continue
        counts = [int((seg_sigs[r] == query[i]).sum()) for r in sharing]
        top = max(counts)
        assert best_cnt[i] == top
        assert best_row[i] == base + sharing[counts.index(top)]  # the earliest on a tie
    assert len([r for r in range(n_seg) if (seg_bands[r] == bands[0]).any()]) > nb
    assert (best_row[2], best_cnt[2]) == (base + 5, p)
