"""The ``kcn`` command line: a thin layer over the crawler and the archive API."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from contextlib import contextmanager

import click

from archive.db import Archive, default_db_path
from archive.lock import ArchiveLock, ArchiveLocked
from crawler.registry import RegistryError, load_outlets, select_outlets
from crawler.urls import is_http_url
from scheduler.browse import reindex, serve
from scheduler.daemon import schedule
from scheduler.distributed import archive_writer
from scheduler.ledger import health, runs
from scheduler.maintenance import check

DB_HELP = "Archive file (default: $KCN_DB or ./data/archive.db)."
db_option = click.option("--db", type=click.Path(dir_okay=False, path_type=Path),
                         default=None, help=DB_HELP)
settings_option = click.option(
    "-s", "--set", "overrides", multiple=True, metavar="NAME=VALUE",
    help="Scrapy setting for this run only, e.g. -s DOWNLOAD_DELAY=2 (repeatable).")


def _db(db: Path | None) -> Path:
    return db or default_db_path()


@contextmanager
def _writing(path: Path):
    """Hold the archive's lock: one writer at a time (waits $KCN_LOCK_WAIT seconds, default 0)."""
    try:
        with ArchiveLock(path, wait=float(os.environ.get("KCN_LOCK_WAIT") or 0)):
            yield
    except ArchiveLocked as exc:
        raise click.ClickException(str(exc)) from exc


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """kcn-archive: crawl Vietnamese news about industrial zones (KCN, CCN, KKT)
    into a SQLite archive with clean text files."""


def _summary(stats: dict) -> str:
    get = lambda name: stats.get(f"kcn/{name}", 0)  # noqa: E731
    return (f"run #{stats.get('kcn/run_id')} {stats.get('kcn/run_status', 'failed')}: "
            f"{get('articles_fetched')} articles fetched ({stats.get('response_received_count', 0)} pages), "
            f"{get('new')} new, {get('updated')} updated, {get('duplicate')} duplicate, "
            f"{get('not_relevant')} not relevant, {get('failed')} failed, {get('gone')} gone, "
            f"{get('known_skipped')} already archived")


def _crawl(path: Path, **kwargs) -> dict:
    from scheduler.crawl import SettingError, run_crawl  # Scrapy import kept off the fast commands

    try:
        return run_crawl(path, **kwargs)
    except SettingError as exc:
        raise click.UsageError(str(exc)) from exc


def _run(db: Path, **kwargs) -> None:
    path = _db(db)
    with _writing(path):
        if path.exists():
            with Archive(path) as archive:  # rows of crawls that died without closing
                archive.fail_running_runs("interrupted")
        stats = _crawl(path, **kwargs)
    click.echo(_summary(stats))
    for outlet, flag in (stats.get("kcn/flagged") or {}).items():
        click.echo(f"warning: outlet {outlet} looks broken: {flag}")
    if stats.get("kcn/run_status") != "ok":
        sys.exit(1)


@main.command()
@click.option("--outlet", "outlets", multiple=True, metavar="NAME",
              help="Crawl only this outlet (repeatable; default: all). See `kcn outlets`.")
@click.option("--max-articles", type=click.IntRange(min=0), default=0,
              help="Fetch at most N article pages this run (0: no limit).")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Backfill: walk feeds, sitemaps and listing pages back to this date (YYYY-MM-DD).")
@click.option("--jobdir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep the crawl's queue here so a stopped crawl can be continued by running the "
                   "same command again (default with --since: jobs/ beside the archive).")
@click.option("--redis", "redis_url", envvar="KCN_REDIS_URL", default=None, metavar="URL",
              help="Be a worker of the distributed run that `kcn archive-writer --redis URL` opened "
                   "(redis://HOST:PORT/DB; default $KCN_REDIS_URL): share its frontier, queue results "
                   "for it, never open the archive.")
@click.option("--seed-only", is_flag=True,
              help="With --redis: put the outlets' start URLs in the shared frontier, fetch nothing.")
