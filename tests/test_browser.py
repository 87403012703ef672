"""End to end in headless Chromium: a user searches "khu cong nghiep" and reads an article.

Skipped when /usr/bin/chromium is missing (Debian: apt-get install chromium).
Run alone: python -m pytest tests/test_browser.py
"""
from __future__ import annotations

import html
import os
import subprocess
import tempfile
import urllib.parse
from pathlib import Path

import pytest

from tests.test_browse import THANG_LONG_URL, Server, _articles, _build, _free_port

CHROMIUM = Path(os.environ.get("KCN_CHROMIUM", "/usr/bin/chromium"))
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason=f"{CHROMIUM} missing: apt-get install chromium to run the browser test")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--disable-dev-shm-usage", "--hide-scrollbars"]


def chromium(*args: str) -> str:
    """One fresh headless Chromium per call (its own profile), returning stdout."""
    with tempfile.TemporaryDirectory(prefix="kcn-chromium-") as profile:
        result = subprocess.run([str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *args],
                                capture_output=True, text=True, timeout=90)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    db = tmp_path_factory.mktemp("browser") / "data" / "archive.db"
    _build(db)
    srv = Server(db, _free_port())
    srv.db = db
    yield srv
    srv.stop()


def test_search_page_finds_articles_without_accents(server):
    form = chromium("--dump-dom", f"{server.base}/archive/articles")
    # The search box is a GET form on the table: submitting it requests ?_search=...
    assert 'action="/archive/articles"' in form and 'name="_search"' in form
    dom = chromium("--dump-dom", f"{server.base}/archive/articles?"
                   + urllib.parse.urlencode({"_search": "khu cong nghiep"}))
    titles = [a["title"] for a in _articles(server.db)
              if "khu công nghiệp" in f"{a['title']} {a['text']}".lower()]
    assert len(titles) >= 3
    text = html.unescape(dom)
    for title in titles:
        assert title in text
    assert 'value="khu cong nghiep"' in dom  # the query stays in the box


def test_article_page_screenshot(server):
    article = next(a for a in _articles(server.db) if a["url"] == THANG_LONG_URL)
    shot = Path(os.environ.get("KCN_SCREENSHOT", tempfile.gettempdir())) / "kcn-article.png"
    shot.unlink(missing_ok=True)
    chromium(f"--screenshot={shot}", "--window-size=1280,1600",
             f"{server.base}/archive/articles/{article['id']}")
    assert shot.exists() and shot.stat().st_size > 10_000
