"""Archive maintenance commands: ``kcn check`` (registered in scheduler/cli.py)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from archive.check import ArchiveBusy, Report, check_archive
from archive.db import default_db_path


@click.command()
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Archive file (default: $KCN_DB or ./data/archive.db).")
@click.option("--repair", is_flag=True,
              help="Fix what is safe: rewrite missing or differing text files from their rows, "
                   "move orphan text files to texts/orphans/, delete temp files, cut a WARC file's "
                   "broken tail, add missing MinHash rows, mark dead 'running' runs failed "
                   "(interrupted). Refused while a crawl holds the archive.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def check(db, repair, fmt) -> None:
    """Verify the archive: SQLite integrity and foreign keys; every article's text
    file present and equal to its row; hashes and file names; no text file without
    an article (a crawl killed between file write and commit leaves one); every WARC
    pointer readable and holding its row's page; no WARC file ending in a truncated
    record; a MinHash row per article; no run left 'running' by a dead crawl.

    Article rows and the WARC records rows point at are never deleted or changed.
    Exits 0 when the archive is clean (with --repair: when everything found was
    repaired), 1 when problems remain."""
    path = db or default_db_path()
    try:
        report = check_archive(path, repair=repair)
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from exc
    except ArchiveBusy as exc:
        raise click.ClickException(str(exc)) from exc
    if fmt == "json":
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(render(report))
    sys.exit(0 if report.clean else 1)


def render(report: Report) -> str:
    """The report for people: counts, one line per problem, then the verdict."""
    counts = ", ".join(f"{n} {name.replace('_', ' ')}" for name, n in report.counts.items())
    lines = [f"archive: {report.path}", f"checked: {counts}", *(f"note: {n}" for n in report.notes)]
    for p in report.problems:
        mark = "repaired" if p.repaired else ("repairable" if p.repairable else "NOT repairable")
        lines.append(f"  [{mark}] {p.kind} {p.where}: {p.detail}")
    lines.append(_verdict(report))
    return "\n".join(lines)


def _verdict(report: Report) -> str:
    left = report.remaining
    if not left:
        fixed = sum(p.repaired for p in report.problems)
        return f"clean ({fixed} problems repaired)" if fixed else "clean"
    fixable = sum(p.repairable for p in left)
    hint = f"; {fixable} can be fixed with `kcn check --repair`" if fixable else ""
    return f"{len(left)} problems remain{hint}"


if __name__ == "__main__":
    check()