@db_option
@settings_option
def crawl(outlets, max_articles, since, jobdir, redis_url, seed_only, db, overrides) -> None:
    """Crawl the registry's outlets: discover new articles, keep those about
    industrial zones, and archive them. Prints a summary; exits 1 when the run
    failed as a whole. Stop it with Ctrl-C once (it finishes what is in flight)."""
    try:
        select_outlets(outlets, load_outlets())
    except RegistryError as exc:
        raise click.BadParameter(str(exc), param_hint="--outlet") from exc
    if seed_only and not redis_url:
        raise click.UsageError("--seed-only needs --redis")
    if redis_url and jobdir:
        raise click.UsageError("--jobdir keeps a local queue; a distributed crawl's queue is in Redis")
    day = since.date().isoformat() if since else None
    if redis_url:
        _run_worker(redis_url, seed_only, outlets=outlets, max_articles=max_articles, since=day,
                    overrides=overrides, trigger=os.environ.get("KCN_TRIGGER", "manual"))
        return
    if day and jobdir is None:
        jobdir = _db(db).parent / "jobs" / f"backfill-{'-'.join(sorted(outlets)) or 'all'}-{day}"
    if jobdir:
        click.echo(f"resumable: the crawl queue is kept in {jobdir}", err=True)
    _run(db, outlets=outlets, max_articles=max_articles, since=day, jobdir=jobdir,
         overrides=overrides, trigger=os.environ.get("KCN_TRIGGER", "manual"))


def _run_worker(redis_url: str, seed_only: bool, **kwargs) -> None:
    """A distributed worker: waits for the writer's run, crawls, exits 1 only on an abnormal end."""
    from crawler.session import GOOD_FINISH
    from scheduler.distributed import wait_for_run

    wait_for_run(redis_url)
    stats = _crawl(_db(None), redis_url=redis_url, seed_only=seed_only, **kwargs)
    if seed_only:
        click.echo(f"seeded {stats.get('scheduler/enqueued/redis', 0)} start requests into the frontier")
    else:
        click.echo("worker " + _summary(stats))
    if stats.get("finish_reason") not in GOOD_FINISH:
        sys.exit(1)


@main.command()
@click.argument("url")
@db_option
@settings_option
def recrawl(url, db, overrides) -> None:
    """Fetch one article URL now through the same pipeline. It is archived even
    if the relevance filter would skip it (its relevance is recorded)."""
    if not is_http_url(url):
        raise click.BadParameter("must be an absolute http:// or https:// URL", param_hint="URL")
    _run(db, url=url, overrides=overrides, trigger="recrawl")


@main.command()
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def outlets(fmt) -> None:
    """List the outlets in the registry and where their discovery starts."""
    registry = load_outlets()
    if fmt == "json":
        click.echo(json.dumps([{
            "name": o.name, "title": o.title, "domains": list(o.domains),
            "start_urls": o.start_urls(), "checked": o.checked} for o in registry.values()],
            ensure_ascii=False, indent=2))
        return
    for o in registry.values():
        mark = "" if o.verified else "  [unverified]"
        click.echo(f"{o.name:<18} {o.title}{mark}")
        for url in o.start_urls():
            click.echo(f"{'':<18}   {url}")


