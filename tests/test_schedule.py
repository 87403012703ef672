"""The crawl daemon, for real: `python -m scheduler.daemon schedule` runs real
`kcn crawl` children against the loopback mirror, and is stopped with real signals."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from archive.db import Archive
from scheduler.daemon import Supervisor
from tests.conftest import FAST
from tests.site import serve_site

CRAWL = ("--outlet", "vnexpress", *FAST)
SLOW = ("-s", "DOWNLOAD_DELAY=2")  # a crawl that is surely still running when signalled


def rows(db: Path) -> list[dict]:
    if not db.exists():
        return []
    conn = sqlite3.connect(db, timeout=30)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute("select * from crawl_runs order by id")]
    except sqlite3.OperationalError:  # the first crawl is still creating the schema
        return []
    finally:
        conn.close()


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def add_ok_run(db: Path, age: timedelta) -> None:
    """A past successful run, as the ledger would hold it."""
    started = datetime.now(timezone.utc) - age
    with Archive(db) as archive:
        archive.db["crawl_runs"].insert({
            "started_at": started.isoformat(timespec="seconds"), "trigger": "manual",
            "finished_at": (started + timedelta(minutes=5)).isoformat(timespec="seconds"),
            "status": "ok", "finish_reason": "finished", "outlets": "[]"})


class Daemon:
    """`python -m scheduler.daemon schedule ...` in the background, logging to a file."""

    def __init__(self, tmp_path: Path, mirror, *args: str, crawl: tuple[str, ...] = CRAWL) -> None:
        self.db = tmp_path / "data" / "archive.db"
        self.log_path = tmp_path / "daemon.log"
        env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
        env.update(mirror.proxy_env())
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "scheduler.daemon", "schedule", "--db", str(self.db), *args,
                 "--", *crawl], stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp_path)
        self.started = time.monotonic()

    @property
    def log(self) -> str:
        return self.log_path.read_text()

    def stop(self, timeout: float) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"daemon still running {timeout} s after SIGTERM:\n{self.log[-3000:]}")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def daemon(tmp_path, mirror):
    serve_site(mirror)
    started = []

    def start(*args: str, **kwargs) -> Daemon:
        started.append(Daemon(tmp_path, mirror, *args, **kwargs))
        return started[-1]
    yield start
    for d in started:
        d.kill()


def finished(db: Path, n: int):
    done = [r for r in rows(db) if r["status"] != "running"]
    return done if len(done) >= n else None


def test_runs_on_the_interval_one_at_a_time(daemon):
    d = daemon("--every", "3")
    wait_for(lambda: finished(d.db, 2), 60, "two finished runs")
    assert d.stop(timeout=30) == 0, d.log[-3000:]
    ledger = rows(d.db)
    assert [r["status"] for r in ledger[:2]] == ["ok", "ok"], ledger
    assert all(r["status"] != "running" for r in ledger)
    assert {r["trigger"] for r in ledger} == {"schedule"}
    for before, after in zip(ledger, ledger[1:]):
        assert after["started_at"] >= before["finished_at"]  # never two at once
    events = [line.split(": ", 1)[1].split(" (")[0] for line in d.log.splitlines()
              if "kcn.schedule: crawl started" in line or "kcn.schedule: crawl finished" in line]
    assert events[:4] == ["crawl started", "crawl finished: status ok"] * 2
    assert all(a != b for a, b in zip(events, events[1:]))  # strictly alternating
    assert "next crawl at" in d.log

    table = subprocess.run([sys.executable, "-m", "scheduler.daemon", "runs", "--db", str(d.db)],
                           capture_output=True, text=True, check=True).stdout.splitlines()
    assert table[0].split()[:5] == ["id", "started", "(UTC)", "finished", "(UTC)"]
    assert "not relevant" in table[0]
    assert len(table) == 1 + len(ledger) and " ok " in table[1]


def test_sigterm_while_idle_exits_promptly(tmp_path, daemon):
    add_ok_run(tmp_path / "data" / "archive.db", timedelta(minutes=1))
    d = daemon("--every", "600")
    wait_for(lambda: "next crawl at" in d.log, 20, "the daemon to schedule")
    signalled = time.monotonic()
    assert d.stop(timeout=10) == 0, d.log[-3000:]
    assert time.monotonic() - signalled < 9  # idle: no crawl to wait for (generous for a loaded machine)
    assert "crawl started" not in d.log  # a recent good run: no catch-up
    assert len(rows(d.db)) == 1


def test_catches_up_at_once_and_a_sigterm_lets_the_crawl_close_cleanly(tmp_path, daemon):
    add_ok_run(tmp_path / "data" / "archive.db", timedelta(days=2))  # the daemon was down a day
    d = daemon("--every", "600", crawl=(*CRAWL, *SLOW))
    wait_for(lambda: any(r["status"] == "running" for r in rows(d.db)), 30, "the catch-up crawl")
    assert time.monotonic() - d.started < 120  # at once, long before the first 600 s interval
    assert "crawling now" in d.log
    wait_for(lambda: "discovery failed for vnexpress" in d.log, 40, "the crawl's first response")
    assert d.stop(timeout=60) == 0, d.log[-3000:]
    old, run = rows(d.db)
    assert run["status"] in ("ok", "failed") and run["finished_at"], run
    assert run["finish_reason"] in ("finished", "shutdown"), run  # closed by Scrapy, not by us
    assert "letting crawl pid" in d.log
    assert "forcing unclean shutdown" not in d.log  # the crawl got exactly one SIGINT


def test_a_second_signal_kills_the_crawl_and_records_it_killed(daemon):
    d = daemon("--every", "600", crawl=(*CRAWL, "-s", "DOWNLOAD_DELAY=6"))
    wait_for(lambda: any(r["status"] == "running" for r in rows(d.db)), 30, "a running crawl")
    # Scrapy installs its graceful-shutdown handlers once its reactor runs: a first response
    # (the mirror has no vnexpress feed, which the crawl logs) shows it does.
    wait_for(lambda: "discovery failed for vnexpress" in d.log, 40, "the crawl's first response")
    d.proc.send_signal(signal.SIGTERM)
    wait_for(lambda: "Closing spider (shutdown)" in d.log, 40, "the crawl to start closing")
    assert d.stop(timeout=30) == 1, d.log[-3000:]  # the second signal
    [run] = rows(d.db)
    assert (run["status"], run["finish_reason"]) == ("failed", "killed"), run
    assert "second signal: killing crawl pid" in d.log


STUBBORN = """
import signal, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)  # a crawl that will not stop when asked
from archive.db import Archive
with Archive(sys.argv[1]) as archive:
    archive.start_run("schedule", [])
