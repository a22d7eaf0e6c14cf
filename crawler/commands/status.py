"""Show the health of every portal crawled into an output folder, one row per portal.

Read from the run summaries that each crawl writes (OUTPUT_DIR/SITE/runs/).
For each portal: when it last ran and how that ended, the new articles of
the last run and of the last 7 and 30 days, the share of duplicates and of
errors over 30 days, the days since the last new article, and an alarm when
the yield fell to zero or the errors rose (often a changed page template).

examples:
  python -m crawler status
  python -m crawler status /data/out --json
  python -m crawler status output --html status.html

Exit status: 0, or 1 when any portal raises an alarm.
"""

from __future__ import annotations

import argparse
import html
import json
import sys
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from statistics import median
from typing import Any

from crawler.clock import utc_now
from crawler.settings import STATUS_ERROR_RISE_FLOOR as ERROR_RISE_FLOOR
from crawler.settings import STATUS_ZERO_YIELD_RUNS as ZERO_YIELD_RUNS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "output_dir", nargs="?", default="output", help="the crawl's OUTPUT_DIR (default: output)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--html", metavar="FILE", help="also write a self-contained HTML page with a chart each"
    )


@dataclass
class PortalStatus:
    site: str
    last_run: str
    outcome: str
    exit_status: int
    new_last_run: int
    new_7d: int
    new_30d: int
    duplicate_share: float
    error_share: float
    days_since_new: float | None
    alarm: str
    # new articles per day over the last 30 days, oldest first
    daily_new: list[int]


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _run_files(site_dir: Path) -> list[Path]:
    """A portal's run summaries: its own ``runs/`` and, for a crawl shared through Redis,
    each process folder's (``<site>/<host>-<pid>/runs/``)."""
    return sorted([*site_dir.glob("runs/*.json"), *site_dir.glob("*/runs/*.json")])


def read_runs(site_dir: Path) -> list[dict[str, Any]]:
    """The portal's run summaries, oldest first; unreadable files are skipped."""
    runs = []
    for path in _run_files(site_dir):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            _when(data["finished"])
        except (OSError, ValueError, KeyError, TypeError):
            print(f"warning: {path}: not a run summary, skipped", file=sys.stderr)
            continue
        runs.append(data)
    runs.sort(key=lambda r: _when(r["finished"]))
    return runs


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def _error_share(run: dict[str, Any]) -> float:
    errors = int(run["errors"]["total"])
    pages = int(run["pages"]["list"]) + int(run["pages"]["article"])
    return _share(errors, pages + errors)


def _alarm(runs: list[dict[str, Any]]) -> str:
    last = runs[-1]
    earlier = runs[:-1]
    if last.get("exit_status") == 69:
        return "portal unreachable"
    had_links = any(r["articles"]["found"] for r in earlier)
    if had_links and not last["articles"]["found"]:
        return "no article links found (the page template may have changed)"
    tail = runs[-ZERO_YIELD_RUNS:]
    before = runs[:-ZERO_YIELD_RUNS]
    if (
        len(tail) == ZERO_YIELD_RUNS
        and any(r["articles"]["new"] for r in before)
        and not any(r["articles"]["new"] for r in tail)
    ):
        return f"yield fell to zero ({ZERO_YIELD_RUNS} runs without a new article)"
    if earlier:
        now, usual = _error_share(last), median(_error_share(r) for r in earlier)
        if now > ERROR_RISE_FLOOR and now > 2 * usual:
            return f"errors rose ({now:.0%} of pages, usually {usual:.0%})"
    return ""


def portal_status(site: str, runs: list[dict[str, Any]], now: datetime) -> PortalStatus:
    last = runs[-1]
    month = [r for r in runs if now - _when(r["finished"]) <= timedelta(days=30)]
    week = [r for r in month if now - _when(r["finished"]) <= timedelta(days=7)]
    new_month = sum(int(r["articles"]["new"]) for r in month)
    dup_month = sum(int(r["articles"]["duplicate"]["total"]) for r in month)
    errors = sum(int(r["errors"]["total"]) for r in month)
    pages = sum(int(r["pages"]["list"]) + int(r["pages"]["article"]) for r in month)
    with_new = [r for r in runs if r["articles"]["new"]]
    since_new = (
        round((now - _when(with_new[-1]["finished"])).total_seconds() / 86400, 1)
        if with_new
        else None
    )
    daily = [0] * 30
    today = now.date()
    for r in month:
        age = (today - _when(r["finished"]).date()).days
        if 0 <= age < 30:
            daily[29 - age] += int(r["articles"]["new"])
    problems = last.get("problems") or []
    status = int(last.get("exit_status", 0))
    return PortalStatus(
        site=site,
        last_run=str(last["finished"]),
        outcome="ok" if status == 0 else f"exit {status}: {'; '.join(problems)}",
        exit_status=status,
        new_last_run=int(last["articles"]["new"]),
        new_7d=sum(int(r["articles"]["new"]) for r in week),
        new_30d=new_month,
        duplicate_share=_share(dup_month, new_month + dup_month),
        error_share=_share(errors, pages + errors),
        days_since_new=since_new,
        alarm=_alarm(runs),
        daily_new=daily,
    )


