"""`kcn serve` (browse and search the archive in Datasette, read-only) and `kcn reindex`."""
from __future__ import annotations

import os
import re
import sqlite3
from pathlib import Path

import click

import archive
from archive.db import Archive, default_db_path
from archive.search import PUBLISHED_INDEX

DATASETTE_DIR = Path(archive.__file__).resolve().parent / "datasette"  # shipped as package data
DB_NAME = "archive"  # URLs are /archive/... whatever the file is called
SETTINGS = {
    "suggest_facets": False,   # suggestions scan every column on every page: slow on a big archive
    "default_page_size": 50,
    "sql_time_limit_ms": 3000,
    "num_sql_threads": max(3, min(8, os.cpu_count() or 1)),  # facets run side by side
    "allow_download": False,   # the database file is the crawler's, not a download
}

db_option = click.option("--db", type=click.Path(dir_okay=False, path_type=Path), default=None,
                         help="Archive file (default: $KCN_DB or ./data/archive.db).")


def _existing(db: Path | None) -> Path:
    path = db or default_db_path()
    if not path.exists():
        raise click.ClickException(f"no archive at {path} (run `kcn crawl` first)")
    return path


# Datasette's SQL for ?_search= on articles; the planner needs help with it on a big archive.
_SEARCH = (r"id in \(select rowid from articles_fts where articles_fts match "
           r"(?:escape_fts\(:search\)|:search)\)")
_COUNT = re.compile(rf"\s*select count\(\*\) from articles where {_SEARCH}\s*", re.S)
_ROWS = re.compile(rf"(\s*select [^()]+? from articles )(where .*{_SEARCH}.* order by published desc"
                   r"(?: limit \d+)?\s*)", re.S)


def tune_search_sql(sql: str) -> str:
    """Same results, fast plans for a search matching most of the archive: walk the
    published index newest first (stops after one page) instead of fetching and
    sorting every match, and count matches in the index, not in the table."""
    if _COUNT.fullmatch(sql):
        return "select count(*) from articles_fts where articles_fts match " + (
            "escape_fts(:search)" if "escape_fts" in sql else ":search")
    if m := _ROWS.fullmatch(sql):
        return f"{m[1]}indexed by {PUBLISHED_INDEX} {m[2]}"
    return sql


def make_datasette(path: Path):
    """A Datasette over ``path`` that cannot write it: every connection is mode=ro
    and query-only, even the one Datasette would use for writes (no immutable:
    a crawl may be writing while we serve, WAL lets us read alongside)."""
    from datasette.app import Datasette
    from datasette.database import Database
    from datasette.utils import parse_metadata

    class ReadOnlyDatabase(Database):
        def connect(self, write=False):
            return super().connect(write=False)

        async def execute(self, sql, *args, **kwargs):
            return await super().execute(tune_search_sql(sql), *args, **kwargs)

    ds = Datasette(metadata=parse_metadata((DATASETTE_DIR / "metadata.yaml").read_text("utf-8")),
                   template_dir=str(DATASETTE_DIR / "templates"),
                   plugins_dir=str(DATASETTE_DIR / "plugins"), settings=SETTINGS)
    ds.add_database(ReadOnlyDatabase(ds, path=str(path.resolve()), is_mutable=True), name=DB_NAME)
    return ds


@click.command()
@db_option
@click.option("--port", type=int, default=8001, show_default=True, help="Port to listen on.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0 exposes the archive to your network).")
def serve(db, port, host) -> None:
    """Browse and search the archive in Datasette (read-only): accent-free search,
    facets by outlet, month, zone and relevance term, canned queries, readable
    article pages. Safe to run while a crawl writes."""
    import uvicorn

    path = _existing(db)
    try:  # upgrade once (search index, zone tables) so an older archive is searchable
        Archive(path).close()
    except (OSError, sqlite3.OperationalError) as exc:  # e.g. served by a user who may not write
        click.echo(f"warning: could not upgrade {path} ({exc}); serving it as it is", err=True)
    click.echo(f"serving {path} read-only at http://{host}:{port}/{DB_NAME}", err=True)
    uvicorn.run(make_datasette(path).app(), host=host, port=port, log_level="warning")


@click.command()
@db_option
def reindex(db) -> None:
    """Rebuild the full-text search index and the zone mentions of every article
    (after a bulk load, or when the zone extractor changed)."""
    from archive.search import rebuild_search
    from archive.zones import reindex_zones

    with Archive(_existing(db)) as archive:
        rebuild_search(archive.db)
        n = reindex_zones(archive.db)
    click.echo(f"reindexed {n} articles: search index and zone mentions")
