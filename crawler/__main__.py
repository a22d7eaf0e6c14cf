"""``python -m crawler COMMAND``: the project's commands besides ``scrapy crawl``.

Each command lives in ``crawler/commands/<name>.py`` and exposes
``add_arguments(parser)`` and ``run(args) -> int`` (the exit status).
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = {
    "extract": "run the page pipeline on saved HTML files, one JSON record per file",
    "replica": "serve the offline replica of the seed portals on 127.0.0.1",
    "reprocess": "rebuild the output from WARC archives with the current page pipeline",
    "show": "print the archived page (WARC record) behind a record id",
    "dedup": "deduplicate existing JSONL files into kept records and duplicates",
    "clusters": "print reprint clusters from an output directory",
    "export": "write an output directory as one typed Parquet or CSV table",
    "demo": "start the replica, crawl every seed portal, print a summary",
    "status": "show every portal's health from its run summaries (table, JSON or HTML)",
    "schema": "write the JSON Schema of the records (crawler/schema/)",
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m crawler", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, help_text in COMMANDS.items():
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            # Only the chosen command is imported: some pull in heavy libraries.
            module = importlib.import_module(f"crawler.commands.{name}")
            command_parser.description = module.__doc__
            module.add_arguments(command_parser)
    args = parser.parse_args(argv)
    module = importlib.import_module(f"crawler.commands.{args.command}")
    return int(module.run(args))


if __name__ == "__main__":
    sys.exit(main())
