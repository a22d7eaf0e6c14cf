"""Run the page pipeline on saved HTML files: one JSON record per file on stdout.

    python -m crawler extract [--url URL] [--site NAME] [--encoding X] [--timeout S] FILE...

A FILE may also be a WARC file (``.warc``/``.warc.gz``, this project's archive or
another crawler's): each article page in it (2xx, a page type; with this
project's archives, the pages the crawl took for articles) gives one record,
with the record's URL and its WARC date as ``fetched_at``.  A WARC file cut
short or corrupt gives an error record naming the offset, after the records
before it.

Records are printed in input order, one line each (UTF-8, not ``\\u`` escaped).
Without ``--url`` a record's URL is ``file://`` + the file's absolute path
(``--url`` needs exactly one FILE); its ``fetched_at`` is the file's
modification time, against which relative dates (``3小时前``) are resolved.
``--site`` names a portal from ``seeds/``: its display name, charset override and
selectors are used.  ``--encoding`` overrides the charset for every file.

Files are read as archived: ``FILE.gz`` (or any file starting with the gzip magic
bytes) is decompressed, never past ``DOWNLOAD_MAXSIZE`` (the most a crawl
downloads, decompressed); a byte order mark (UTF-8, UTF-16) or UTF-16 without
one is recognised.  The crawl's limits apply: a page over ``PAGE_MAX_BYTES`` or
``PAGE_MAX_ELEMENTS`` is not parsed (flag ``too_large``), text is cut at
``TEXT_MAX_CHARS``, and each page runs in a worker process that is killed when
it takes more than ``--timeout`` seconds (default ``PAGE_TIMEOUT``; ``0`` runs
pages in this process, without a time limit).

A page that the crawl's validation would drop (list page, boilerplate only,
empty) is still printed, with the reason added to ``quality_flags``: the command
is for inspecting pages, and a record that says why it would be dropped is more
useful than silence.  A file that cannot be processed (unreadable, not HTML,
bigger than ``DOWNLOAD_MAXSIZE``, a broken gzip stream, over the time limit, an
error) prints ``{"file": …, "url": …, "error": "…"}``; the others are still
processed and the exit status is 1.
"""

from __future__ import annotations

import argparse
import codecs
import dataclasses
import gzip
import json
import os
import sys
import zlib
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime
from pathlib import Path
from typing import Any

from scrapy.settings import Settings

from crawler.items import ArticleItem, PageItem
from crawler.page import process_page
from crawler.warc import is_warc
from pipelines.charset import utf16_without_bom
from pipelines.dates import CHINA_TZ
from pipelines.page import end_pool, page_limits, start_pool
from pipelines.validate import rejection_reason

_GZIP_MAGIC = b"\x1f\x8b"
# Seconds a new worker process may take to start (interpreter and imports).
_START_TIMEOUT = 120.0

# Bytes that open an HTML (or XML) document, after whitespace and a BOM.
_HTML_START = (b"<!doctype", b"<html", b"<head", b"<body", b"<meta", b"<?xml", b"<!--", b"<")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="saved HTML page(s) or WARC files")
    parser.add_argument("--url", help="the page's URL (only with exactly one FILE)")
    parser.add_argument("--site", help="portal name from seeds/ (display name, charset, selectors)")
    parser.add_argument("--encoding", help="decode every file with this codec")
    parser.add_argument(
        "--timeout",
        type=float,
        help="seconds one page may take (default: PAGE_TIMEOUT; 0: no limit, in this process)",
    )


def _portal_options(site: str | None) -> dict[str, Any]:
    if not site:
        return {}
    from crawler.portals import load_portals, seeds_dir_from_settings
    from crawler.settings import SEEDS_DIR

    portals = load_portals(seeds_dir_from_settings(SEEDS_DIR))
    if site not in portals:
        raise SystemExit(f"extract: unknown site {site!r} (known: {', '.join(sorted(portals))})")
    portal = portals[site]
    return {
        "site": portal.name,
        "site_name": portal.display_name,
        "charset": portal.charset,
        "selectors": portal.selectors.model_dump(exclude_none=True),
    }


