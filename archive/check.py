"""Verify an archive (after a crash, a full disk, a copy) and repair what is safe.

The rows are the truth: a text file is rewritten from its row, never the other
way round; article rows and WARC records a row points at are never deleted.
What a killed crawl can leave behind, and what ``repair`` does about it:

* a text file written but its row never committed (``orphan_text``): moved to
  ``texts/orphans/``, not deleted, since a file no row names may still be
  someone's data (a hand-copied legacy file); moving it is reversible;
* a temp file of an unfinished atomic write (``stray_tmp``): deleted, it was
  never renamed into place so nothing names it and it may be incomplete;
* a WARC file ending inside a gzip member (``warc_truncated``): cut back to
  the end of its last complete record, when no row points at or past the cut;
* a run row left ``running`` (``run_stale``): marked failed, ``interrupted``;
* a missing or different text file, a missing MinHash row: rebuilt from the row;
* near-duplicate band rows not exactly those of the MinHash rows (``minhash_bands``),
  e.g. an archive from before them: rebuilt from the MinHash rows.

Repairs take the archive lock (``archive.lock``) so no live crawl is judged dead.
"""
from __future__ import annotations

import fcntl
import os
import shutil
import sqlite3
import zlib
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from itertools import groupby
from pathlib import Path

import sqlite_utils

from archive.stories import NearDuplicateIndex, signature
from archive.texts import (
    content_hash,
    render_text_file,
    text_filename,
    write_atomically,
)
from archive.warc import WarcPointer, WarcStore
from crawler.urls import UnsupportedURL, normalize_url

ORPHANS = "orphans"  # texts/orphans/: where repair moves text files no row names
_CHUNK = 1 << 16


@dataclass
class Problem:
    kind: str         # e.g. text_missing, orphan_text, warc_truncated (see the module docstring)
    where: str        # a path relative to the archive's folder, or table#id
    detail: str
    repairable: bool  # safe to fix automatically
    repaired: bool = False


@dataclass
class Report:
    path: Path
    problems: list[Problem] = field(default_factory=list)
    counts: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, kind: str, where: str, detail: str, repairable: bool) -> None:
        self.problems.append(Problem(kind, where, detail, repairable))

    @property
    def remaining(self) -> list[Problem]:
        return [p for p in self.problems if not p.repaired]

    @property
    def clean(self) -> bool:
        """No problem left (none found, or all repaired)."""
        return not self.remaining

    def to_dict(self) -> dict:
        return {"archive": str(self.path), "clean": self.clean, "counts": self.counts,
                "notes": self.notes, "problems": [asdict(p) for p in self.problems]}


class ArchiveBusy(RuntimeError):
    """Repair refused: a crawl holds the archive."""


def check_archive(path: Path | str, repair: bool = False) -> Report:
    """Check the archive at ``path``; with ``repair``, fix what is safe (see the module doc)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no archive at {path}")
    with _lock(path, repair) as live:
        report = Report(path)
        if live:
            report.notes.append(f"a crawl holds the archive ({live}): files and runs in flight "
                                "were not judged (orphans, temp files, WARC tails, running runs)")
        db = sqlite_utils.Database(sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True))
        try:
            db.execute("PRAGMA busy_timeout = 30000")
            _check_all(db, path.parent, report, live=bool(live))
        finally:
            db.close()
        if repair:
            _repair(path, report)
    return report


def _check_all(db, folder: Path, report: Report, live: bool) -> None:
    _check_sqlite(db, report)
    named = _check_texts(db, folder / "texts", report)
    _check_warc(db, folder / "warc", report, live)
    _check_minhashes(db, report)
    _check_minhash_bands(db, report)
    if not live:
        _check_strays(folder, named, report)
        _check_runs(db, report)


# --- the lock ------------------------------------------------------------------

@contextmanager
def _lock(path: Path, repair: bool):
    """Repair: hold the archive lock (ArchiveBusy if a crawl has it). Check: yield
    who holds it ('' when nobody), so in-flight files are not called broken."""
    try:
        from archive.lock import ArchiveLock, ArchiveLocked, describe, lock_path
    except ImportError:  # an archive from before the lock existed
        yield ""
        return
    if not repair:
        yield _holder(lock_path(path), describe)
        return
    lock = ArchiveLock(path)
    try:
        lock.acquire()
    except ArchiveLocked as exc:
        raise ArchiveBusy(f"not repairing: {exc}") from exc
    try:
        yield ""
    finally:
        lock.release()


def _holder(lock_file: Path, describe) -> str:
    """Who holds the lock, read-only (a shared flock probe, never writing the file)."""
    try:
        fd = os.open(lock_file, os.O_RDONLY)
    except FileNotFoundError:
        return ""
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return ""
    except BlockingIOError:
        text = os.pread(fd, 4096, 0).decode("utf-8", "replace")
        return describe(dict(line.split("=", 1) for line in text.splitlines() if "=" in line))
    finally:
        os.close(fd)


# --- checks --------------------------------------------------------------------

def _check_sqlite(db, report: Report) -> None:
    rows = [r[0] for r in db.execute("PRAGMA integrity_check").fetchall()]
    if rows != ["ok"]:
        report.add("db_integrity", report.path.name, "; ".join(rows[:20]), False)
    for table, rowid, parent, _ in db.execute("PRAGMA foreign_key_check").fetchall():
        report.add("foreign_key", f"{table}#{rowid}", f"points at a missing {parent} row", False)


def _check_texts(db, texts: Path, report: Report) -> set[str]:
    """Each article's file exists and holds exactly its row; returns the names rows give."""
    named, count = set(), 0
    for row in db.query("select id, title, text, content_hash, filename from articles order by id"):
        count += 1
        where = f"articles#{row['id']}"
        if row["content_hash"] != content_hash(row["text"]):
            report.add("hash_mismatch", where, "content_hash is not the hash of the row's text", False)
        expected = text_filename(row["id"], row["content_hash"] or "")
        if row["filename"] != expected:
            report.add("filename_mismatch", where, f"filename {row['filename']!r}, expected {expected!r}",
                       False)
            named.add(row["filename"])
            continue
        named.add(expected)
        _check_text_file(texts / expected, row, report)
    report.counts["articles"] = count
    return named


