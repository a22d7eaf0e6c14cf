"""Benchmark of the dedup stage at scale: ``python bench/dedup.py --sizes 10000 100000 1000000``.

Synthetic documents of 1,000-3,000 Chinese characters are recombined from the
sentences of the seed texts (``tests/data/seeds`` or ``--seeds``), with 8 %
of characters replaced by characters drawn from the seeds' own character
frequencies, so different documents share topic vocabulary without being
copies.  About 10 % of documents are planted reprints of an earlier document:
light edits (2 % of characters), a dropped paragraph, a changed first line,
or a template header and footer around the body, alone or combined.
Documents are generated in a stream, batch by batch.

With ``--end-to-end`` it also writes each size as a JSONL file of records
in the crawl's shape (every record field; about 5.8 KB a line, 580 MB per
100,000) in a temporary folder, times ``python -m crawler dedup FILE --out
DIR`` on it as a separate process (start-up, JSON reading and writing
included: the figure a user sees), prints that beside the stage figure,
and deletes the files.

For each size it prints: throughput of the whole dedup stage (normalize,
shingles, signatures in a 2-process pool, LSH query, similarity check,
insert) measured on the wall clock, and the capacity its CPU time per
document gives on free cores (the wall-clock figure drops when other
processes share the machine), index memory (RSS delta of this process
from after numba and the compiled kernels are loaded, and array bytes),
the time to save and to reopen the persisted index, and recall / precision
on the planted pairs.  At 10 k it also runs the plain datasketch baseline (SHA-1
``update`` per shingle, ``MinHashLSH``, pickle round trip) on the first
``--baseline-docs`` documents.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import pickle
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crawler import settings  # noqa: E402
from crawler.dedup.engine import Deduplicator, Prepared, prepare  # noqa: E402
from crawler.dedup.index import DedupIndex, IndexParams  # noqa: E402
from pipelines.script import strip_pinyin, to_simplified  # noqa: E402

SEEDS = ROOT / "tests" / "data" / "seeds"
BATCH = 1000
_NEWLINE = np.array([10], dtype=np.uint32)
HEADER = "当前位置:首页>政法要闻>工作动态 发布时间:2022-07-15 来源:本网 字体:【大 中 小】\n"
FOOTER = "\n责任编辑:张三 【打印本页】【关闭窗口】 版权所有 ICP备05001234号 主办单位:政法委员会"


def _rss() -> int:
    with Path("/proc/self/status").open() as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


class Corpus:
    """Streams (texts, planted original index or -1) batch by batch."""

    def __init__(self, seeds: Path, seed: int = 7) -> None:
        text = "\n".join(p.read_text(encoding="utf-8") for p in sorted(seeds.glob("*.txt")))
        # as the page pipeline writes text: simplified script (seed 003 is a page in
        # traditional script), NFKC
        text = unicodedata.normalize("NFKC", to_simplified(strip_pinyin(text)[0])[0])
        sentences = [s.strip() for s in re.split(r"(?<=[。!?;])", text) if len(s.strip()) >= 12]
        self.sents = [np.frombuffer(s.encode("utf-32-le"), dtype=np.uint32) for s in sentences]
        codes = np.frombuffer(re.sub(r"\s", "", text).encode("utf-32-le"), dtype=np.uint32)
        han = codes[(codes >= 0x4E00) & (codes <= 0x9FFF)]
        self.alphabet, counts = np.unique(han, return_counts=True)
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        # a large pre-drawn pool of substitute characters (drawing per call is slow)
        self.pool = self.rng.choice(self.alphabet, 1 << 22, p=counts / counts.sum())
        self.recent: list[str] = []  # originals that reprints copy
        self.recent_ids: list[int] = []

    def _paragraph(self, nchars: int) -> np.ndarray:
        picks = self.rng.integers(0, len(self.sents), 1 + nchars // 20)
        out: list[np.ndarray] = []
        total = 0
        for k in picks.tolist():
            out.append(self.sents[k])
            total += len(self.sents[k])
            if total >= nchars:
                break
        return np.concatenate(out)

    def _mutate(self, codes: np.ndarray, rate: float) -> np.ndarray:
        codes = codes.copy()
        mask = self.rng.random(len(codes)) < rate
        k = int(mask.sum())
        start = int(self.rng.integers(0, len(self.pool) - k))
        codes[mask] = self.pool[start : start + k]
        return codes

    def _original(self) -> str:
        target = int(self.rng.integers(1000, 3001))
        picks = self.rng.integers(0, len(self.sents), 1 + target // 10).tolist()
        breaks = set(np.cumsum(self.rng.integers(4, 11, 1 + target // 40)).tolist())
        out: list[np.ndarray] = []
        total = 0
        for n, k in enumerate(picks):
            if n in breaks:
                out.append(_NEWLINE)
            out.append(self.sents[k])
            total += len(self.sents[k])
            if total >= target:
                break
        codes = np.concatenate(out)
        nl = codes == 10
        codes = self._mutate(codes, 0.08)
        codes[nl] = 10
        return codes.tobytes().decode("utf-32-le")

    def _reprint(self, text: str) -> str:
        kind = int(self.rng.integers(0, 5))
        paras = text.split("\n")
        if kind in (0, 4):  # light edits
            codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
            nl = codes == ord("\n")
            edited = self._mutate(codes, 0.02)
            edited[nl] = ord("\n")
            paras = edited.tobytes().decode("utf-32-le").split("\n")
        if kind in (1, 4) and len(paras) > 3:  # a dropped paragraph
            del paras[int(self.rng.integers(1, len(paras)))]
        if kind == 2:  # a changed first line
            paras[0] = "本报讯 " + self._paragraph(40).tobytes().decode("utf-32-le")
        out = "\n".join(paras)
        if kind == 3:  # another portal's template around the body
            out = HEADER + out + FOOTER
        return out

    def batch(self, start: int, n: int, dup_rate: float = 0.1) -> tuple[list[str], list[int]]:
        """Documents ``start .. start+n-1`` and the planted original of each (-1: none)."""
        self.rng = np.random.default_rng([self.seed, start])
        texts: list[str] = []
        origin: list[int] = []
        for i in range(start, start + n):
            if self.recent and self.rng.random() < dup_rate:
                j = int(self.rng.integers(len(self.recent)))
                texts.append(self._reprint(self.recent[j]))
                origin.append(self.recent_ids[j])
            else:
                t = self._original()
                texts.append(t)
                origin.append(-1)
                if len(self.recent) < 2000:
                    self.recent.append(t)
                    self.recent_ids.append(i)
                elif self.rng.random() < 0.05:
                    k = int(self.rng.integers(len(self.recent)))
                    self.recent[k], self.recent_ids[k] = t, i
        return texts, origin

    def batches(self, total: int) -> Iterator[tuple[list[str], list[int]]]:
        for start in range(0, total, BATCH):
            yield self.batch(start, min(BATCH, total - start))


_PARAMS: IndexParams | None = None
_CORPUS: Corpus | None = None


def _init(params: IndexParams | None, seeds: Path) -> None:
    global _PARAMS, _CORPUS
    _PARAMS = params
    _CORPUS = Corpus(seeds)


def _work(job: tuple[int, int]) -> tuple[int, list[int], Prepared, float, float]:
    """Generate one batch (timed apart) and run the CPU part of the dedup stage on it."""
    start, n = job
    assert _PARAMS is not None
    assert _CORPUS is not None
    t0 = time.process_time()
    texts, origin = _CORPUS.batch(start, n)
    t1 = time.process_time()
    urls = [f"http://bench.example/{start + i}.html" for i in range(n)]
    prep = prepare(texts, urls, [None] * n, _PARAMS)
    return start, origin, prep, t1 - t0, time.process_time() - t1


def _bounded(pool: Any, jobs: Iterator[tuple[int, int]], window: int) -> Iterator[Any]:
    """Results in order, at most ``window`` batches in flight (memory stays flat)."""
    pending: deque[Any] = deque()
    for job in jobs:
        pending.append(pool.apply_async(_work, (job,)))
        if len(pending) >= window:
            yield pending.popleft().get()
    while pending:
        yield pending.popleft().get()


def _jsonl_batch(start: int) -> tuple[bytes, int]:
    """Records ``start .. start+BATCH-1`` as JSONL lines in the crawl's record shape."""
    assert _CORPUS is not None
    texts, origin = _CORPUS.batch(start, BATCH)
    lines = []
    for i, text in enumerate(texts):
        n = start + i
        url = f"http://www{n % 7}.bench.example/{2020 + n % 5}/{n}.html"
        rec = {
            "id": f"{n:016x}",
            "url": url,
            "site": f"site{n % 7}",
            "site_name": f"第{n % 7}政法网",
            "title": text[:24],
            "original_title": None,
            "published_at": f"2022-{1 + n % 12:02d}-{1 + n % 28:02d}T10:{n % 60:02d}:00+08:00",
            "published_precision": "minute",
            "source": "本网",
            "authors": ["张三"],
            "editors": [],
            "responsible_editors": ["李四"],
            "text": text,
            "content_hash": "",
            "fetched_at": "2024-05-20T15:00:00+08:00",
            "encoding": "utf-8",
            "original_script": "simplified",
            "quality_flags": [],
            "fixes": [],
        }
        rec.pop("content_hash")  # computed by the dedup command, as for JSONL from elsewhere
        lines.append(json.dumps(rec, ensure_ascii=False))
    return ("\n".join(lines) + "\n").encode("utf-8"), sum(o >= 0 for o in origin)


