"""What every stage shares: the crawl session (archive, counters) and the registry."""
from __future__ import annotations

from crawler.registry import ExtractionRules, load_outlets
from crawler.session import CrawlSession


class SessionPipeline:
    """Base of the item pipelines: built by Scrapy with ``from_crawler``."""

    def __init__(self, session: CrawlSession) -> None:
        self.session = session
        self.settings = session.crawler.settings
        self.outlets = load_outlets()

    @classmethod
    def from_crawler(cls, crawler):
        return cls(CrawlSession.of(crawler))

    def rules_for(self, outlet_name: str | None) -> ExtractionRules | None:
        outlet = self.outlets.get(outlet_name or "")
        return outlet.extraction if outlet else None