def _check_text_file(file: Path, row: dict, report: Report) -> None:
    where = f"texts/{file.name}"
    try:
        content = file.read_bytes()
    except FileNotFoundError:
        report.add("text_missing", where, f"the text file of article {row['id']} is missing", True)
        return
    if content != render_text_file(row["title"], row["text"]).encode("utf-8"):
        report.add("text_mismatch", where, f"differs from article {row['id']}'s title and text", True)


def _check_strays(folder: Path, named: set[str], report: Report) -> None:
    """Files in texts/ no row names (a kill between file write and commit), and temp files."""
    texts = folder / "texts"
    files = sorted(p for p in texts.iterdir() if p.is_file()) if texts.is_dir() else []
    report.counts["text_files"] = len(files)
    for file in files:
        if _is_temp(file):
            report.add("stray_tmp", f"texts/{file.name}", "temp file of an unfinished write", True)
        elif file.name not in named:
            report.add("orphan_text", f"texts/{file.name}", "no article names this file", True)
    for file in sorted(folder.glob(".*.tmp")):  # e.g. an unfinished save of the former minhash.lsh
        report.add("stray_tmp", file.name, "temp file of an unfinished write", True)


def _is_temp(file: Path) -> bool:
    return file.name.startswith(".") and file.name.endswith(".tmp")


def _check_minhashes(db, report: Report) -> None:
    for (article_id,) in db.execute(
            "select id from articles where id not in (select article_id from minhashes) order by id"):
        report.add("minhash_missing", f"articles#{article_id}", "no near-duplicate signature", True)


def _check_minhash_bands(db, report: Report) -> None:
    mismatch = NearDuplicateIndex(db).mismatch()
    if mismatch:
        report.add("minhash_bands", "minhash_bands", mismatch, True)


def _check_runs(db, report: Report) -> None:
    """Nobody holds the lock, so a 'running' run's crawl is dead."""
    for run in db.query("select id, started_at from crawl_runs where status = 'running' order by id"):
        report.add("run_stale", f"crawl_runs#{run['id']}",
                   f"started {run['started_at']}, still 'running' but no crawl holds the archive", True)


# --- WARC --------------------------------------------------------------------------

_POINTERS = """
select 'articles#' || id as row, url, url as article_url, warc_file, warc_offset
  from articles where warc_file is not null
union all
select 'seen_urls:' || s.url, s.url, a.url, s.warc_file, s.warc_offset
  from seen_urls s left join articles a on a.id = s.article_id where s.warc_file is not null
order by warc_file, warc_offset
"""


def _check_warc(db, warc_dir: Path, report: Report, live: bool) -> None:
    """Every pointer reads back as the row's page; no file ends in a broken record."""
    store, furthest, read_ok, records = WarcStore(warc_dir), {}, {}, 0
    pointers = groupby(db.query(_POINTERS), key=lambda r: (r["warc_file"], r["warc_offset"]))
    for (name, offset), rows in pointers:
        records += 1
        furthest[name] = max(furthest.get(name, -1), offset)
        if _check_record(store, WarcPointer(name, offset), list(rows), report):
            read_ok[name] = max(read_ok.get(name, 0), offset)
    files = sorted(warc_dir.glob("*.warc.gz")) if warc_dir.is_dir() else []
    report.counts.update(warc_files=len(files), warc_records_checked=records)
    if live:
        return
    for file in files:
        broken = _broken_member(file, read_ok.get(file.name, 0))
        if broken:
            offset, why = broken
            safe = furthest.get(file.name, -1) < offset
            report.add("warc_truncated", f"warc/{file.name}@{offset}",
                       why + ("" if safe else "; a row points at it, so it is not cut"), safe)


