"""Spiders: one per portal file in ``seeds/`` (built by ``PortalSpiderLoader``) and ``portal``.

``scrapy list`` shows them; ``scrapy crawl <name>`` runs one.
"""
