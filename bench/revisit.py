"""What the revisit schedule costs on a large portal: open, reopen, choose, load versions.

    .venv/bin/python bench/revisit.py [--records 100000]

Writes a synthetic ``articles.jsonl`` (records as the store writes them, about
2,000 characters of text each) to a temporary folder and times, wall and CPU
(user+sys) side by side: the first open (every entry made from the records), a
reopen (the log read and verified, nothing to add), a reopen after the output
was rewritten (the moves journal does that: every record read again, entries
known are passed over unparsed), choosing ``REVISIT_MAX_PER_RUN`` due entries
and loading their versions (one pass over the output).
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from crawler.ids import content_hash, record_id
from crawler.items import ArticleItem
from crawler.revisit import RevisitSchedule, Timing, load_versions
from pipelines.store import encode_record


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(label: str, func: Callable[[], Any]) -> Any:
    wall, used = time.perf_counter(), cpu()
    result = func()
    print(f"{label:<44} {time.perf_counter() - wall:7.2f} s wall {cpu() - used:7.2f} s CPU")
    return result


def write_records(path: Path, n: int) -> None:
    paragraph = "市委政法委召开会议，研究部署平安建设和市域社会治理现代化试点工作。" * 6
    with path.open("wb") as fh:
        for i in range(n):
            url = f"http://www.example.gov.cn/art/2024/{i % 12 + 1}/{i}.html"
            text = "\n".join(f"{paragraph}{i}-{p}" for p in range(8))
            item = ArticleItem(
                id=record_id(url),
                url=url,
                site="bench",
                site_name="bench",
                title=f"标题{i}",
                original_title=None,
                published_at="2024-01-01T00:00:00+08:00",
                published_precision="second",
                source="本网",
                authors=["王明"],
                editors=[],
                responsible_editors=[],
                text=text,
                content_hash=content_hash(text),
                fetched_at="2024-01-02T00:00:00+08:00",
                encoding="utf-8",
                original_script="simplified",
            )
            fh.write(encode_record(item))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--per-run", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out, state = Path(tmp) / "out", Path(tmp) / "state"
        out.mkdir()
        timed(
            f"write {args.records} records",
            lambda: write_records(out / "articles.jsonl", args.records),
        )
        size = (out / "articles.jsonl").stat().st_size
        print(f"articles.jsonl: {size / 2**20:.0f} MiB")

        def opened() -> RevisitSchedule:
            schedule = RevisitSchedule(state, out, Timing())
            schedule.open()
            return schedule

        timed("first open (entries from the records)", lambda: opened().close())
        print(f"revisit.log: {(state / 'revisit.log').stat().st_size / 2**20:.1f} MiB")
        schedule = timed("reopen (log read and verified)", opened)
        schedule.close()
        with (out / "articles.jsonl").open("r+b") as fh:  # a rewrite: same size, other tail
            fh.seek(size - 25)  # a hex digit of the last record's cluster id
            digit = fh.read(1)
            fh.seek(size - 25)
            fh.write(b"0" if digit != b"0" else b"1")
        schedule = timed("reopen after the output was rewritten", opened)
        now = datetime.now(UTC) + timedelta(days=400)
        due = timed(f"choose {args.per_run} due entries", lambda: schedule.due(now, args.per_run))
        keys = {e.key for e in due}
        found = timed("load their versions (one pass)", lambda: load_versions(out, keys))
        assert len(found) == len(keys)
        schedule.close()


if __name__ == "__main__":
    main()
