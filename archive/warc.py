"""Raw pages kept as WARC: every fetched article response, re-extractable later.

Records are gzip-compressed one by one (so each can be read from its offset)
and appended to ``warc/kcn-<UTC time>-<n>.warc.gz`` beside the database, a new
file once the current one passes ``max_bytes``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timezone
from http import HTTPStatus
from io import BytesIO
from pathlib import Path

from isal import igzip
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archive.texts import fsync_directory

DEFAULT_MAX_BYTES = 256 * 1024 * 1024
# ISA-L's deflate (python-isal) at its level 2: about a fifth of the CPU time of zlib at level 3
# on news pages, for ~4% more bytes; any gzip reader reads it.
GZIP_LEVEL = 2
# The body is stored as Scrapy decoded it (decompressed, de-chunked).
_DROPPED_HEADERS = {"content-encoding", "transfer-encoding", "content-length"}


@dataclass(frozen=True)
class RawPage:
    url: str
    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass(frozen=True)
class WarcPointer:
    file: str    # name inside the warc/ folder
    offset: int  # byte offset of the gzip member holding the record


class WarcStore:
    def __init__(self, directory: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self._current: Path | None = None

    def append(self, page: RawPage) -> WarcPointer:
        """Append one response record, fsynced, and say where it is."""
        path = self._file_for_next_record()
        headers = [(k, v) for k, v in page.headers if k.lower() not in _DROPPED_HEADERS]
        http_headers = StatusAndHeaders(f"{page.status} {_reason(page.status)}", headers,
                                        protocol="HTTP/1.1")
        buffer = BytesIO()
        writer = WARCWriter(buffer, gzip=False)
        # The length given: warcio would otherwise copy the body into a temporary file first.
        writer.write_record(writer.create_warc_record(page.url, "response", payload=BytesIO(page.body),
                                                      length=len(page.body), http_headers=http_headers))
        # One gzip member per record, as warcio writes them, but with ISA-L (GZIP_LEVEL):
        # warcio's zlib at level 9 takes ten times as long on news pages.
        member = igzip.compress(buffer.getvalue(), compresslevel=GZIP_LEVEL)
        with path.open("ab") as handle:
            offset = handle.tell()
            handle.write(member)
            handle.flush()
            os.fsync(handle.fileno())
        return WarcPointer(path.name, offset)

    def read(self, pointer: WarcPointer) -> RawPage:
        """The response stored at ``pointer`` (ValueError if there is none)."""
        with (self.directory / pointer.file).open("rb") as handle:
            handle.seek(pointer.offset)
            for record in ArchiveIterator(handle):
                if record.rec_type != "response":
                    break
                status = int(record.http_headers.get_statuscode())
                return RawPage(record.rec_headers.get_header("WARC-Target-URI"), status,
                               list(record.http_headers.headers), record.content_stream().read())
        raise ValueError(f"no WARC response record at {pointer.file}@{pointer.offset}")

    def _file_for_next_record(self) -> Path:
        if self._current is None or self._current.stat().st_size >= self.max_bytes:
            self.directory.mkdir(parents=True, exist_ok=True)
            stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
            n = len(list(self.directory.glob(f"kcn-{stamp}-*.warc.gz")))
            self._current = self.directory / f"kcn-{stamp}-{n:05d}.warc.gz"
            self._current.touch()
            fsync_directory(self.directory)
        return self._current


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
