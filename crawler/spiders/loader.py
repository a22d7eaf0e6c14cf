"""Spider loader that adds one spider per portal file to the project's spiders.

Set as ``SPIDER_LOADER_CLASS``.  It reads ``SEEDS_DIR`` from the settings, so
``-s SEEDS_DIR=…`` points ``scrapy list`` and ``scrapy crawl`` at other
definitions.  An invalid portal file makes only its own portal unavailable:
``scrapy crawl`` of it stops with the message naming the file and the key
(exit status 2, before anything is written), ``scrapy list`` reports it on
stderr and lists the others.
"""

from __future__ import annotations

import sys

from scrapy import Spider
from scrapy.settings import BaseSettings
from scrapy.spiderloader import SpiderLoader

from crawler.portals import PortalError, load_portals, seeds_dir_from_settings
from crawler.spiders.base import portal_spider_class


class PortalSpiderLoader(SpiderLoader):
    def __init__(self, settings: BaseSettings):
        super().__init__(settings)
        # file name (the portal's name) -> why the file cannot be used
        self.portal_errors: dict[str, str] = {}
        try:
            portals = load_portals(
                seeds_dir_from_settings(settings.get("SEEDS_DIR")), self.portal_errors
            )
        except PortalError as exc:
            print(f"error: invalid portal definition:\n{exc}", file=sys.stderr)
            raise SystemExit(2) from None
        for name, portal in portals.items():
            if name in self._spiders:
                print(
                    f"error: portal {name!r} ({portal.display_name}) clashes with the built-in "
                    f"spider of that name; rename the file",
                    file=sys.stderr,
                )
                raise SystemExit(2)
            self._spiders[name] = portal_spider_class(portal)

    def load(self, spider_name: str) -> type[Spider]:
        if spider_name in self.portal_errors and spider_name not in self._spiders:
            raise KeyError(f"invalid portal definition:\n{self.portal_errors[spider_name]}")
        try:
            return super().load(spider_name)
        except KeyError:
            known = ", ".join(sorted(self._spiders)) or "none"
            raise KeyError(f"no portal or spider named {spider_name!r} (known: {known})") from None
