"""``scrapy list``: Scrapy's command, and the portal files that could not be loaded.

The usable spiders go to stdout as Scrapy prints them; each invalid portal
file is reported on stderr, naming the file and the key, and the command
exits 2, so a bad file is seen without hiding the other portals.
"""

from __future__ import annotations

import argparse
import sys

from scrapy.commands.list import Command as ScrapyListCommand
from scrapy.spiderloader import get_spider_loader


class Command(ScrapyListCommand):
    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None
        loader = get_spider_loader(self.settings)
        print("\n".join(sorted(loader.list())), flush=True)
        errors: dict[str, str] = getattr(loader, "portal_errors", {})
        for name, message in sorted(errors.items()):
            print(f"error: portal {name!r} not available: {message}", file=sys.stderr)
        if errors:
            self.exitcode = 2
