"""crawler.state: JSONL tail repair, the seen-URL store and its reconciliation, the portal lock."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from crawler.ids import url_key
from crawler.state import (
    CHECKPOINT_FILE,
    SEEN_FILE,
    PortalLock,
    PortalLocked,
    SeenOpenInfo,
    SeenStore,
    iter_jsonl_keys,
    repair_jsonl_tail,
)

ROOT = Path(__file__).resolve().parent.parent


def record(n: int, site: str = "scfzw") -> dict[str, object]:
    return {
        "id": f"{n:016x}",
        "url": f"http://www.scfzw.net/a/2021/0902/{n}.html",
        "site": site,
        "title": f"渠县政法委召开社会治理工作会议（第{n}次）",
        "text": "会议强调，要坚持和发展新时代“枫桥经验”。\n推进市域社会治理现代化。",
    }


def jsonl(records: list[dict[str, object]]) -> bytes:
    return b"".join((json.dumps(r, ensure_ascii=False) + "\n").encode("utf-8") for r in records)


# --- repair_jsonl_tail -----------------------------------------------------------


def test_repair_cuts_a_partial_last_line(tmp_path: Path) -> None:
    path = tmp_path / "articles.jsonl"
    good = jsonl([record(1), record(2)])
    partial = jsonl([record(3)])[:57]  # cut inside a multi-byte character run
    path.write_bytes(good + partial)
    assert repair_jsonl_tail(path) == len(partial)
    assert path.read_bytes() == good


def test_repair_cuts_a_terminated_line_that_does_not_parse(tmp_path: Path) -> None:
    path = tmp_path / "articles.jsonl"
    good = jsonl([record(1)])
    path.write_bytes(good + b"\x00" * 300 + b"\n")  # what a power loss can leave
    assert repair_jsonl_tail(path) == 301
    assert path.read_bytes() == good


def test_repair_leaves_an_intact_file_alone(tmp_path: Path) -> None:
    path = tmp_path / "articles.jsonl"
    good = jsonl([record(n) for n in range(5)])
    path.write_bytes(good)
    assert repair_jsonl_tail(path) == 0
    assert path.read_bytes() == good


def test_repair_of_a_single_partial_line_empties_the_file(tmp_path: Path) -> None:
    path = tmp_path / "articles.jsonl"
    path.write_bytes(jsonl([record(1)])[:-10])
    assert repair_jsonl_tail(path) > 0
    assert path.read_bytes() == b""


def test_repair_of_a_partial_line_longer_than_a_read_block(tmp_path: Path) -> None:
    path = tmp_path / "articles.jsonl"
    good = jsonl([record(1)])
    big = {**record(2), "text": "长" * 100_000}
    path.write_bytes(good + jsonl([big])[:-5])
    repair_jsonl_tail(path)
    assert path.read_bytes() == good


def test_repair_of_a_missing_file_is_a_no_op(tmp_path: Path) -> None:
    assert repair_jsonl_tail(tmp_path / "nope.jsonl") == 0
    assert not (tmp_path / "nope.jsonl").exists()


# --- the seen store ----------------------------------------------------------------


def make_output(out: Path, articles: list[int], duplicates: tuple[int, ...] = ()) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "articles.jsonl").write_bytes(jsonl([record(n) for n in articles]))
    (out / "duplicates.jsonl").write_bytes(jsonl([record(n) for n in duplicates]))


def keys(ns: list[int]) -> set[str]:
    return {url_key(str(record(n)["url"])) for n in ns}


def log_keys(state: Path) -> list[str]:
    return (state / SEEN_FILE).read_text("utf-8").splitlines()


def test_first_start_without_output_is_empty(tmp_path: Path) -> None:
    store = SeenStore(tmp_path / "state", tmp_path / "out")
    info = store.open()
    assert len(store) == 0
    assert not info.rebuilt
    store.close()


def test_missing_seen_store_is_rebuilt_from_the_output(tmp_path: Path) -> None:
    out, state = tmp_path / "out", tmp_path / "state"
    make_output(out, [1, 2, 3], (4,))
    store = SeenStore(state, out)
    info = store.open()
    assert info.rebuilt
    assert "no checkpoint" in info.reason
    assert store.keys == keys([1, 2, 3, 4])
    store.close()
    assert sorted(log_keys(state)) == sorted(keys([1, 2, 3, 4]))


def test_keys_added_survive_a_reopen_without_reading_the_output(tmp_path: Path) -> None:
    out, state = tmp_path / "out", tmp_path / "state"
    make_output(out, [1])
    store = SeenStore(state, out)
    store.open()
    with (out / "articles.jsonl").open("ab") as fh:
        fh.write(jsonl([record(2)]))
    store.add(url_key(str(record(2)["url"])))
    store.close()
    again = SeenStore(state, out)
    info = again.open()
    assert not info.rebuilt
    assert info.replayed == 0
    assert again.keys == keys([1, 2])
    again.close()


def test_records_written_after_the_checkpoint_are_replayed(tmp_path: Path) -> None:
    """A run killed after writing records but before the seen log or checkpoint caught up."""
    out, state = tmp_path / "out", tmp_path / "state"
    make_output(out, [1, 2])
    store = SeenStore(state, out)
    store.open()
    store.close()
    # the killed run: records 3 and 4 reached the JSONL, only 3 reached the seen log
    with (out / "articles.jsonl").open("ab") as fh:
        fh.write(jsonl([record(3), record(4)]))
    with (out / "duplicates.jsonl").open("ab") as fh:
        fh.write(jsonl([record(5)]))
    with (state / SEEN_FILE).open("a") as fh:
        fh.write(url_key(str(record(3)["url"])) + "\n")
    again = SeenStore(state, out)
    info = again.open()
    assert not info.rebuilt
    assert info.replayed == 3
    assert again.keys == keys([1, 2, 3, 4, 5])
    again.close()
    assert sorted(log_keys(state)) == sorted(keys([1, 2, 3, 4, 5]))  # each key once


def test_seen_entries_without_a_record_are_dropped(tmp_path: Path) -> None:
    out, state = tmp_path / "out", tmp_path / "state"
    make_output(out, [1])
    store = SeenStore(state, out)
    store.open()
    store.close()
    with (state / SEEN_FILE).open("a") as fh:  # a key whose record never reached the disk
        fh.write(url_key(str(record(9)["url"])) + "\n" + "www.scfzw.net/half")
    again = SeenStore(state, out)
    info = again.open()
    assert info.dropped == 2
    assert again.keys == keys([1])
    again.close()
    assert log_keys(state) == sorted(keys([1]))


def test_corrupt_checkpoint_rebuilds(tmp_path: Path) -> None:
    out, state = tmp_path / "out", tmp_path / "state"
    make_output(out, [1, 2])
    store = SeenStore(state, out)
    store.open()
    store.close()
    (state / CHECKPOINT_FILE).write_bytes(b'{"version": 1, "seen_by')
    again = SeenStore(state, out)
    info = again.open()
    assert info.rebuilt
    assert info.reason == "checkpoint unreadable"
    assert again.keys == keys([1, 2])
    again.close()


def test_corrupt_seen_log_rebuilds(tmp_path: Path) -> None:
    out, state = tmp_path / "out", tmp_path / "state"
    make_output(out, [1, 2])
    store = SeenStore(state, out)
    store.open()
    store.close()
    size = (state / SEEN_FILE).stat().st_size
    (state / SEEN_FILE).write_bytes(b"\xff\xfe" * (size // 2) + b"x" * (size % 2))
    again = SeenStore(state, out)
    info = again.open()
    assert info.rebuilt
    assert again.keys == keys([1, 2])
    again.close()


def test_missing_seen_log_with_checkpoint_rebuilds(tmp_path: Path) -> None:
    out, state = tmp_path / "out", tmp_path / "state"
    make_output(out, [1, 2])
    store = SeenStore(state, out)
    store.open()
    store.close()
    (state / SEEN_FILE).unlink()
    again = SeenStore(state, out)
    info = again.open()
    assert info.rebuilt
    assert info.reason == "seen log missing"
    assert again.keys == keys([1, 2])
    again.close()


def test_rewritten_output_rebuilds(tmp_path: Path) -> None:
    """An output file replaced by another one (e.g. an offline dedup) is noticed."""
    out, state = tmp_path / "out", tmp_path / "state"
    make_output(out, [1, 2])
    store = SeenStore(state, out)
    store.open()
    store.close()
    make_output(out, [7, 8, 9])  # longer than before, other records
    again = SeenStore(state, out)
    info = again.open()
    assert info.rebuilt
    assert "rewritten" in info.reason
    assert again.keys == keys([7, 8, 9])
    again.close()


def test_truncated_output_rebuilds(tmp_path: Path) -> None:
    out, state = tmp_path / "out", tmp_path / "state"
    make_output(out, [1, 2, 3])
    store = SeenStore(state, out)
    store.open()
    store.close()
    make_output(out, [1])
    again = SeenStore(state, out)
    info = again.open()
    assert info.rebuilt
    assert "shorter" in info.reason
    assert again.keys == keys([1])
    again.close()


def test_deleted_output_empties_the_seen_store(tmp_path: Path) -> None:
    """The JSONL is the truth: deleting it (to crawl again) is honoured, with a log line."""
    out, state = tmp_path / "out", tmp_path / "state"
    make_output(out, [1, 2])
    store = SeenStore(state, out)
    store.open()
    store.close()
    (out / "articles.jsonl").unlink()
    (out / "duplicates.jsonl").unlink()
    again = SeenStore(state, out)
    info = again.open()
    assert info.rebuilt
    assert len(again) == 0
    again.close()


def test_iter_jsonl_keys_skips_unreadable_lines(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(jsonl([record(1)]) + b"not json\n" + b'{"url": null}\n' + jsonl([record(2)]))
    assert list(iter_jsonl_keys(path)) == [
        url_key(str(record(1)["url"])),
        url_key(str(record(2)["url"])),
    ]


def test_iter_jsonl_keys_reads_urls_needing_json_escapes(tmp_path: Path) -> None:
    """Lines the fast path cannot read (escapes, other key order) are parsed in full."""
    path = tmp_path / "a.jsonl"
    odd = 'http://www.scfzw.net/a/show.php?q="社会治理"'
    path.write_bytes(
        jsonl([{**record(1), "url": odd}])
        + b'{"url": "http://www.scfzw.net/b.html", "id": "x"}\n'
        + json.dumps({**record(2)}).encode()  # ensure_ascii=True: \\u escapes
        + b"\n"
    )
    assert list(iter_jsonl_keys(path)) == [
        url_key(odd),
        url_key("http://www.scfzw.net/b.html"),
        url_key(str(record(2)["url"])),
    ]


def test_url_key_makes_http_and_https_one_entry(tmp_path: Path) -> None:
    out, state = tmp_path / "out", tmp_path / "state"
    out.mkdir()
    (out / "articles.jsonl").write_bytes(
        jsonl([{**record(1), "url": "https://WWW.scfzw.net/a/2021/0902/1.html#top"}])
    )
    store = SeenStore(state, out)
    store.open()
    assert url_key("http://www.scfzw.net/a/2021/0902/1.html") in store
    store.close()


# --- the lock ----------------------------------------------------------------------

HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from crawler.state import PortalLock
    lock = PortalLock(Path(sys.argv[1]), "scfzw")
    lock.acquire()
    print("locked", flush=True)
    time.sleep(30)
    """
)


