"""Stage 0: keep the raw response as a WARC record, so any article can be
re-extracted later without fetching it again (outlets delete pages)."""
from __future__ import annotations

from pipelines.base import SessionPipeline


class KeepRawPipeline(SessionPipeline):
    def process_item(self, item: dict) -> dict:
        item["warc"] = self.session.archive.keep_raw(item["raw"])
        return item
