"""The daily crawl daemon (`kcn schedule`) and the run ledger (`kcn runs`).

Each crawl runs as a child process (Scrapy's reactor runs once per process), one
at a time, on a cron or interval trigger. The daemon never silently misses a
day: on start it crawls at once when the last good run is older than the
interval; a late start still fires within a 6 h grace; a crawl that overruns
is stopped and recorded failed; every run logs how it ended.

Run it in the foreground (systemd, a container, tmux): SIGINT/SIGTERM stop the
scheduling, let a running crawl close cleanly, and exit 0; a second signal
kills the crawl.
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from archive.db import Archive, default_db_path
from archive.lock import ArchiveLock, ArchiveLocked
from scheduler.ledger import runs

logger = logging.getLogger("kcn.schedule")

DAY = 24 * 3600
MISFIRE_GRACE = 6 * 3600
LOCK_WAIT = 1800  # a scheduled crawl waits this long for a manual one to finish


# --- ledger helpers ----------------------------------------------------------

def record_failed_run(archive: Archive, reason: str) -> dict:
    """A scheduled crawl that died before writing its row still shows in the ledger."""
    run_id = archive.start_run("schedule", [])
    archive.finish_run(run_id, "failed", {"finish_reason": reason})
    return archive.run_after(run_id - 1)


# --- one supervised crawl ----------------------------------------------------

class Supervisor:
    """Runs crawl children one at a time and stops them on time or on request.

    Only scheduler threads and the signal handler touch it; the main thread
    just waits, so the handler can never deadlock on ``self.lock``.
    """

    def __init__(self, db: Path, crawl_args: tuple[str, ...] = (), *,
                 max_runtime: float = 4 * 3600, kill_after: float = 300,
                 command: list[str] | None = None) -> None:
        self.db = db
        self.command = command or [sys.executable, "-m", "scheduler.cli", "crawl",
                                   "--db", str(db), *crawl_args]
        self.max_runtime = max_runtime
        self.kill_after = kill_after
        self.lock = threading.Lock()
        self.idle = threading.Event()
        self.idle.set()
        self.child: subprocess.Popen | None = None
        self.stopping = False
        self.killed = False

    def crawl(self) -> str | None:
        """The scheduled job: one crawl child; returns its ledger status."""
        with self.lock:
            if self.stopping:
                return None
            self.idle.clear()
        try:
            return self._crawl_once()
        finally:
            with self.lock:
                self.child = None
            self.idle.set()  # even after an error, so shutdown never waits forever

    def _crawl_once(self) -> str | None:
        with Archive(self.db) as archive:
            after = archive.last_run_id()
        env = {**os.environ, "KCN_TRIGGER": "schedule", "KCN_LOCK_WAIT": str(LOCK_WAIT)}
        with self.lock:  # a stop either comes first and prevents the child, or sees it
            if self.stopping:
                return None
            # Own session: a terminal's Ctrl-C reaches only the daemon, which forwards it once.
            child = self.child = subprocess.Popen(self.command, env=env, start_new_session=True)
        logger.info("crawl started (pid %d)", child.pid)
        timed_out = self._wait(child)
        return self._record(after, child.returncode, timed_out)

    def _wait(self, child: subprocess.Popen) -> bool:
        """Wait for the child; past ``max_runtime`` SIGINT it, then SIGKILL. True if it overran."""
        try:
            child.wait(timeout=self.max_runtime)
            return False
        except subprocess.TimeoutExpired:
            logger.error("crawl pid %d ran past %g s: asking it to stop", child.pid, self.max_runtime)
            child.send_signal(signal.SIGINT)
        try:
            child.wait(timeout=self.kill_after)
        except subprocess.TimeoutExpired:
            logger.error("crawl pid %d still running %g s later: killing it", child.pid, self.kill_after)
            child.kill()
            child.wait()
        return True

    def _record(self, after: int, code: int, timed_out: bool) -> str:
        """Fail a ledger row the child left 'running', then log how the crawl ended."""
        reason = "timeout" if timed_out else "killed"
        try:
            with ArchiveLock(self.db, wait=10), Archive(self.db) as archive:
                if archive.fail_running_runs(reason, after):
                    logger.error("crawl left its run 'running': recorded failed (%s)", reason)
                row = archive.run_after(after) or record_failed_run(
                    archive, "timeout" if timed_out else f"exit code {code}")
        except ArchiveLocked as exc:
            logger.error("could not check the crawl's ledger row: %s", exc)
            with Archive(self.db) as archive:
                row = archive.run_after(after)
        status = row["status"] if row else "failed"
        detail = (f"run #{row['id']}, {row['finish_reason']}, {row['new'] or 0} new" if row
                  else "no run recorded")
        log = logger.info if status == "ok" and not timed_out else logger.error
        log("crawl finished: status %s (%s, exit code %s)", status, detail, code)
        return status

    def stop(self, signum: int) -> None:
        """First signal: no new crawls, SIGINT the running one. Second: SIGKILL it."""
        with self.lock:
            child, again = self.child, self.stopping
            self.stopping = True
            if again and child:
                self.killed = True
        if not again:
            logger.info("%s: stopping; %s", signal.Signals(signum).name,
                        f"letting crawl pid {child.pid} close" if child else "no crawl running")
            if child:
                child.send_signal(signal.SIGINT)
        elif child:
            logger.warning("second signal: killing crawl pid %d", child.pid)
            child.kill()


# --- the daemon --------------------------------------------------------------

def needs_catch_up(db: Path, interval: float, now: datetime | None = None) -> bool:
    """True when no good crawl started within the last interval."""
    with Archive(db) as archive:
        last = archive.last_ok_start()
    now = now or datetime.now(timezone.utc)
    return last is None or (now - last).total_seconds() > interval


def make_trigger(at: str, tz: str, every: float | None):
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    if every:
        return IntervalTrigger(seconds=every, timezone=tz)
    hour, minute = at.split(":")
    return CronTrigger(hour=int(hour), minute=int(minute), timezone=tz)


def run_daemon(supervisor: Supervisor, trigger, *, interval: float, tz: str) -> int:
    """Schedule crawls until SIGINT/SIGTERM; 0 on a clean stop, 1 if a crawl had to be killed."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    scheduler = BlockingScheduler(timezone=tz)
    catch_up = needs_catch_up(supervisor.db, interval)

    def job() -> None:
        supervisor.crawl()
        _log_next(scheduler)

    scheduler.add_job(job, trigger, id="crawl", name="crawl", max_instances=1, coalesce=True,
                      misfire_grace_time=MISFIRE_GRACE,
                      **({"next_run_time": datetime.now(ZoneInfo(tz))} if catch_up else {}))
    if catch_up:
        logger.info("no successful crawl in the last %s: crawling now", timedelta(seconds=interval))
    _on_signals(supervisor, scheduler)
    scheduler.add_listener(lambda event: _log_next(scheduler), _started_mask())
    if not supervisor.stopping:
        scheduler.start()  # blocks until a signal shuts the scheduler down
    while not supervisor.idle.wait(0.2):  # a running crawl closes first
        pass
    logger.info("scheduler stopped")
    return 1 if supervisor.killed else 0


