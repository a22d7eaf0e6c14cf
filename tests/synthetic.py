"""Synthetic news articles for the dedup benchmarks and tests: paragraphs drawn from the
labelled pairs of tests/data/dedup/, a fifth of the articles reprints less one paragraph."""

from __future__ import annotations

import json
import random
from pathlib import Path

PAIRS = Path(__file__).parent / "data" / "dedup" / "pairs.jsonl"


def articles(n: int, seed: int = 7) -> list[str]:
    """``n`` articles, the same for the same ``seed``."""
    rng = random.Random(seed)
    paras: list[str] = []
    with PAIRS.open(encoding="utf-8") as f:
        for line in f:
            pair = json.loads(line)
            for text in (pair["a"], pair["b"]):
                paras += [p for p in text.split("\n") if len(p) >= 40]
    paras = list(dict.fromkeys(paras))
    docs: list[str] = []
    while len(docs) < n:
        if docs and rng.random() < 0.2:  # a reprint: an earlier article less a paragraph
            parts = rng.choice(docs).split("\n")
            if len(parts) > 3:
                parts.pop(rng.randrange(len(parts)))
            docs.append("\n".join(parts))
        else:
            docs.append("\n".join(rng.sample(paras, rng.randint(5, 8))))
    return docs
