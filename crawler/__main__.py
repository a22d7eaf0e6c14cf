"""``python -m crawler COMMAND``: the project's commands besides ``scrapy crawl``.

Each command lives in ``crawler/commands/<name>.py`` and exposes
``add_arguments(parser)`` and ``run(args) -> int`` (the exit status).  Its
``--help`` is ``HELP[name]``: plain text for users, with an example (the
module docstrings are for developers).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Any

COMMANDS = {
    "extract": "run the page pipeline on saved HTML files, one JSON record per file",
    "replica": "serve the offline replica of the seed portals on 127.0.0.1",
    "reprocess": "rebuild the output from WARC archives with the current page pipeline",
    "show": "print the archived page (WARC record) behind a record id",
    "dedup": "deduplicate existing JSONL files into kept records and duplicates",
    "clusters": "print reprint clusters from an output directory",
    "changes": "report the removals and edits revisits found, per portal",
    "export": "write an output directory as one typed Parquet or CSV table",
    "demo": "start the replica, crawl every seed portal, print a summary",
    "status": "show every portal's health from its run summaries (table, JSON or HTML)",
    "schema": "write the JSON Schema of the records (crawler/schema/)",
}


DESCRIPTION = """\
Tools around the crawl (which itself runs as: scrapy crawl SITE).
Run "python -m crawler COMMAND --help" for a command's options.

examples:
  python -m crawler demo
  python -m crawler status output
  python -m crawler export output --format parquet --out articles.parquet
"""

HELP = {
    "extract": """\
Run the page pipeline on saved HTML or WARC files and print one JSON record
per article page, in input order. A file that cannot be processed gives a
record with an "error" field, and the command exits 1 at the end.

example:
  python -m crawler extract --url http://www.scfzw.net/a/1.html page.html
""",
    "replica": """\
Serve the offline replica of the seed portals on 127.0.0.1 until stopped.
Point a crawl at it with -s REPLICA_URL=http://127.0.0.1:PORT.

example:
  python -m crawler replica --port 8800 &
  scrapy crawl lnzf -s REPLICA_URL=http://127.0.0.1:8800
""",
    "reprocess": """\
Rebuild the output from WARC archives with today's page pipeline, validation
and duplicate detection, without fetching anything. ARCHIVE is a WARC file
(.warc or .warc.gz) or a folder searched for them. Exit status 1 when a file
was cut short or corrupt, or a page failed; 2 on bad arguments.

example:
  python -m crawler reprocess output/scfzw/warc --out rebuilt
""",
    "show": """\
Print the archived page behind a record id, as the portal sent it (inflated,
in its own charset), or its HTTP headers.

example:
  python -m crawler show 3f2a9c0d5e6b7a81 --out output --headers
""",
    "dedup": """\
Deduplicate existing JSON Lines files into kept records and duplicates, with
the crawl's duplicate detection. DIR may not be an input's folder; a DIR that
holds files needs --force.

example:
  python -m crawler dedup old/*.jsonl --out deduped
""",
    "clusters": """\
Print reprint clusters of an output folder, largest first: the kept record,
then each reprint's site, date and similarity.

example:
  python -m crawler clusters output --min-size 3
""",
    "export": """\
Write the kept records of an output folder (or every copy, with
--duplicates) as one typed Parquet or CSV table.

example:
  python -m crawler export output --format parquet --out articles.parquet
""",
    "demo": """\
Start the offline replica, crawl every seed portal one after the other with
its progress shown, and print a summary table. Run it twice: the second run
finds nothing new.

example:
  python -m crawler demo --output-dir /tmp/demo/output --state-dir /tmp/demo/state
""",
    "schema": """\
Write the JSON Schema of the records and duplicates to crawler/schema/.

example:
  python -m crawler schema
""",
    "changes": """\
Report what the portals removed and edited, as found by revisits
(scrapy crawl SITE -a revisit=1): per portal, the events of each kind per
week, then the events, largest edits first. Exit status 1 when OUTPUT_DIR
does not exist.

example:
  python -m crawler changes output --since 2024-01-01 --event removed
""",
    "status": """\
Show every portal's health from its run summaries (OUTPUT_DIR/SITE/runs/):
last run and outcome, new articles in the last run, 7 and 30 days, duplicate
and error shares, days since the last new article, and an alarm when the
yield fell to zero, links were lost, errors rose or the portal was
unreachable. Exit status 1 when any portal raises an alarm.

examples:
  python -m crawler status
  python -m crawler status /data/out --json
  python -m crawler status output --html status.html
""",
}


class _PlainHelp(argparse.RawDescriptionHelpFormatter):
    """Descriptions as written; option help without the code markup of docstrings."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = super()._get_help_string(action)
        return text.replace("``", "").replace("`", "") if text else text


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(
        prog="python -m crawler", description=DESCRIPTION, formatter_class=_PlainHelp
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, help_text in COMMANDS.items():
        command_parser = sub.add_parser(
            name, help=help_text, description=HELP[name], formatter_class=_PlainHelp
        )
        if name == chosen:
            # Only the chosen command is imported: some pull in heavy libraries.
            module = importlib.import_module(f"crawler.commands.{name}")
            module.add_arguments(command_parser)
            command_parser.formatter_class = _PlainHelp
    args = parser.parse_args(argv)
    module = importlib.import_module(f"crawler.commands.{args.command}")
    global _ran
    _ran = module
    return int(module.run(args))


_ran: Any = None  # the module of the command main() ran


if __name__ == "__main__":
    status = main()
    if getattr(_ran, "EXIT_AT_ONCE", False):
        # The command has closed (and fsynced) everything it wrote: the interpreter's
        # teardown is skipped (numba's alone takes about 0.6 s at exit).
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    sys.exit(status)
