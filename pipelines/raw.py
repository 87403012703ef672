"""Stage 0: keep the raw response as a WARC record, so any article can be
re-extracted later without fetching it again (outlets delete pages).

The record is built, gzipped, appended and fsynced in one writer thread, in
arrival order, while the item waits for its pointer: the reactor keeps
downloading and committing meanwhile (gzip and fsync release the GIL), and no
row points at a record before it is on disk.
"""
from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from scrapy.utils.asyncio import is_asyncio_available

from pipelines.base import SessionPipeline


class KeepRawPipeline(SessionPipeline):
    def __init__(self, session) -> None:
        super().__init__(session)
        # Awaited through asyncio (Scrapy's default reactor); otherwise written inline.
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="warc") if is_asyncio_available() else None

    async def process_item(self, item: dict) -> dict:
        keep_raw = self.session.archive.keep_raw
        if self._writer is None:
            item["warc"] = keep_raw(item["raw"])
        else:
            item["warc"] = await asyncio.wrap_future(self._writer.submit(keep_raw, item["raw"]))
        return item

    def close_spider(self) -> None:
        if self._writer is not None:
            self._writer.shutdown(wait=True)
