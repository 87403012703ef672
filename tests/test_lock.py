"""The archive lock, with real processes holding it, waiting for it, and dying with it."""
from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from archive.lock import ArchiveLock, ArchiveLocked, lock_path
from tests.conftest import FAST
from tests.site import serve_site

HOLDER = """
import sys
from archive.lock import ArchiveLock
lock = ArchiveLock(sys.argv[1])
lock.acquire()
print("locked", flush=True)
sys.stdin.readline()  # hold until the test says so
lock.release()
"""


@pytest.fixture
def db(tmp_path):
    return tmp_path / "data" / "archive.db"


@pytest.fixture
def holder(db):
    """Another process that holds the lock until its stdin gets a line."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(db)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)


def test_a_second_process_is_refused_with_a_message_naming_the_holder(db, holder):
    with pytest.raises(ArchiveLocked) as refused:
        ArchiveLock(db).acquire()
    message = str(refused.value)
    assert f"pid {holder.pid}" in message and "started 20" in message
    assert str(db) in message
    assert refused.value.holder["pid"] == str(holder.pid)


def test_waiting_is_bounded(db, holder):
    started = time.monotonic()
    with pytest.raises(ArchiveLocked, match=r"after waiting 1 s"):
        ArchiveLock(db, wait=1.0).acquire()
    assert 1.0 <= time.monotonic() - started < 3.0
    assert holder.poll() is None  # the holder was never disturbed


def test_a_waiter_gets_the_lock_when_the_holder_releases_it(db, holder):
    threading.Timer(0.5, lambda: (holder.stdin.write("go\n"), holder.stdin.flush())).start()
    started = time.monotonic()
    with ArchiveLock(db, wait=20):
        assert time.monotonic() - started < 10
        assert f"pid={os.getpid()}" in lock_path(db).read_text()
    assert holder.wait(timeout=10) == 0


def test_the_lock_of_a_killed_process_is_taken_over(db, holder, caplog):
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(timeout=10)
    assert f"pid={holder.pid}" in lock_path(db).read_text()  # it died without cleaning up
    with caplog.at_level(logging.WARNING, logger="archive.lock"):
        with ArchiveLock(db):
            assert f"pid={os.getpid()}" in lock_path(db).read_text()
    assert f"stale lock of pid {holder.pid} taken over" in caplog.text


def test_a_clean_release_leaves_nothing_stale(db, caplog):
    with caplog.at_level(logging.WARNING, logger="archive.lock"):
        with ArchiveLock(db):
            pass
        assert lock_path(db).read_text() == ""
        with ArchiveLock(db) as again:
            assert again.held
    assert caplog.text == ""


def test_two_concurrent_crawls_one_runs_the_other_reports_the_lock(mirror, kcn, tmp_path):
    serve_site(mirror)
    archive = tmp_path / "data" / "archive.db"
    env = {**{k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")},
           **mirror.proxy_env(), "KCN_DB": str(archive)}
    kcn_bin = Path(sys.executable).with_name("kcn")
    first = subprocess.Popen([str(kcn_bin), "crawl", *FAST], env=env, cwd=tmp_path,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lock = Path(f"{archive}.lock")
    deadline = time.monotonic() + 60
    while f"pid={first.pid}" not in (lock.read_text() if lock.exists() else ""):
        assert time.monotonic() < deadline and first.poll() is None, "first crawl never took the lock"
        time.sleep(0.05)
    second = kcn("crawl", *FAST, mirror=mirror)
    out, err = first.communicate(timeout=180)
    assert first.returncode == 0, err[-2000:]
    assert second.returncode == 1 and f"in use by pid {first.pid}" in second.stderr
    conn = sqlite3.connect(archive)
    assert conn.execute("pragma integrity_check").fetchone()[0] == "ok"
    runs = conn.execute("select status from crawl_runs").fetchall()
    assert runs == [("ok",)]  # the refused crawl wrote nothing
