"""Crash safety with real processes: a real `kcn crawl` is killed with SIGKILL
at several points; the archive must stay consistent and the next crawl must
finish the work, every article archived exactly once."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path
from xml.sax.saxutils import escape

from archive.check import check_archive
from archive.lock import ArchiveLock
from archive.texts import render_text_file
from archive.warc import WarcPointer, WarcStore
from crawler.registry import load_outlets
from tests.conftest import FAST, _kcn_command
from tests.site import FIXTURES, serve_site

ZONE_PAGE = "vnexpress_kcn_hanoi_613"
BATCH = 22  # new articles per round: https://vnexpress.net/<slug>-50476NN.html, NN from 30
CANONICAL_ELSEWHERE = 10  # every 10th copy names another (same-site) URL as its canonical one
# When each round's crawl is killed: a WARC record being written before any row
# exists, then after 2 and 8 of the round's text files (a commit is in flight around each).
# The round's last copy stalls meanwhile, so the crawl cannot end before the kill however
# fast it archives the others (a kill point seen late would otherwise hit a closed run).
KILL_POINTS = [("first raw page", 0), ("2 text files", 2), ("8 text files", 8)]
CRASH_LEFTOVERS = {"orphan_text", "stray_tmp", "warc_truncated", "run_stale"}
CRAWL_ARGS = ("crawl", "--outlet", "vnexpress", *FAST)


def copy_url(n: int) -> str:
    return f"https://vnexpress.net/cac-kcn-ha-noi-thu-hut-von-dau-tu-ban-{n}-50476{n:02d}.html"


def canonical_url(n: int) -> str:
    """Where copy ``n`` says it lives: its own URL, or for a few another one."""
    if n % CANONICAL_ELSEWHERE:
        return copy_url(n)
    return f"https://vnexpress.net/ban-goc-kcn-ha-noi-{n}-50476{n:02d}.html"


def sentence(n: int) -> str:
    return f"Bản tin bổ sung số {n}: khu công nghiệp thứ {n} đón nhà đầu tư mới."


def _copy_page(html: str, made: dict, n: int) -> str:
    """The composed zone page moved to copy ``n``'s URL, with one sentence of its own."""
    last = made["body"][-1] + "</p>"
    assert last in html
    extra = f'<p class="Normal">{sentence(n)}</p>'
    return html.replace(made["url"], canonical_url(n)).replace(last, last + extra, 1)


def _feed(urls: list[str]) -> str:
    items = "".join(f"<item><title>Bản tin {i}</title><link>{escape(u)}</link></item>"
                    for i, u in enumerate(urls))
    return ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Kinh doanh'
            f"</title><link>https://vnexpress.net/kinh-doanh</link>{items}</channel></rss>")


def serve_copies(mirror, copies: range, stalled: int | None = None) -> None:
    """Copies of the composed zone article, all listed in the vnexpress feed; copy
    ``stalled`` answers nothing (the mirror's stall) until served again."""
    made = json.loads((FIXTURES / "composed" / f"{ZONE_PAGE}.json").read_text(encoding="utf-8"))
    html = (FIXTURES / "composed" / f"{ZONE_PAGE}.html").read_text(encoding="utf-8")
    for n in copies:
        mirror.add(copy_url(n), _copy_page(html, made, n), fault="stall" if n == stalled else None)
    feed = load_outlets()["vnexpress"].feeds[0]
    mirror.add(feed, _feed([copy_url(n) for n in range(30, copies.stop)]),
               content_type="application/rss+xml")


# --- running and killing crawls ---------------------------------------------------

