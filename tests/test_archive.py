"""The archive API on real SQLite files: rows, text files, versions, outcomes."""
from __future__ import annotations

import sqlite3

import pytest

from archive import db as archive_db
from archive.db import Archive
from archive.texts import content_hash, normalize_text

ARTICLE = {"url": "https://vnexpress.net/kcn-thang-long-5047001.html", "outlet": "vnexpress",
           "title": "KCN Thăng Long mở rộng", "text": "Khu công nghiệp Thăng Long.\n\nĐoạn hai."}


def test_normalized_text_hash_ignores_whitespace_and_unicode_form():
    decomposed = "Khu co\u0302ng nghie\u0323\u0302p"  # NFD
    assert normalize_text("  Khu  công\n nghiệp ") == "Khu công nghiệp"
    assert content_hash(decomposed) == content_hash("Khu công   nghiệp")


def test_add_article_writes_row_and_text_file(tmp_path):
    with Archive(tmp_path / "archive.db") as archive:
        stored = archive.add_article(ARTICLE)
        row = archive.article(stored.id)
    assert stored.filename == f"{stored.id:03d}_{stored.content_hash[:16]}.txt"
    assert (tmp_path / "texts" / stored.filename).read_text(encoding="utf-8") == (
        "KCN Thăng Long mở rộng\n\nKhu công nghiệp Thăng Long.\n\nĐoạn hai.\n")
    assert row["url_key"] == "https://vnexpress.net/kcn-thang-long-5047001.html"
    assert not list((tmp_path / "texts").glob(".*.tmp"))


def test_url_variants_are_one_key(tmp_path):
    with Archive(tmp_path / "archive.db") as archive:
        archive.add_article(ARTICLE)
        variant = "http://www.vnexpress.net/kcn-thang-long-5047001.html?utm_source=fb#top"
        assert archive.article_by_url(variant)["title"] == ARTICLE["title"]
        assert not archive.needs_fetch(variant)


def test_failed_file_write_leaves_no_row(tmp_path, monkeypatch):
    def broken(path, content, **options):
        raise OSError("disk full")

    monkeypatch.setattr(archive_db, "write_atomically", broken)
    with Archive(tmp_path / "archive.db") as archive:
        with pytest.raises(OSError):
            archive.add_article(ARTICLE)
        assert archive.db["articles"].count == 0
        assert archive.seen_status(ARTICLE["url"]) is None


def test_changed_text_keeps_the_old_one_as_a_version(tmp_path):
    with Archive(tmp_path / "archive.db") as archive:
        first = archive.add_article(ARTICLE)
        second = archive.update_article(first.id, {**ARTICLE, "text": ARTICLE["text"] + "\n\nĐính chính."})
        versions = list(archive.db["versions"].rows)
        row = archive.article(first.id)
    assert second.id == first.id and second.filename != first.filename
    assert row["text"].endswith("Đính chính.")
    assert [v["text"] for v in versions] == [ARTICLE["text"]]
    assert not (tmp_path / "texts" / first.filename).exists()
    assert (tmp_path / "texts" / second.filename).exists()


def test_outcomes_are_remembered_with_reasons(tmp_path):
    url = "https://cafef.vn/gia-vang-188260307071033787.chn"
    with Archive(tmp_path / "archive.db") as archive:
        archive.record_seen(url, "cafef", "failed", "HTTP 503", http_status=503)
        assert archive.needs_fetch(url)  # a failure is retried next time
        archive.record_seen(url, "cafef", "not_relevant", "score 0.0: no zone terms")
        assert not archive.needs_fetch(url)
        row = archive.db["seen_urls"].get(archive_db.normalize_url(url))
    assert row["reason"] == "score 0.0: no zone terms" and row["first_seen"] <= row["last_fetched"]


def test_readonly_archive_refuses_writes(tmp_path):
    path = tmp_path / "archive.db"
    Archive(path).close()
    with Archive(path, readonly=True) as archive:
        with pytest.raises(sqlite3.OperationalError):
            archive.add_article(ARTICLE)


def test_recent_articles_are_revisited_for_edits(tmp_path):
    with Archive(tmp_path / "archive.db") as archive:
        old = archive.add_article({**ARTICLE, "published": "2023-12-20T16:34:00+07:00"})
        fresh_url = "https://vnexpress.net/kcn-moi-5047002.html"
        archive.add_article({**ARTICLE, "url": fresh_url, "text": "Khu công nghiệp mới.",
                             "published": archive_db.utc_now()[:10]})
        assert not archive.needs_fetch(ARTICLE["url"], revisit_days=2)
        assert not archive.needs_fetch(fresh_url, revisit_days=2)  # just checked
        archive.db.execute("update articles set last_checked = '2000-01-01T00:00:00+00:00'")
        assert archive.needs_fetch(fresh_url, revisit_days=2)
        assert not archive.needs_fetch(fresh_url, revisit_days=0)
        assert not archive.needs_fetch(ARTICLE["url"], revisit_days=2) and old.id



def test_seen_url_keeps_first_seen_and_warc_pointer_when_fetched_without_one(tmp_path):
    url = "https://cafef.vn/gia-vang-188260307071033787.chn"
    with Archive(tmp_path / "archive.db") as archive:
        archive.record_seen(url, "cafef", "failed", "HTTP 503", http_status=503,
                            warc=archive_db.WarcPointer("a.warc.gz", 42))
        first = archive.db["seen_urls"].get(archive_db.normalize_url(url))
        archive.record_seen(url, "cafef", "not_relevant", "score 0.0")
        row = archive.db["seen_urls"].get(archive_db.normalize_url(url))
    assert (row["warc_file"], row["warc_offset"], row["first_seen"]) == ("a.warc.gz", 42, first["first_seen"])
    assert (row["status"], row["http_status"]) == ("not_relevant", None)


def test_touching_a_missing_article_fails_and_writes_nothing(tmp_path):
    with Archive(tmp_path / "archive.db") as archive:
        with pytest.raises(archive_db.NotFoundError):
            archive.touch_article(99, ARTICLE["url"], "vnexpress")
        assert archive.seen_status(ARTICLE["url"]) is None


def test_normalize_text_collapses_every_unicode_whitespace():
    assert normalize_text("\u2003 Khu\u00a0\u3000công\r\n\tnghiệp\u2028") == "Khu công nghiệp"
