"""Backfill: `kcn crawl --since DATE` walks back to a date and can be stopped and resumed."""
from __future__ import annotations

from archive.db import Archive
from crawler.registry import load_outlets
from tests.conftest import FAST
from tests.site import serve_site

VNEXPRESS = load_outlets()["vnexpress"]
OLD = ["https://vnexpress.net/kcn-cu-nam-2022-4500001.html", "https://vnexpress.net/kcn-cu-nam-2022-4500002.html"]


def _feed(items: list[tuple[str, str]]) -> str:
    body = "".join(f"<item><title>t</title><link>{url}</link><pubDate>{when}</pubDate></item>"
                   for url, when in items)
    return f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>f</title>{body}</channel></rss>'


def _serve_feed(mirror) -> list[str]:
    served = [a.url for a in serve_site(mirror) if a.outlet == "vnexpress"]
    items = [(url, "Sat, 07 Mar 2026 08:00:00 +0700") for url in served]
    items += [(url, "Mon, 05 Dec 2022 09:00:00 +0700") for url in OLD]
    mirror.add(VNEXPRESS.feeds[0], _feed(items), content_type="application/rss+xml; charset=utf-8")
    return served


def test_since_skips_articles_published_before_the_date(mirror, kcn, tmp_path):
    served = _serve_feed(mirror)
    result = kcn("crawl", "--outlet", "vnexpress", "--since", "2023-01-01", *FAST, mirror=mirror)
    assert result.returncode == 0, result.stderr[-2000:]
    assert all(mirror.hits(url) == 0 for url in OLD)
    assert all(mirror.hits(url) == 1 for url in served)
    assert "resumable" in result.stderr


def test_since_rejects_a_malformed_date(kcn):
    result = kcn("crawl", "--since", "23/01/2023")
    assert result.returncode == 2 and "%Y-%m-%d" in result.stderr


def test_stopped_backfill_resumes_without_refetching(mirror, kcn, tmp_path):
    _serve_feed(mirror)
    jobdir = tmp_path / "job"
    args = ("crawl", "--outlet", "vnexpress", "--since", "2023-01-01", "--jobdir", str(jobdir), *FAST)
    # A stop after a few pages, as Ctrl-C or a time limit would cause.
    kcn(*args, "-s", "CLOSESPIDER_PAGECOUNT=3", "-s", "CONCURRENT_REQUESTS=1", mirror=mirror)
    first = [r.url for r in mirror.requests if VNEXPRESS.is_article(r.url)]
    assert (jobdir / "requests.seen").exists()
    mirror.reset_log()
    resumed = kcn(*args, mirror=mirror)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    second = [r.url for r in mirror.requests if VNEXPRESS.is_article(r.url)]
    assert not set(first) & set(second)  # nothing fetched twice
    assert mirror.requests and VNEXPRESS.feeds[0] not in [r.url for r in mirror.requests]
    with Archive(tmp_path / "data" / "archive.db") as archive:
        titles = [r["title"] for r in archive.db["articles"].rows]
    assert any("khu công nghiệp" in t for t in titles)
