"""Archive schema, created or upgraded on open (additive migrations only)."""
from __future__ import annotations

import sqlite_utils

from archive.search import ensure_search
from archive.zones import ensure_zone_schema

ARTICLES = {
    "id": int,
    "url": str,            # as the outlet gives it (canonical link when on-site)
    "url_key": str,        # normalised URL: the archive key
    "outlet": str,
    "title": str,
    "lead": str,
    "author": str,
    "published": str,      # ISO 8601, +07:00 when a time is known
    "updated": str,
    "tags": str,           # JSON list
    "text": str,           # lead + body paragraphs, blank-line separated
    "content_hash": str,   # sha256 of normalised text
    "filename": str,       # texts/NNN_<16 hex>.txt
    "fetched_at": str,
    "last_checked": str,
    "relevance": float,
    "relevance_terms": str,  # JSON {term: count}
    "image": str,
    "language": str,
    "source": str,         # crawl | recrawl | import
    "provenance": str,     # e.g. the legacy file name an import came from
    "warc_file": str,      # raw page: warc/<file> ...
    "warc_offset": int,    # ... at this byte offset
    "gone_at": str,        # the outlet removed the page (the article is kept)
    "story_id": int,       # syndicated copies share one story
    "near_duplicate_of": int,  # the earlier article this one is a near copy of ...
    "similarity": float,   # ... with this estimated Jaccard similarity
}

STORIES = {"id": int, "representative_id": int, "first_published": str, "articles": int}
MINHASHES = {"article_id": int, "signature": bytes}
MINHASH_BANDING = {"threshold": float, "bands": int, "band_size": int}  # one row: how the bands were cut
# The LSH buckets of the near-duplicate index (archive/stories.py). WITHOUT ROWID: the
# primary key is the lookup index, so each row is stored once.
MINHASH_BANDS = ("create table if not exists minhash_bands (band integer not null, bucket integer not null,"
                 " article_id integer not null, primary key (band, bucket, article_id)) without rowid")

SEEN_URLS = {
    "url_key": str, "url": str, "outlet": str, "status": str, "reason": str,
    "article_id": int, "http_status": int, "first_seen": str, "last_fetched": str,
    "warc_file": str, "warc_offset": int,
}

VERSIONS = {
    "id": int, "article_id": int, "fetched_at": str, "replaced_at": str,
    "content_hash": str, "title": str, "text": str,
}

CRAWL_RUNS = {
    "id": int, "started_at": str, "finished_at": str, "trigger": str, "status": str,
    "outlets": str, "finish_reason": str, "pages_fetched": int, "articles_fetched": int,
    "new": int, "updated": int, "duplicate": int, "not_relevant": int, "failed": int, "gone": int, "http_errors": str,
    "failures": str,  # JSON {cause: count}: timeout, too_large, http_503, robots, ...
    "flagged": str,   # JSON {outlet: why it looks broken}
}


OUTLET_RUNS = {
    "id": int, "run_id": int, "outlet": str, "listing_pages": int, "article_links": int,
    "known_skipped": int, "articles_fetched": int, "new": int, "updated": int, "unchanged": int,
    "duplicate": int, "not_relevant": int, "failed": int, "gone": int, "blocked": int,
    "discovery_errors": int, "bytes": int, "container_missed": int, "http_errors": str, "failures": str,
    "flag": str,  # why the outlet looks broken in this run (None: healthy)
}


def _ensure_table(db: sqlite_utils.Database, name: str, columns: dict, pk: str, **kwargs) -> None:
    table = db[name]
    if not table.exists():
        table.create(columns, pk=pk, **kwargs)
        return
    missing = {col: typ for col, typ in columns.items() if col not in table.columns_dict}
    for col, typ in missing.items():
        table.add_column(col, typ)


def ensure_schema(db: sqlite_utils.Database) -> None:
    _ensure_table(db, "articles", ARTICLES, "id", not_null={"url", "url_key", "text"})
    _ensure_table(db, "seen_urls", SEEN_URLS, "url_key")
    _ensure_table(db, "crawl_runs", CRAWL_RUNS, "id")
    _ensure_table(db, "versions", VERSIONS, "id", foreign_keys=[("article_id", "articles", "id")])
    _ensure_table(db, "outlet_runs", OUTLET_RUNS, "id", foreign_keys=[("run_id", "crawl_runs", "id")])
    db["outlet_runs"].create_index(["outlet", "run_id"], if_not_exists=True)
    _ensure_table(db, "stories", STORIES, "id")
    _ensure_table(db, "minhashes", MINHASHES, "article_id", foreign_keys=[("article_id", "articles", "id")])
    _ensure_table(db, "minhash_banding", MINHASH_BANDING, None)
    db.execute(MINHASH_BANDS)
    db["articles"].create_index(["url_key"], unique=True, if_not_exists=True)
    db["articles"].create_index(["content_hash"], unique=True, if_not_exists=True)
    db["articles"].create_index(["outlet", "published"], if_not_exists=True)
    db["articles"].create_index(["story_id"], if_not_exists=True)
    db["seen_urls"].create_index(["status"], if_not_exists=True)
    ensure_zone_schema(db)
    ensure_search(db)