def test_second_process_is_refused_with_pid_and_path(tmp_path: Path) -> None:
    path = tmp_path / "state" / "scfzw.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        lock = PortalLock(path, "scfzw")
        with pytest.raises(PortalLocked) as info:
            lock.acquire()
        assert info.value.pid == holder.pid
        assert str(path) in str(info.value)
        assert f"process {holder.pid}" in str(info.value)
        assert not lock.held
    finally:
        holder.kill()
        holder.wait(timeout=10)
    # killed holder: the kernel released the lock, no stale lock file blocks the next run
    lock = PortalLock(path, "scfzw")
    lock.acquire()
    assert lock.held
    assert path.read_text().strip() == str(os.getpid())
    lock.release()


def test_locks_of_different_portals_are_independent(tmp_path: Path) -> None:
    a = PortalLock(tmp_path / "a.lock", "a")
    b = PortalLock(tmp_path / "b.lock", "b")
    a.acquire()
    b.acquire()
    assert a.held
    assert b.held
    a.release()
    b.release()


def test_lock_released_can_be_taken_again(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    first = PortalLock(path, "x")
    first.acquire()
    with pytest.raises(PortalLocked):
        PortalLock(path, "x").acquire()  # a second open file description conflicts too
    first.release()
    second = PortalLock(path, "x")
    second.acquire()
    second.release()


# --- corrupt contents with a checkpoint that still matches the sizes ----------------


def _closed_store(tmp_path: Path, n: int) -> tuple[Path, Path]:
    out, state = tmp_path / "out", tmp_path / "state"
    make_output(out, list(range(1, n + 1)))
    store = SeenStore(state, out)
    store.open()
    store.close()
    return out, state


def _reopened(out: Path, state: Path, n: int) -> SeenOpenInfo:
    again = SeenStore(state, out)
    info = again.open()
    # the JSONL is the truth: every written record's key is known, nothing else
    assert again.keys == keys(list(range(1, n + 1)))
    again.close()
    return info


def test_a_one_bit_flip_in_the_seen_log_is_detected(tmp_path: Path) -> None:
    out, state = _closed_store(tmp_path, 10)
    log = state / SEEN_FILE
    data = bytearray(log.read_bytes())
    data[len(data) // 2 - 3] ^= 0x01  # still valid UTF-8, still a plausible key
    log.write_bytes(bytes(data))
    info = _reopened(out, state, 10)
    assert info.rebuilt
    assert "checksum" in info.reason


def test_300_overwritten_bytes_in_the_seen_log_are_detected(tmp_path: Path) -> None:
    out, state = _closed_store(tmp_path, 40)
    log = state / SEEN_FILE
    data = log.read_bytes()
    junk = (b"www.scfzw.net/shzl/other.html\n" * 11)[:300]
    log.write_bytes(data[:100] + junk + data[400:])
    assert log.stat().st_size == len(data)
    info = _reopened(out, state, 40)
    assert info.rebuilt
    assert "checksum" in info.reason


def _truncate_with_matching_checkpoint(state: Path, forge_checksum: bool) -> None:
    """Cut the seen log in half and edit the checkpoint to agree with it."""
    import hashlib

    log = state / SEEN_FILE
    data = log.read_bytes()
    cut = data[: data.index(b"\n", len(data) // 2) + 1]
    log.write_bytes(cut)
    cp = json.loads((state / CHECKPOINT_FILE).read_bytes())
    cp["seen_bytes"] = len(cut)
    if forge_checksum:
        cp["seen_sha1"] = hashlib.sha1(cut).hexdigest()
        cp["keys"] = cut.count(b"\n")
    (state / CHECKPOINT_FILE).write_text(json.dumps(cp))


def test_a_truncated_seen_log_with_a_matching_checkpoint_is_detected(tmp_path: Path) -> None:
    out, state = _closed_store(tmp_path, 10)
    _truncate_with_matching_checkpoint(state, forge_checksum=False)
    info = _reopened(out, state, 10)
    assert info.rebuilt


def test_a_forged_checkpoint_matching_a_truncated_log_is_still_detected(tmp_path: Path) -> None:
    """Even with the log's checksum recomputed, fewer keys than records is a disagreement."""
    out, state = _closed_store(tmp_path, 10)
    _truncate_with_matching_checkpoint(state, forge_checksum=True)
    info = _reopened(out, state, 10)
    assert info.rebuilt
    assert "records" in info.reason