@main.command()
@click.argument("file", type=click.File("rb"), default="-")
@click.option("--url", help="The page's URL (used for relative links and the outlet's rules).")
@click.option("--outlet", help="Apply this outlet's extraction rules (default: from --url).")
@click.option("--format", "fmt", type=click.Choice(["json", "text"]), default="json")
def extract(file, url, outlet, fmt) -> None:
    """Extract one saved HTML page (FILE, or - for stdin) exactly as the crawl
    would, and print the result: JSON with url, title, lead, author, published,
    tags and text, or the text as archived."""
    from crawler.registry import outlet_for_url
    from pipelines.extraction import extract_article

    registry = load_outlets()
    if outlet and outlet not in registry:
        raise click.BadParameter(f"unknown outlet {outlet!r}; see `kcn outlets`", param_hint="--outlet")
    chosen = registry.get(outlet) if outlet else (outlet_for_url(url, registry) if url else None)
    html = file.read()
    if not html.strip():
        raise click.ClickException("the input is empty: expected an HTML page")
    article = extract_article(html, url or "", chosen.extraction if chosen else None)
    if fmt == "json":
        click.echo(json.dumps(article.to_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(f"{article.title or ''}\n\n{article.text}")


@main.command(name="import")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@db_option
def import_(directory, db) -> None:
    """Import a folder of legacy text files (NNN_<hex>.txt: title line, blank
    line, paragraphs), cleaned like crawled pages. Importing twice adds nothing."""
    from collections import Counter

    from pipelines.legacy_import import import_legacy

    outcomes: Counter = Counter()
    with _writing(_db(db)), Archive(_db(db)) as archive:
        for path, outcome, detail in import_legacy(archive, directory):
            outcomes[outcome] += 1
            click.echo(f"{path.name}: {outcome} {detail}".rstrip(), err=True)
    click.echo("import: " + ", ".join(f"{n} {what}" for what, n in sorted(outcomes.items())))


@main.command()
@click.option("--outlet", help="Only this outlet's articles.")
@db_option
def reextract(outlet, db) -> None:
    """Re-run extraction on the raw pages kept in WARC and store every article
    whose clean text changed as a new version (no re-crawl needed)."""
    from collections import Counter

    from pipelines.reextract import reextract as run, summarize

    path = _db(db)
    if not path.exists():
        raise click.ClickException(f"no archive at {path}")
    outcomes: Counter = Counter()
    with _writing(path), Archive(path) as archive:
        total = archive.db["articles"].count
        for n, (row, outcome) in enumerate(run(archive, outlet), start=1):
            outcomes[outcome.split(":")[0]] += 1
            if outcome != "unchanged":
                click.echo(f"[{n}/{total}] {outcome}: {row['url']}", err=True)
    click.echo(f"re-extracted: {summarize(outcomes)}")
    if outcomes["failed"]:
        sys.exit(1)


@main.command()
@click.argument("url")
@db_option
def history(url, db) -> None:
    """Show every version of the article at URL, with a unified diff between
    consecutive versions (an edited article keeps its old texts)."""
    import difflib

    path = _db(db)
    if not path.exists():
        raise click.ClickException(f"no archive at {path}")
    with Archive(path, readonly=True) as archive:
        versions = archive.history(url)
    if not versions:
        raise click.ClickException(f"no archived article at {url}")
    for n, version in enumerate(versions, start=1):
        label = "current" if n == len(versions) else f"version {n}"
        click.echo(f"== {label}: fetched {version['fetched_at']}, sha256 {version['content_hash'][:16]}")
        if n > 1:
            before, after = versions[n - 2], version
            diff = difflib.unified_diff(
                f"{before['title']}\n\n{before['text']}".split("\n"),
                f"{after['title']}\n\n{after['text']}".split("\n"),
                fromfile=f"version {n - 1}", tofile=label, lineterm="")
            click.echo("\n".join(diff))


@main.command()
@click.argument("file", type=click.File("r", encoding="utf-8"), default="-")
@click.option("--threshold", type=float, default=None,
              help="Score from which a text counts as relevant (default: the crawl's).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def relevance(file, threshold, fmt) -> None:
    """Is this text about industrial zones? Reads plain text (FILE, or - for
    stdin), its first line taken as the title, and prints the decision, the
    score and the reasons (matched terms and their weights)."""
    from pipelines.relevance import DEFAULT_THRESHOLD, score_relevance

    title, _, body = file.read().strip().partition("\n")
    if not title:
        raise click.ClickException("the input is empty: expected a title line, then the text")
    result = score_relevance(title, body, threshold=DEFAULT_THRESHOLD if threshold is None else threshold)
    if fmt == "json":
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return
    click.echo(f"{'relevant' if result.relevant else 'not relevant'} (score {result.score:.1f})")
    for reason in result.reasons:
        click.echo(f"  {reason}")


@main.command()
@db_option
def stats(db) -> None:
    """Show what the archive holds: articles per outlet, fetched URLs by outcome."""
    path = _db(db)
    if not path.exists():
        raise click.ClickException(f"no archive at {path} (run `kcn crawl` first)")
    with Archive(path, readonly=True) as archive:
        counts = archive.counts()
        last = archive.runs(1)
    click.echo(f"archive: {path}")
    click.echo(f"articles: {counts['articles']}")
    for outlet, n in counts["by_outlet"].items():
        click.echo(f"  {outlet:<18} {n}")
    click.echo("fetched URLs by outcome: " + ", ".join(
        f"{status} {n}" for status, n in sorted(counts["seen_urls"].items())) or "none")
    if last:
        run = last[0]
        click.echo(f"last run: #{run['id']} {run['status']} started {run['started_at']}"
                   f" ({run['new'] or 0} new)")


for command in (schedule, runs, health, serve, reindex, check, archive_writer):
    main.add_command(command)

if __name__ == "__main__":
    main()
