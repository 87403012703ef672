"""Named industrial zones mentioned in articles (being built)."""
from __future__ import annotations

import sqlite_utils


def ensure_zone_schema(db: sqlite_utils.Database) -> None:
    """Create the zone-mention tables if missing."""


def index_zone_mentions(db: sqlite_utils.Database, article_id: int, row: dict) -> None:
    """Replace the zone mentions recorded for one article (inside the caller's transaction)."""
