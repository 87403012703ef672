"""Stage 3: one story is stored once (same URL, or same normalised text)."""
from __future__ import annotations

from scrapy.exceptions import DropItem

from archive.db import ARCHIVED, DUPLICATE
from archive.texts import content_hash
from crawler.urls import normalize_url
from pipelines.base import SessionPipeline


def archive_url(item: dict) -> str:
    """The page's canonical URL when it stays on the fetched site, else the fetched URL."""
    canonical = item["article"].url
    try:
        same_site = normalize_url(canonical).split("/")[2] == normalize_url(item["url"]).split("/")[2]
    except ValueError:
        same_site = False
    return canonical if same_site else item["url"]


def drop_duplicate(session, item: dict, twin: dict) -> None:
    """Record the item as a copy of article ``twin`` (id, url) and drop it."""
    session.item_outcome(item, DUPLICATE, f"same text as article {twin['id']} ({twin['url']})",
                         article_id=twin["id"])
    raise DropItem(f"duplicate of article {twin['id']}: {archive_url(item)}")


def dedup(session, item: dict) -> dict:
    """The stage on any recorder over an Archive (the crawl's session, or the archive writer's)."""
    url = archive_url(item)
    digest = content_hash(item["article"].text)
    archive = session.archive
    known = archive.article_by_url(url)
    if known and known["content_hash"] == digest:
        archive.touch_article(known["id"], item["url"], item["outlet"], item.get("warc"))
        session.remember_aliases(item, item["url"], ARCHIVED, "text unchanged", known["id"])
        session.count("unchanged", outlet=item["outlet"])
        raise DropItem(f"unchanged: {url}")
    twin = archive.article_by_hash(digest)
    if twin:
        drop_duplicate(session, item, twin)
    item["archive_url"] = url
    item["content_hash"] = digest
    item["known_article"] = known
    return item


class DedupPipeline(SessionPipeline):
    def process_item(self, item: dict) -> dict:
        return dedup(self.session, item)