time.sleep(120)
"""


def test_a_crawl_that_ignores_sigint_is_killed_and_its_run_marked_timeout(tmp_path):
    db = tmp_path / "archive.db"
    add_ok_run(db, timedelta(days=1))
    supervisor = Supervisor(db, max_runtime=2, kill_after=1,
                            command=[sys.executable, "-c", STUBBORN, str(db)])
    started = time.monotonic()
    assert supervisor.crawl() == "failed"
    assert time.monotonic() - started < 15
    ok, run = rows(db)
    assert (run["status"], run["finish_reason"]) == ("failed", "timeout") and run["finished_at"]
    assert ok["status"] == "ok"  # an earlier finished run is left alone


DIES_EARLY = """
import os, sys
open(sys.argv[1], "w").write(os.environ["KCN_TRIGGER"])
raise SystemExit(3)
"""


def test_a_crawl_that_dies_before_recording_its_run_is_still_recorded(tmp_path):
    db, seen = tmp_path / "archive.db", tmp_path / "trigger.txt"
    supervisor = Supervisor(db, command=[sys.executable, "-c", DIES_EARLY, str(seen)])
    assert supervisor.crawl() == "failed"
    assert seen.read_text() == "schedule"  # what `kcn crawl` reads to label its run
    [run] = rows(db)
    assert (run["status"], run["trigger"], run["finish_reason"]) == ("failed", "schedule", "exit code 3")
    assert run["finished_at"]
