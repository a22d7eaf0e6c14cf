"""Rebuild ``charfreq.txt``, the character-frequency table of ``pipelines.mojibake``.

Usage::

    pip download --no-deps -d /tmp/jieba jieba==0.42.1
    python pipelines/data/build_charfreq.py /tmp/jieba/jieba-0.42.1.tar.gz \
        > pipelines/data/charfreq.txt

Sources:

* the character set: GB 2312 level 1 (rows 16-55, 3,755 characters), which the
  standard selected as the commonly used characters by frequency counts, plus the
  traditional forms OpenCC gives for each of them (``s2t``, ``s2tw``, ``s2hk``);
* the order: jieba 0.42.1 (MIT licence) ``finalseg/prob_emit.py``, the per-character
  emission probabilities of its HMM trained on a segmented news corpus, summed over
  the four states.  Characters of the set that jieba does not know go last.

jieba is needed only to rebuild the table, not at run time.
"""

from __future__ import annotations

import ast
import math
import sys
import tarfile

import opencc

PER_LINE = 100


def _level1() -> list[str]:
    chars = []
    for lead in range(0xB0, 0xD8):
        for trail in range(0xA1, 0xFF):
            try:
                chars.append(bytes((lead, trail)).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    return chars


def _emission(sdist: str) -> dict[str, float]:
    with tarfile.open(sdist) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("finalseg/prob_emit.py"))
        handle = tar.extractfile(member)
        assert handle is not None
        source = handle.read().decode("utf-8")
    table = ast.literal_eval(source.split("=", 1)[1].strip())
    freq: dict[str, float] = {}
    for state in table.values():
        for char, logp in state.items():
            freq[char] = freq.get(char, 0.0) + math.exp(logp)
    return freq


def main(sdist: str) -> None:
    simplified = _level1()
    chars = dict.fromkeys(simplified)
    for config in ("s2t", "s2tw", "s2hk"):
        converter = opencc.OpenCC(config)
        converted = converter.convert("\n".join(simplified)).split("\n")
        chars.update(dict.fromkeys(c for c in converted if len(c) == 1))
    freq = _emission(sdist)
    ordered = sorted(chars, key=lambda c: -freq.get(c, 0.0))
    print("# Common Chinese characters, most frequent first (simplified and traditional).")
    print("# Built by pipelines/data/build_charfreq.py: GB 2312 level 1 + OpenCC traditional")
    print("# forms, ordered by jieba 0.42.1 HMM emission probabilities (MIT licence).")
    for start in range(0, len(ordered), PER_LINE):
        print("".join(ordered[start : start + PER_LINE]))


if __name__ == "__main__":
    main(sys.argv[1])
