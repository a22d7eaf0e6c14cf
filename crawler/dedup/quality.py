"""Precision and recall of the dedup decision on labelled pairs (``tests/data/dedup/pairs.jsonl``).

``python -m crawler.dedup.quality [PAIRS] [--threshold X] ...`` prints, for
reprints and for different same-topic articles, the true Jaccard similarity
of the shingle sets and MinHash's estimate (min / median / max), then the
precision and recall of the decision "an LSH candidate and an estimate at or
above the threshold", and every misjudged pair.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from crawler import settings
from crawler.dedup.index import IndexParams
from crawler.dedup.lsh import band_keys
from crawler.dedup.minhash import MinHasher, estimate
from crawler.dedup.shingles import shingle_hashes

PAIRS = Path(__file__).resolve().parents[2] / "tests" / "data" / "dedup" / "pairs.jsonl"


@dataclass
class Evaluation:
    """Similarities per label and the decision's counts."""

    true_sim: dict[int, list[float]] = field(default_factory=lambda: {0: [], 1: []})
    est_sim: dict[int, list[float]] = field(default_factory=lambda: {0: [], 1: []})
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    errors: list[str] = field(default_factory=list)
    # per pair class: label, true Jaccards, pairs flagged as duplicates
    kinds: dict[str, tuple[int, list[float], int]] = field(default_factory=dict)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def load_pairs(path: Path = PAIRS) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def evaluate(pairs: list[dict[str, Any]], params: IndexParams, threshold: float) -> Evaluation:
    hasher = MinHasher(params.num_perm, params.seed, params.scheme)
    ev = Evaluation()
    for pair in pairs:
        ha = np.unique(shingle_hashes(pair["a"], params.shingle_size))
        hb = np.unique(shingle_hashes(pair["b"], params.shingle_size))
        union = len(np.union1d(ha, hb))
        true = len(np.intersect1d(ha, hb)) / union if union else 1.0
        sa, sb = hasher.signature(ha), hasher.signature(hb)
        est = float(estimate(sa, sb[None, :])[0])
        ka, kb = band_keys(np.stack([sa, sb]), params.bands, params.rows)
        dup = bool(np.any(ka == kb)) and est >= threshold
        label = int(pair["label"])
        kind = ev.kinds.setdefault(str(pair.get("kind", "")), (label, [], 0))
        kind[1].append(true)
        ev.kinds[str(pair.get("kind", ""))] = (label, kind[1], kind[2] + int(dup))
        ev.true_sim[label].append(true)
        ev.est_sim[label].append(est)
        if dup and label:
            ev.tp += 1
        elif dup:
            ev.fp += 1
            ev.errors.append(f"false duplicate {pair['id']} ({pair['note']}): estimate {est:.2f}")
        elif label:
            ev.fn += 1
            ev.errors.append(f"missed reprint {pair['id']} ({pair['note']}): estimate {est:.2f}")
        else:
            ev.tn += 1
    return ev


def spread(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{min(values):.2f} / {statistics.median(values):.2f} / {max(values):.2f}"


def report(ev: Evaluation, params: IndexParams, threshold: float) -> str:
    lines = [
        f"{params.shingle_size}-gram shingles, {params.num_perm} permutations, LSH "
        f"{params.bands}x{params.rows} (threshold {params.lsh_threshold}),"
        f" duplicate at >= {threshold}",
        f"reprints ({len(ev.true_sim[1])}): Jaccard min/median/max {spread(ev.true_sim[1])},"
        f" MinHash estimate {spread(ev.est_sim[1])}",
        f"different articles, same topic ({len(ev.true_sim[0])}): Jaccard {spread(ev.true_sim[0])},"
        f" MinHash estimate {spread(ev.est_sim[0])}",
        f"precision {ev.precision:.3f}, recall {ev.recall:.3f}",
        "per class (should match?, pairs, true Jaccard min/median/max, flagged):",
        *(
            f"  {name:22} {'match' if label else 'apart'}  {len(sims):3}  {spread(sims)}"
            f"  {flagged}/{len(sims)}"
            for name, (label, sims, flagged) in sorted(ev.kinds.items(), key=lambda x: -x[1][0])
        ),
        *ev.errors,
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("pairs", nargs="?", type=Path, default=PAIRS)
    parser.add_argument("--threshold", type=float, default=settings.DEDUP_THRESHOLD)
    parser.add_argument("--shingle", type=int, default=settings.DEDUP_SHINGLE_SIZE)
    parser.add_argument("--num-perm", type=int, default=settings.DEDUP_NUM_PERM)
    parser.add_argument("--lsh-threshold", type=float, default=settings.DEDUP_LSH_THRESHOLD)
    args = parser.parse_args(argv)
    params = IndexParams(
        args.shingle, args.num_perm, settings.DEDUP_SEED, settings.DEDUP_SCHEME, args.lsh_threshold
    )
    print(report(evaluate(load_pairs(args.pairs), params, args.threshold), params, args.threshold))
    return 0


if __name__ == "__main__":
    sys.exit(main())
