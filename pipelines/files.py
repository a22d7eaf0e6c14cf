"""Item pipeline: download the attachments of each record (``ATTACHMENTS_DOWNLOAD``).

Scrapy's ``FilesPipeline`` fetches every ``attachments`` URL of a kept record
through the crawl's own downloader, so the politeness rules of the portal hold
(robots.txt, per-portal concurrency and delay, User-Agent); each request is
capped at ``ATTACHMENTS_MAX_BYTES`` (a bigger file is dropped by the downloader).
Files go to ``OUTPUT_DIR/<site>/files/<SHA-1 of the URL>.<ext>``; each entry of
the record gains ``sha256`` (of the stored file) and ``path`` (relative to
``OUTPUT_DIR/<site>/``).  A file that could not be fetched keeps both null and is
counted (``attachments/failed``); the record is written all the same.

Off by default (``NotConfigured``).  Settings: ``ATTACHMENTS_DOWNLOAD``,
``ATTACHMENTS_MAX_BYTES``, ``OUTPUT_DIR``.  Stats: ``attachments/downloaded``,
``attachments/failed``, and Scrapy's ``file_count``, ``file_status_count/…``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Self

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from scrapy.http.request import NO_CALLBACK
from scrapy.pipelines.files import FilesPipeline
from scrapy.pipelines.media import MediaPipeline

from crawler.items import ArticleItem

_CHUNK = 1 << 20


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class AttachmentsPipeline(FilesPipeline):
    """Downloads ``attachments`` and fills their ``sha256`` and ``path`` (module doc)."""

    def __init__(self, store_uri: str, *, crawler: Crawler) -> None:
        super().__init__(store_uri, crawler=crawler)
        self.root = Path(store_uri)
        self.max_bytes = crawler.settings.getint("ATTACHMENTS_MAX_BYTES")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        if not settings.getbool("ATTACHMENTS_DOWNLOAD"):
            raise NotConfigured("ATTACHMENTS_DOWNLOAD is False")
        root = Path(str(settings.get("OUTPUT_DIR") or "output")).resolve()
        return cls(str(root), crawler=crawler)

    def get_media_requests(self, item: Any, info: MediaPipeline.SpiderInfo) -> list[Request]:
        if not isinstance(item, ArticleItem):
            return []
        return [
            Request(
                entry["url"],
                callback=NO_CALLBACK,
                meta={"kind": "attachment", "download_maxsize": self.max_bytes, "site": item.site},
            )
            for entry in item.attachments
        ]

    def file_path(
        self,
        request: Request,
        response: Response | None = None,
        info: MediaPipeline.SpiderInfo | None = None,
        *,
        item: Any = None,
    ) -> str:
        site = item.site if isinstance(item, ArticleItem) else request.meta.get("site", "files")
        ext = "bin"
        if isinstance(item, ArticleItem):
            ext = next((a["ext"] for a in item.attachments if a["url"] == request.url), ext)
        name = hashlib.sha1(request.url.encode("utf-8")).hexdigest()
        return f"{site}/files/{name}.{ext}"

    def item_completed(self, results: list[Any], item: Any, info: MediaPipeline.SpiderInfo) -> Any:
        if not isinstance(item, ArticleItem):
            return item
        stored = {
            result["url"]: result["path"] for ok, result in results if ok and result.get("path")
        }
        stats = self.crawler.stats
        for entry in item.attachments:
            path = stored.get(entry["url"])
            full = self.root / path if path else None
            if full is None or not full.is_file():
                stats.inc_value("attachments/failed")
                continue
            entry["sha256"] = _sha256(full)
            entry["path"] = str(Path(path).relative_to(item.site)) if path else None
            stats.inc_value("attachments/downloaded")
        return item
