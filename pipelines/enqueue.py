"""A worker's last stage (distributed crawl): drop copies of texts the run
already holds, queue the rest for the archive writer.

The hash check uses the writer's shared map of content hashes, so most copies
never travel; two workers racing with the same new text both queue it and the
writer's authoritative dedup (pipelines/dedup.py) keeps one.
"""
from __future__ import annotations

from archive.texts import content_hash
from crawler.urls import normalize_url
from pipelines.base import SessionPipeline
from pipelines.dedup import archive_url, drop_duplicate


class EnqueuePipeline(SessionPipeline):
    def process_item(self, item: dict) -> dict:
        sink = self.session.archive
        twin = sink.twin(content_hash(item["article"].text))
        # Same text under the same URL is an unchanged article: the writer touches it.
        if twin and normalize_url(twin["url"]) != normalize_url(archive_url(item)):
            drop_duplicate(self.session, item, twin)
        sink.submit(item)
        return item