def _check_record(store: WarcStore, pointer: WarcPointer, rows: list[dict], report: Report) -> bool:
    """Whether the record reads; a mismatch with its rows is reported."""
    where = f"warc/{pointer.file}@{pointer.offset}"
    try:
        page = store.read(pointer)
    except Exception as exc:  # noqa: BLE001 - missing file, bad offset, broken gzip: all unreadable
        for row in rows:
            report.add("warc_unreadable", row["row"], f"{where}: {type(exc).__name__}: {exc}", False)
        return False
    for row in rows:
        if not _same_page(page, row["url"], row["article_url"]):
            report.add("warc_url_mismatch", row["row"], f"{where} holds {page.url}", False)
    return True


def _same_page(page, *urls: str | None) -> bool:
    """The record is the row's page: same URL, or (canonical URL differing from the
    fetched one) the page names the row's URL."""
    urls = [u for u in urls if u]
    return any(_key(u) == _key(page.url) for u in urls) or any(u.encode() in page.body for u in urls)


def _key(url: str) -> str:
    try:
        return normalize_url(url)
    except UnsupportedURL:
        return url


def _broken_member(file: Path, start: int) -> tuple[int, str] | None:
    """(offset, why) of the first gzip member from ``start`` on that does not decompress
    to its end (a kill mid-append), or None. ``start``: a record read fine via its pointer,
    so a whole file is not inflated on every check."""
    with file.open("rb") as handle:
        handle.seek(start)
        buf, pos, member, inflater = b"", start, start, None
        while True:
            if not buf:
                buf = handle.read(_CHUNK)
                if not buf:
                    return None if inflater is None else (member, "file ends inside a gzip member")
            if inflater is None:
                inflater, member = zlib.decompressobj(wbits=31), pos
            try:
                inflater.decompress(buf)
            except zlib.error as exc:
                return member, f"broken gzip member ({exc})"
            if inflater.eof:
                pos += len(buf) - len(inflater.unused_data)
                buf, inflater = inflater.unused_data, None
            else:
                pos, buf = pos + len(buf), b""


# --- repair ------------------------------------------------------------------------

def _repair(path: Path, report: Report) -> None:
    """Apply the safe fixes, marking each problem repaired."""
    from archive.db import Archive  # the writer; imported late to keep checks light

    fixes = {"text_missing": _rewrite_text, "text_mismatch": _rewrite_text, "orphan_text": _move_orphan,
             "stray_tmp": _delete_temp, "warc_truncated": _cut_warc,
             "minhash_missing": _add_minhash, "minhash_bands": _rebuild_bands, "run_stale": _fail_run}
    todo = [p for p in report.problems if p.repairable and p.kind in fixes]
    if not todo:
        return
    with Archive(path) as archive:
        for problem in todo:
            fixes[problem.kind](archive, problem)
            problem.repaired = True


def _row_id(problem: Problem) -> int:
    return int(problem.where.rsplit("#", 1)[1])


def _rewrite_text(archive, problem: Problem) -> None:
    """The row is the truth: write its text file again (atomically)."""
    name = problem.where.split("/", 1)[1]
    article_id = int(name.split("_", 1)[0])
    row = archive.article(article_id)
    write_atomically(archive.texts_dir / name, render_text_file(row["title"], row["text"]))


def _move_orphan(archive, problem: Problem) -> None:
    source = archive.path.parent / problem.where
    target_dir = archive.texts_dir / ORPHANS
    target_dir.mkdir(exist_ok=True)
    target, n = target_dir / source.name, 1
    while target.exists():
        target, n = target_dir / f"{source.stem}.{n}{source.suffix}", n + 1
    shutil.move(source, target)
    problem.detail += f"; moved to texts/{ORPHANS}/{target.name}"


def _delete_temp(archive, problem: Problem) -> None:
    (archive.path.parent / problem.where).unlink(missing_ok=True)


def _cut_warc(archive, problem: Problem) -> None:
    """Cut the file back to the end of its last complete record."""
    name, offset = problem.where.rsplit("@", 1)
    with (archive.path.parent / name).open("r+b") as handle:
        handle.truncate(int(offset))
        handle.flush()
        os.fsync(handle.fileno())


def _add_minhash(archive, problem: Problem) -> None:
    article_id = _row_id(problem)
    archive.near.add(article_id, signature(archive.article(article_id)["text"]))  # with its band rows


def _rebuild_bands(archive, problem: Problem) -> None:
    archive.near.rebuild()


def _fail_run(archive, problem: Problem) -> None:
    from archive.db import utc_now

    with archive.db.atomic():
        archive.db.execute(
            "update crawl_runs set status = 'failed', finish_reason = 'interrupted',"
            " finished_at = coalesce(finished_at, ?) where id = ? and status = 'running'",
            [utc_now(), _row_id(problem)])
