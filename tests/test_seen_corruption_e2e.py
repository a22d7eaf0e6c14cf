"""A corrupt seen store never makes a crawl write an article twice (real ``scrapy crawl``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_incremental_e2e import SITE, crawl, read_jsonl

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("damage", ["bit flip", "300 bytes", "truncated"])
def test_a_damaged_seen_store_is_rebuilt_and_nothing_is_written_twice(
    replica_url: str, tmp_path: Path, damage: str
) -> None:
    first = crawl(SITE, replica_url, tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    before = sorted(r["id"] for r in first.records() + first.records("duplicates"))
    log = tmp_path / "state" / SITE / "seen"
    data = bytearray(log.read_bytes())
    if damage == "bit flip":
        data[len(data) // 2 - 3] ^= 0x01
    elif damage == "300 bytes":
        n = min(300, len(data) - 12)  # overwritten in place: the size stays the same
        data[10 : 10 + n] = (b"www.scfzw.net/shzl/x.html\n" * 12)[: n - 1] + b"\n"
    else:
        data = data[: data.index(b"\n", len(data) // 2) + 1]
    log.write_bytes(bytes(data))
    again = crawl(SITE, replica_url, tmp_path, "-a", "full=1")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "seen store rebuilt" in again.stderr
    out = tmp_path / "output" / SITE
    ids = [
        r["id"] for r in read_jsonl(out / "articles.jsonl") + read_jsonl(out / "duplicates.jsonl")
    ]
    assert len(ids) == len(set(ids)), "an article was written twice"
    assert sorted(ids) == before
