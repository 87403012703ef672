#!/usr/bin/env python
"""Distributed crawl throughput: 1 vs 2 `kcn crawl --redis` workers on this machine.

The same N composed article pages as crawl_throughput.py (its Site, mirror and
settings, imported), a throwaway redis-server on a free loopback port, and for
each worker count a fresh archive written by one `kcn archive-writer --seed
--workers W`. Pages/s = N / the time until every page has its outcome in the
archive (the writer's and workers' idle waits at the end are left out; the
total wall time is printed too). A local `kcn crawl` of the same pages is the
reference. Needs the `redis-server` binary (Debian package redis-server).

    python benchmarks/distributed_throughput.py                 # N=600, workers 1 and 2
    python benchmarks/distributed_throughput.py --pages 300 --workers 1 2 3 -s KCN_EXTRACT_WORKERS=0
"""
from __future__ import annotations

import argparse
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from crawl_throughput import OUTLET_ARGS, POLITENESS_OFF, Site, SiteMirror, _kcn, serve  # noqa: E402

IDLE = ("-s", "KCN_WORKER_IDLE=3", "-s", "KCN_WORKER_TIMEOUT=5", "-s", "LOG_LEVEL=WARNING")


def redis_server(folder: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([shutil.which("redis-server"), "--port", str(port), "--bind", "127.0.0.1",
                             "--dir", str(folder), "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL)
    time.sleep(0.5)
    return proc, f"redis://127.0.0.1:{port}/0"


def settled(db: Path, urls: set[str]) -> int:
    """How many of the site's pages have an outcome in the archive so far."""
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            return sum(1 for (url,) in conn.execute("select url from seen_urls") if url in urls)
    except sqlite3.OperationalError:
        return 0


def timed(command: list[str], env: dict, db: Path, urls: set[str], log: Path) -> tuple[float, float]:
    """(seconds until every page is settled, total wall seconds) of one crawl command."""
    start = time.perf_counter()
    done_at = None
    with log.open("w") as out:
        proc = subprocess.Popen(command, env=env, cwd=db.parent.parent, stdout=out, stderr=subprocess.STDOUT)
        while proc.poll() is None:
            if done_at is None and settled(db, urls) >= len(urls):
                done_at = time.perf_counter() - start
            time.sleep(0.2)
    if proc.returncode != 0:
        sys.exit(f"{command[1]} failed (exit {proc.returncode}):\n{log.read_text()[-3000:]}")
    total = time.perf_counter() - start
    return done_at or total, total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=600)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("-s", "--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args(argv)
    if not shutil.which("redis-server"):
        sys.exit("redis-server not found: apt-get install redis-server")
    site = Site(args.pages)
    urls = {spec.url for spec in site.specs}
    sets = [arg for o in args.overrides for arg in ("-s", o)]
    crawl_args = [*OUTLET_ARGS, *POLITENESS_OFF, *sets]
    print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}; {len(site)} pages; {args.overrides}")
    work = Path(tempfile.mkdtemp(prefix="kcn-dist-bench-"))
    server, url = redis_server(work)
    try:
        with SiteMirror(site) as mirror:
            serve(mirror)
            env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
            env.update(mirror.proxy_env())
            runs = [("local kcn crawl", ["crawl", *crawl_args, "-s", "LOG_LEVEL=WARNING"])] + [
                (f"{n} worker{'s' * (n > 1)} + writer",
                 ["archive-writer", "--redis", url, "--idle", "3", "--worker-timeout", "5", "--seed",
                  "--workers", str(n), "--", *crawl_args, *IDLE]) for n in args.workers]
            for label, command in runs:
                folder = work / label.replace(" ", "-")
                db = folder / "data" / "archive.db"
                db.parent.mkdir(parents=True)
                done, total = timed([*_kcn(), *command], {**env, "KCN_DB": str(db)}, db, urls,
                                    folder / "log.txt")
                print(f"{label:<22} all {len(site)} pages settled in {done:6.1f} s = "
                      f"{len(site) / done:5.1f} pages/s (process wall time {total:.1f} s)")
    finally:
        server.terminate()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
