"""Stage 4: write the article into the archive (row + text file) through its API."""
from __future__ import annotations

from archive.db import ARCHIVED
from pipelines.base import SessionPipeline


def article_fields(item: dict) -> dict:
    """The archive columns of one item that passed extraction, relevance and dedup."""
    article, relevance = item["article"], item["relevance"]
    return {
        "url": item["archive_url"], "outlet": item["outlet"], **article.columns(),
        "relevance": relevance.score, "relevance_terms": relevance.terms,
        "source": "recrawl" if item.get("forced") else "crawl", "fetched_at": item["fetched_at"],
        "warc_file": item["warc"].file, "warc_offset": item["warc"].offset,
    }


def store(session, item: dict) -> dict:
    """The stage on any recorder over an Archive (the crawl's session, or the archive writer's)."""
    archive = session.archive
    known = item.get("known_article")
    if known:
        stored = archive.update_article(known["id"], article_fields(item))
        session.count("updated", outlet=item["outlet"])
    else:
        stored = archive.add_article(article_fields(item))
        session.count("new", outlet=item["outlet"])
    item["article_id"], item["filename"] = stored.id, stored.filename
    session.remember_aliases(item, item["archive_url"], ARCHIVED, "archived", stored.id)
    return item


class StorePipeline(SessionPipeline):
    def process_item(self, item: dict) -> dict:
        return store(self.session, item)
