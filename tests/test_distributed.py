"""Distributed crawling with real processes: a real redis-server on loopback,
`kcn crawl --redis` workers and one `kcn archive-writer`, crawling the mirror.
Killing a worker or the writer (SIGKILL) loses and duplicates nothing."""
from __future__ import annotations

import json
import re
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from archive.check import check_archive
from tests.conftest import FAST, _kcn_command, kcn_runner
from tests.site import SITE, serve_site
from tests.test_crash import (
    CRASH_LEFTOVERS,
    _env,
    _progress,
    _rows,
    assert_archived_once,
    assert_committed_rows_whole,
    serve_copies,
)

REDIS_SERVER = shutil.which("redis-server")
pytestmark = pytest.mark.skipif(
    REDIS_SERVER is None, reason="redis-server is not installed (apt-get install redis-server): "
                                 "the distributed tests need a real Redis")

OUTLET_ARGS = [arg for name in SITE for arg in ("--outlet", name)]
TIMEOUT = 2  # seconds without heartbeat before a worker counts as dead
WORKER = (*FAST, "-s", "KCN_EXTRACT_WORKERS=0", "-s", f"KCN_WORKER_TIMEOUT={TIMEOUT}",
          "-s", "KCN_WORKER_IDLE=8")
WRITER = ("--idle", "5", "--worker-timeout", str(TIMEOUT))
LEDGER = ("articles_fetched", "new", "updated", "duplicate", "not_relevant", "failed", "gone", "failures")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def redis_url(tmp_path):
    """A throwaway redis-server on a free loopback port, its files in tmp_path."""
    import redis

    folder = tmp_path / "redis"
    folder.mkdir()
    port = _free_port()
    server = subprocess.Popen([REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder),
                               "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 20
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            assert time.monotonic() < deadline and server.poll() is None, "redis-server did not start"
            time.sleep(0.05)
    yield url
    server.terminate()
    server.wait(timeout=20)


class Run:
    """The processes of one distributed crawl into ``db``, each logging to its own file."""

    def __init__(self, mirror, redis_url: str, db: Path) -> None:
        self.mirror, self.redis_url, self.db = mirror, redis_url, db
        db.parent.mkdir(parents=True, exist_ok=True)
        self.procs: list[subprocess.Popen] = []

    def start(self, name: str, *args: str) -> subprocess.Popen:
        log = (self.db.parent.parent / f"{name}.log").open("w")
        proc = subprocess.Popen([*_kcn_command(), *args], env=_env(self.mirror, self.db),
                                cwd=self.db.parent.parent, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        proc.name = name
        self.procs.append(proc)
        return proc

    def writer(self, name: str = "writer") -> subprocess.Popen:
        proc = self.start(name, "archive-writer", "--redis", self.redis_url, "--db", str(self.db), *WRITER)
        self._wait_open()
        return proc

    def worker(self, name: str, *crawl_args: str) -> subprocess.Popen:
        return self.start(name, "crawl", "--redis", self.redis_url, *crawl_args, *WORKER)

    def _wait_open(self) -> None:
        import redis

        client = redis.Redis.from_url(self.redis_url)
        deadline = time.monotonic() + 60
        while client.get("kcn:run") is None:
            assert time.monotonic() < deadline, self.log("writer")
            time.sleep(0.1)

    def log(self, name: str, tail: int = 4000) -> str:
        return (self.db.parent.parent / f"{name}.log").read_text()[-tail:]

    def wait(self, *procs: subprocess.Popen) -> None:
        for proc in procs:
            proc.wait(timeout=300)
            assert proc.returncode == 0, (proc.name, self.log(proc.name))

    def kill_when(self, proc: subprocess.Popen, texts: int) -> None:
        """SIGKILL ``proc`` once the archive has ``texts`` text files, mid-crawl."""
        deadline = time.monotonic() + 300
        while _progress(self.db.parent)[0] < texts:
            assert proc.poll() is None, f"{proc.name} ended before the kill point:\n{self.log(proc.name)}"
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert proc.poll() is None, f"{proc.name} ended before the kill point"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=60)


@pytest.fixture
def run_of(mirror, redis_url, tmp_path):
    runs = []

    def make(name: str = "dist") -> Run:
        runs.append(Run(mirror, redis_url, tmp_path / name / "data" / "archive.db"))
        return runs[-1]
    yield make
    for run in runs:
        run.stop_all()


def _kcn_check(db: Path) -> subprocess.CompletedProcess:
    result = kcn_runner(db.parent.parent)("check", "--db", str(db))
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_two_workers_and_a_writer_archive_what_a_local_crawl_does(mirror, run_of, tmp_path):
    serve_site(mirror)
    (tmp_path / "local").mkdir()
    local = kcn_runner(tmp_path / "local")("crawl", *OUTLET_ARGS, *FAST, mirror=mirror)
    assert local.returncode == 0, local.stderr[-3000:]
    local_db = tmp_path / "local" / "data" / "archive.db"

    run = run_of()
    writer = run.writer()
    run.wait(run.worker("w1", *OUTLET_ARGS), run.worker("w2", *OUTLET_ARGS), writer)

    same = lambda sql: (_rows(run.db, sql), _rows(local_db, sql))  # noqa: E731
    for sql in ("select title, text, content_hash from articles order by title",
                "select articles, count(*) as n from stories group by articles",
                "select status, count(*) as n from seen_urls group by status order by status",
                "select " + ", ".join(LEDGER) + ", status from crawl_runs",
                # Which of two copies is stored first may differ per outlet, never in total.
                "select outlet, listing_pages, article_links, known_skipped, articles_fetched,"
                " new + duplicate as kept_or_copy, updated, unchanged, not_relevant, failed, gone, bytes,"
                " http_errors, failures, flag from outlet_runs order by outlet"):
        distributed, single = same(sql)
        assert distributed == single, sql
    assert len(_rows(run.db, "select * from articles")) == 3
    assert json.loads(_rows(run.db, "select outlets from crawl_runs")[0]["outlets"]) == sorted(SITE)
    # Each worker reads robots.txt for itself: the only pages fetched more than once.
    extra = _rows(run.db, "select pages_fetched from crawl_runs")[0]["pages_fetched"] - \
        _rows(local_db, "select pages_fetched from crawl_runs")[0]["pages_fetched"]
    assert 0 <= extra <= len(SITE)
    assert _kcn_check(run.db).returncode == 0


def test_a_killed_worker_leaves_its_frontier_to_the_other(mirror, run_of):
    serve_site(mirror)
    copies = range(30, 70)
    serve_copies(mirror, copies)
    run = run_of()
    writer = run.writer()
    w1, w2 = run.worker("w1", "--outlet", "vnexpress"), run.worker("w2", "--outlet", "vnexpress")
    run.kill_when(w1, 6)
    run.wait(w2, writer)
    assert_archived_once(run.db, copies)
    assert _kcn_check(run.db).returncode == 0
    assert _rows(run.db, "select status from crawl_runs") == [{"status": "ok"}]


def test_a_killed_writer_resumes_on_restart(mirror, run_of):
    serve_site(mirror)
    copies = range(30, 70)
    serve_copies(mirror, copies)
    run = run_of()
    writer = run.writer()
    workers = [run.worker("w1", "--outlet", "vnexpress"), run.worker("w2", "--outlet", "vnexpress")]
    run.kill_when(writer, 6)
    assert_committed_rows_whole(run.db)
    assert {p.kind for p in check_archive(run.db).problems} <= CRASH_LEFTOVERS
    assert check_archive(run.db, repair=True).clean
    run.wait(run.writer("writer-again"), *workers)
    assert_archived_once(run.db, copies)
    assert _kcn_check(run.db).returncode == 0
    assert [r["status"] for r in _rows(run.db, "select status from crawl_runs")] == ["ok"]


def test_a_scheduled_run_seeds_and_crawls_with_the_writers_own_workers(mirror, run_of):
    """What `kcn schedule --redis` runs: one writer that seeds the frontier and starts a worker."""
    serve_site(mirror)
    run = run_of()
    writer = run.start("writer", "archive-writer", "--redis", run.redis_url, "--db", str(run.db), *WRITER,
                       "--seed", "--workers", "1", "--", *OUTLET_ARGS, *WORKER)
    run.wait(writer)
    # The seeder ran (its requests may all have been queued first by the worker's own start).
    assert re.search(r"seeded \d+ start requests", run.log("writer", tail=0))
    row = _rows(run.db, "select status, new, duplicate, not_relevant from crawl_runs")
    assert row == [{"status": "ok", "new": 3, "duplicate": 1, "not_relevant": 4}]
