"""`kcn check`: a crawled archive checks clean; each kind of damage a crash (or a
careless hand) leaves is reported, and --repair fixes it without touching a row's text."""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from archive.check import ArchiveBusy, check_archive
from archive.lock import ArchiveLock
from archive.stories import signature, to_blob
from archive.warc import RawPage, WarcStore
from scheduler.maintenance import check
from tests.conftest import FAST, _kcn_command
from tests.mirror import Mirror
from tests.site import SITE, serve_site

OUTLET_ARGS = [arg for name in SITE for arg in ("--outlet", name)]
ORPHAN = "999_0123456789abcdef.txt"


@pytest.fixture(scope="module")
def crawled(tmp_path_factory) -> Path:
    """One real crawl of the mirrored site; each test damages its own copy."""
    root = tmp_path_factory.mktemp("crawled")
    with Mirror() as mirror:
        serve_site(mirror)
        env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
        env.update(mirror.proxy_env(), KCN_DB=str(root / "data" / "archive.db"))
        result = subprocess.run([*_kcn_command(), "crawl", *OUTLET_ARGS, *FAST], env=env, cwd=root,
                                capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return root / "data"


@pytest.fixture
def db(crawled, tmp_path) -> Path:
    shutil.copytree(crawled, tmp_path / "data")
    return tmp_path / "data" / "archive.db"


def _rows(db: Path, sql: str, *params) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def _execute(db: Path, sql: str, *params) -> None:
    conn = sqlite3.connect(db)
    with conn:
        conn.execute(sql, params)
    conn.close()


def _texts(db: Path) -> list[tuple]:
    return _rows(db, "select id, title, text, content_hash, filename from articles order by id")


def _text_file(db: Path, article_id: int = 1) -> Path:
    return db.parent / "texts" / _rows(db, "select filename from articles where id = ?", article_id)[0][0]


def _warc_file(db: Path) -> Path:
    return db.parent / "warc" / _rows(db, "select warc_file from articles order by id desc")[0][0]


def _half_member(tmp: Path) -> bytes:
    """The first half of a real gzip-per-record WARC record: a kill mid-append."""
    store = WarcStore(tmp / "scratch")
    pointer = store.append(RawPage("https://vnexpress.net/x-5047600.html", 200, [], b"<html>x</html>" * 50))
    record = (tmp / "scratch" / pointer.file).read_bytes()
    return record[: len(record) // 2]


# --- the damages ----------------------------------------------------------------------

def delete_text(db):
    _text_file(db).unlink()


def edit_text(db):
    with _text_file(db, 2).open("a", encoding="utf-8") as handle:
        handle.write("Một đoạn ai đó thêm vào.\n")


def empty_text(db):
    """What a power cut can leave of a text file written shortly before: the archive does not
    fsync them (the row is the truth), so the name may survive without the data."""
    _text_file(db, 2).write_bytes(b"")


def add_orphan_and_tmp(db):
    (db.parent / "texts" / ORPHAN).write_text("Tiêu đề\n\nNội dung\n", encoding="utf-8")
    (db.parent / "texts" / ".tmpk3j_x1.tmp").write_text("Tiêu đề\n\nNội du", encoding="utf-8")
    (db.parent / ".tmp8w2_qa.tmp").write_bytes(b"\x80\x04")  # an unfinished save of the former minhash.lsh


def cut_warc_tail(db):
    with _warc_file(db).open("ab") as handle:
        handle.write(_half_member(db.parent.parent))


def delete_minhash(db):
    """Its band rows stay behind: strays until the signature is back."""
    _execute(db, "delete from minhashes where article_id = 2")


def delete_bands(db):
    _execute(db, "delete from minhash_bands where article_id = 3")


def drop_bands(db):
    """An archive from before the band table."""
    _execute(db, "drop table minhash_bands")
    _execute(db, "drop table minhash_banding")


def leave_running_run(db):
    _execute(db, "insert into crawl_runs (started_at, trigger, status, outlets)"
                 " values ('2026-01-01T00:00:00+00:00', 'manual', 'running', '[]')")


DAMAGES = [
    (delete_text, {"text_missing"}),
    (edit_text, {"text_mismatch"}),
    (empty_text, {"text_mismatch"}),
    (add_orphan_and_tmp, {"orphan_text", "stray_tmp"}),
    (cut_warc_tail, {"warc_truncated"}),
    (delete_minhash, {"minhash_missing", "minhash_bands"}),
    (delete_bands, {"minhash_bands"}),
    (drop_bands, {"minhash_bands"}),
    (leave_running_run, {"run_stale"}),
]


def test_crawled_archive_checks_clean(db):
    report = check_archive(db)
    assert report.clean, report.problems
    assert report.counts["articles"] == 3 and report.counts["text_files"] == 3
    assert report.counts["warc_records_checked"] >= 3
    result = CliRunner().invoke(check, ["--db", str(db)])
    assert result.exit_code == 0 and result.output.strip().endswith("clean"), result.output


@pytest.mark.parametrize("damage, kinds", DAMAGES, ids=[d.__name__ for d, _ in DAMAGES])
def test_damage_is_reported_and_repaired(db, damage, kinds):
    before, warc_size = _texts(db), _warc_file(db).stat().st_size
    damage(db)
    found = check_archive(db)
    assert {p.kind for p in found.problems} == kinds, found.problems
    assert all(p.repairable for p in found.problems)
    repaired = check_archive(db, repair=True)
    assert repaired.clean and all(p.repaired for p in repaired.problems)
    assert check_archive(db).clean
    assert _texts(db) == before  # rows are the truth: repair never changes them
    assert _warc_file(db).stat().st_size == warc_size
    for article_id, title, text, _, filename in before:
        assert (db.parent / "texts" / filename).read_text(encoding="utf-8") == f"{title}\n\n{text}\n"


def test_repair_details(db):
    """Orphans are kept aside, temp files go, signatures and runs are restored."""
    for damage, _ in DAMAGES:
        damage(db)
    assert check_archive(db, repair=True).clean
    texts = db.parent / "texts"
    assert (texts / "orphans" / ORPHAN).read_text(encoding="utf-8").startswith("Tiêu đề")
    assert not list(texts.glob(".*.tmp")) and not list(db.parent.glob(".*.tmp"))
    text = _rows(db, "select text from articles where id = 2")[0][0]
    assert _rows(db, "select signature from minhashes where article_id = 2")[0][0] == to_blob(signature(text))
    run = _rows(db, "select status, finish_reason, finished_at from crawl_runs order by id desc limit 1")[0]
    assert run[:2] == ("failed", "interrupted") and run[2]


def test_cli_reports_then_repairs(db):
    delete_text(db)
    add_orphan_and_tmp(db)
    runner = CliRunner()
    found = runner.invoke(check, ["--db", str(db)])
    assert found.exit_code == 1
    assert "text_missing" in found.output and "orphan_text" in found.output and "--repair" in found.output
    fixed = runner.invoke(check, ["--db", str(db), "--repair", "--format", "json"])
    assert fixed.exit_code == 0, fixed.output
    data = json.loads(fixed.output)
    assert data["clean"]
    assert {p["kind"] for p in data["problems"]} == {"text_missing", "orphan_text", "stray_tmp"}
    assert runner.invoke(check, ["--db", str(db)]).exit_code == 0
    assert "--repair" in runner.invoke(check, ["--help"]).output


def test_missing_archive_is_an_error(tmp_path):
    result = CliRunner().invoke(check, ["--db", str(tmp_path / "none.db")])
    assert result.exit_code == 1 and "no archive" in result.output


def test_what_rows_point_at_is_never_cut(db):
    """A WARC record a row points at, broken: reported, not repairable, left alone."""
    warc = _warc_file(db)
    offset = _rows(db, "select max(warc_offset) from articles where warc_file = ?", warc.name)[0][0]
    with warc.open("r+b") as handle:
        handle.truncate(offset + 100)
    report = check_archive(db, repair=True)
    kinds = {p.kind: p for p in report.problems}
    assert {"warc_unreadable", "warc_truncated"} <= set(kinds)
    assert not any(p.repaired for p in report.problems if p.kind.startswith("warc"))
    assert warc.stat().st_size == offset + 100
    assert CliRunner().invoke(check, ["--db", str(db), "--repair"]).exit_code == 1


def test_row_inconsistencies_are_reported_not_repaired(db):
    _execute(db, "update articles set content_hash = ? where id = 3", "0" * 64)
    kinds = {p.kind for p in check_archive(db, repair=True).remaining}
    assert kinds == {"hash_mismatch", "filename_mismatch"}


def test_repair_is_refused_while_a_crawl_holds_the_archive(db):
    leave_running_run(db)
    with ArchiveLock(db):
        report = check_archive(db)  # the run may be live: not judged
        assert report.clean and report.notes
        with pytest.raises(ArchiveBusy, match="not repairing"):
            check_archive(db, repair=True)
        result = CliRunner().invoke(check, ["--db", str(db), "--repair"])
        assert result.exit_code == 1 and "in use" in result.output
    assert {p.kind for p in check_archive(db).problems} == {"run_stale"}
