"""Signatures, shingle hashes and LSH banding equal datasketch's own."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from datasketch import MinHash, MinHashLSH
from datasketch.lsh import _optimal_param

from crawler.dedup.lsh import band_keys, band_keys_numpy, lsh_params
from crawler.dedup.minhash import MinHasher, estimate, permutations
from crawler.dedup.shingles import (
    normalized_codes,
    shingle_hash,
    shingle_hashes,
    shingles,
    xxhash_shingle_hash,
    xxhash_shingle_hashes,
)
from crawler.ids import dedup_text

PAIRS = Path(__file__).parent / "data" / "dedup" / "pairs.jsonl"


def _texts() -> list[str]:
    import json

    texts: list[str] = []
    with PAIRS.open(encoding="utf-8") as f:
        for line in f:
            pair = json.loads(line)
            texts += [pair["a"], pair["b"]]
    return texts[:12]


TRICKY = [
    "",
    "短",
    "四个字啊",
    "全角，标点！（ＡＢＣ１２３）　空格\u200b零宽\ufeff",
    "發布時間:2020-07-16 網(wǎng) café ﬁ ½ 😀 \t\r\n",
    "孤立代理\ud800字符",
    "ｶﾀｶﾅ と ㍿ と ① と Å",
]


@pytest.mark.parametrize("text", TRICKY + _texts()[:4])
def test_normalized_codes_equal_dedup_text(text: str) -> None:
    codes = normalized_codes(text)
    assert codes.tobytes().decode("utf-32-le", "surrogatepass") == dedup_text(text)


@pytest.mark.parametrize("size", [1, 3, 5, 8])
def test_vectorized_shingle_hashes_equal_the_per_shingle_function(size: int) -> None:
    for text in TRICKY + _texts()[:3]:
        expected = [shingle_hash(s) for s in shingles(text, size)]
        assert shingle_hashes(text, size).tolist() == expected


@pytest.mark.parametrize(
    ("scheme", "num_perm", "seed"),
    [("affine32", 64, 1), ("affine32", 128, 7), ("legacy", 64, 1), ("legacy", 32, 3)],
)
def test_signatures_equal_datasketch_updated_shingle_by_shingle(
    scheme: str, num_perm: int, seed: int
) -> None:
    hasher = MinHasher(num_perm, seed, scheme)
    for text in [*_texts()[:6], "短", "四个字啊啊"]:
        ours = hasher.signature(shingle_hashes(text, 5))
        ref = MinHash(num_perm=num_perm, seed=seed, scheme=scheme, hashfunc=shingle_hash)
        for s in shingles(text, 5):
            ref.update(s)
        assert ours.dtype == np.uint32
        assert np.array_equal(ref.hashvalues, ours)
        assert hasher.to_datasketch(ours).jaccard(ref) == 1.0


def test_xxhash_shingles_give_datasketch_signatures_too() -> None:
    hasher = MinHasher(64, 1)
    text = _texts()[0]
    ref = MinHash(num_perm=64, seed=1, hashfunc=xxhash_shingle_hash)
    ref.update_batch(shingles(text, 5))
    assert np.array_equal(ref.hashvalues, hasher.signature(xxhash_shingle_hashes(text, 5)))


def test_empty_text_has_the_empty_signature_and_never_matches() -> None:
    hasher = MinHasher(64, 1)
    sig = hasher.signature(shingle_hashes("。,!  ", 5))
    assert np.array_equal(sig, MinHash(num_perm=64, seed=1).hashvalues)


def test_estimate_is_datasketch_jaccard() -> None:
    hasher = MinHasher(64, 1)
    a, b = _texts()[0], _texts()[1]
    sa, sb = (hasher.signature(shingle_hashes(t, 5)) for t in (a, b))
    ma, mb = hasher.to_datasketch(sa), hasher.to_datasketch(sb)
    assert float(estimate(sa, sb[None, :])[0]) == pytest.approx(ma.jaccard(mb))


@pytest.mark.parametrize("num_perm", [16, 32, 64, 128, 256])
@pytest.mark.parametrize("threshold", [0.1, 0.2, 0.34, 0.4, 0.5, 0.55, 0.7, 0.8, 0.95])
def test_band_and_row_choice_is_datasketchs(threshold: float, num_perm: int) -> None:
    """Computed without SciPy: the same choice as datasketch's integration with it."""
    assert lsh_params(threshold, num_perm) == _optimal_param(threshold, num_perm, 0.5, 0.5)
    if lsh_params(threshold, num_perm)[0] >= 2:  # MinHashLSH refuses a single band
        lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        assert lsh_params(threshold, num_perm) == (lsh.b, lsh.r)


