"""WARC files: the archive writer, recovery of unfinished files, and a reader that names errors.

No Scrapy here: ``crawler.archive`` (the downloader middleware) writes with
``WarcFileWriter``; ``python -m crawler reprocess``, ``extract`` and ``show``
read with ``iter_records``.  The format itself is warcio's (records, digests,
gzip members); this module adds what warcio leaves to its users:

- **Files written as ``.open``, renamed when complete.**  ``WarcFileWriter``
  writes ``<site>-<UTC time>-<serial>.warc.gz.open`` and renames it to
  ``….warc.gz`` when the file reaches its size limit or the run ends, so a file
  under a final name holds complete records only.  Every record is one gzip
  member (warcio's "gzip per record"), handed to the kernel whole before the
  record that points to it is written, so ``kill -9`` leaves at most one
  partial member at the end of an ``.open`` file.
- **Recovery.**  ``recover_open_files`` finds the ``.open`` files a killed run
  left: the gzip members are checked one by one (hand-written with ``zlib``:
  warcio reads a member cut inside its trailer without complaint), a partial
  last member is cut and the file renamed to its final name; a file without
  one complete record is set aside as ``….warc.gz.partial``.
- **Reading with positions.**  ``iter_records`` yields each record with its
  file and offset; a truncated or corrupt file raises ``WarcError`` naming the
  file and the offset of the first record that could not be read, after the
  records before it.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import socket
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

logger = logging.getLogger(__name__)

OPEN_SUFFIX = ".open"
PARTIAL_SUFFIX = ".partial"
WARC_SUFFIX = ".warc.gz"
# WARC extension fields of the response records this project writes (names outside WARC-*).
KIND_FIELD = "Crawler-Page-Kind"  # "list", "article" or "other" (robots.txt and the like)
LIST_TITLE_FIELD = "Crawler-List-Title"  # the link text on the list page that led here
# Hop-by-hop framing already undone by the downloader: kept under the name pywb/Wayback use
# for archived headers that no longer describe the stored bytes.
_FRAMING_HEADERS = {b"transfer-encoding"}
_RENAMED_PREFIX = "X-Archive-Orig-"


class WarcError(Exception):
    """A WARC file that cannot be read on: names the file and the byte offset."""

    def __init__(self, path: str | Path, offset: int, reason: str):
        self.path, self.offset, self.reason = str(path), offset, reason
        super().__init__(f"{path}: unreadable WARC record at byte offset {offset}: {reason}")


def utc_stamp(when: datetime | None = None) -> str:
    """``20261201T101700Z``: the UTC time in file names."""
    return (when or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")


def warc_date(when: datetime) -> str:
    """WARC-Date (ISO 8601 UTC, microseconds: WARC/1.1 allows sub-second precision)."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def http_headers(
    status_line: str, headers: list[tuple[bytes, bytes]], protocol: str
) -> StatusAndHeaders:
    """Header list for a WARC record: framing headers the downloader undid are renamed."""
    out: list[tuple[str, str]] = []
    for name, value in headers:
        key = name.decode("latin-1")
        if name.lower() in _FRAMING_HEADERS:
            key = _RENAMED_PREFIX + key
        out.append((key, value.decode("latin-1")))
    return StatusAndHeaders(status_line, out, protocol=protocol)


@dataclass
class WrittenRecord:
    """Where a response record went: ``file`` (final name), byte ``offset``, ``record_id``."""

    path: Path
    offset: int
    record_id: str
    size: int  # bytes written for the request and response records


