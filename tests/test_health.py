"""Outlet health: per-outlet ledger rows, and flags for outlets that silently break."""
from __future__ import annotations

import json
import re
import sqlite3

from crawler.health import judge
from crawler.registry import load_outlets
from tests.conftest import FAST
from tests.site import FIXTURES, SITE, serve_site

VNEXPRESS = load_outlets()["vnexpress"]
OUTLET_ARGS = [arg for name in SITE for arg in ("--outlet", name)]


def _row(**counts) -> dict:
    base = {"listing_pages": 2, "article_links": 40, "articles_fetched": 10, "failed": 0, "gone": 0,
            "discovery_errors": 0, "failures": {}}
    return {**base, **counts}


def test_judge_explains_each_kind_of_breakage():
    assert judge(_row()) is None
    assert judge(_row(article_links=0)) == "discovery found no article links on 2 feed/listing page(s)"
    assert judge(_row(article_links=0, listing_pages=0)) == "no feed or listing page could be read"
    assert judge(_row(article_links=0, listing_pages=0, failures={"unreachable": 3})) == (
        "no feed or listing page could be read (unreachable ×3)")
    assert "empty for 7 of 10" in judge(_row(failures={"no_text": 7}, failed=7))
    assert "requests failed" in judge(_row(articles_fetched=1, failed=6, failures={"timeout": 6}))
    assert judge(_row(articles_fetched=2, failed=1, failures={"no_text": 1})) is None  # too few to judge
    assert "container (extraction body) was not found on 6 of 10" in judge(_row(container_missed=6))
    assert judge(_row(container_missed=4)) is None


def _rows(db, sql):
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql)]
    finally:
        conn.close()


def test_each_run_records_per_outlet_counts(mirror, kcn, tmp_path):
    serve_site(mirror)
    result = kcn("crawl", *OUTLET_ARGS, *FAST, mirror=mirror)
    assert result.returncode == 0 and "warning" not in result.stdout
    db = tmp_path / "data" / "archive.db"
    rows = {r["outlet"]: r for r in _rows(db, "select * from outlet_runs")}
    assert set(rows) == set(SITE)
    for outlet, row in rows.items():
        assert row["flag"] is None and row["listing_pages"] >= 1 and row["bytes"] > 10_000
        assert row["articles_fetched"] == 2  # the captured article and the composed zone one
        assert json.loads(row["http_errors"]).get("404", 0) >= 1  # links to pages not mirrored
    assert sum(r["new"] for r in rows.values()) == 3 and rows["vnexpress"]["not_relevant"] == 1
    health = kcn("health")
    assert health.returncode == 0 and re.search(r"vnexpress\s+1\s+\S+ \S+\s+ok", health.stdout)


def test_a_layout_change_is_flagged_with_its_reason(mirror, kcn, tmp_path):
    serve_site(mirror)
    assert kcn("crawl", "--outlet", "vnexpress", *FAST, mirror=mirror).returncode == 0
    listing = mirror.body(VNEXPRESS.listings[0].url).decode("utf-8")
    mirror.add(VNEXPRESS.listings[0].url, re.sub(r'href="[^"]*"', 'href="#"', listing))  # the redesign
    result = kcn("crawl", "--outlet", "vnexpress", *FAST, mirror=mirror)
    assert result.returncode == 0
    assert "warning: outlet vnexpress looks broken: discovery found no article links" in result.stdout
    assert "outlet vnexpress looks broken" in result.stderr  # and in the log
    health = kcn("health")
    assert health.returncode == 1
    line = next(line for line in health.stdout.splitlines() if line.startswith("vnexpress"))
    assert "discovery found no article links" in line and re.search(r"\d{4}-\d\d-\d\d", line)  # last good run
    runs = _rows(tmp_path / "data" / "archive.db", "select flagged from crawl_runs order by id")
    assert runs[0]["flagged"] == "{}" and "vnexpress" in json.loads(runs[1]["flagged"])


def test_extraction_coming_out_empty_is_flagged(mirror, kcn):
    empty = "<html><head><title>VnExpress</title></head><body><nav><a href='/'>Trang chủ</a></nav></body></html>"
    urls = [f"https://vnexpress.net/trang-trong-{n}-50480{n:02d}.html" for n in range(5)]
    for url in urls:
        mirror.add(url, empty)
    items = "".join(f"<item><title>t</title><link>{u}</link></item>" for u in urls)
    mirror.add(VNEXPRESS.feeds[0], f'<?xml version="1.0"?><rss version="2.0"><channel>{items}</channel></rss>',
               content_type="application/rss+xml")
    result = kcn("crawl", "--outlet", "vnexpress", *FAST, mirror=mirror)
    assert "extraction came out empty for 5 of 5 pages" in result.stdout


def test_a_renamed_article_container_is_flagged_and_the_pages_still_extracted(mirror, kcn, tmp_path):
    """A redesign that renames the container an outlet declares costs no article (the page is
    extracted whole), but the declaration is stale: the outlet is flagged so it gets updated."""
    captured = (FIXTURES / "pages" / "vnexpress_2026_energy.html").read_text(encoding="utf-8")
    redesigned = captured.replace("fck_detail", "noi-dung-bai")
    urls = [f"https://vnexpress.net/nang-luong-trung-dong-{n}-50490{n:02d}.html" for n in range(5)]
    for n, url in enumerate(urls):
        mirror.add(url, redesigned.replace("Cách các nước", f"Cách {n} nước"))
    items = "".join(f"<item><title>t</title><link>{u}</link></item>" for u in urls)
    mirror.add(VNEXPRESS.feeds[0], f'<?xml version="1.0"?><rss version="2.0"><channel>{items}</channel></rss>',
               content_type="application/rss+xml")
    result = kcn("crawl", "--outlet", "vnexpress", *FAST, mirror=mirror)
    assert "container (extraction body) was not found on 5 of 5 pages" in result.stdout
    row = _rows(tmp_path / "data" / "archive.db", "select * from outlet_runs")[0]
    assert (row["container_missed"], row["articles_fetched"], row["failed"]) == (5, 5, 0)