def _env(mirror, db: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    return {**env, **mirror.proxy_env(), "KCN_DB": str(db)}


def _progress(data: Path) -> tuple[int, int]:
    """(text files, WARC bytes): what a crawl has written so far, committed or not."""
    texts = sum(1 for _ in (data / "texts").glob("*.txt")) if (data / "texts").is_dir() else 0
    warc = sum(f.stat().st_size for f in (data / "warc").glob("*.warc.gz")) if (data / "warc").is_dir() else 0
    return texts, warc


def crawl_and_kill(mirror, db: Path, new_texts: int, log: Path) -> None:
    """Start `kcn crawl`, SIGKILL it once it wrote ``new_texts`` text files (0: its
    first WARC bytes), then kill what it left (extraction workers)."""
    texts, warc = _progress(db.parent)
    with log.open("w") as out:
        proc = subprocess.Popen([*_kcn_command(), *CRAWL_ARGS], env=_env(mirror, db), cwd=db.parent.parent,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while proc.poll() is None and time.monotonic() < deadline:
            now_texts, now_warc = _progress(db.parent)
            if (now_texts >= texts + new_texts) if new_texts else now_warc > warc:
                os.kill(proc.pid, signal.SIGKILL)
                break
            time.sleep(0.01)
    finally:
        _kill_group(proc, db)
    assert proc.returncode == -signal.SIGKILL, f"ended before the kill point:\n{log.read_text()[-3000:]}"


def _kill_group(proc: subprocess.Popen, db: Path) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=60)
    _wait_until_lock_free(db)


def _wait_until_lock_free(db: Path) -> None:
    """The crawl's own children (forkserver, workers) are killed too but not reaped here: one
    caught between fork and exec holds a copy of the lock until it is gone. The lock must
    come free, soon (ArchiveLocked after 30 s)."""
    with ArchiveLock(db, wait=30):
        pass


def crawl(mirror, db: Path, log: Path) -> subprocess.CompletedProcess:
    with log.open("w") as out:
        return subprocess.run([*_kcn_command(), *CRAWL_ARGS], env=_env(mirror, db), cwd=db.parent.parent,
                              stdout=out, stderr=subprocess.STDOUT, timeout=600, check=False)


# --- what must hold -----------------------------------------------------------------

def _rows(db: Path, sql: str, *params) -> list[dict]:
    conn = sqlite3.connect(db, timeout=60)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql, params)]
    finally:
        conn.close()


def assert_committed_rows_whole(db: Path) -> None:
    """Straight after a kill, before any repair: every committed row is whole."""
    assert _rows(db, "PRAGMA integrity_check") == [{"integrity_check": "ok"}]
    store = WarcStore(db.parent / "warc")
    for row in _rows(db, "select * from articles"):
        file = db.parent / "texts" / row["filename"]
        assert file.read_text(encoding="utf-8") == render_text_file(row["title"], row["text"])
        page = store.read(WarcPointer(row["warc_file"], row["warc_offset"]))
        assert page.status == 200 and row["url"].encode() in page.body
    for row in _rows(db, "select * from seen_urls where warc_file is not null"):
        store.read(WarcPointer(row["warc_file"], row["warc_offset"]))
    assert not _rows(db, "select * from seen_urls where status = 'archived'"
                         " and article_id not in (select id from articles)")


def assert_repaired(db: Path) -> None:
    """Only what a crash may leave is found; after repair no text file is unaccounted for."""
    found = check_archive(db)
    kinds = {p.kind for p in found.problems}
    assert kinds <= CRASH_LEFTOVERS and "run_stale" in kinds, found.problems
    assert check_archive(db, repair=True).clean
    assert check_archive(db).clean
    files = {p.name for p in (db.parent / "texts").glob("*.txt")}
    assert files == {r["filename"] for r in _rows(db, "select filename from articles")}
    assert _rows(db, "select status, finish_reason from crawl_runs order by id desc limit 1") == [
        {"status": "failed", "finish_reason": "interrupted"}]


def assert_archived_once(db: Path, copies: range) -> None:
    """Every copy served so far is archived exactly once, under its URL, with its own text."""
    articles = {r["url"]: r for r in _rows(db, "select url, text from articles")}
    assert len(articles) == len(copies) + 1  # + the composed article of serve_site
    for n in copies:
        assert sentence(n) in articles[canonical_url(n)]["text"], n
    assert len({r["content_hash"] for r in _rows(db, "select content_hash from articles")}) == len(articles)
    assert not _rows(db, "select * from seen_urls where status = 'failed'")
    assert check_archive(db).clean


def test_killed_crawls_lose_nothing(mirror, tmp_path):
    """Three rounds on one archive: new articles appear in the feed, a crawl is
    killed at the round's kill point, the archive is checked (and the leftovers
    repaired), then the next crawl must archive every article exactly once."""
    serve_site(mirror)
    db = tmp_path / "data" / "archive.db"
    db.parent.mkdir(parents=True)
    for round_, (label, new_texts) in enumerate(KILL_POINTS):
        copies = range(30, 30 + BATCH * (round_ + 1))
        serve_copies(mirror, copies[-BATCH:], stalled=copies[-1])
        crawl_and_kill(mirror, db, new_texts, tmp_path / f"killed-{round_}.log")
        serve_copies(mirror, copies[-1:])
        assert_committed_rows_whole(db)
        assert_repaired(db)
        result = crawl(mirror, db, tmp_path / f"resumed-{round_}.log")
        assert result.returncode == 0, (label, (tmp_path / f"resumed-{round_}.log").read_text()[-3000:])
        assert_archived_once(db, copies)