def _started_mask() -> int:
    from apscheduler.events import EVENT_SCHEDULER_STARTED
    return EVENT_SCHEDULER_STARTED


def _log_next(scheduler) -> None:
    job = scheduler.get_job("crawl")
    if job and job.next_run_time:
        logger.info("next crawl at %s", job.next_run_time.isoformat(timespec="seconds"))


def _on_signals(supervisor: Supervisor, scheduler) -> None:
    """SIGINT/SIGTERM stop the supervisor; the scheduler is shut down from another
    thread because the handler may interrupt the scheduler holding its own locks."""
    from apscheduler.schedulers import SchedulerNotRunningError

    def shutdown() -> None:
        try:
            scheduler.shutdown(wait=False)
        except SchedulerNotRunningError:
            pass

    def handler(signum, frame) -> None:
        supervisor.stop(signum)
        threading.Thread(target=shutdown, name="shutdown").start()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, handler)


def setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # keeps "skipped: ... running" warnings


# --- commands ----------------------------------------------------------------

def _check_at(ctx, param, value):
    if value is None:
        return value
    hour, sep, minute = value.partition(":")
    if not (sep and hour.isdigit() and minute.isdigit() and int(hour) < 24 and int(minute) < 60):
        raise click.BadParameter("expected HH:MM, e.g. 06:00")
    return value


