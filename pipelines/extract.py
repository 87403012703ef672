"""Stage 1: HTML -> Article (clean text and metadata)."""
from __future__ import annotations

from scrapy.exceptions import DropItem

from archive.db import FAILED
from pipelines.base import SessionPipeline
from pipelines.extraction import extract_article


class ExtractPipeline(SessionPipeline):
    def process_item(self, item: dict) -> dict:
        try:
            article = extract_article(item["html"], item["url"], self.rules_for(item["outlet"]))
        except Exception as exc:  # a parser crash on one page must not stop the crawl
            self.session.item_outcome(item, FAILED, f"extraction error: {exc!r}")
            raise DropItem(f"extraction error on {item['url']}", log_level="WARNING") from exc
        if not article.text.strip():
            self.session.item_outcome(item, FAILED, "no article text found on the page")
            raise DropItem(f"no article text on {item['url']}", log_level="WARNING")
        item["article"] = article
        return item
