"""Offline dedup of JSONL files (malformed lines included) and the clusters command."""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from crawler.commands import clusters as clusters_cmd
from crawler.commands import dedup as dedup_cmd
from crawler.ids import record_id

PAIRS = Path(__file__).parent / "data" / "dedup" / "pairs.jsonl"


def _pairs() -> list[dict[str, Any]]:
    with PAIRS.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def _rec(text: str, url: str, site: str, date: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": record_id(url),
        "url": url,
        "site": site,
        "published_at": date,
        "title": f"{site} 的文章",
        "text": text,
        **extra,
    }


def _args(parser_module: Any, argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser_module.add_arguments(parser)
    return parser.parse_args(argv)


@pytest.fixture
def inputs(tmp_path: Path) -> tuple[Path, Path, dict[str, Any]]:
    pairs = _pairs()
    lead = next(p for p in pairs if p["kind"] == "first_line" and p["note"].startswith("000"))
    trad = next(p for p in pairs if p["kind"] == "traditional" and p["note"].startswith("003"))
    topic = next(p for p in pairs if p["kind"] == "same_meeting" and "shenyang" in p["note"])
    orig = _rec(
        lead["a"],
        "http://www.lnchangan.gov.cn/1.html",
        "lnchangan",
        "2022-07-15",
        extra_field={"kept": "as is"},
    )
    one = tmp_path / "machine1.jsonl"
    two = tmp_path / "machine2.jsonl"
    lines1 = [
        json.dumps(orig, ensure_ascii=False),
        json.dumps(_rec(trad["a"], "http://www.lnzf.gov.cn/2.html", "lnzf", "2020-07-16")),
        "{not json",
        json.dumps({"id": "x", "url": "http://a/b"}),  # no text
        "",
        json.dumps(_rec(topic["b"], "http://www.sy.gov.cn/3.html", "shenyang", "2022-07-15")),
    ]
    one.write_text("\n".join(lines1) + "\n", encoding="utf-8")
    lines2 = [
        json.dumps(_rec(lead["b"], "http://news.example.cn/4.html", "news", "2022-07-16")),
        json.dumps(
            _rec(lead["a"], "https://www.lnchangan.gov.cn/1.html", "lnchangan", "2022-07-15")
        ),
        json.dumps(_rec(lead["a"], "http://www.gov.example.cn/5.html", "gov", "2022-07-17")),
        json.dumps({"id": 7, "url": "http://a/7", "text": "正文"}),  # id not a string
        "[1, 2]",
        json.dumps(
            _rec(trad["b"], "http://www.changan.example.cn/6.html", "changan", "2020-07-17")
        ),
    ]
    two.write_bytes(("\n".join(lines2) + "\n").encode("utf-8") + b"\xff\xfe broken\n")
    return one, two, orig


def test_offline_dedup_writes_kept_and_duplicates_and_reports_bad_lines(
    tmp_path: Path, inputs: tuple[Path, Path, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    one, two, orig = inputs
    out = tmp_path / "out"
    status = dedup_cmd.run(
        _args(dedup_cmd, [str(one), str(two), "--out", str(out), "--workers", "0"])
    )
    err = capsys.readouterr().err
    assert status == 1  # lines were skipped
    assert f"{one}:3: bad JSON" in err
    assert f"{one}:4: missing field 'text'" in err
    assert f"{two}:4: field 'id' is int, expected a string" in err
    assert f"{two}:5: not a JSON object" in err
    assert f"{two}:7: bad JSON" in err
    summary = err.strip().splitlines()[-1]
    assert summary.startswith(
        "dedup: read 12, kept 3, duplicates 4 (content_hash 2, minhash 1, url 1),"
        " malformed skipped 5"
    )
    assert summary.endswith("docs/s")
    kept = [
        json.loads(x) for x in (out / "articles.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    dups = [
        json.loads(x) for x in (out / "duplicates.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    # unchanged, unknown fields included; the cluster id added (the record had none)
    assert kept[0] == {**orig, "cluster": orig["id"]}
    assert {d["cluster"] for d in dups if d["duplicate_of"] == orig["id"]} == {orig["id"]}
    assert [k["site"] for k in kept] == ["lnchangan", "lnzf", "shenyang"]
    by_site = {d["site"]: d for d in dups}
    assert by_site["news"]["match"] == "minhash"
    assert by_site["news"]["duplicate_of"] == orig["id"]
    assert 0.5 <= by_site["news"]["similarity"] < 1
    assert by_site["lnchangan"]["match"] == "url"
    assert by_site["gov"]["match"] == "content_hash"
    assert len(by_site["gov"]["content_hash"]) == 40  # computed when missing
    # traditional script converted back gives the same text: an exact duplicate
    assert by_site["changan"]["duplicate_of"] == kept[1]["id"]
    assert by_site["changan"]["match"] == "content_hash"


def test_offline_dedup_in_a_process_pool_gives_the_same_result(
    tmp_path: Path, inputs: tuple[Path, Path, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    one, two, _ = inputs
    a, b = tmp_path / "a", tmp_path / "b"
    dedup_cmd.run(_args(dedup_cmd, [str(one), str(two), "--out", str(a), "--workers", "0"]))
    dedup_cmd.run(_args(dedup_cmd, [str(one), str(two), "--out", str(b), "--workers", "2"]))
    for name in ("articles.jsonl", "duplicates.jsonl"):
        assert (a / name).read_text(encoding="utf-8") == (b / name).read_text(encoding="utf-8")


def test_offline_dedup_clean_input_exits_0_and_missing_input_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text(
        json.dumps(_rec("一篇文章的正文内容。", "http://a.cn/1", "a", "2022-01-01")) + "\n",
        encoding="utf-8",
    )
    assert (
        dedup_cmd.run(_args(dedup_cmd, [str(good), "--out", str(tmp_path / "o"), "--workers", "0"]))
        == 0
    )
    assert "read 1, kept 1, duplicates 0 (none), malformed skipped 0" in capsys.readouterr().err
    assert (
        dedup_cmd.run(
            _args(dedup_cmd, [str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "o")])
        )
        == 2
    )


def test_offline_dedup_imports_neither_datasketch_nor_scipy(tmp_path: Path) -> None:
    """datasketch's import costs 0.7 s of start-up (it imports SciPy's integration and special
    functions); the dedup computes what it takes from it.  numba's BLAS check would import
    ``scipy.linalg`` (0.3 s); it imports the bare ``scipy`` package (10 ms) for its version."""
    source = tmp_path / "in.jsonl"
    _write_jsonl(source, [_rec(p["a"], f"http://a.cn/{i}", "a", "2022-01-01")
                          for i, p in enumerate(_pairs()[:20])])  # fmt: skip
    code = (
        "import sys\n"
        "from crawler.__main__ import main\n"
        f"status = main(['dedup', {str(source)!r}, '--out', {str(tmp_path / 'o')!r}])\n"
        "assert status == 0, status\n"
        "heavy = ('datasketch', 'scipy.integrate', 'scipy.special', 'scipy.linalg')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))\n"
    )
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
    written = [(tmp_path / "o" / f).read_bytes() for f in ("articles.jsonl", "duplicates.jsonl")]
    assert sum(w.count(b"\n") for w in written) == 20


def test_the_dedup_command_ends_at_once_with_its_status_and_complete_outputs(
    tmp_path: Path,
) -> None:
    """``python -m crawler dedup`` skips the interpreter's teardown: status, summary and
    outputs must all be there."""
    source = tmp_path / "in.jsonl"
    _write_jsonl(source, [_rec(p["b"], f"http://a.cn/{i}", "a", "2022-01-01")
                          for i, p in enumerate(_pairs()[:40])])  # fmt: skip
    root = Path(__file__).resolve().parent.parent
    for extra, status in ((b"", 0), (b"{broken\n", 1)):
        with source.open("ab") as f:
            f.write(extra)
        out = tmp_path / f"o{status}"
        done = subprocess.run(
            [sys.executable, "-m", "crawler", "dedup", str(source), "--out", str(out)],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == status, done.stderr
        assert done.stderr.strip().splitlines()[-1].startswith(f"dedup: read {40 + status}, kept ")
        written = [(out / f).read_bytes() for f in ("articles.jsonl", "duplicates.jsonl")]
        assert sum(w.count(b"\n") for w in written) == 40
        assert all(w.endswith(b"}\n") for w in written if w)


def test_clusters_lists_reprints_largest_first(
    tmp_path: Path, inputs: tuple[Path, Path, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    one, two, orig = inputs
    out = tmp_path / "out"
    dedup_cmd.run(_args(dedup_cmd, [str(one), str(two), "--out", str(out), "--workers", "0"]))
    capsys.readouterr()
    assert clusters_cmd.run(_args(clusters_cmd, [str(out)])) == 0
    text = capsys.readouterr().out.splitlines()
    assert text[0] == f"#1 4 records: {orig['title']}"
    # The kept copy is also the earliest published: the cluster's likely origin.
    kept_line = "  kept     lnchangan  2022-07-15  http://www.lnchangan.gov.cn/1.html  origin"
    assert text[1] == kept_line
    assert text[2].startswith("  reprint  lnchangan  2022-07-15  1.00  url  https://www.lnchangan")
    assert "  reprint  news  2022-07-16  0." in text[3]
    assert text[3].endswith("minhash  http://news.example.cn/4.html")
    assert text[4].startswith("  reprint  gov  2022-07-17  1.00  content_hash")
    assert text[5].startswith("#2 2 records")
    assert text[-1] == "2 clusters, 4 reprints"

    assert clusters_cmd.run(_args(clusters_cmd, [str(out), "--json", "--min-size", "3"])) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert len(rows) == 1
    assert rows[0]["kept"]["id"] == orig["id"]
    assert rows[0]["origin"] == orig["url"]
    assert {r["match"] for r in rows[0]["reprints"]} == {"url", "minhash", "content_hash"}
    assert [len(r["reprints"]) for r in rows] == [3]


def test_clusters_reads_per_site_output_dirs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kept = _rec("正文一", "http://a.cn/1", "siteA", "2022-01-01")
    dup = dict(
        _rec("正文一", "http://b.cn/2", "siteB", "2022-01-02"),
        duplicate_of=kept["id"],
        similarity=1.0,
        match="content_hash",
    )
    (tmp_path / "siteA").mkdir()
    (tmp_path / "siteB").mkdir()
    (tmp_path / "siteA" / "articles.jsonl").write_text(json.dumps(kept) + "\n", encoding="utf-8")
    (tmp_path / "siteB" / "duplicates.jsonl").write_text(
        json.dumps(dup) + "\nbroken\n", encoding="utf-8"
    )
    assert clusters_cmd.run(_args(clusters_cmd, [str(tmp_path)])) == 0
    captured = capsys.readouterr()
    assert "  reprint  siteB  2022-01-02  1.00  content_hash  http://b.cn/2\n" in captured.out
    assert "  kept     siteA  2022-01-01  http://a.cn/1  origin" in captured.out
    assert "1 unreadable lines skipped" in captured.err


def test_cluster_origin_is_the_portal_named_as_source_else_the_earliest() -> None:
    aggregator = {
        "url": "https://agg.cn/1", "site_name": "国际在线", "source": "辽宁法制报",
        "published_at": "2020-07-16T08:00:00+08:00",
    }  # fmt: skip
    newspaper = {
        "url": "http://lnfzb.cn/1", "site_name": "辽宁法制报", "source": None,
        "published_at": "2020-07-16T09:30:00+08:00",
    }  # fmt: skip
    third = {"url": "http://c.cn/1", "site_name": "丙", "source": None, "published_at": None}
    # Named as 来源 by another copy: the origin, though published later than the aggregator's.
    assert clusters_cmd.origin_of([aggregator, newspaper, third]) == "http://lnfzb.cn/1"
    # No copy names another: the earliest published.
    newspaper["site_name"] = "某报"
    assert clusters_cmd.origin_of([newspaper, aggregator, third]) == "https://agg.cn/1"
    assert clusters_cmd.origin_of([third]) == "http://c.cn/1"  # the only copy: first seen


def test_clusters_group_by_cluster_and_pick_the_origin_when_a_move_is_pending(
    tmp_path: Path,
) -> None:
    """Both copies still in articles.jsonl (a move waiting in a journal): the cited one is kept."""
    reprint = dict(
        _rec("正文一", "https://ln.cri.cn/1.html", "cri", "2021-09-01"),
        cluster="c1",
        source="四川法制网站",  # an alias of scfzw in seeds/scfzw.toml
    )
    origin = dict(
        _rec("正文一", "http://www.scfzw.net/2.html", "scfzw", "2021-09-02"), cluster="c1"
    )
    other = dict(
        _rec("正文一", "http://www.dali.gov.cn/3.html", "dali", "2021-09-03"),
        cluster="c1",
        duplicate_of=reprint["id"],  # kept at the time it was written
        similarity=0.9,
        match="minhash",
    )
    for rec, name in ((reprint, "articles"), (origin, "articles"), (other, "duplicates")):
        path = tmp_path / str(rec["site"]) / f"{name}.jsonl"
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(rec, ensure_ascii=False) + "\n", encoding="utf-8")
    (cluster,), bad = clusters_cmd.build_clusters(tmp_path)
    assert bad == 0
    assert cluster["cluster"] == "c1"
    assert cluster["kept"]["url"] == origin["url"]
    assert cluster["origin"] == origin["url"]
    assert {(r["url"], r["match"]) for r in cluster["reprints"]} == {
        (reprint["url"], "kept"),
        (other["url"], "minhash"),
    }


def _write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8"
    )


def _portal_output(root: Path, site: str, n: int) -> Path:
    folder = root / site
    texts = list(dict.fromkeys(p["b"] for p in _pairs() if p["kind"] == "same_meeting"))[:n]
    _write_jsonl(
        folder / "articles.jsonl",
        [_rec(t, f"http://{site}.cn/{i}.html", site, "2022-01-01") for i, t in enumerate(texts)],
    )
    return folder


def test_offline_dedup_refuses_an_input_folder_as_output_and_keeps_the_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _portal_output(tmp_path, "cri", 6)
    before = (folder / "articles.jsonl").read_bytes()
    argv = [str(folder / "articles.jsonl"), "--out", str(folder), "--workers", "0"]
    assert dedup_cmd.run(_args(dedup_cmd, argv)) == 2
    err = capsys.readouterr().err
    assert "is the folder of input" in err
    assert (folder / "articles.jsonl").read_bytes() == before
    # --force does not make it acceptable, nor does another spelling of the same folder
    for out in (str(folder), str(folder / ".." / "cri"), str(folder) + "/"):
        argv = [str(folder / "articles.jsonl"), "--out", out, "--force", "--workers", "0"]
        assert dedup_cmd.run(_args(dedup_cmd, argv)) == 2
        assert (folder / "articles.jsonl").read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == ["articles.jsonl"]


def test_offline_dedup_refuses_an_output_folder_with_data_unless_forced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _portal_output(tmp_path, "lnzf", 4)
    other = _portal_output(tmp_path, "cri", 6)
    theirs = (other / "articles.jsonl").read_bytes()
    argv = [str(source / "articles.jsonl"), "--out", str(other), "--workers", "0"]
    assert dedup_cmd.run(_args(dedup_cmd, argv)) == 2
    assert "holds data" in capsys.readouterr().err
    assert (other / "articles.jsonl").read_bytes() == theirs
    assert dedup_cmd.run(_args(dedup_cmd, [*argv, "--force"])) == 0
    kept = (other / "articles.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(x)["site"] for x in kept] == ["lnzf"] * 4
    assert (other / "duplicates.jsonl").read_text(encoding="utf-8") == ""
    assert sorted(p.name for p in other.iterdir()) == ["articles.jsonl", "duplicates.jsonl"]
    # an empty folder or one that does not exist yet needs no --force
    (tmp_path / "empty").mkdir()
    for out in ("empty", "new/deeper"):
        argv = [str(source / "articles.jsonl"), "--out", str(tmp_path / out), "--workers", "0"]
        assert dedup_cmd.run(_args(dedup_cmd, argv)) == 0


def test_offline_dedup_failing_midway_leaves_the_output_folder_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crawler.dedup import offline

    source = _portal_output(tmp_path, "lnzf", 4)
    out = _portal_output(tmp_path, "old", 3)
    before = (out / "articles.jsonl").read_bytes()

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(offline.Deduplicator, "decide_arrays", broken)
    argv = [str(source / "articles.jsonl"), "--out", str(out), "--force", "--workers", "0"]
    assert dedup_cmd.run(_args(dedup_cmd, argv)) == 2
    assert (out / "articles.jsonl").read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == ["articles.jsonl"]


def _run_offline(
    tmp_path: Path, records: list[dict[str, Any]], *extra: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], Path]:
    source = tmp_path / "in" / "all.jsonl"
    _write_jsonl(source, records)
    out = tmp_path / "out"
    argv = [str(source), "--out", str(out), "--workers", "0", *extra]
    assert dedup_cmd.run(_args(dedup_cmd, argv)) == 0
    read = [
        [json.loads(x) for x in (out / name).read_text(encoding="utf-8").splitlines()]
        for name in ("articles.jsonl", "duplicates.jsonl")
    ]
    return read[0], read[1], out


def test_offline_dedup_keeps_the_origin_not_the_first_seen(tmp_path: Path) -> None:
    lead = next(p for p in _pairs() if p["kind"] == "first_line" and p["note"].startswith("000"))
    reprint = _rec(lead["b"], "http://agg.cn/1.html", "agg", "2022-07-15T08:00:00+08:00",
                   site_name="某聚合网", source="辽宁日报")  # fmt: skip
    later = _rec(lead["a"], "http://lnrb.cn/1.html", "lnrb", "2022-07-15T09:30:00+08:00",
                 site_name="辽宁日报", source=None)  # fmt: skip
    third = _rec(lead["a"], "http://c.cn/1.html", "c", "2022-07-14T09:30:00+08:00",
                 site_name="丙", source=None)  # fmt: skip
    kept, dups, _ = _run_offline(tmp_path, [reprint, later, third])
    # named as 来源 by another copy: kept, though seen second and published after the third
    assert [k["url"] for k in kept] == [later["url"]]
    assert {d["url"]: (d["duplicate_of"], d["match"]) for d in dups} == {
        reprint["url"]: (later["id"], "minhash"),
        third["url"]: (later["id"], "content_hash"),
    }
    assert {d["cluster"] for d in [*kept, *dups]} == {reprint["id"]}  # the first seen's id
    assert 0.5 <= next(d for d in dups if d["url"] == reprint["url"])["similarity"] < 1
    # no copy named: the earliest published
    later["site_name"] = "某报"
    kept, dups, _ = _run_offline(tmp_path / "2", [reprint, later, third])
    assert [k["url"] for k in kept] == [third["url"]]


def test_offline_dedup_passes_lines_through_and_keeps_their_cluster(tmp_path: Path) -> None:
    texts = list(dict.fromkeys(p["b"] for p in _pairs() if p["kind"] == "same_meeting"))[:3]
    recs = [
        _rec(t, f"http://a.cn/{i}.html", "a", "2022-01-01T00:00:00+08:00", cluster=f"c{i}")
        for i, t in enumerate(texts)
    ]
    copy = _rec(texts[0], "http://b.cn/9.html", "b", "2022-01-02T00:00:00+08:00", cluster="x")
    _, dups, out = _run_offline(tmp_path, [*recs, copy])
    lines = (tmp_path / "in" / "all.jsonl").read_text(encoding="utf-8").splitlines()
    assert (out / "articles.jsonl").read_text(encoding="utf-8").splitlines() == lines[:3]
    assert dups[0]["cluster"] == "c0"
    assert dups[0]["duplicate_of"] == recs[0]["id"]


def test_offline_dedup_finds_traditional_script_and_full_width_reprints(tmp_path: Path) -> None:
    trad = [p for p in _pairs() if p["note"].endswith("traditional, full-width")][:5]
    recs = []
    for i, pair in enumerate(trad):
        recs.append(_rec(pair["a"], f"http://s.cn/{i}.html", "s", "2022-01-01T00:00:00+08:00"))
        recs.append(_rec(pair["b"], f"http://t.cn/{i}.html", "t", "2022-01-02T00:00:00+08:00"))
    kept, dups, _ = _run_offline(tmp_path, recs)
    assert [k["site"] for k in kept] == ["s"] * 5
    assert [d["site"] for d in dups] == ["t"] * 5
    # the same text once normalised (but for a 著/着 that OpenCC's tw2s writes the mainland way)
    assert [d["match"] for d in dups].count("content_hash") >= 4


def test_offline_dedup_many_ranges_in_workers_give_the_same_output(tmp_path: Path) -> None:
    from crawler import settings
    from crawler.dedup.offline import dedup_files
    from pipelines.dedup import params_from_settings

    pairs = _pairs()
    recs = [_rec(p[k], f"http://x.cn/{i}-{k}.html", "x", "2022-01-01T00:00:00+08:00")
            for i, p in enumerate(pairs) for k in ("a", "b")]  # fmt: skip
    source = tmp_path / "all.jsonl"
    _write_jsonl(source, recs)
    with source.open("ab") as f:
        f.write(b"\n  \n{broken\n")
    params = params_from_settings()
    outputs = []
    for name, workers, chunk in (("one", 0, 1 << 30), ("small", 0, 4096), ("pool", 2, 7919)):
        report = io.StringIO()
        summary = dedup_files([source], tmp_path / name, params, settings.DEDUP_THRESHOLD,
                              workers=workers, chunk_bytes=chunk, report=report)  # fmt: skip
        assert summary.read == len(recs) + 1
        assert summary.malformed == 1
        assert f"{source}:{len(recs) + 3}: bad JSON" in report.getvalue()
        outputs.append([(tmp_path / name / f).read_bytes() for f in ("articles.jsonl",
                        "duplicates.jsonl")])  # fmt: skip
    assert outputs[0] == outputs[1] == outputs[2]


def test_outputs_survive_short_positional_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``pwritev`` may write less than asked: the writers go on after the bytes written."""
    import os

    from crawler import settings
    from crawler.dedup.offline import dedup_files
    from pipelines.dedup import params_from_settings

    recs = [_rec(p[k], f"http://x.cn/{i}-{k}.html", "x", "2022-01-01T00:00:00+08:00")
            for i, p in enumerate(_pairs()[:30]) for k in ("a", "b")]  # fmt: skip
    source = tmp_path / "all.jsonl"
    _write_jsonl(source, recs)
    params, threshold = params_from_settings(), settings.DEDUP_THRESHOLD
    dedup_files([source], tmp_path / "whole", params, threshold, report=io.StringIO())
    real = os.pwritev
    calls: list[int] = []

    def short(fd: int, buffers: list[Any], offset: int) -> int:  # at most 1,000 bytes a call
        calls.append(offset)
        data = b"".join(bytes(b) for b in buffers)[: 1 + len(calls) % 1000]
        return real(fd, [data], offset)

    monkeypatch.setattr(os, "pwritev", short)
    dedup_files([source], tmp_path / "short", params, threshold, report=io.StringIO())
    assert len(calls) > 100
    for name in ("articles.jsonl", "duplicates.jsonl"):
        assert (tmp_path / "short" / name).read_bytes() == (tmp_path / "whole" / name).read_bytes()


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_offline_outputs_get_the_mode_of_any_new_file(
    tmp_path: Path, inputs: tuple[Path, Path, dict[str, Any]], umask: int
) -> None:
    """articles.jsonl and duplicates.jsonl are renamed from temporary files: they get the
    mode the user's umask gives a new file (0644 under 022), not a temporary file's 0600."""
    import os
    import stat

    one, two, _ = inputs
    out = tmp_path / "out"
    old = os.umask(umask)
    try:
        dedup_cmd.run(_args(dedup_cmd, [str(one), str(two), "--out", str(out), "--workers", "0"]))
        plain = tmp_path / "plain"
        plain.write_text("")
    finally:
        os.umask(old)
    expected = stat.S_IMODE(plain.stat().st_mode)
    assert expected == 0o666 & ~umask
    for name in ("articles.jsonl", "duplicates.jsonl"):
        assert stat.S_IMODE((out / name).stat().st_mode) == expected
    assert sorted(p.name for p in out.iterdir()) == ["articles.jsonl", "duplicates.jsonl"]


def test_a_saved_index_manifest_gets_the_mode_of_any_new_file(tmp_path: Path) -> None:
    import os
    import stat

    from crawler.dedup.index import MANIFEST, DedupIndex, IndexParams

    old = os.umask(0o022)
    try:
        index = DedupIndex(tmp_path / "dedup", IndexParams())
        index.save()
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "dedup" / MANIFEST).stat().st_mode) == 0o644
    assert [p.name for p in (tmp_path / "dedup").iterdir()] == [MANIFEST]
