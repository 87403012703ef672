"""The run ledger as a user reads it: `kcn runs` and `kcn health`."""
from __future__ import annotations

from pathlib import Path

import click

from archive.db import Archive, default_db_path

RUN_COLUMNS = [("id", "id"), ("started (UTC)", "started_at"), ("finished (UTC)", "finished_at"),
               ("trigger", "trigger"), ("status", "status"), ("fetched", "articles_fetched"),
               ("new", "new"), ("updated", "updated"), ("duplicate", "duplicate"),
               ("not relevant", "not_relevant"), ("failed", "failed"), ("gone", "gone"),
               ("reason", "finish_reason")]
HEALTH_COLUMNS = [("outlet", "outlet"), ("last run", "last_run"), ("last good run (UTC)", "last_good_at"),
                  ("health", "flag")]
TEXT_KEYS = ("finish_reason", "trigger", "flag", "outlet")

db_option = click.option("--db", type=click.Path(dir_okay=False, path_type=Path), default=None,
                         help="Archive file (default: $KCN_DB or ./data/archive.db).")


def _cell(key: str, value) -> str:
    if value is None:
        return "-" if key.endswith("_at") or key in TEXT_KEYS else "0"
    if key.endswith("_at"):
        return str(value).replace("T", " ").removesuffix("+00:00")
    return str(value)


def format_table(columns: list[tuple[str, str]], rows: list[dict]) -> str:
    """Rows as an aligned text table under the columns' titles."""
    table = [[title for title, _ in columns]]
    table += [[_cell(key, row.get(key)) for _, key in columns] for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(columns))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip() for line in table)


def _archive(db: Path | None) -> Archive:
    path = db or default_db_path()
    if not path.exists():
        raise click.ClickException(f"no archive at {path} (run `kcn crawl` first)")
    return Archive(path, readonly=True)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--last", type=click.IntRange(min=1), default=10, show_default=True,
              help="Show the last N runs.")
@db_option
def runs(last, db) -> None:
    """Show the crawl ledger: when each run started and finished, what started
    it (manual, recrawl, schedule), how it ended, and what it found (articles
    fetched, new, updated, duplicate, not relevant, failed, gone)."""
    with _archive(db) as archive:
        rows = archive.runs(last)
    if not rows:
        click.echo("no crawl runs yet")
        return
    click.echo(format_table(RUN_COLUMNS, list(reversed(rows))))


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@db_option
def health(db) -> None:
    """Show each crawled outlet's health: its last run, when it last ran
    without a flag, and why it is flagged (discovery found no article links,
    extraction came out empty for most pages, or most requests failed).
    Exits 1 when an outlet is flagged."""
    with _archive(db) as archive:
        rows = archive.outlet_health()
    if not rows:
        click.echo("no outlet has been crawled yet")
        return
    click.echo(format_table(HEALTH_COLUMNS, [{**row, "flag": row["flag"] or "ok"} for row in rows]))
    if any(row["flag"] for row in rows):
        raise SystemExit(1)
