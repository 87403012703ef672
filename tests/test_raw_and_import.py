"""Raw pages in WARC, re-extraction from them, recrawl by hand, legacy import."""
from __future__ import annotations

import gzip
import sqlite3

from click.testing import CliRunner

from archive.db import Archive
from archive.warc import RawPage, WarcStore
from scheduler.cli import main
from tests.conftest import FAST
from tests.site import FIXTURES, page, serve_site

SEEDS = FIXTURES / "seeds"


def test_warc_store_round_trips_and_rotates(tmp_path):
    store = WarcStore(tmp_path / "warc", max_bytes=1)  # every record opens a new file
    body = page("vnexpress_2026_energy")
    first = store.append(RawPage("https://vnexpress.net/a-5047363.html", 200,
                                 [("Content-Type", "text/html; charset=utf-8"), ("Content-Encoding", "gzip")], body))
    second = store.append(RawPage("https://vnexpress.net/b-5047364.html", 404, [], b"gone"))
    assert first.file != second.file
    raw = store.read(first)
    assert (raw.url, raw.status, raw.body) == ("https://vnexpress.net/a-5047363.html", 200, body)
    assert ("Content-Encoding", "gzip") not in raw.headers  # the body is stored decoded
    with gzip.open(tmp_path / "warc" / first.file) as handle:
        assert b"WARC/1" in handle.read(200)


def test_crawled_articles_point_at_readable_warc_records(mirror, kcn, tmp_path):
    serve_site(mirror)
    assert kcn("crawl", "--outlet", "vnexpress", *FAST, mirror=mirror).returncode == 0
    with Archive(tmp_path / "data" / "archive.db") as archive:
        rows = list(archive.db["articles"].rows)
        assert rows
        for row in rows:
            raw = archive.raw_page(row)
            assert raw.url == row["url"] and raw.status == 200
            assert "khu công nghiệp".encode() in raw.body
        not_relevant = archive.db.execute(
            "select * from seen_urls where status = 'not_relevant'").fetchall()
        assert not_relevant and all(r[-2] for r in not_relevant)  # warc_file kept for those too


def test_reextract_updates_only_changed_texts(mirror, kcn, tmp_path):
    serve_site(mirror)
    assert kcn("crawl", "--outlet", "vnexpress", *FAST, mirror=mirror).returncode == 0
    db = tmp_path / "data" / "archive.db"
    unchanged = CliRunner().invoke(main, ["reextract", "--db", str(db)])
    assert unchanged.exit_code == 0 and "1 unchanged" in unchanged.output
    # Simulate an article stored by an older, worse cleaner.
    conn = sqlite3.connect(db)
    conn.execute("update articles set text = text || '\n\nTin liên quan', content_hash = 'old'")
    conn.commit()
    conn.close()
    result = CliRunner().invoke(main, ["reextract", "--db", str(db)])
    assert result.exit_code == 0 and "1 changed" in result.output
    with Archive(db) as archive:
        row = next(archive.db["articles"].rows)
        assert not row["text"].endswith("Tin liên quan")
        assert [v["content_hash"] for v in archive.db["versions"].rows] == ["old"]


def test_recrawl_archives_one_url_even_if_not_relevant(mirror, kcn, tmp_path):
    served = serve_site(mirror)
    target = next(a for a in served if not a.about_zones)
    result = kcn("recrawl", target.url, *FAST, mirror=mirror)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "1 new" in result.stdout
    assert mirror.hits(target.url) == 1 and len([r for r in mirror.requests if r.status == 200]) == 1
    with Archive(tmp_path / "data" / "archive.db") as archive:
        row = archive.article_by_url(target.url)
        run = archive.runs(1)[0]
    assert row["source"] == "recrawl" and row["title"] == target.title
    assert row["relevance"] < 4  # recorded, not used to skip
    assert run["trigger"] == "recrawl"


def test_import_cleans_legacy_files_once(tmp_path):
    db = tmp_path / "archive.db"
    first = CliRunner().invoke(main, ["import", str(SEEDS), "--db", str(db)])
    second = CliRunner().invoke(main, ["import", str(SEEDS), "--db", str(db)])
    assert first.exit_code == 0 and "5 imported" in first.output
    assert second.exit_code == 0 and "5 already imported" in second.output
    with Archive(db) as archive:
        rows = {r["provenance"]: r for r in archive.db["articles"].rows}
    assert set(rows) == {p.name for p in SEEDS.glob("*.txt")}
    hanoi = rows["001_4639de4832d03e1b.txt"]
    assert hanoi["title"].startswith("Hà Nội đối thoại")
    assert hanoi["published"] == "2024-04-05T12:06:00+07:00"
    for junk in ("POWERED BY", "Đừng bỏ lỡ", "z5317926814019", "Bài liên quan"):
        assert junk not in hanoi["text"]
    text_file = (tmp_path / "texts" / hanoi["filename"]).read_text(encoding="utf-8")
    assert text_file.startswith(hanoi["title"] + "\n\n")
