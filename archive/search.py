"""Full-text search over article titles and texts (SQLite FTS5).

``unicode61 remove_diacritics 2`` folds Vietnamese tone and vowel marks, so
"khu cong nghiep" finds "khu công nghiệp". It does not fold đ/Đ (a letter of
its own, not d plus a mark), so the index also holds a ``folded`` copy with
đ→d: "Dinh Vu" then matches "Đình Vũ", while "Đình Vũ" still matches the
original columns. Datasette's ``?_search=`` queries this table unchanged.

The index is contentless (no second copy of the text is stored, and no view
that Datasette would list) and kept in sync by triggers written in plain SQL,
so any writer (the Archive API, the sqlite3 shell) keeps it right.
"""
from __future__ import annotations

import sqlite_utils

FTS_TABLE = "articles_fts"
TOKENIZE = "unicode61 remove_diacritics 2"
PUBLISHED_INDEX = "idx_articles_published"


def fold_sql(expr: str) -> str:
    """SQL for the đ→d folded copy of ``expr`` (built-in functions only)."""
    return f"replace(replace({expr}, 'đ', 'd'), 'Đ', 'D')"


def _folded(alias: str) -> str:
    return fold_sql(f"coalesce({alias}.title, '') || char(10) || coalesce({alias}.text, '')")


def _insert(alias: str) -> str:
    return (f"insert into {FTS_TABLE}(rowid, title, text, folded) "
            f"values ({alias}.id, {alias}.title, {alias}.text, {_folded(alias)});")


def _delete(alias: str) -> str:
    # Contentless: FTS5 needs the exact old values to remove their tokens.
    return (f"insert into {FTS_TABLE}({FTS_TABLE}, rowid, title, text, folded) "
            f"values ('delete', {alias}.id, {alias}.title, {alias}.text, {_folded(alias)});")


TRIGGERS = {
    "articles_fts_ai": f"after insert on articles begin {_insert('new')} end",
    "articles_fts_ad": f"after delete on articles begin {_delete('old')} end",
    "articles_fts_au": f"after update of title, text on articles begin "
                       f"{_delete('old')} {_insert('new')} end",
}


def ensure_search(db: sqlite_utils.Database) -> None:
    """Create the search index and its sync triggers if missing; an archive made
    before search existed gets its index built once, here."""
    created = not db[FTS_TABLE].exists()
    db.execute(f"create virtual table if not exists {FTS_TABLE} using fts5("
               f"title, text, folded, content='', tokenize='{TOKENIZE}')")
    for name, body in TRIGGERS.items():
        db.execute(f"create trigger if not exists {name} {body}")
    # Browsing lists newest first (Datasette's default sort): keep that an index walk.
    db.execute(f"create index if not exists {PUBLISHED_INDEX} on articles(published)")
    if created and db["articles"].count:
        rebuild_search(db)


def rebuild_search(db: sqlite_utils.Database) -> None:
    """Rebuild the whole index from the articles (after a bulk load or a repair)."""
    with db.atomic():
        db.execute(f"insert into {FTS_TABLE}({FTS_TABLE}) values ('delete-all')")
        db.execute(f"insert into {FTS_TABLE}(rowid, title, text, folded) "
                   f"select a.id, a.title, a.text, {_folded('a')} from articles a")
    db.execute(f"insert into {FTS_TABLE}({FTS_TABLE}) values ('optimize')")


def search_ids(db: sqlite_utils.Database, query: str) -> list[int]:
    """Article ids matching ``query`` the way Datasette's ``?_search=`` does (every word)."""
    match = " ".join('"{}"'.format(w.replace('"', '""')) for w in query.split())
    return [r[0] for r in db.execute(
        f"select rowid from {FTS_TABLE} where {FTS_TABLE} match ? order by rowid", [match])]