def run_end_to_end(n: int, args: argparse.Namespace) -> None:
    """``python -m crawler dedup`` on an ``n``-record JSONL file, timed as a user runs it."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-dedup-e2e-"))
    try:
        source = tmp / "records.jsonl"
        planted = 0
        with (
            source.open("wb") as f,
            mp.get_context("fork").Pool(args.workers, _init, (None, args.seeds)) as pool,
        ):
            for data, k in pool.imap(_jsonl_batch, range(0, n, BATCH)):
                f.write(data)
                planted += k
        size = source.stat().st_size
        os.sync()  # the input on disk before the clock starts, as a user's file would be
        cmd = [sys.executable, "-m", "crawler", "dedup", str(source), "--out", str(tmp / "out")]
        cmd += ["--workers", str(args.workers)]
        t0 = time.perf_counter()
        c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - t0
        c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime)
        peak = c1.ru_maxrss * 1024  # the largest child (the main process or a worker)
        if done.returncode != 0:
            print(f"  dedup failed ({done.returncode}): {done.stderr[-2000:]}", flush=True)
            return
        dups = sum(1 for _ in (tmp / "out" / "duplicates.jsonl").open("rb"))
        print(
            f"n={n:>9,}  {n / elapsed:8,.0f} docs/s end to end (python -m crawler dedup, "
            f"{size / 2**20:,.0f} MiB of JSONL, {elapsed:.1f} s, {args.workers} workers;"
            f" CPU {cpu:.1f} s in all its processes, {cpu / n * 1e6:.0f} us a record: "
            f"{args.workers * n / cpu:,.0f} docs/s on {args.workers} free cores; peak RSS of "
            f"one process {peak / 2**20:,.0f} MiB; {dups:,} duplicates written,"
            f" {planted:,} planted)  |  " + done.stderr.strip().splitlines()[-1],
            flush=True,
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _load_kernels(params: IndexParams, threshold: float) -> None:
    """One decision on a throwaway index: numba and the compiled kernels loaded (~90 MiB)."""
    index = DedupIndex(None, params)
    prep = prepare(["预热的一段文本"], ["http://warm.up/"], [None], params)
    Deduplicator(index, threshold).decide(prep, ["warm"], ["http://warm.up/"])
    index.flush()


def run_size(n: int, args: argparse.Namespace, params: IndexParams) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-dedup-"))
    _load_kernels(params, args.threshold)  # the runtime is not the index's memory
    rss0 = _rss()
    index = DedupIndex(tmp / "dedup", params, flush_every=args.flush_every)
    dedup = Deduplicator(index, args.threshold)
    origin_of: list[int] = []
    found: dict[int, int] = {}  # doc -> kept doc it was matched to
    gen_cpu = work_cpu = 0.0
    jobs = ((s, min(BATCH, n - s)) for s in range(0, n, BATCH))
    t0 = time.perf_counter()
    c0 = time.process_time()
    last = t0
    with mp.get_context("fork").Pool(args.workers, _init, (params, args.seeds)) as pool:
        for start, origin, prep, gen, work in _bounded(pool, jobs, 2 * args.workers + 2):
            gen_cpu += gen
            work_cpu += work
            origin_of.extend(origin)
            ids = [str(start + i) for i in range(len(origin))]
            urls = [f"http://bench.example/{start + i}.html" for i in range(len(ids))]
            for i, v in enumerate(dedup.decide(prep, ids, urls)):
                if v.match is not None:
                    found[start + i] = int(v.kept_id)
            if sys.stderr.isatty() and time.perf_counter() - last > 2:
                last = time.perf_counter()
                done = start + len(ids)
                print(
                    f"\r  {done:,} docs, {done / (last - t0):,.0f} docs/s", end="", file=sys.stderr
                )
    elapsed = time.perf_counter() - t0
    main_cpu = time.process_time() - c0
    if sys.stderr.isatty():
        print(file=sys.stderr)
    index.flush()
    rss1 = _rss()
    t = time.perf_counter()
    index.save()
    save_time = time.perf_counter() - t
    stats = index.stats()
    del index, dedup
    t = time.perf_counter()
    reopened = DedupIndex.open(tmp / "dedup", params)
    reopen = time.perf_counter() - t
    t = time.perf_counter()
    DedupIndex.open(tmp / "dedup", params, verify=False)
    reopen_nv = time.perf_counter() - t
    assert len(reopened) == stats["rows"]
    disk = sum(p.stat().st_size for p in (tmp / "dedup").rglob("*") if p.is_file())
    shutil.rmtree(tmp)

    planted = {d: o for d, o in enumerate(origin_of) if o >= 0}
    tp = sum(1 for d, o in planted.items() if found.get(d) == o)
    recall = tp / len(planted) if planted else 1.0
    precision = tp / len(found) if found else 1.0
    # Generation runs in the workers too; the stage's wall time excludes its share.
    stage = elapsed - gen_cpu / args.workers
    print(
        f"n={n:>9,}  {n / stage:8,.0f} docs/s dedup stage ({n / elapsed:,.0f} docs/s with the"
        f" generation of the documents; CPU per doc: generation {gen_cpu / n * 1e3:.3f} ms,"
        f" signatures {work_cpu / n * 1e3:.3f} ms, index {main_cpu / n * 1e3:.3f} ms;"
        f" CPU capacity of {args.workers} free cores:"
        f" {args.workers * n / (work_cpu + main_cpu):,.0f} docs/s)"
        f"  |  index RSS delta "
        f"{(rss1 - rss0) / 2**20:7.1f} MiB, arrays {stats['array_bytes'] / 2**20:7.1f} MiB,"
        f" on disk {disk / 2**20:7.1f} MiB, {stats['segments']} segments"
        f"  |  save {save_time:5.2f} s,"
        f" reopen {reopen:5.2f} s (checksums verified) / {reopen_nv:5.3f} s (not)  |  planted"
        f" {len(planted):,}: recall {recall:.4f}, precision {precision:.4f}"
        f" ({len(found) - tp} other matches)",
        flush=True,
    )


def run_baseline(n: int, args: argparse.Namespace) -> None:
    """Plain datasketch: SHA-1 ``update`` per shingle, ``MinHashLSH``, pickle."""
    from datasketch import MinHash, MinHashLSH

    from crawler.dedup.shingles import shingles

    corpus = Corpus(args.seeds)
    lsh = MinHashLSH(threshold=args.lsh_threshold, num_perm=args.num_perm)
    origin_of: list[int] = []
    found: dict[int, int] = {}
    sigs: dict[int, MinHash] = {}
    t0 = time.perf_counter()
    gen = 0.0
    done = 0
    for texts, origin in corpus.batches(n):
        origin_of.extend(origin)
        for text in texts:
            m = MinHash(num_perm=args.num_perm, seed=1)
            for s in shingles(text, args.shingle):
                m.update(s.encode("utf-8"))
            best, sim = -1, 0.0
            for key in lsh.query(m):
                j = m.jaccard(sigs[key])
                if j > sim:
                    best, sim = key, j
            if best >= 0 and sim >= args.threshold:
                found[done] = best
            else:
                lsh.insert(done, m)
                sigs[done] = m
            done += 1
    elapsed = time.perf_counter() - t0 - gen
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "lsh.pickle"
        t = time.perf_counter()
        path.write_bytes(pickle.dumps(lsh))
        save = time.perf_counter() - t
        t = time.perf_counter()
        pickle.loads(path.read_bytes())  # noqa: S301 - the file was written just above
        reload = time.perf_counter() - t
        size = path.stat().st_size
    planted = {d: o for d, o in enumerate(origin_of) if o >= 0}
    tp = sum(1 for d, o in planted.items() if found.get(d) == o)
    print(
        f"baseline datasketch n={n:,}: {n / elapsed:8,.0f} docs/s"
        f"  |  pickle {size / 2**20:.1f} MiB,"
        f" save {save:.2f} s, reload {reload:.2f} s  |  recall {tp / max(1, len(planted)):.4f},"
        f" precision {tp / max(1, len(found)):.4f}",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10000, 100000])
    parser.add_argument("--seeds", type=Path, default=SEEDS)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--shingle", type=int, default=settings.DEDUP_SHINGLE_SIZE)
    parser.add_argument("--num-perm", type=int, default=settings.DEDUP_NUM_PERM)
    parser.add_argument("--lsh-threshold", type=float, default=settings.DEDUP_LSH_THRESHOLD)
    parser.add_argument("--threshold", type=float, default=settings.DEDUP_THRESHOLD)
    parser.add_argument("--scheme", default=settings.DEDUP_SCHEME)
    parser.add_argument("--flush-every", type=int, default=16384)
    parser.add_argument(
        "--end-to-end",
        action="store_true",
        help="also time python -m crawler dedup on a generated JSONL file of each size",
    )
    parser.add_argument(
        "--baseline-docs",
        type=int,
        default=2000,
        help="documents for the datasketch baseline at 10 k (it takes ~20 ms each)",
    )
    args = parser.parse_args()
    params = IndexParams(args.shingle, args.num_perm, 1, args.scheme, args.lsh_threshold)
    print(
        f"parameters: {params.to_dict()}, threshold {args.threshold}, {args.workers} workers",
        flush=True,
    )
    for n in args.sizes:
        run_size(n, args, params)
        if args.end_to_end:
            run_end_to_end(n, args)
        if n == 10000 and args.baseline_docs:
            run_baseline(min(n, args.baseline_docs), args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
