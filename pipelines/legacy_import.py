"""Import the legacy archive's text files (``NNN_<hex>.txt``), cleaned by the
same text-level rules as crawled pages; the original file name is kept."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from archive.db import Archive
from archive.texts import content_hash
from pipelines.extraction import read_legacy_text
from pipelines.relevance import score_relevance

LEGACY_OUTLET = "legacy"


def import_legacy(archive: Archive, directory: Path) -> Iterator[tuple[Path, str, str]]:
    """Yield (file, outcome, detail); outcome is imported, already imported, duplicate or empty."""
    for path in sorted(directory.glob("*.txt")):
        yield path, *_import_one(archive, path)


def _import_one(archive: Archive, path: Path) -> tuple[str, str]:
    if archive.db.execute("select 1 from articles where provenance = ?", [path.name]).fetchone():
        return "already imported", ""
    legacy = read_legacy_text(path.read_text(encoding="utf-8", errors="replace"))
    text = "\n\n".join(legacy.paragraphs)
    if not text:
        return "empty", "no article text left after cleanup"
    twin = archive.article_by_hash(content_hash(text))
    if twin:
        return "duplicate", f"same text as article {twin['id']} ({twin['filename']})"
    relevance = score_relevance(legacy.title, text)
    stored = archive.add_article({
        "url": f"legacy:{path.name}", "url_key": f"legacy:{path.name}", "outlet": LEGACY_OUTLET,
        "title": legacy.title, "author": legacy.author, "published": legacy.published,
        "text": text, "relevance": relevance.score, "relevance_terms": relevance.terms,
        "source": "import", "provenance": path.name,
    })
    return "imported", f"as {stored.filename}"