def _looks_like_html(body: bytes) -> bool:
    head = body[:2048]
    for bom in (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        if head.startswith(bom):
            return True
    utf16 = utf16_without_bom(head)
    if utf16 is not None:
        head = head.decode(utf16, "replace").encode("ascii", "replace")
    head = head.lstrip().lower()
    return bool(head) and (head.startswith(_HTML_START) or b"<html" in head or b"<body" in head)


def read_page(path: Path, limit: int) -> bytes:
    """The page's bytes, gunzipped when compressed; ValueError past ``limit`` bytes."""
    with path.open("rb") as fh:
        compressed = fh.read(2) == _GZIP_MAGIC
        fh.seek(0)
        if compressed:
            try:
                # GzipFile.read(n) inflates at most n bytes (plus one buffer): bounded.
                with gzip.GzipFile(fileobj=fh) as inflated:
                    body = inflated.read(limit + 1)
            except (OSError, EOFError, zlib.error) as exc:
                raise ValueError(f"broken gzip data: {exc}") from exc
        else:
            body = fh.read(limit + 1)
    if len(body) > limit:
        what = "decompressed " if compressed else ""
        raise ValueError(f"over DOWNLOAD_MAXSIZE ({limit} bytes {what}): a crawl would not read it")
    return body


class PageRunner:
    """``process_page`` in one worker process, killed and replaced past ``timeout`` seconds."""

    def __init__(
        self,
        timeout: float,
        limits: dict[str, int],
        func: Callable[..., ArticleItem] = process_page,
    ) -> None:
        self.timeout = timeout
        self.limits = limits
        self.func = func  # a module-level function (it is pickled to the worker)
        self.pool: ProcessPoolExecutor | None = self._start() if timeout else None

    def run(self, page: PageItem) -> ArticleItem:
        if self.pool is None:
            return self.func(page, **self.limits)
        future = self.pool.submit(self.func, page, **self.limits)
        try:
            return future.result(timeout=self.timeout)
        except FutureTimeout:
            self._restart(kill=True)
            raise TimeoutError(
                f"page processing took more than {self.timeout:g} s (PAGE_TIMEOUT)"
            ) from None
        except BrokenProcessPool:
            self._restart(kill=False)
            raise RuntimeError("the page worker died (out of memory or killed)") from None

    @staticmethod
    def _start() -> ProcessPoolExecutor:
        """A started worker: its start-up (imports) never counts against a page's time."""
        pool = start_pool(1, warm_up=False)
        pool.submit(os.getpid).result(timeout=_START_TIMEOUT)
        return pool

    def _restart(self, kill: bool) -> None:
        assert self.pool is not None
        end_pool(self.pool, kill)
        self.pool = self._start()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None


def run(args: argparse.Namespace) -> int:
    if args.url and len(args.files) != 1:
        print("extract: --url needs exactly one FILE", file=sys.stderr)
        return 2
    if args.encoding:
        try:
            codecs.lookup(args.encoding)
        except LookupError:
            print(f"extract: unknown encoding {args.encoding!r}", file=sys.stderr)
            return 2
    options = _portal_options(args.site)
    if args.encoding:
        options["charset"] = args.encoding
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    timeout = settings.getfloat("PAGE_TIMEOUT") if args.timeout is None else args.timeout
    runner = PageRunner(max(timeout, 0.0), page_limits(settings))
    try:
        return _extract_all(
            args,
            options,
            runner,
            settings.getint("DOWNLOAD_MAXSIZE"),
            settings.getint("MIN_TEXT_CHARS"),
        )
    finally:
        runner.close()


def _page(path: Path, body: bytes, url: str, options: dict[str, Any]) -> PageItem:
    fetched_at = datetime.fromtimestamp(path.stat().st_mtime, CHINA_TZ)
    return PageItem(
        url=url,
        body=body,
        site=options.get("site", "file"),
        site_name=options.get("site_name", ""),
        fetched_at=fetched_at.isoformat(timespec="seconds"),
        charset=options.get("charset"),
        selectors=dict(options.get("selectors") or {}),
    )


def _extract_all(
    args: argparse.Namespace,
    options: dict[str, Any],
    runner: PageRunner,
    max_download: int,
    min_chars: int,
) -> int:
    status = 0
    out = sys.stdout
    for name in args.files:
        path = Path(name)
        if not args.url and path.is_file() and is_warc(path):
            found, bad = _warc_records(path, options, runner, min_chars)
            status = max(status, bad)
            for one in found:
                out.write(json.dumps(one, ensure_ascii=False) + "\n")
            out.flush()
            continue
        url = args.url or "file://" + str(path.resolve())
        try:
            if not path.is_file():
                raise OSError(f"not a file: {name}")
            body = read_page(path, max_download)
            if not _looks_like_html(body):
                raise ValueError("not an HTML document")
            item = runner.run(_page(path, body, url, options))
        except Exception as exc:  # every failure is reported per file, the run goes on
            status = 1
            record: dict[str, Any] = {
                "file": name,
                "url": url,
                "error": f"{type(exc).__name__}: {exc}",
            }
        else:
            record = _checked(item, min_chars)
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        out.flush()
    return status


def _warc_records(
    path: Path, options: dict[str, Any], runner: PageRunner, min_chars: int
) -> tuple[list[dict[str, Any]], int]:
    """Records of the article pages in a WARC file; status 1 when the file is bad."""
    from crawler.reprocess import BodyDecoder, is_article
    from crawler.spiders.base import is_page_type
    from crawler.warc import ArchivedResponse, WarcError, iter_records

    decode = BodyDecoder()
    records: list[dict[str, Any]] = []
    status = 0
    try:
        for rec in iter_records(path):
            if not isinstance(rec, ArchivedResponse) or not 200 <= rec.status < 300:
                continue
            if not is_page_type(rec.header("Content-Type")) or not is_article(rec, None):
                continue
            try:
                body, ctype = decode(rec)
                page = PageItem(
                    url=rec.url,
                    body=body,
                    site=options.get("site", "file"),
                    site_name=options.get("site_name", ""),
                    fetched_at=rec.date.astimezone(CHINA_TZ).isoformat(timespec="seconds"),
                    content_type=ctype,
                    charset=options.get("charset"),
                    selectors=dict(options.get("selectors") or {}),
                    archive={
                        "file": str(path.resolve()),
                        "offset": rec.offset,
                        "record_id": rec.record_id,
                    },
                )
                records.append(_checked(runner.run(page), min_chars))
            except Exception as exc:  # one page's failure is reported, the others go on
                status = 1
                records.append(
                    {"file": str(path), "url": rec.url, "offset": rec.offset, "error": repr(exc)}
                )
    except WarcError as exc:
        status = 1
        records.append({"file": str(path), "offset": exc.offset, "error": str(exc)})
    return records, status


def _checked(item: ArticleItem, min_chars: int) -> dict[str, Any]:
    """The record as a dict, with the reason a crawl would drop it added to its flags."""
    reason = rejection_reason(item, min_chars)
    if reason and reason not in item.quality_flags:
        item.quality_flags.append(reason)
    return dataclasses.asdict(item)