@pytest.mark.parametrize("scheme", ["affine32", "legacy"])
@pytest.mark.parametrize(("num_perm", "seed"), [(128, 1), (64, 7), (16, 123), (256, 1)])
def test_permutations_are_datasketchs(scheme: str, num_perm: int, seed: int) -> None:
    ours = permutations(num_perm, seed, scheme)
    theirs = MinHash(num_perm=num_perm, seed=seed, scheme=scheme).permutations
    assert ours.dtype == theirs.dtype
    assert np.array_equal(ours, theirs)


def test_band_keys_give_the_candidates_of_datasketchs_minhashlsh() -> None:
    """Same bands (datasketch's hashranges): a band key matches iff the band's values do."""
    bands, rows = lsh_params(0.4, 64)
    hasher = MinHasher(64, 1)
    texts = _texts()
    sigs = np.stack([hasher.signature(shingle_hashes(t, 5)) for t in texts])
    lsh = MinHashLSH(threshold=0.4, num_perm=64)
    for i, sig in enumerate(sigs):
        lsh.insert(i, hasher.to_datasketch(sig))
    keys = band_keys(sigs, bands, rows)
    assert lsh.hashranges == [(i * rows, (i + 1) * rows) for i in range(bands)]
    for i, sig in enumerate(sigs):
        ours = {j for j in range(len(sigs)) if np.any(keys[i] == keys[j])}
        assert ours == set(lsh.query(hasher.to_datasketch(sig)))
    # keys of different bands never coincide for the same values
    same = np.zeros((1, 64), dtype=np.uint32)
    k = band_keys(same, bands, rows)[0]
    assert len(set(k.tolist())) == bands


@pytest.mark.parametrize(("bands", "rows"), [(32, 4), (16, 8), (9, 13), (1, 1)])
def test_compiled_band_keys_equal_the_numpy_reference(bands: int, rows: int) -> None:
    rng = np.random.default_rng(3)
    sigs = rng.integers(0, 2**32, (50, bands * rows + 3), dtype=np.uint64).astype(np.uint32)
    sigs[0] = 0xFFFFFFFF  # an empty text's signature
    assert np.array_equal(band_keys(sigs, bands, rows), band_keys_numpy(sigs, bands, rows))
    assert np.array_equal(band_keys(sigs[7], bands, rows), band_keys_numpy(sigs[7], bands, rows))


def test_the_kept_character_table_is_dedup_texts_rule_on_every_code_point() -> None:
    import unicodedata

    from crawler.dedup.shingles import _KEEP, _flag_table
    from crawler.ids import _STRIP_CATEGORIES

    kept = (_flag_table() & _KEEP).astype(bool)
    expected = np.fromiter(
        (unicodedata.category(chr(c))[0] not in _STRIP_CATEGORIES for c in range(0x110000)),
        dtype=bool,
        count=0x110000,
    )
    assert np.array_equal(kept, expected)


# texts the batch kernel takes (simplified, NFKC, tone letters without pinyin), and
# texts it must hand to the reference path (pinyin after a CJK character, traditional
# script, full-width forms, compatibility ideographs, decomposed accents, Hangul jamo)
BATCH_TEXTS = [
    *TRICKY,
    *_texts(),
    "拼音字母ì和ā出现但不是注音 👉 表情 \U00020000 扩展区",
    "一(yī)个括号里的拼音跟在英文后: a(yī)",
    "中文(zhōng)注音跟在汉字后",
    "會議發布時間",
    "全角ＡＢＣ与半角ABC",
    "兼容汉字\U0002f800与\uf900",
    "e\u0301 分解的重音 가\u11a8 자모",
    "“引号”与……省略号、顿号《书名号》·间隔号—破折号",
]