class WarcFileWriter:
    """Writes request/response pairs to size-rotated ``.open`` files (see the module doc).

    ``raw_open`` opens a file for writing (tests pass one that fails like a full disk).
    """

    def __init__(
        self,
        directory: Path,
        site: str,
        max_bytes: int,
        info: dict[str, str],
        raw_open: Any = None,
    ) -> None:
        self.directory = directory
        self.site = site
        self.max_bytes = max(1, max_bytes)
        self.info = info
        self._raw_open = raw_open or (lambda path: io.FileIO(path, "xb"))
        self._stamp = utc_stamp()
        self._serial = 0
        self._file: Any = None
        self._writer: WARCWriter | None = None
        self.path: Path | None = None  # the final name of the file being written
        self.size = 0
        self.files_done: list[Path] = []

    # -- files -------------------------------------------------------------------------
    def _next_path(self) -> Path:
        while True:
            name = f"{self.site}-{self._stamp}-{self._serial:05d}{WARC_SUFFIX}"
            self._serial += 1
            path = self.directory / name
            if not path.exists() and not _with_suffix(path, OPEN_SUFFIX).exists():
                return path

    def _open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self._next_path()
        self._file = self._raw_open(_with_suffix(path, OPEN_SUFFIX))
        self._writer = WARCWriter(self._file, gzip=True, warc_version="WARC/1.1")
        self.path, self.size = path, 0
        try:
            info = self._writer.create_warcinfo_record(path.name, self.info)
            self._write_whole([info])
        except OSError:
            self._abandon()
            raise

    def _abandon(self) -> None:
        """Close a file whose warcinfo could not be written (nothing in it is worth keeping)."""
        path, self.path = self.path, None
        with contextlib.suppress(OSError):
            self._file.close()
        self._file = self._writer = None
        if path is not None:
            _with_suffix(path, OPEN_SUFFIX).unlink(missing_ok=True)

    def _write_whole(self, records: list[Any]) -> int:
        """Write ``records`` with one ``write`` call, or cut what was written and raise."""
        assert self._writer is not None
        buffer = io.BytesIO()
        sink = WARCWriter(buffer, gzip=True, warc_version="WARC/1.1")
        for record in records:
            sink.write_record(record)
        data = memoryview(buffer.getvalue())
        start = self.size
        try:
            while data:
                n = self._file.write(data)
                if not n:
                    raise OSError(28, os.strerror(28), str(self.path))  # ENOSPC
                data = data[n:]
        except OSError:
            try:
                self._file.truncate(start)
            except OSError as exc:
                logger.critical("%s: could not cut a partial WARC record: %s", self.path, exc)
            raise
        self.size = start + len(buffer.getvalue())
        return start

    def close_file(self) -> Path | None:
        """Finish the current file: fsync, close, rename ``.open`` to its final name."""
        if self._file is None or self.path is None:
            return None
        path = self.path
        try:
            os.fsync(self._file.fileno())
        finally:
            self._file.close()
            self._file = self._writer = None
            self.path = None
        _with_suffix(path, OPEN_SUFFIX).replace(path)
        self.files_done.append(path)
        return path

    close = close_file

    # -- records -----------------------------------------------------------------------
    def write_exchange(
        self,
        url: str,
        request_headers: StatusAndHeaders,
        response_headers: StatusAndHeaders,
        body: bytes,
        when: datetime,
        ip_address: str | None = None,
        extra: dict[str, str] | None = None,
    ) -> WrittenRecord:
        """Append a response record and its request record; rotate first when the file is full."""
        if self._file is not None and self.size >= self.max_bytes:
            self.close_file()
        if self._file is None:
            self._open()
        assert self._writer is not None
        assert self.path is not None
        date = warc_date(when)
        response_fields: dict[str, str] = {"WARC-Date": date}
        if ip_address:
            response_fields["WARC-IP-Address"] = ip_address
        response_fields.update(extra or {})
        response = self._writer.create_warc_record(
            url,
            "response",
            payload=io.BytesIO(body),
            length=len(body),
            http_headers=response_headers,
            warc_headers_dict=response_fields,
        )
        record_id = response.rec_headers.get_header("WARC-Record-ID")
        request = self._writer.create_warc_record(
            url,
            "request",
            payload=io.BytesIO(b""),
            length=0,
            http_headers=request_headers,
            warc_headers_dict={"WARC-Date": date, "WARC-Concurrent-To": record_id},
        )
        before = self.size
        offset = self._write_whole([response, request])
        return WrittenRecord(self.path, offset, record_id, self.size - before)


