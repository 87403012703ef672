"""Full-text search over the archive (being built: FTS5 with diacritics removal)."""
from __future__ import annotations

import sqlite_utils


def ensure_search(db: sqlite_utils.Database) -> None:
    """Create the search index and its sync triggers if missing."""
