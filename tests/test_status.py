"""``python -m crawler status``: portal health from run summaries."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from crawler.commands.status import collect, html_page, table

NOW = datetime(2026, 3, 31, 6, 0, tzinfo=UTC)


def summary(day: int, new: int, found: int = 5, errors: int = 0, status: int = 0) -> dict[str, Any]:
    when = (NOW - timedelta(days=30 - day)).isoformat().replace("+00:00", "Z")
    return {
        "finished": when,
        "exit_status": status,
        "problems": [] if not status else ["something"],
        "pages": {"list": 2, "article": new},
        "articles": {"found": found, "new": new, "duplicate": {"total": 1}},
        "errors": {"total": errors},
    }


def write_runs(out: Path, site: str, runs: list[dict[str, Any]]) -> None:
    folder = out / site / "runs"
    folder.mkdir(parents=True)
    for n, run in enumerate(runs):
        (folder / f"{n:03d}.json").write_text(json.dumps(run), encoding="utf-8")


def test_rows_shares_and_alarms(tmp_path: Path) -> None:
    write_runs(tmp_path, "steady", [summary(d, 2) for d in range(1, 31)])
    write_runs(tmp_path, "stopped", [summary(d, 3 if d < 20 else 0) for d in range(1, 31, 2)])
    write_runs(tmp_path, "template", [summary(1, 4), summary(2, 0, found=0, status=1)])
    noisy = [summary(d, 1) for d in range(1, 28)] + [summary(29, 1, errors=9)]
    write_runs(tmp_path, "noisy", noisy)
    write_runs(tmp_path, "down", [summary(28, 1), summary(30, 0, found=0, status=69)])
    (tmp_path / "stray").mkdir()  # a folder with no runs is not a portal
    rows = {r.site: r for r in collect(tmp_path, NOW)}
    assert sorted(rows) == ["down", "noisy", "steady", "stopped", "template"]
    steady = rows["steady"]
    assert (steady.new_last_run, steady.new_7d, steady.new_30d) == (2, 16, 60)
    assert steady.duplicate_share == round(30 / 90, 4)
    assert steady.days_since_new == 0.0
    assert steady.alarm == ""
    assert steady.daily_new == [2] * 30  # one run a day, today the last
    stopped = rows["stopped"]
    assert stopped.alarm.startswith("yield fell to zero")
    assert stopped.days_since_new == 11.0  # day 19, the last with new articles
    assert rows["template"].alarm.startswith("no article links found")
    assert rows["template"].outcome == "exit 1: something"
    assert rows["noisy"].alarm.startswith("errors rose (75% of pages")
    assert rows["down"].alarm == "portal unreachable"
    text = table(list(rows.values()))
    assert text.splitlines()[0].split()[:3] == ["portal", "last", "run"]
    assert len(text.splitlines()) == 6
    page = html_page(list(rows.values()), NOW, tmp_path)
    assert page.count("<svg") == 5
    assert "http" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")  # no assets


def test_a_crawl_shared_through_redis_is_read_from_every_process_folder(tmp_path: Path) -> None:
    # two workers of one portal, each with its own folder (REDIS_URL)
    write_runs(tmp_path / "scfzw", "host-101", [summary(d, 1) for d in range(1, 31, 2)])
    write_runs(tmp_path / "scfzw", "host-202", [summary(d, 2) for d in range(2, 31, 2)])
    [row] = collect(tmp_path, NOW)
    assert row.site == "scfzw"
    assert row.new_30d == 15 * 1 + 15 * 2
    assert row.new_last_run == 2  # day 30, the second worker's
