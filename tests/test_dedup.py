"""One story, one record: URL variants, syndicated copies, edited articles."""
from __future__ import annotations

import pytest

from archive.db import Archive
from crawler.registry import load_outlets
from crawler.urls import normalize_url
from tests.conftest import FAST
from tests.site import serve_site

VNEXPRESS_FEED = load_outlets()["vnexpress"].feeds[0]


@pytest.mark.parametrize("variant", [
    "http://vnexpress.net/a-5047621.html",
    "https://www.vnexpress.net/a-5047621.html",
    "https://m.vnexpress.net/a-5047621.html",
    "https://VNEXPRESS.net:443/a-5047621.html#box-comment",
    "https://vnexpress.net/a-5047621.html?utm_source=facebook&utm_medium=social&fbclid=x1",
    "https://vnexpress.net/a-5047621.html/amp",
])
def test_url_variants_normalise_to_one_key(variant):
    assert normalize_url(variant) == "https://vnexpress.net/a-5047621.html"


def test_meaningful_query_parameters_are_kept():
    assert normalize_url("https://baoquocte.vn/search?q=kcn&utm_campaign=x") == "https://baoquocte.vn/search?q=kcn"


def _zone_article(served):
    return next(a for a in served if a.outlet == "vnexpress" and a.about_zones)


def _feed(urls: list[str]) -> str:
    items = "".join(f"<item><title>t</title><link>{u}</link></item>" for u in urls)
    return f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>f</title>{items}</channel></rss>'


def test_same_page_under_five_url_variants_is_one_article(mirror, kcn, tmp_path):
    story = _zone_article(serve_site(mirror))
    html = mirror.body(story.url)
    variants = [story.url.replace("https://", "http://"), story.url.replace("://", "://www."),
                story.url + "?utm_source=zalo&utm_medium=share", story.url + "#comments",
                story.url.replace("://", "://m.")]
    for url in variants:
        mirror.add(url, html)
    mirror.add(VNEXPRESS_FEED, _feed([story.url, *variants]), content_type="application/rss+xml")
    result = kcn("crawl", "--outlet", "vnexpress", *FAST, mirror=mirror)
    assert result.returncode == 0, result.stderr[-2000:]
    fetched = [r.url for r in mirror.requests if "5047621" in r.url]
    assert len(fetched) == 1  # the crawl asked for the story once, whatever the spelling
    for url in variants:  # and a user re-fetching any variant by hand changes nothing
        assert kcn("recrawl", url, *FAST, mirror=mirror).returncode == 0
    with Archive(tmp_path / "data" / "archive.db") as archive:
        rows = [r for r in archive.db["articles"].rows if r["title"] == story.title]
        assert len(rows) == 1 and rows[0]["url"] == story.url
        assert archive.db["versions"].count == 0


def test_syndicated_copy_with_an_edit_is_grouped_not_merged(mirror, kcn, tmp_path):
    served = serve_site(mirror)
    copy = next(a for a in served if a.outlet == "baodautu" and a.about_zones)
    html = mirror.body(copy.url).decode("utf-8")
    edited = html.replace(copy.body[3], copy.body[3] + " Báo Đầu tư ghi nhận thêm ý kiến của doanh nghiệp.")
    assert edited != html
    mirror.add(copy.url, edited)
    result = kcn("crawl", "--outlet", "vnexpress", "--outlet", "baodautu", *FAST, mirror=mirror)
    assert result.returncode == 0, result.stderr[-2000:]
    with Archive(tmp_path / "data" / "archive.db") as archive:
        copies = {r["outlet"]: r for r in archive.db["articles"].rows if r["title"] == copy.title}
        assert set(copies) == {"vnexpress", "baodautu"}  # each outlet's copy kept as evidence
        assert copies["vnexpress"]["story_id"] == copies["baodautu"]["story_id"]
        later = max(copies.values(), key=lambda r: r["id"])
        earlier = min(copies.values(), key=lambda r: r["id"])
        assert later["near_duplicate_of"] == earlier["id"] and 0.8 <= later["similarity"] < 1
        story = archive.db["stories"].get(later["story_id"])
        assert story["articles"] == 2
        # The representative is the earliest-published copy (VnExpress 00:05 before Báo Đầu tư 08:47).
        assert story["representative_id"] == copies["vnexpress"]["id"]
        reason = archive.db.execute("select reason from seen_urls where article_id = ?", [later["id"]]).fetchone()[0]
        assert f"near-duplicate of article {earlier['id']}" in reason
        others = [r["story_id"] for r in archive.db["articles"].rows if r["title"] != copy.title]
        assert later["story_id"] not in others


def test_edited_article_keeps_two_versions_with_the_diff(mirror, kcn, tmp_path):
    story = _zone_article(serve_site(mirror))
    assert kcn("crawl", "--outlet", "vnexpress", *FAST, mirror=mirror).returncode == 0
    html = mirror.body(story.url).decode("utf-8")
    correction = "Ban Quản lý các khu công nghiệp và chế xuất Hà Nội đính chính số liệu vốn đăng ký."
    mirror.add(story.url, html.replace(story.body[-1], story.body[-1] + "</p><p class=\"Normal\">" + correction))
    result = kcn("recrawl", story.url, *FAST, mirror=mirror)
    assert result.returncode == 0 and "1 updated" in result.stdout, result.stdout
    history = kcn("history", story.url)
    assert history.returncode == 0, history.stderr
    assert history.stdout.count("== ") == 2 and "== current" in history.stdout
    added = [line for line in history.stdout.splitlines() if line.startswith("+") and not line.startswith("+++")]
    removed = [line for line in history.stdout.splitlines() if line.startswith("-") and not line.startswith("---")]
    assert added == ["+", "+" + correction] and removed == []


def test_page_whose_canonical_differs_is_not_fetched_again(mirror, kcn, tmp_path):
    story = _zone_article(serve_site(mirror))
    canonical = "https://vnexpress.net/kcn-ha-noi-thu-hut-613-trieu-usd-5047999.html"
    mirror.add(story.url, mirror.body(story.url).decode("utf-8").replace(story.url, canonical))
    assert kcn("crawl", "--outlet", "vnexpress", *FAST, mirror=mirror).returncode == 0
    with Archive(tmp_path / "data" / "archive.db") as archive:
        assert archive.article_by_url(canonical)["title"] == story.title
        assert archive.seen_status(story.url) == "archived"
    mirror.reset_log()
    assert kcn("crawl", "--outlet", "vnexpress", *FAST, mirror=mirror).returncode == 0
    assert mirror.hits(story.url) == 0
