"""The `kcn` commands a user types, through click's runner (fast) or a real process."""
from __future__ import annotations

import json

from click.testing import CliRunner

from archive.db import Archive
from scheduler.cli import main
from tests.site import FIXTURES


def invoke(*args: str, input: bytes | None = None):
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def test_help_lists_every_command():
    result = invoke("--help")
    for command in ("crawl", "recrawl", "extract", "outlets", "stats"):
        assert command in result.output


def test_outlets_lists_registry_with_unverified_marks():
    table = invoke("outlets").output
    assert "vnexpress" in table and "https://vnexpress.net/kinh-doanh" in table
    assert "[unverified]" in table
    listed = json.loads(invoke("outlets", "--format", "json").output)
    assert {"vnexpress", "cafef", "heza", "nguoihanoi"} <= {o["name"] for o in listed}


def test_extract_prints_the_archived_fields(tmp_path):
    page = FIXTURES / "pages" / "vnexpress_2026_energy.html"
    gold = json.loads((FIXTURES / "gold" / "vnexpress_2026_energy.json").read_text(encoding="utf-8"))
    result = invoke("extract", str(page), "--url", gold["url"])
    data = json.loads(result.output)
    assert {"url", "title", "lead", "author", "published", "tags", "text"} <= set(data)
    assert data["title"] == gold["title"]
    assert data["text"].split("\n\n")[0] == gold["lead"]


def test_extract_reads_stdin_and_prints_text():
    html = (FIXTURES / "pages" / "vnexpress_2026_energy.html").read_bytes()
    result = invoke("extract", "-", "--format", "text", input=html)
    title, blank, first = result.output.split("\n")[:3]
    assert title.startswith("Cách các nước") and blank == "" and first.startswith("Trung Quốc")


def test_extract_refuses_empty_input():
    result = CliRunner().invoke(main, ["extract", "-"], input=b"")
    assert result.exit_code != 0 and "empty" in result.output


def test_crawl_rejects_unknown_outlet_before_fetching_anything(tmp_path):
    result = CliRunner().invoke(main, ["crawl", "--outlet", "nosuch", "--db", str(tmp_path / "a.db")])
    assert result.exit_code == 2
    assert "unknown outlet" in result.output and "vnexpress" in result.output
    assert not (tmp_path / "a.db").exists()


def test_recrawl_rejects_non_http_urls(tmp_path):
    for bad in ("file:///etc/passwd", "ftp://vnexpress.net/a", "vnexpress.net/a"):
        result = CliRunner().invoke(main, ["recrawl", bad, "--db", str(tmp_path / "a.db")])
        assert result.exit_code == 2 and "http" in result.output


def test_stats_on_missing_archive_says_so(tmp_path):
    result = CliRunner().invoke(main, ["stats", "--db", str(tmp_path / "none.db")])
    assert result.exit_code == 1 and "no archive" in result.output


def test_stats_counts_articles_per_outlet(tmp_path):
    db = tmp_path / "archive.db"
    with Archive(db) as archive:
        archive.add_article({"url": "https://vnexpress.net/a-1234567.html", "outlet": "vnexpress",
                             "title": "KCN", "text": "Khu công nghiệp A."})
        archive.add_article({"url": "https://cafef.vn/b-188260307071033787.chn", "outlet": "cafef",
                             "title": "KKT", "text": "Khu kinh tế B."})
    output = invoke("stats", "--db", str(db)).output
    assert "articles: 2" in output and "vnexpress" in output and "archived 2" in output


def test_relevance_explains_its_decision():
    text = "Hà Nội đối thoại với doanh nghiệp tại khu, cụm công nghiệp\nCác KCN Thăng Long, Nội Bài thu hút vốn."
    data = json.loads(invoke("relevance", "-", "--format", "json", input=text.encode()).output)
    assert data["relevant"] is True and data["score"] >= 4 and data["terms"]
    negative = "Giá vàng hôm nay tăng mạnh\nThị trường vàng biến động theo giá thế giới."
    out = invoke("relevance", "-", input=negative.encode()).output
    assert out.startswith("not relevant (score 0.0)")
    accent_free = "khu cong nghiep Thang Long mo rong\nKhu cong nghiep duoc dau tu them."
    assert json.loads(invoke("relevance", "-", "--format", "json", input=accent_free.encode()).output)["relevant"]