def collect(output_dir: Path, now: datetime) -> list[PortalStatus]:
    rows = []
    for site_dir in sorted(p for p in output_dir.iterdir() if p.is_dir() and _run_files(p)):
        runs = read_runs(site_dir)
        if runs:
            rows.append(portal_status(site_dir.name, runs, now))
    return rows


HEADER = [
    "portal", "last run (UTC)", "outcome", "new", "7 d", "30 d", "dup", "err",
    "days since new", "alarm",
]  # fmt: skip


def _cells(row: PortalStatus) -> list[str]:
    return [
        row.site,
        row.last_run.replace("T", " ").removesuffix("Z"),
        row.outcome if len(row.outcome) <= 40 else row.outcome[:39] + "…",
        str(row.new_last_run),
        str(row.new_7d),
        str(row.new_30d),
        f"{row.duplicate_share:.0%}",
        f"{row.error_share:.0%}",
        "never" if row.days_since_new is None else f"{row.days_since_new:.1f}",
        row.alarm or "-",
    ]


def table(rows: list[PortalStatus]) -> str:
    lines = [HEADER, *(_cells(r) for r in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(HEADER))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines
    )


def _chart(daily: list[int], now: datetime) -> str:
    """An inline SVG bar chart of new articles per day, the last 30 days."""
    width, height, bar = 300, 60, 10
    top = max(daily) or 1
    first = (now - timedelta(days=29)).date()
    bars = []
    for i, n in enumerate(daily):
        h = round(n / top * (height - 12))
        day = (first + timedelta(days=i)).isoformat()
        bars.append(
            f'<rect x="{i * bar}" y="{height - h}" width="{bar - 2}" height="{h}" '
            f'class="bar"><title>{day}: {n} new</title></rect>'
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="new articles per day, '
        f'last 30 days (most {top})">'
        f'<line x1="0" y1="{height - 0.5}" x2="{width}" y2="{height - 0.5}" class="axis"/>'
        + "".join(bars)
        + f'<text x="0" y="10" class="label">{max(daily)} max/day</text></svg>'
    )


def html_page(rows: list[PortalStatus], now: datetime, output_dir: Path) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in [*HEADER, "new per day (30 d)"])
    body = []
    for row in rows:
        cells = "".join(f"<td>{html.escape(c)}</td>" for c in _cells(row))
        cls = ' class="alarm"' if row.alarm else ""
        chart = _chart(row.daily_new, now)
        body.append(f'<tr id="{html.escape(row.site)}"{cls}>{cells}<td>{chart}</td></tr>')
    stamp = now.isoformat(timespec="seconds").replace("+00:00", "Z")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Portal status: {html.escape(str(output_dir))}</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }}
table {{ border-collapse: collapse; }}
th, td {{ padding: 4px 8px; border-bottom: 1px solid #ddd; text-align: left; }}
tr.alarm td {{ background: #fde8e8; }}
.bar {{ fill: #3b6fb6; }} .axis {{ stroke: #999; }} .label {{ font-size: 9px; fill: #666; }}
</style></head>
<body>
<h1>Portal status</h1>
<p>{html.escape(str(output_dir))}, {len(rows)} portals, as of {stamp}</p>
<table><thead><tr>{head}</tr></thead>
<tbody>
{chr(10).join(body)}
</tbody></table>
</body></html>
"""


def run(args: argparse.Namespace) -> int:
    output_dir = Path(args.output_dir)
    if not output_dir.is_dir():
        print(f"error: {output_dir}: no such folder (the crawl's OUTPUT_DIR)", file=sys.stderr)
        return 2
    now = utc_now()
    rows = collect(output_dir, now)
    if args.html:
        Path(args.html).write_text(html_page(rows, now, output_dir), encoding="utf-8")
    if args.json:
        print(json.dumps([asdict(r) for r in rows], ensure_ascii=False, indent=2))
    elif not rows:
        print(f"{output_dir}: no run summaries yet (OUTPUT_DIR/<site>/runs/)")
    else:
        print(table(rows))
    return 1 if any(r.alarm for r in rows) else 0
