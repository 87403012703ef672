"""`kcn archive-writer`: the writer of a distributed crawl (archive/writer.py),
optionally seeding the frontier and starting local workers. Redis is imported
only when the command runs."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import click

from archive.db import default_db_path

WRITER_WAIT = 120  # seconds a worker waits for the writer to open the run ($KCN_WRITER_WAIT)


def wait_for_run(redis_url: str) -> int:
    """The open run's id, waiting up to $KCN_WRITER_WAIT seconds for the writer to open one."""
    from crawler.distributed import Keys, connect

    server = connect(redis_url)
    deadline = time.monotonic() + float(os.environ.get("KCN_WRITER_WAIT") or WRITER_WAIT)
    while (run := server.get(Keys.RUN)) is None:
        if time.monotonic() > deadline:
            raise click.ClickException(f"no distributed run open at {redis_url}: "
                                       "start `kcn archive-writer --redis URL` first")
        time.sleep(0.5)
    return int(run)


def _children(redis_url: str, seed: bool, workers: int, crawl_args: tuple[str, ...]) -> list[subprocess.Popen]:
    """The seeding crawl and the local workers, as `kcn crawl --redis` children."""
    base = [sys.executable, "-m", "scheduler.cli", "crawl", "--redis", redis_url, *crawl_args]
    commands = ([[*base, "--seed-only"]] if seed else []) + [base] * workers
    return [subprocess.Popen(command) for command in commands]


def _stop_on_signals(writer) -> None:
    def handler(signum, frame) -> None:
        writer.stopping = True

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, handler)


def _drained(writer) -> bool:
    from crawler.distributed import Keys, live_workers

    return not (writer.redis.llen(Keys.QUEUE) or writer.frontier_left()
                or live_workers(writer.redis, writer.worker_timeout))


@click.command("archive-writer")
@click.option("--redis", "redis_url", envvar="KCN_REDIS_URL", required=True, metavar="URL",
              help="redis://HOST:PORT/DB shared with the workers (default $KCN_REDIS_URL).")
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Archive file (default: $KCN_DB or ./data/archive.db).")
@click.option("--idle", type=click.FloatRange(min=0), default=60, show_default=True, metavar="SECONDS",
              help="Finish when the queue stayed empty with no worker alive this long (0: run until "
                   "SIGINT/SIGTERM).")
@click.option("--worker-timeout", type=click.FloatRange(min=1), default=15, show_default=True,
              metavar="SECONDS", help="A worker without heartbeat this long counts as dead "
              "(keep equal to the workers' KCN_WORKER_TIMEOUT).")
@click.option("--seed", is_flag=True, help="Put the outlets' start URLs in the frontier "
              "(`kcn crawl --redis URL --seed-only CRAWL ARGS`).")
@click.option("--workers", type=click.IntRange(min=0), default=0, show_default=True,
              help="Also run N workers on this machine (`kcn crawl --redis URL CRAWL ARGS`).")
@click.argument("crawl_args", nargs=-1, type=click.UNPROCESSED, metavar="[-- CRAWL ARGS]")
def archive_writer(redis_url, db, idle, worker_timeout, seed, workers, crawl_args) -> None:
    """The one writer of a distributed crawl: open (or resume) the run, then drain
    the workers' queue into the archive, its text files and WARC, with the same
    dedup, story grouping and ledger as a local crawl. Holds the archive lock.
    Finishes the run (ledger row) once the queue stays empty with no worker alive
    for --idle seconds and the frontier is empty; otherwise (or on SIGINT/SIGTERM
    before that) leaves it open for the next `kcn archive-writer` to resume."""
    from archive.db import Archive
    from archive.writer import ArchiveWriter
    from crawler.distributed import connect
    from scheduler.cli import _writing
    from scheduler.daemon import setup_logging

    setup_logging()
    path = db or default_db_path()
    with _writing(path), Archive(path) as archive:
        writer = ArchiveWriter(connect(redis_url), archive, idle=idle, worker_timeout=worker_timeout,
                               trigger=os.environ.get("KCN_TRIGGER", "manual"))
        run_id = writer.open_run()
        writer.recover()
        _stop_on_signals(writer)
        children = _children(redis_url, seed, workers, crawl_args)
        writer.drain()
        for child in children:
            if writer.stopping:
                child.send_signal(signal.SIGINT)  # a worker closes cleanly, its requests stay queued
            child.wait()
        if not _drained(writer):
            click.echo(f"run #{run_id} left open (work remains): run `kcn archive-writer` and workers "
                       "again to finish it")
            return
        summary = writer.finish_run()
    click.echo(f"run #{run_id} {summary['status']}: {summary['articles_fetched']} articles fetched "
               f"({summary['pages_fetched']} pages), {summary['new']} new, {summary['updated']} updated, "
               f"{summary['duplicate']} duplicate, {summary['not_relevant']} not relevant, "
               f"{summary['failed']} failed, {summary['gone']} gone")
    if summary["status"] != "ok":
        sys.exit(1)
