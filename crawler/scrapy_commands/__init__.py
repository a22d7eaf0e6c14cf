"""Scrapy commands of the project (``COMMANDS_MODULE``): they replace Scrapy's own of the same name.

``crawl``: Scrapy's ``crawl`` whose exit status follows the run summary
(``crawler.extensions``): 1 when the portal looks broken, 75 when another run of
the portal holds its lock.
"""
