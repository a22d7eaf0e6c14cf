"""python -m crawler export: one typed table (Parquet, CSV) of an output folder."""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

from crawler.commands import export
from crawler.ids import record_id

ROOT = Path(__file__).resolve().parent.parent


def _record(site: str, n: int, **extra: Any) -> dict[str, Any]:
    url = f"http://www.{site}.cn/{n}.html"
    rec: dict[str, Any] = {
        "id": record_id(url), "url": url, "site": site, "site_name": f"{site}网",
        "title": f"标题{n}", "original_title": None,
        "published_at": "2022-07-15T10:12:31+08:00", "published_precision": "second",
        "source": "辽宁日报", "authors": ["张三"], "editors": [], "responsible_editors": [],
        "text": "正文。" * 40, "content_hash": f"{n:040x}",
        "fetched_at": "2024-05-20T15:00:00+08:00", "encoding": "utf-8",
        "original_script": "simplified", "quality_flags": [], "fixes": [],
        "cluster": record_id(url),
    }  # fmt: skip
    rec.update(extra)
    return rec


def _write(path: Path, records: list[dict[str, Any]], tail: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records) + tail
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def output(tmp_path: Path) -> Path:
    root = tmp_path / "output"
    a0 = _record("a", 0)
    _write(root / "a" / "articles.jsonl", [a0, _record("a", 1, published_at=None,
           published_precision=None)])  # fmt: skip
    # older output: a day-only date, no cluster, no published_precision
    old = _record("b", 2, published_at="2021-03-05")
    del old["cluster"], old["published_precision"]
    _write(root / "b" / "articles.jsonl", [old], tail="{broken\n")
    dup = _record("b", 3, duplicate_of=a0["id"], similarity=0.93, match="minhash",
                  cluster=a0["cluster"])  # fmt: skip
    _write(root / "b" / "duplicates.jsonl", [dup])
    return root


def _args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    export.add_arguments(parser)
    return parser.parse_args(argv)


def test_parquet_of_kept_records_has_one_type_per_column(
    output: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "kept.parquet"
    assert export.run(_args([str(output), "--format", "parquet", "--out", str(out)])) == 1
    err = capsys.readouterr().err
    assert f"{output / 'b' / 'articles.jsonl'}:2: bad JSON" in err
    assert "export: 3 records" in err
    df = pd.read_parquet(out)
    assert list(df.columns)[:3] == ["id", "url", "site"]
    assert "duplicate_of" not in df.columns
    for column in ("published_at", "fetched_at"):
        assert isinstance(df[column].dtype, pd.DatetimeTZDtype)
    assert str(df.loc[2, "published_at"]) == "2021-03-05 00:00:00+08:00"
    assert pd.isna(df.loc[1, "published_at"])
    assert pd.isna(df.loc[2, "cluster"])  # absent in the line: the column is there, null
    assert list(df.loc[0, "authors"]) == ["张三"]
    assert list(df.loc[0, "editors"]) == []
    rel = duckdb.read_parquet(str(out))
    assert dict(zip(rel.columns, map(str, rel.types), strict=True))["fetched_at"] == (
        "TIMESTAMP WITH TIME ZONE"
    )


def test_parquet_with_duplicates_joins_copies_by_cluster(output: Path, tmp_path: Path) -> None:
    out = tmp_path / "all.parquet"
    argv = [str(output), "--format", "parquet", "--out", str(out), "--duplicates"]
    assert export.run(_args(argv)) == 1  # the broken line
    con = duckdb.connect()
    rel = con.read_parquet(str(out))
    types = dict(zip(rel.columns, [str(t) for t in rel.types], strict=True))
    assert types["published_at"] == "TIMESTAMP WITH TIME ZONE"
    assert types["authors"] == "VARCHAR[]"
    assert types["similarity"] == "DOUBLE"
    assert types["kept"] == "BOOLEAN"
    rows = con.execute(
        "select cluster, count(*), sum(kept::int) from rel where cluster is not null"
        " group by cluster order by 2 desc"
    ).fetchall()
    assert rows[0][1:] == (2, 1)  # a0 and its reprint, one kept


def test_csv_export_needs_no_pyarrow(
    output: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    out = tmp_path / "kept.csv"
    assert export.run(_args([str(output), "--format", "csv", "--out", str(out)])) == 1
    with out.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3
    assert rows[0]["published_at"] == "2022-07-15T10:12:31+08:00"
    assert rows[2]["published_at"] == "2021-03-05T00:00:00+08:00"
    assert json.loads(rows[0]["authors"]) == ["张三"]
    assert rows[2]["cluster"] == ""
    monkeypatch.undo()  # pandas itself uses pyarrow when it is there
    df = pd.read_csv(out, parse_dates=["published_at", "fetched_at"])
    assert isinstance(df["fetched_at"].dtype, pd.DatetimeTZDtype)


def test_parquet_without_pyarrow_is_a_clear_error(
    output: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    out = tmp_path / "kept.parquet"
    assert export.run(_args([str(output), "--format", "parquet", "--out", str(out)])) == 2
    err = capsys.readouterr().err
    assert "needs pyarrow" in err
    assert "pip install '.[analysis]'" in err
    assert not out.exists()


def test_export_command_line(output: Path, tmp_path: Path) -> None:
    out = tmp_path / "kept.parquet"
    done = subprocess.run(
        [sys.executable, "-m", "crawler", "export", str(output), "--format", "parquet",
         "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert len(pd.read_parquet(out)) == 3
    missing = subprocess.run(
        [sys.executable, "-m", "crawler", "export", str(tmp_path / "nope"), "--format", "csv",
         "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert missing.returncode == 2
    assert "no such folder" in missing.stderr


def test_object_fields_are_json_text(tmp_path: Path) -> None:
    root = tmp_path / "output"
    attachment = {"url": "http://www.a.cn/1.pdf", "name": "附件1", "ext": "pdf", "sha256": None,
                  "path": None}  # fmt: skip
    xxgk = dict.fromkeys(
        ("index_no", "publisher", "written_at", "published_at", "doc_no", "category", "validity")
    )
    xxgk["doc_no"] = "某政发〔2024〕3号"
    rec = _record("a", 0, pages=["http://www.a.cn/0.html"], attachments=[attachment], xxgk=xxgk)
    _write(root / "a" / "articles.jsonl", [rec])
    out = tmp_path / "kept.parquet"
    assert export.run(_args([str(root), "--format", "parquet", "--out", str(out)])) == 0
    df = pd.read_parquet(out)
    assert json.loads(df.loc[0, "attachments"]) == [attachment]
    assert json.loads(df.loc[0, "xxgk"])["doc_no"] == "某政发〔2024〕3号"
    assert list(df.loc[0, "pages"]) == ["http://www.a.cn/0.html"]
