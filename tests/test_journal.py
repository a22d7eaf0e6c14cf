"""The move journal: a record leaves articles.jsonl for duplicates.jsonl, safely and once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from crawler import journal
from crawler.state import PortalLock, apply_pending


def rec(n: int, cluster: str | None = None, **extra: Any) -> dict[str, Any]:
    rid = f"{n:016x}"
    url = f"http://a.cn/{n}.html"
    return {"id": rid, "url": url, "text": f"正文{n}", "cluster": cluster or rid, **extra}


def write(path: Path, records: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")


def read(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def demote(n: int, of: int, cluster: str) -> dict[str, Any]:
    return {
        "op": "demote",
        "id": f"{n:016x}",
        "duplicate_of": f"{of:016x}",
        "similarity": 0.8,
        "match": "minhash",
        "cluster": cluster,
    }


@pytest.fixture
def site(tmp_path: Path) -> tuple[Path, Path]:
    state, out = tmp_path / "state", tmp_path / "output" / "cri"
    write(out / "articles.jsonl", [rec(1), rec(2), rec(3)])
    write(out / "duplicates.jsonl", [rec(4, cluster=rec(1)["id"], duplicate_of=rec(1)["id"])])
    return state, out


def test_demote_moves_the_record_with_its_new_fields(site: tuple[Path, Path]) -> None:
    state, out = site
    ino = (out / "articles.jsonl").stat().st_ino
    journal.record(state, "cri", [demote(2, 9, "c9")])
    assert journal.pending(state, "cri")
    done = journal.apply(state, "cri", out)
    assert done.demoted == [rec(2)["id"]]
    assert [r["id"] for r in read(out / "articles.jsonl")] == [rec(1)["id"], rec(3)["id"]]
    dups = read(out / "duplicates.jsonl")
    assert [r["id"] for r in dups] == [rec(4)["id"], rec(2)["id"]]
    moved = dups[-1]
    assert moved["duplicate_of"] == f"{9:016x}"
    assert moved["cluster"] == "c9"
    assert (moved["similarity"], moved["match"], moved["text"]) == (0.8, "minhash", "正文2")
    assert (out / "articles.jsonl").stat().st_ino != ino  # replaced by rename, never edited
    assert not journal.pending(state, "cri")
    assert not list(out.glob(".*tmp"))


def test_a_kill_between_the_two_renames_is_repaired_by_the_next_application(
    site: tuple[Path, Path],
) -> None:
    state, out = site
    journal.record(state, "cri", [demote(2, 9, "c9")])
    # the state a kill after the duplicates' rename leaves: the record in both files
    dups = read(out / "duplicates.jsonl")
    write(out / "duplicates.jsonl", [*dups, {**rec(2), "duplicate_of": f"{9:016x}"}])
    journal.apply(state, "cri", out)
    ids = [r["id"] for r in read(out / "articles.jsonl") + read(out / "duplicates.jsonl")]
    assert sorted(ids) == sorted(rec(n)["id"] for n in (1, 2, 3, 4))  # each once
    assert rec(2)["id"] not in [r["id"] for r in read(out / "articles.jsonl")]
    journal.apply(state, "cri", out)  # nothing left to do: unchanged
    assert len(read(out / "duplicates.jsonl")) == 2


def test_relabel_changes_the_cluster_in_both_files(site: tuple[Path, Path]) -> None:
    state, out = site
    journal.record(state, "cri", [{"op": "relabel", "from": rec(1)["id"], "to": "merged"}])
    done = journal.apply(state, "cri", out)
    assert done.relabelled == 2
    assert read(out / "articles.jsonl")[0]["cluster"] == "merged"
    assert read(out / "duplicates.jsonl")[0]["cluster"] == "merged"
    assert read(out / "articles.jsonl")[1]["cluster"] == rec(2)["id"]


def test_a_record_not_written_yet_waits_or_is_dropped(site: tuple[Path, Path]) -> None:
    state, out = site
    journal.record(state, "cri", [demote(7, 9, "c9")])
    assert journal.apply(state, "cri", out, keep_missing=True).waiting == 1
    assert journal.pending(state, "cri") == [demote(7, 9, "c9")]
    done = journal.apply(state, "cri", out, keep_missing=False)
    assert (done.waiting, done.dropped) == (0, 1)
    assert not journal.pending(state, "cri")
    assert len(read(out / "articles.jsonl")) == 3


def test_apply_pending_waits_for_the_portal_lock(site: tuple[Path, Path]) -> None:
    state, out = site
    journal.record(state, "cri", [demote(3, 9, "c9")])
    lock = PortalLock(state / "cri.lock", "cri")
    lock.acquire()
    try:
        assert apply_pending(state, out.parent, "cri") is False  # a run holds the portal
        assert len(read(out / "articles.jsonl")) == 3
    finally:
        lock.release()
    assert apply_pending(state, out.parent, "cri") is True
    assert [r["id"] for r in read(out / "articles.jsonl")] == [rec(1)["id"], rec(2)["id"]]
    # the seen store followed: its checkpoint matches the rewritten files
    from crawler.state import SeenStore

    info = SeenStore(state / "cri", out).open()
    assert not info.rebuilt
    assert info.keys == 4
