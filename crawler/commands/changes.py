"""Report what the portals removed and edited: the revisit events of an output directory.

    python -m crawler changes OUTPUT_DIR [--since DAY] [--event KIND] [--site NAME] [--json]

Reads ``OUTPUT_DIR/<site>/events.jsonl`` of every portal (written by revisits,
``scrapy crawl SITE -a revisit=1``).  Per portal: the number of events of each
kind per ISO week (by ``seen_at``), then the events, largest edits first
(``chars_changed``), then the newest, each with its date, kind, size, title and
URL.  ``--since`` keeps events seen on or after that day; ``--event`` (repeatable)
keeps those kinds.  ``--json`` prints the same as one JSON object.  Unreadable
lines are skipped and counted on stderr.  Exit status 1 when OUTPUT_DIR does
not exist.
"""

from __future__ import annotations

import argparse
import json
import sys
import unicodedata
from datetime import date
from pathlib import Path
from typing import Any

from crawler.revisit import EVENTS_FILE
from pipelines.changes import EVENTS


def _day(text: str) -> str:
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("output", type=Path, metavar="OUTPUT_DIR", help="the crawl's OUTPUT_DIR")
    parser.add_argument("--since", type=_day, help="events seen on or after this day")
    parser.add_argument(
        "--event", action="append", choices=EVENTS, help="only these kinds (repeatable)"
    )
    parser.add_argument("--site", action="append", help="only these portals (repeatable)")
    parser.add_argument("--json", action="store_true", help="one JSON object instead of tables")


def read_events(path: Path) -> tuple[list[dict[str, Any]], int]:
    """The events of one ``events.jsonl`` and the number of unreadable lines."""
    events: list[dict[str, Any]] = []
    bad = 0
    with path.open("rb") as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except ValueError:
                bad += 1
                continue
            if isinstance(event, dict) and isinstance(event.get("seen_at"), str):
                events.append(event)
            else:
                bad += 1
    return events, bad


def week_of(seen_at: str) -> str:
    """ISO week of a timestamp: ``2026-W49``."""
    year, week, _ = date.fromisoformat(seen_at[:10]).isocalendar()
    return f"{year}-W{week:02d}"


def report(
    output: Path,
    since: str | None = None,
    kinds: list[str] | None = None,
    sites: list[str] | None = None,
) -> tuple[dict[str, Any], int]:
    """``({"portals": {site: {"weeks", "totals", "events"}}}, unreadable lines)``."""
    portals: dict[str, Any] = {}
    unreadable = 0
    for path in sorted(output.glob(f"*/{EVENTS_FILE}")):
        site = path.parent.name
        if sites and site not in sites:
            continue
        events, bad = read_events(path)
        unreadable += bad
        chosen = [
            e
            for e in events
            if (not since or e["seen_at"][:10] >= since) and (not kinds or e.get("event") in kinds)
        ]
        if not chosen:
            continue
        weeks: dict[str, dict[str, int]] = {}
        totals = dict.fromkeys(EVENTS, 0)
        for event in chosen:
            kind = str(event.get("event"))
            row = weeks.setdefault(week_of(event["seen_at"]), dict.fromkeys(EVENTS, 0))
            row[kind] = row.get(kind, 0) + 1
            totals[kind] = totals.get(kind, 0) + 1
        chosen.sort(key=lambda e: e["seen_at"], reverse=True)
        chosen.sort(key=lambda e: int(e.get("chars_changed") or 0), reverse=True)
        portals[site] = {"weeks": dict(sorted(weeks.items())), "totals": totals, "events": chosen}
    return {"portals": portals}, unreadable


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _cell(text: str, width: int) -> str:
    """``text`` cut or padded to ``width`` terminal columns (CJK characters take two)."""
    out = ""
    for ch in text:
        if _width(out + ch) > width:
            out = out[:-1] + "…" if _width(out) >= width else out + "…"
            break
        out += ch
    return out + " " * max(0, width - _width(out))


def render(data: dict[str, Any]) -> str:
    lines: list[str] = []
    for site, portal in data["portals"].items():
        total = sum(portal["totals"].values())
        counts = ", ".join(f"{n} {k}" for k, n in portal["totals"].items() if n)
        lines.append(f"{site}: {total} event{'s' if total != 1 else ''} ({counts})")
        lines.append("  " + _cell("week", 9) + "".join(f"{k:>12}" for k in EVENTS))
        for week, row in portal["weeks"].items():
            lines.append("  " + _cell(week, 9) + "".join(f"{row.get(k, 0):>12}" for k in EVENTS))
        lines.append("")
        lines.append(
            "  " + _cell("seen", 17) + _cell("event", 12) + f"{'chars':>6}  " + "title / url"
        )
        for event in portal["events"]:
            seen = str(event["seen_at"])[:16].replace("T", " ")
            chars = int(event.get("chars_changed") or 0)
            title = str(event.get("title") or "(no title)")
            lines.append(
                "  "
                + _cell(seen, 17)
                + _cell(str(event.get("event")), 12)
                + f"{chars if chars else '':>6}  "
                + _cell(title, 40)
                + "  "
                + str(event.get("url"))
            )
            if event.get("diff_summary"):
                lines.append(" " * 39 + str(event["diff_summary"]))
        lines.append("")
    return "\n".join(lines).rstrip("\n") + ("\n" if lines else "")


def run(args: argparse.Namespace) -> int:
    if not args.output.is_dir():
        print(f"changes: {args.output} is not a directory", file=sys.stderr)
        return 1
    data, unreadable = report(args.output, args.since, args.event, args.site)
    if unreadable:
        print(f"changes: {unreadable} unreadable event line(s) skipped", file=sys.stderr)
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=1))
    elif data["portals"]:
        sys.stdout.write(render(data))
    else:
        print(f"no events in {args.output}/*/{EVENTS_FILE}", file=sys.stderr)
    return 0
