"""The dedup decision shared by the Scrapy pipeline, the offline command and rebuilds.

For each record, in order: same URL key as a kept record → ``"url"``; same
content hash → ``"content_hash"``; else the LSH candidates whose estimated
Jaccard similarity (share of equal MinHash values) is highest, if at least
the threshold → ``"minhash"``; else the record is kept and inserted.  The
first record seen is the one kept.  The CPU-heavy part (:func:`prepare`:
normalization, shingles, signatures, band keys) runs on whole batches and
may run in worker processes; :meth:`Deduplicator.decide` is sequential: with
a :class:`DedupIndex` one compiled loop per batch
(:meth:`DedupIndex.decide_batch`), with any other index offering the same
lookups the step-by-step form below (the reference, tested equal).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from crawler.dedup.fused import batch_signatures, code_signatures
from crawler.dedup.index import DedupIndex, IndexParams
from crawler.dedup.lsh import band_keys, text_hash_key, url_hash
from crawler.dedup.minhash import MinHasher, estimate
from crawler.dedup.shingles import code_shingle_hashes, normalized_codes
from crawler.ids import url_key
from pipelines.script import strip_pinyin


@lru_cache(maxsize=8)
def _hasher(num_perm: int, seed: int, scheme: str) -> MinHasher:
    return MinHasher(num_perm, seed, scheme)


# texts as code points: (codes, offsets, {document: its text where codes do not hold it})
Codes = tuple[NDArray[np.uint32], NDArray[np.int64], Mapping[int, str]]


@dataclass
class Prepared:
    """Keys of a batch of records (one row each)."""

    sigs: NDArray[np.uint32]
    bands: NDArray[np.uint64]
    hash_keys: NDArray[np.uint64]
    url_keys: NDArray[np.uint64]
    content_hashes: list[str]


def prepare(
    texts: Sequence[str],
    urls: Sequence[str],
    content_hashes: Sequence[str | None],
    params: IndexParams,
    codes: Codes | None = None,
) -> Prepared:
    """Signatures, band keys, content-hash and URL keys of a batch.

    A missing content hash is computed as ``crawler.ids.content_hash`` does.
    ``codes``: the texts as code points instead (``(codes, offsets, given)``:
    text ``i`` is ``codes[offsets[i]:offsets[i + 1]]``, except where ``given``
    holds it as a string); ``texts`` is then read only for the documents that
    take the reference path.
    """
    hasher = _hasher(params.num_perm, params.seed, params.scheme)
    n = len(urls)
    sigs = np.empty((n, params.num_perm), dtype=np.uint32)
    slow_docs: Sequence[int]
    if hasher.scheme == "affine32":
        if codes is None:
            utf8, offs, slow = batch_signatures(
                texts, params.shingle_size, hasher.a32, hasher.b32, sigs
            )
        else:
            utf8, offs, slow = code_signatures(
                codes[0], codes[1], params.shingle_size, hasher.a32, hasher.b32, sigs
            )
            slow[list(codes[2])] = 1
        slow_docs = [
            i
            for i in np.flatnonzero(slow).tolist()
            if slow[i] == 1 or strip_pinyin(texts[i])[1]  # pinyin removed: not the fast form
        ]
    else:
        utf8, offs, slow_docs = np.empty(0, dtype=np.uint8), np.zeros(n + 1, np.int64), range(n)
    data = memoryview(utf8.data)
    bounds = offs.tolist()
    hashes: list[str] = [
        ch or hashlib.sha1(data[bounds[i] : bounds[i + 1]]).hexdigest()
        for i, ch in enumerate(content_hashes)
    ]
    for i in slow_docs:  # the reference path, one document at a time
        codes_i = normalized_codes(texts[i])
        if not content_hashes[i]:
            hashes[i] = hashlib.sha1(
                codes_i.tobytes()
                .decode("utf-32-le", "surrogatepass")
                .encode("utf-8", "surrogatepass")
            ).hexdigest()
        sigs[i] = hasher.signature(code_shingle_hashes(codes_i, params.shingle_size))
    return Prepared(
        sigs=sigs,
        bands=band_keys(sigs, params.bands, params.rows),
        hash_keys=np.fromiter((text_hash_key(h) for h in hashes), dtype=np.uint64, count=n),
        url_keys=np.fromiter((url_hash(url_key(u)) for u in urls), dtype=np.uint64, count=n),
        content_hashes=hashes,
    )


@dataclass
class Verdict:
    """What happened to one record: kept (``match is None``) or a duplicate of ``kept_id``."""

    match: str | None
    row: int
    similarity: float
    kept_id: str
    kept_url: str
    cluster: str = ""  # the cluster's stable id (the row's first record's ``cluster``)


Meta = Mapping[str, object]
MATCHES = ("", "url", "content_hash", "minhash")  # match code -> Verdict.match ("": kept)


def _verdict(index: DedupIndex, match: str, row: int, similarity: float) -> Verdict:
    kept = index.kept_record(row)
    return Verdict(match, row, similarity, str(kept["id"]), str(kept["url"]), str(kept["cluster"]))


class Deduplicator:
    """Exact and near-duplicate decisions against a :class:`DedupIndex`."""

    def __init__(self, index: DedupIndex, threshold: float) -> None:
        self.index = index
        self.threshold = threshold
        self.compiled = True  # False: decide step by step (the reference form)

    def decide(
        self,
        prep: Prepared,
        ids: Sequence[str],
        urls: Sequence[str],
        metas: Sequence[Meta | None] | None = None,
    ) -> list[Verdict]:
        """Decide every record of the batch in order; kept records are inserted.

        ``metas``: per record its fields for origin decisions (``cluster``, ``site``,
        ``source``, ``published_at`` …, see ``crawler.dedup.index.META_FIELDS``).
        """
        if self.compiled:
            codes, rows, sims = self.decide_arrays(prep, ids, urls, metas)
            return self._verdicts(codes, rows, sims, ids, urls, metas)
        return self.decide_stepwise(prep, ids, urls, metas)

    def decide_arrays(
        self,
        prep: Prepared,
        ids: Sequence[str],
        urls: Sequence[str],
        metas: Sequence[Meta | None] | None = None,
    ) -> tuple[NDArray[np.uint8], NDArray[np.int64], NDArray[np.float64]]:
        """:meth:`decide` as arrays: match code (index in :data:`MATCHES`), row, similarity."""
        self.index.make_room(len(ids))
        out = self.index.decide_batch(prep, ids, urls, metas, self.threshold)
        self.index.maybe_flush()
        return out

    def _verdicts(
        self,
        codes: NDArray[np.uint8],
        rows: NDArray[np.int64],
        sims: NDArray[np.float64],
        ids: Sequence[str],
        urls: Sequence[str],
        metas: Sequence[Meta | None] | None,
    ) -> list[Verdict]:
        out: list[Verdict] = []
        for i, (code, row, sim) in enumerate(
            zip(codes.tolist(), rows.tolist(), sims.tolist(), strict=True)
        ):
            if code:
                out.append(_verdict(self.index, MATCHES[code], row, sim))
            else:
                meta = metas[i] if metas is not None else None
                cluster = str((meta or {}).get("cluster") or ids[i])
                out.append(Verdict(None, row, 1.0, ids[i], urls[i], cluster))
        return out

    def decide_stepwise(
        self,
        prep: Prepared,
        ids: Sequence[str],
        urls: Sequence[str],
        metas: Sequence[Meta | None] | None = None,
    ) -> list[Verdict]:
        """:meth:`decide` one record after the other through the index's lookups."""
        index = self.index
        index.make_room(len(ids))
        url_rows, hash_rows, (cand_doc, cand_row) = index.segment_matches(
            prep.bands, prep.hash_keys, prep.url_keys
        )
        # Similarity to every segment candidate of the batch at once (one gather of
        # signatures, one comparison), keeping the best per document: the highest
        # estimate, the earliest row on ties.
        seg_best: dict[int, tuple[int, float]] = {}
        if len(cand_doc):
            equal = index.signatures(cand_row) == prep.sigs[cand_doc]
            sims = np.count_nonzero(equal, axis=1) / prep.sigs.shape[1]
            order = np.lexsort((cand_row, -sims, cand_doc))
            first = order[np.r_[True, cand_doc[order][1:] != cand_doc[order][:-1]]]
            seg_best = {
                d: (r, s)
                for d, r, s in zip(
                    cand_doc[first].tolist(),
                    cand_row[first].tolist(),
                    sims[first].tolist(),
                    strict=True,
                )
            }
        out: list[Verdict] = []
        for i in range(len(ids)):
            ukey = int(prep.url_keys[i])
            hkey = int(prep.hash_keys[i])
            row = index.buffer_url(ukey)
            if row is None and url_rows[i] >= 0:
                row = url_rows[i]
            if row is not None:
                out.append(_verdict(index, "url", row, 1.0))
                continue
            row = index.buffer_hash(hkey)
            if row is None and hash_rows[i] >= 0:
                row = hash_rows[i]
            if row is not None:
                index.add_alias(None, ukey, row)
                out.append(_verdict(index, "content_hash", row, 1.0))
                continue
            sig = prep.sigs[i]
            best_row, best_sim = seg_best.get(i, (-1, -1.0))
            found = index.buffer_candidates(prep.bands[i])
            if found:  # rows added this run: all later than any segment row
                rows = sorted(set(found))
                sims = estimate(sig, index.signatures(rows))
                j = int(np.argmax(sims))  # first maximum: the earliest kept record
                if sims[j] > best_sim:
                    best_row, best_sim = rows[j], float(sims[j])
            if best_row >= 0 and best_sim >= self.threshold:
                index.add_alias(hkey, ukey, best_row)
                out.append(_verdict(index, "minhash", best_row, best_sim))
                continue
            meta = metas[i] if metas is not None else None
            row = index.add(sig, prep.bands[i], hkey, ukey, ids[i], urls[i], meta)
            cluster = str((meta or {}).get("cluster") or ids[i])
            out.append(Verdict(None, row, 1.0, ids[i], urls[i], cluster))
        index.maybe_flush()
        return out

    def insert_kept(
        self,
        prep: Prepared,
        ids: Sequence[str],
        urls: Sequence[str],
        metas: Sequence[Meta] | None = None,
    ) -> int:
        """Insert records known to be kept (rebuild/replay); skips URLs already present."""
        index = self.index
        url_rows, _, _ = index.segment_matches(prep.bands[:0], prep.hash_keys, prep.url_keys)
        added = 0
        for i in range(len(ids)):
            ukey = int(prep.url_keys[i])
            if url_rows[i] >= 0 or index.buffer_url(ukey) is not None:
                continue
            meta = metas[i] if metas is not None else None
            index.add(
                prep.sigs[i], prep.bands[i], int(prep.hash_keys[i]), ukey, ids[i], urls[i], meta
            )
            added += 1
        index.maybe_flush()
        return added