@pytest.mark.parametrize("size", [1, 5])
def test_batch_prepare_equals_the_per_document_reference(size: int) -> None:
    from crawler.dedup.engine import prepare
    from crawler.dedup.index import IndexParams
    from crawler.ids import content_hash

    params = IndexParams(shingle_size=size, num_perm=64)
    hasher = MinHasher(64, 1)
    own = ["own-hash" if i % 3 == 0 else None for i in range(len(BATCH_TEXTS))]
    prep = prepare(BATCH_TEXTS, ["http://a.cn/"] * len(BATCH_TEXTS), own, params)
    for i, text in enumerate(BATCH_TEXTS):
        assert prep.sigs[i].tolist() == hasher.signature(shingle_hashes(text, size)).tolist()
        assert prep.content_hashes[i] == (own[i] or content_hash(text))


def test_batch_kernel_takes_simplified_nfkc_text_and_flags_the_rest() -> None:
    from crawler.dedup.fused import batch_signatures

    hasher = MinHasher(64, 1)
    texts = ["简体中文,标点。", "拼音ì不在括号里", "會議", "ＡＢＣ", "e\u0301", "\U0002f800"]
    sigs = np.empty((len(texts), 64), dtype=np.uint32)
    _, _, slow = batch_signatures(texts, 5, hasher.a32, hasher.b32, sigs)
    assert slow.tolist() == [0, 2, 1, 1, 1, 1]


def test_characters_the_batch_kernel_takes_are_nfkc_in_any_sequence() -> None:
    """A text of characters without the _SLOW bit is NFKC whatever their order."""
    import unicodedata

    from crawler.dedup.shingles import _SLOW, _flag_table

    fast = np.flatnonzero((_flag_table() & _SLOW) == 0)
    # the planes 2-3 ideographs taken as they are have no decomposition and combine with nothing
    for c in fast[(fast >= 0x20000) & (fast < 0x40000)].tolist():
        assert not unicodedata.decomposition(chr(c))
        assert not unicodedata.combining(chr(c))
    rng = np.random.default_rng(5)
    # every fast character next to every kind of neighbour, in random strings
    for _ in range(40):
        text = "".join(map(chr, rng.choice(fast, 20000).tolist()))
        assert unicodedata.is_normalized("NFKC", text)
    latin = fast[fast < 0x3000]
    for _ in range(40):
        text = "".join(map(chr, rng.choice(latin, 20000).tolist()))
        assert unicodedata.is_normalized("NFKC", text)


def test_the_character_table_is_kept_between_runs_and_rebuilt_when_unreadable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The saved table is the built one; a corrupt, truncated or wrongly shaped file is
    rebuilt and replaced; a folder that cannot be written only means no file."""
    from crawler.dedup import shingles

    built = shingles._build_flag_table()
    path = tmp_path / "__pycache__" / "flags-test.npy"
    monkeypatch.setattr(shingles, "_table_file", lambda: path)
    monkeypatch.setattr(shingles, "_flags", None)
    assert np.array_equal(shingles._flag_table(), built)
    assert np.array_equal(np.load(path), built)  # saved
    good = path.read_bytes()
    for bad in (b"garbage", good[: len(good) // 2], b""):
        path.write_bytes(bad)
        monkeypatch.setattr(shingles, "_flags", None)
        assert np.array_equal(shingles._flag_table(), built)
        assert path.read_bytes() == good  # replaced
    np.save(path, built[:100])  # a table of another shape
    monkeypatch.setattr(shingles, "_flags", None)
    assert np.array_equal(shingles._flag_table(), built)
    assert np.array_equal(np.load(path), built)
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    monkeypatch.setattr(shingles, "_table_file", lambda: blocked / "flags.npy")
    monkeypatch.setattr(shingles, "_flags", None)
    assert np.array_equal(shingles._flag_table(), built)


def test_the_character_table_file_name_changes_with_the_code_defining_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from crawler.dedup import shingles

    first = shingles._table_file()
    assert first == shingles._table_file()
    real = Path.read_bytes

    def edited(self: Path) -> bytes:
        data = real(self)
        return data + b"\n# edited" if self.name == "script.py" else data

    monkeypatch.setattr(Path, "read_bytes", edited)
    assert shingles._table_file() != first
    assert shingles._table_file().parent == first.parent
