"""HTML -> Article. Trafilatura is the base; cleanup rules sit on top."""
from __future__ import annotations

import json

import trafilatura

from crawler.registry import ExtractionRules
from pipelines.extraction.article import Article


def extract_article(html: str | bytes, url: str, rules: ExtractionRules | None = None) -> Article:
    """Extract clean text and metadata from one article page (pure: no I/O)."""
    result = trafilatura.extract(
        html, url=url, output_format="json", with_metadata=True,
        include_comments=False, include_tables=True, favor_precision=True,
    )
    if not result:
        return Article(url=url)
    data = json.loads(result)
    paragraphs = [p.strip() for p in (data.get("text") or "").split("\n") if p.strip()]
    tags = [t.strip() for t in (data.get("tags") or "").split(",") if t.strip()]
    return Article(
        url=url, title=data.get("title"), author=data.get("author"),
        published=data.get("date"), tags=tags, paragraphs=paragraphs,
        image=data.get("image"), language=data.get("language"),
    )
