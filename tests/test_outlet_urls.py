"""Every outlet's URL rules, checked against real URLs of that outlet.

tests/fixtures/urls/<outlet>.txt holds real URLs of one outlet, copied by hand from where they
were seen (public code and stored page copies; each file's ``#`` lines say where): plain lines
are article URLs, ``- `` lines are the same outlet's non-article URLs (sections, tags, videos,
feeds, media). Only URLs go in these files, never page text. A file is evidence for an outlet
whose pages are not captured in tests/fixtures/pages, so such an outlet stays ``unverified``
in its ``checked`` field; the file makes a shape change in its regex show up as a failure.
"""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from crawler.registry import OUTLETS_DIR, load_outlets, outlet_for_url

FIXTURES = Path(__file__).parent / "fixtures"
URL_FILES = sorted((FIXTURES / "urls").glob("*.txt"))
OUTLETS = load_outlets()
PAGE_NAME = re.compile(r"(?:tests/fixtures/pages/)?([a-z0-9_]+\.html)")


def _urls(path: Path) -> tuple[list[str], list[str]]:
    """(article URLs, non-article URLs) of a fixture file."""
    articles, others = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("- "):
            others.append(line[2:].strip())
        else:
            articles.append(line)
    return articles, others


def _captured_pages(checked: str) -> list[Path]:
    pages = [FIXTURES / "pages" / name for name in PAGE_NAME.findall(checked)]
    return [p for p in pages if p.exists()]


def test_registry_covers_the_outlets_that_publish_zone_news():
    assert len(OUTLETS) >= 26
    assert len(list(OUTLETS_DIR.glob("*.toml"))) == len(OUTLETS)


def test_every_url_file_is_for_a_known_outlet_and_well_formed():
    assert URL_FILES
    for path in URL_FILES:
        assert path.stem in OUTLETS, f"{path.name}: no outlet named {path.stem!r}"
        articles, others = _urls(path)
        assert articles, f"{path.name}: no article URL"
        for url in articles + others:
            parts = urlsplit(url)
            assert parts.scheme in ("http", "https") and parts.hostname, f"{path.name}: {url!r}"
            assert " " not in url, f"{path.name}: {url!r}"
        assert len(set(articles + others)) == len(articles + others), f"{path.name}: duplicate"


@pytest.mark.parametrize("path", URL_FILES, ids=lambda p: p.stem)
def test_article_url_matches_every_article_and_no_other_url(path):
    outlet = OUTLETS[path.stem]
    articles, others = _urls(path)
    for url in articles:
        assert outlet.owns(url), f"{outlet.name}: {url} is not on {outlet.domains}"
        assert outlet.is_article(url), f"{outlet.name}: article not matched: {url}"
        assert outlet_for_url(url, OUTLETS) is outlet, url
    for url in others:
        assert not outlet.is_article(url), f"{outlet.name}: non-article matched: {url}"


@pytest.mark.parametrize("path", URL_FILES, ids=lambda p: p.stem)
def test_no_other_outlet_claims_these_urls(path):
    articles, others = _urls(path)
    for url in articles + others:
        claimed = [o.name for o in OUTLETS.values() if o.name != path.stem and o.is_article(url)]
        assert not claimed, f"{url} also matched by {claimed}"


@pytest.mark.parametrize("name", sorted(OUTLETS))
def test_start_urls_are_owned_and_not_articles(name):
    outlet = OUTLETS[name]
    assert outlet.feeds or outlet.sitemaps or outlet.listings, name
    assert 1 <= outlet.max_pages <= 10, name
    assert len(set(outlet.start_urls())) == len(outlet.start_urls()), f"{name}: duplicate start URL"
    for url in outlet.start_urls():
        assert outlet.owns(url), url
        assert outlet_for_url(url, OUTLETS) is outlet, url
        assert not outlet.is_article(url), url
    for listing in outlet.listings:
        for page in (2, 3):
            paged = listing.page_url(page)
            assert outlet.owns(paged) and not outlet.is_article(paged), paged


@pytest.mark.parametrize("name", sorted(OUTLETS))
def test_every_outlet_is_verified_or_says_why_not(name):
    """A captured page, or a URL fixture, or an honest ``unverified: <reason>``."""
    outlet = OUTLETS[name]
    url_file = FIXTURES / "urls" / f"{name}.txt"
    if outlet.verified:
        assert _captured_pages(outlet.checked), f"{name}: verified but names no captured page"
        return
    reason = outlet.checked.split(":", 1)[1].strip() if ":" in outlet.checked else ""
    assert len(reason) >= 20, f"{name}: 'unverified' without a reason"
    assert re.search(r"\d{4}-\d{2}", outlet.checked), f"{name}: 'checked' says not when"
    if url_file.exists():  # the evidence is named where a reader looks for it
        assert f"tests/fixtures/urls/{name}.txt" in outlet.checked, name