def _with_suffix(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def warcinfo_fields(site: str, site_name: str, software: str) -> dict[str, str]:
    """The warcinfo of every file: the portal in ``isPartOf``, the software, the host."""
    return {
        "software": software,
        "format": "WARC File Format 1.1",
        "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
        "hostname": socket.gethostname(),
        "isPartOf": site,
        "description": site_name,
    }


# -- recovery ------------------------------------------------------------------------------
def complete_members_end(path: Path) -> tuple[int, int]:
    """``(end of the last complete gzip member, members)`` of ``path``, read in 1 MiB chunks.

    Hand-written with zlib: a member is complete when its deflate stream ends and its
    8-byte trailer (CRC, size) is there; warcio does not report a cut trailer.
    """
    good_end = members = 0
    dec = zlib.decompressobj(wbits=31)
    at = 0  # file offset of the first byte of ``data``
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            data = chunk
            while data:
                try:
                    dec.decompress(data)
                except zlib.error:
                    return good_end, members
                if not dec.eof:
                    at += len(data)
                    break
                used = len(data) - len(dec.unused_data)
                good_end, members = at + used, members + 1
                at, data = good_end, dec.unused_data
                dec = zlib.decompressobj(wbits=31)
    return good_end, members


def recover_open_files(directory: Path, site: str) -> list[tuple[Path, str]]:
    """Finish or set aside the ``<site>-*.warc.gz.open`` files a killed run left.

    Returns ``(path, what)`` for each: the final path and ``"recovered"`` (a partial
    last record cut, the file renamed) or the set-aside path and ``"set_aside"``.
    """
    done: list[tuple[Path, str]] = []
    if not directory.is_dir():
        return done
    for leftover in sorted(directory.glob(f"{site}-*{WARC_SUFFIX}{OPEN_SUFFIX}")):
        final = leftover.with_name(leftover.name[: -len(OPEN_SUFFIX)])
        size = leftover.stat().st_size
        end, members = complete_members_end(leftover)
        # a warcinfo alone holds no page: nothing to keep either
        if members < 2 or final.exists():
            aside = _with_suffix(final, PARTIAL_SUFFIX)
            leftover.replace(aside)
            logger.warning(
                "%s: unfinished WARC file from an interrupted run with no complete page "
                "record (%d bytes); set aside as %s",
                leftover,
                size,
                aside.name,
            )
            done.append((aside, "set_aside"))
            continue
        if end < size:
            with leftover.open("r+b") as fh:
                fh.truncate(end)
                os.fsync(fh.fileno())
        leftover.replace(final)
        logger.warning(
            "%s: unfinished WARC file from an interrupted run: %d complete records kept, "
            "%d bytes of a partial record cut; renamed to %s",
            leftover,
            members,
            size - end,
            final.name,
        )
        done.append((final, "recovered"))
    return done


# -- reading -------------------------------------------------------------------------------
@dataclass
class ArchivedResponse:
    """One ``response`` record, its HTTP head and its body as sent (still content-encoded)."""

    path: Path
    offset: int
    record_id: str
    url: str
    date: datetime
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    warc_fields: dict[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        lower = name.lower()
        for key, value in self.headers:
            if key.lower() == lower:
                return value
        return None


@dataclass
class WarcInfo:
    path: Path
    fields: dict[str, str]


def _parse_date(value: str | None) -> datetime:
    if not value:
        return datetime.now(UTC)
    text = value.strip().replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return datetime.now(UTC)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _warcinfo_fields(payload: bytes) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in payload.decode("utf-8", "replace").splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    return fields


def iter_records(
    path: str | Path, start: int = 0, stop_after: int | None = None
) -> Iterator[ArchivedResponse | WarcInfo]:
    """Every response (and warcinfo) record of a WARC file, plain or gzip, in order.

    From byte ``start`` (a record's offset); at most ``stop_after`` records.  Raises
    ``WarcError`` (file, offset) at the first record that is cut short, unreadable or
    fails its digest.
    """
    path = Path(path)
    count = 0
    with path.open("rb") as fh:
        fh.seek(start)
        stream: IO[bytes] = fh
        # check_digests="raise": a record whose block or payload does not match its
        # WARC-Block-Digest / WARC-Payload-Digest (bytes changed since it was written) is
        # an unreadable record like a cut one; records without digests are read as they are
        iterator = ArchiveIterator(
            stream, no_record_parse=False, arc2warc=True, check_digests="raise"
        )
        next_offset = start
        records = iter(iterator)
        while stop_after is None or count < stop_after:
            try:
                record = next(records)
            except StopIteration:
                break
            except Exception as exc:  # warcio fails on cut headers with any of several errors
                raise WarcError(path, _record_start(fh, next_offset), _reason(exc)) from exc
            # warcio reads a record out of some garbage (a "WARC-Target-URI" of junk): a real
            # record says its WARC version (ARC files are converted, arc2warc)
            protocol = str(getattr(record.rec_headers, "protocol", "") or "")
            if not protocol.startswith("WARC/") or not record.rec_headers.get_header(
                "WARC-Record-ID"
            ):
                raise WarcError(path, _record_start(fh, next_offset), "not a WARC record")
            # the payload first: warcio's get_record_offset() reads the record to its end
            try:
                payload = record.raw_stream.read()
                short = record.raw_stream.limit
            except Exception as exc:
                raise WarcError(path, _record_start(fh, next_offset), _reason(exc)) from exc
            if short:
                raise WarcError(
                    path, _record_start(fh, next_offset), f"record cut short: {short} bytes missing"
                )
            try:
                iterator.read_to_end(record)
            except Exception as exc:
                raise WarcError(path, _record_start(fh, next_offset), _reason(exc)) from exc
            offset = iterator.get_record_offset()  # absolute: warcio starts from tell()
            if offset != next_offset and not _only_blank(fh, next_offset, offset):
                # warcio skipped bytes it could not read as a record: the file is bad there
                raise WarcError(path, next_offset, "unreadable bytes before the next record")
            next_offset = offset + iterator.get_record_length()
            count += 1
            kind = record.rec_type
            if kind == "warcinfo":
                yield WarcInfo(path, _warcinfo_fields(payload))
                continue
            if kind != "response" or record.http_headers is None:
                continue
            heads = record.http_headers
            try:
                status = int(heads.get_statuscode() or 0)
            except ValueError:
                status = 0
            rec = record.rec_headers
            yield ArchivedResponse(
                path=path,
                offset=offset,
                record_id=rec.get_header("WARC-Record-ID") or "",
                url=rec.get_header("WARC-Target-URI") or "",
                date=_parse_date(rec.get_header("WARC-Date")),
                status=status,
                headers=list(heads.headers),
                body=payload,
                warc_fields=dict(rec.headers),
            )


def _record_start(fh: IO[bytes], end: int) -> int:
    """Where the record after byte ``end`` starts: past the blank lines between records."""
    here = fh.tell()
    try:
        fh.seek(end)
        gap = fh.read(64)
    finally:
        fh.seek(here)
    return end + len(gap) - len(gap.lstrip(b"\r\n"))


def _only_blank(fh: IO[bytes], start: int, end: int) -> bool:
    """Whether the bytes between two records are the blank lines that may separate them."""
    if not 0 < end - start <= 64:
        return False
    here = fh.tell()
    try:
        fh.seek(start)
        gap = fh.read(end - start)
    finally:
        fh.seek(here)
    return not gap.strip()


def _reason(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    if len(text) > 120:
        text = text[:120] + "…"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def is_warc(path: str | Path) -> bool:
    """True for a file that starts like a WARC record (plain or gzip-compressed)."""
    name = str(path).lower()
    if name.endswith((".warc", ".warc.gz", WARC_SUFFIX + OPEN_SUFFIX)):
        return True
    with Path(path).open("rb") as fh:
        head = fh.read(4096)
    if head.startswith(b"\x1f\x8b"):
        try:
            head = zlib.decompressobj(wbits=31).decompress(head, 64)
        except zlib.error:
            return False
    return bool(re.match(rb"WARC/\d", head))
