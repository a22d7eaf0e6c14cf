"""Scrapy commands of the project (``COMMANDS_MODULE``): they replace Scrapy's own of the same name.

``crawl``: Scrapy's ``crawl`` with a preflight (``crawler.preflight``) and an
exit status that follows the run summary (``crawler.extensions``): 1 when the
portal looks broken, 2 for a mistake found before the crawl, 69 when the
portal is unreachable, 75 when another run of the portal holds its lock, 128 +
the signal when stopped by one.

``list``: Scrapy's ``list``, and each portal file that could not be loaded on
stderr (exit status 2).
"""
