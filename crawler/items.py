"""The items the crawl passes along.

``PageItem`` is what a spider yields for an article page: the fetched bytes
and where they came from.  ``pipelines.page.PagePipeline`` turns it into an
``ArticleItem``: the record users read.  Every ``ArticleItem`` field is
declared and typed, so every JSONL line carries the same keys, and the JSON
Schema in ``crawler/schema/`` is generated from these classes
(``python -m crawler schema``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# typing_extensions' TypedDict: pydantic builds the JSON Schema from it on Python < 3.12
from typing_extensions import TypedDict


class ArchiveRef(TypedDict):
    """Where the page behind a record is archived: its WARC response record."""

    file: str  # the WARC file, relative to OUTPUT_DIR/<site>/ when below it, else absolute
    offset: int  # byte offset of the response record (warcio extract FILE OFFSET)
    record_id: str  # its WARC-Record-ID


@dataclass
class PageItem:
    """A fetched article page, before any processing."""

    url: str  # the page's URL (after redirects)
    body: bytes  # raw response body (already decompressed by Scrapy)
    site: str  # portal name (the ``scrapy crawl`` name)
    site_name: str  # portal display name
    fetched_at: str  # ISO 8601, China time
    content_type: str | None = None  # the HTTP Content-Type header, if any
    charset: str | None = None  # the portal's charset override, if any
    selectors: dict[str, Any] = field(default_factory=dict)  # portal selector overrides
    list_title: str | None = None  # link text on the list page that led here
    archive: ArchiveRef | None = None  # the WARC response record of this page, when archived


@dataclass
class ArticleItem:
    """One article: the record written to ``articles.jsonl``."""

    id: str  # stable id: 16 hex digits of SHA-1 of the canonical URL
    url: str  # the article's URL
    site: str  # portal name (the ``scrapy crawl`` name)
    site_name: str  # portal display name
    title: str | None  # headline, simplified script
    original_title: str | None  # the ``原标题:`` line, when the page gives one
    published_at: str | None  # ISO 8601 timestamp with offset (YYYY-MM-DDTHH:MM:SS+08:00), or null
    published_precision: str | None  # what the page gave: second, minute, day (null: no date)
    source: str | None  # 来源: the publication the article comes from
    authors: list[str]  # 作者 / 记者 names, job titles removed
    editors: list[str]  # 编辑
    responsible_editors: list[str]  # 责任编辑 / 责编
    text: str  # body text: simplified script, NFKC, paragraphs joined by \n
    content_hash: str  # SHA-1 of the normalized text (see crawler.ids.content_hash)
    fetched_at: str  # when the page was fetched, ISO 8601 China time
    encoding: str | None  # the codec the page was decoded with
    original_script: str  # "simplified", "traditional" or "mixed": the page's own script
    quality_flags: list[str] = field(default_factory=list)  # see README "Quality flags"
    fixes: list[str] = field(default_factory=list)  # repairs applied (charset, mojibake, script…)
    cluster: str = ""  # reprint cluster: the same id for every copy, whichever is kept
    archive: ArchiveRef | None = None  # the page's WARC response record: file, offset, record_id


@dataclass
class DuplicateItem(ArticleItem):
    """A reprint: written to ``duplicates.jsonl`` instead of ``articles.jsonl``."""

    duplicate_of: str = ""  # ``id`` of the kept record
    similarity: float = 1.0  # estimated Jaccard similarity to the kept record (1.0 = exact)
    match: str = "content_hash"  # "content_hash", "url" or "minhash"


@dataclass
class RevisitPage:
    """What a revisit of a known article got: the response (or its absence) and the page."""

    key: str  # the article's url key (``crawler.ids.url_key``) in the revisit schedule
    url: str  # the article's URL as recorded
    status: int | None  # HTTP status of the final response; None: no response
    final_url: str  # the URL answered (after redirects)
    redirected: bool = False  # a redirect was followed
    location: str | None = None  # Location of a redirect that was not followed
    error: str | None = None  # the download error when there was no response
    etag: str | None = None  # the response's ETag validator
    last_modified: str | None = None  # the response's Last-Modified validator
    cookies: list[str] = field(default_factory=list)  # its Set-Cookie values (challenge walls)
    page: PageItem | None = None  # the page (an HTML or text body), for the page pipeline
    archive: ArchiveRef | None = None  # the response's WARC record, when archived


class VersionArchive(TypedDict):
    """The WARC response records of the two versions an event compares."""

    previous: ArchiveRef | None  # the version on record (null: not archived)
    current: ArchiveRef | None  # the response of the revisit (null: none, or not archived)


@dataclass
class ChangeEvent:
    """A change found by a revisit: one line of ``OUTPUT_DIR/<site>/events.jsonl``."""

    id: str  # the article's record id (as in articles.jsonl and versions.jsonl)
    url: str  # the article's URL
    site: str  # portal name (the ``scrapy crawl`` name)
    event: str  # removed, modified, restored, unreachable or blocked
    seen_at: str  # when the revisit found it, ISO 8601 China time
    previous_hash: str | None  # content_hash of the version on record
    content_hash: str | None  # content_hash of the page now (null: no article on it)
    status: int | None  # HTTP status of the revisit's final response (null: no response)
    changed_fields: list[str]  # record fields that differ (text, title, source, authors…)
    diff_summary: str | None  # character-level summary of the text edit ("-2 +2 chars; ¶3: …")
    archive: VersionArchive | None  # WARC records of both versions (null: archive off)
    reason: str  # what showed it ("status 404", "soft 404: 页面不存在", "redirect to …")
    title: str | None  # the article's title (the new one when it changed)
    chars_changed: int  # characters cut plus characters put in (0 but for edits)
