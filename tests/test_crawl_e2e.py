"""End to end: the real `kcn crawl` (real Scrapy engine, production spider and
pipelines) crawls a loopback mirror of real outlet pages into a real archive."""
from __future__ import annotations

import re
import sqlite3

import pytest

from crawler.registry import load_outlets
from pipelines.extract import NO_ZONE_TERM
from tests.conftest import FAST
from tests.site import SITE, serve_site

OUTLET_ARGS = [arg for name in SITE for arg in ("--outlet", name)]


def _article_requests(mirror) -> list[str]:
    outlets = load_outlets().values()
    return [r.url for r in mirror.requests if any(o.is_article(r.url) for o in outlets)]


def _rows(db, sql, *params):
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql, params)]
    finally:
        conn.close()


@pytest.fixture
def first_crawl(mirror, kcn, tmp_path):
    served = serve_site(mirror)
    result = kcn("crawl", *OUTLET_ARGS, *FAST, mirror=mirror)
    return served, result, tmp_path / "data" / "archive.db"


def test_crawl_archives_zone_articles_under_original_urls(first_crawl, mirror):
    served, result, db = first_crawl
    assert result.returncode == 0, result.stderr[-3000:]
    zone_stories = {a.title: a for a in served if a.about_zones}
    articles = _rows(db, "select * from articles order by id")
    # Three distinct stories; the syndicated copy of one of them is not stored twice.
    assert sorted(a["title"] for a in articles) == sorted(zone_stories)
    for row in articles:
        story = zone_stories[row["title"]]
        assert row["url"].startswith("https://") and "127.0.0.1" not in row["url"]
        assert row["url"] in {a.url for a in served if a.title == row["title"]}
        assert row["text"].startswith(story.body[0])
        for paragraph in story.body:
            assert paragraph in row["text"]
        assert row["published"].endswith("+07:00")
        assert row["relevance"] > 0


def test_crawl_writes_legacy_text_files(first_crawl):
    _, _, db = first_crawl
    for row in _rows(db, "select * from articles"):
        assert re.fullmatch(r"\d{3,}_[0-9a-f]{16}\.txt", row["filename"])
        assert row["filename"].endswith(row["content_hash"][:16] + ".txt")
        content = (db.parent / "texts" / row["filename"]).read_text(encoding="utf-8")
        assert content == f"{row['title']}\n\n{row['text']}\n"
    assert len(list((db.parent / "texts").glob("*.txt"))) == 3


def test_crawl_remembers_every_fetched_url_with_its_outcome(first_crawl, mirror):
    served, result, db = first_crawl
    seen = {r["url"]: r for r in _rows(db, "select * from seen_urls")}
    for article in served:
        if not article.about_zones:
            assert seen[article.url]["status"] == "not_relevant", article.url
    reasons = [seen[a.url]["reason"] for a in served if not a.about_zones]
    assert len(reasons) == 4 and all(r.startswith("relevance 0.0 <") for r in reasons), reasons  # scored
    duplicates = [r for r in seen.values() if r["status"] == "duplicate"]
    assert len(duplicates) == 1 and "same text as article" in duplicates[0]["reason"]
    gone = [r for r in seen.values() if r["status"] == "gone"]
    assert gone and all(r["http_status"] == 404 for r in gone)
    # Every article page the crawl fetched has an outcome recorded.
    assert set(_article_requests(mirror)) <= set(seen)
    summary = result.stdout.strip().splitlines()[-1]
    assert "3 new" in summary and "1 duplicate" in summary and "4 not relevant" in summary
    run = _rows(db, "select * from crawl_runs")[-1]
    assert (run["status"], run["new"], run["duplicate"], run["not_relevant"]) == ("ok", 3, 1, 4)


def test_second_crawl_adds_nothing_and_fetches_no_article_again(first_crawl, mirror, kcn):
    _, _, db = first_crawl
    before = _rows(db, "select id, content_hash from articles order by id")
    mirror.reset_log()
    again = kcn("crawl", *OUTLET_ARGS, *FAST, mirror=mirror)
    assert again.returncode == 0, again.stderr[-3000:]
    assert _article_requests(mirror) == []
    assert any(r.url.endswith("/kinh-doanh") for r in mirror.requests)  # listings were read
    assert _rows(db, "select id, content_hash from articles order by id") == before
    assert "0 new" in again.stdout


def test_fresh_extraction_workers_lose_no_page(mirror, kcn, tmp_path):
    """Replacing the worker pool after every page (KCN_EXTRACT_PAGES_PER_POOL=1) archives
    exactly what one pool does: the pages a retiring pool holds are finished, not dropped."""
    served = serve_site(mirror)
    result = kcn("crawl", *OUTLET_ARGS, *FAST, "-s", "KCN_EXTRACT_PAGES_PER_POOL=1", mirror=mirror)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "fresh workers take over" in result.stderr
    db = tmp_path / "data" / "archive.db"
    run = _rows(db, "select * from crawl_runs")[-1]
    assert (run["status"], run["new"], run["duplicate"], run["not_relevant"], run["failed"]) == ("ok", 3, 1, 4, 0)
    titles = sorted(r["title"] for r in _rows(db, "select title from articles"))
    assert titles == sorted({a.title for a in served if a.about_zones})  # a syndicated copy shares a title


def test_zone_gate_records_pages_without_zone_terms_unextracted(mirror, kcn, tmp_path):
    """With KCN_ZONE_GATE on, the captured non-zone articles (no zone term anywhere on them)
    are not relevant without being extracted; the zone articles are archived as without it."""
    served = serve_site(mirror)
    result = kcn("crawl", *OUTLET_ARGS, *FAST, "-s", "KCN_ZONE_GATE=True", mirror=mirror)
    assert result.returncode == 0, result.stderr[-3000:]
    db = tmp_path / "data" / "archive.db"
    seen = {r["url"]: r for r in _rows(db, "select * from seen_urls")}
    assert {seen[a.url]["reason"] for a in served if not a.about_zones} == {NO_ZONE_TERM}
    titles = sorted(r["title"] for r in _rows(db, "select title from articles"))
    assert titles == sorted({a.title for a in served if a.about_zones})
