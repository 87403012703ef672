"""A fetched page (as kept in the WARC) -> Article: decode exactly as the crawl does, then extract.

The crawl ships the raw page to its extraction workers and they decode it there:
bytes pickle as one copy, and the crawl process never holds a decoded copy of a page.
"""
from __future__ import annotations

from archive.warc import RawPage
from crawler.encoding import decode_html
from crawler.registry import ExtractionRules
from pipelines.extraction.article import Article
from pipelines.extraction.extract import extract_article


def decoded_html(raw: RawPage) -> str:
    """The page's text, decoded by its Content-Type, BOM and declared charset."""
    content_type = next((v for k, v in raw.headers if k.lower() == "content-type"), None)
    return decode_html(raw.body, content_type)


def extract_page(raw: RawPage, rules: ExtractionRules | None = None) -> Article:
    return extract_article(decoded_html(raw), raw.url, rules)
