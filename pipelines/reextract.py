"""Re-run extraction over the raw pages kept in WARC: improving the cleaner
must not need a re-crawl (and outlets delete pages)."""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from archive.db import Archive
from archive.texts import content_hash
from crawler.registry import load_outlets
from pipelines.extraction import extract_page


def reextract(archive: Archive, outlet: str | None = None) -> Iterator[tuple[dict, str]]:
    """Yield (article row, outcome) with outcome 'changed', 'unchanged', 'no raw page'
    or 'failed: ...'; changed texts are stored as a new version."""
    registry = load_outlets()
    sql = "select * from articles" + (" where outlet = ?" if outlet else "") + " order by id"
    for row in list(archive.db.query(sql, [outlet] if outlet else [])):
        if not row["warc_file"]:
            yield row, "no raw page"
            continue
        try:
            raw = archive.raw_page(row)
            rules = registry[row["outlet"]].extraction if row["outlet"] in registry else None
            article = extract_page(raw, rules)
        except Exception as exc:  # one unreadable record must not stop the rest
            yield row, f"failed: {exc!r}"
            continue
        if not article.text or content_hash(article.text) == row["content_hash"]:
            yield row, "unchanged" if article.text else "failed: no text extracted"
            continue
        archive.update_article(row["id"], {
            "url": row["url"], "outlet": row["outlet"], **article.columns(), "fetched_at": row["fetched_at"],
            "warc_file": row["warc_file"], "warc_offset": row["warc_offset"]})
        yield row, "changed"


def summarize(outcomes: Counter) -> str:
    return ", ".join(f"{n} {what}" for what, n in sorted(outcomes.items())) or "no articles"