def _check_tz(ctx, param, value):
    from zoneinfo import ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise click.BadParameter(f"unknown time zone {value!r}") from exc
    return value


def _check_crawl_args(crawl_args: tuple[str, ...]) -> None:
    """Reject bad crawl options now, not at 06:00 tomorrow."""
    from crawler.registry import RegistryError, load_outlets, select_outlets
    from scheduler.cli import crawl

    try:
        params = crawl.make_context("crawl", list(crawl_args)).params
        select_outlets(params["outlets"], load_outlets())
    except (click.ClickException, RegistryError) as exc:
        message = exc.format_message() if isinstance(exc, click.ClickException) else str(exc)
        raise click.UsageError(f"crawl arguments after --: {message}") from exc


def writer_command(db: Path, redis_url: str, workers: int, crawl_args: tuple[str, ...]) -> list[str]:
    """A scheduled distributed run: the writer opens it, seeds it, runs local workers, waits for all."""
    return [sys.executable, "-m", "scheduler.cli", "archive-writer", "--redis", redis_url, "--db", str(db),
            "--seed", "--workers", str(workers), "--", *crawl_args]


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--at", default=None, callback=_check_at, metavar="HH:MM",
              help="Daily crawl time (default 06:00).")
@click.option("--timezone", "tz", default="Asia/Ho_Chi_Minh", show_default=True, callback=_check_tz,
              help="Time zone of --at.")
@click.option("--every", type=click.FloatRange(min=1), default=None, metavar="SECONDS",
              help="Crawl every SECONDS instead of daily (for testing or tight schedules).")
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Archive file (default: $KCN_DB or ./data/archive.db).")
@click.option("--max-runtime", type=click.FloatRange(min=1), default=4 * 3600, show_default=True,
              metavar="SECONDS", help="Stop a crawl running longer than this (SIGINT, then "
              "SIGKILL after --kill-after) and record it failed.")
@click.option("--kill-after", type=click.FloatRange(min=0), default=300, show_default=True,
              metavar="SECONDS", help="Grace between that SIGINT and SIGKILL.")
@click.option("--redis", "redis_url", default=None, metavar="URL",
              help="Distributed runs: each run is `kcn archive-writer --redis URL --seed` (it opens the "
                   "run and seeds the frontier; workers on other machines join with `kcn crawl --redis URL`).")
@click.option("--workers", type=click.IntRange(min=0), default=1, show_default=True,
              help="With --redis: workers each run starts on this machine.")
@click.argument("crawl_args", nargs=-1, type=click.UNPROCESSED, metavar="[-- CRAWL ARGS]")
def schedule(at, tz, every, db, max_runtime, kill_after, redis_url, workers, crawl_args) -> None:
    """Run in the foreground and crawl every day at --at (or every --every
    seconds), each crawl a `kcn crawl` child process recorded in the ledger with
    trigger "schedule". One crawl at a time; a crawl is started at once when the
    last successful one is older than a day (or --every). Arguments after -- go
    to `kcn crawl`, e.g. `kcn schedule --at 05:30 -- --outlet vnexpress -s
    LOG_LEVEL=WARNING`. SIGINT/SIGTERM: stop scheduling, let the running crawl
    close cleanly, exit 0; a second signal kills the crawl."""
    if at and every:
        raise click.UsageError("give either --at or --every, not both")
    _check_crawl_args(crawl_args)
    setup_logging()
    db = (db or default_db_path()).resolve()
    supervisor = Supervisor(db, crawl_args, max_runtime=max_runtime, kill_after=kill_after,
                            command=writer_command(db, redis_url, workers, crawl_args) if redis_url else None)
    trigger = make_trigger(at or "06:00", tz, every)
    logger.info("scheduling crawls of %s: %s", db, f"every {every:g} s" if every else f"daily at {at or '06:00'} {tz}")
    sys.exit(run_daemon(supervisor, trigger, interval=every or DAY, tz=tz))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Scheduled crawls (the same commands as `kcn schedule` and `kcn runs`)."""


cli.add_command(schedule)
cli.add_command(runs)

if __name__ == "__main__":
    cli()
