"""A real `kcn crawl` stopped by SIGINT/SIGTERM right as it starts: before Scrapy's
reactor runs (Scrapy has no handlers yet) or once its run row exists (the spider
still opening, when Scrapy's own stop used to do nothing). Either way the crawl
must close its run as a stopped one, never leave it 'running', and exit as a
failed run does."""
from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import FAST, _kcn_command
from tests.site import serve_site

CRAWL = ("crawl", "--outlet", "vnexpress", *FAST, "-s", "DOWNLOAD_DELAY=2")  # surely still running


def runs(db: Path) -> list[dict]:
    conn = sqlite3.connect(db, timeout=30)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute("select * from crawl_runs order by id")]
    finally:
        conn.close()


def scrapy_started(db: Path, log: Path) -> bool:
    """Scrapy's first log line: the crawl holds signals from just before it."""
    return bool(re.search(r"Scrapy \S+ started", log.read_text()))


def run_row_written(db: Path, log: Path) -> bool:
    try:
        return bool(db.exists() and runs(db))
    except sqlite3.OperationalError:  # the crawl is still creating the schema
        return False


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("moment", [scrapy_started, run_row_written])
def test_a_signal_at_the_start_stops_the_crawl_and_closes_its_run(mirror, tmp_path, signum, moment):
    serve_site(mirror)
    db, log = tmp_path / "data" / "archive.db", tmp_path / "crawl.log"
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update(mirror.proxy_env(), KCN_DB=str(db))
    with log.open("w") as out:
        proc = subprocess.Popen([*_kcn_command(), *CRAWL], env=env, cwd=tmp_path,
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while not moment(db, log):
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.005)
        proc.send_signal(signum)
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = log.read_text()
    assert code == 1, output[-3000:]  # the summary's "run failed" exit, not a death by signal
    assert re.search(r"^run #1 failed: ", output, re.M), output[-3000:]
    assert f"Received {signal.Signals(signum).name}, shutting down gracefully" in output
    assert "Traceback" not in output and "forcing unclean shutdown" not in output
    [run] = runs(db)
    assert (run["status"], run["finish_reason"]) == ("failed", "shutdown") and run["finished_at"], run
