"""Finding article URLs: pure parsers for listing pages, RSS/Atom feeds and sitemaps.

No Scrapy engine and no network here, so the generic spider, ``kcn`` commands and tests all
share one implementation and it can be tested on saved pages.
"""
from __future__ import annotations

import gzip
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin

from lxml import etree, html as lxml_html

from crawler.registry import Outlet
from crawler.urls import strip_tracking

# Query parameters that only track the click; dropping them makes one article one URL.
# Outlets print local time; a date without a zone is Vietnam time.
VIETNAM = timezone(timedelta(hours=7))


class DiscoveryError(ValueError):
    """A feed or sitemap body that cannot be read; the message says why."""


@dataclass(frozen=True)
class FeedEntry:
    url: str
    title: str
    published: datetime | None  # timezone-aware


@dataclass(frozen=True)
class SitemapEntry:
    url: str
    lastmod: datetime | None  # timezone-aware


def _unique(urls) -> list[str]:
    seen: dict[str, None] = {}
    for url in urls:
        seen.setdefault(url, None)
    return list(seen)


def listing_article_links(html: str | bytes, page_url: str, outlet: Outlet) -> list[str]:
    """Article URLs linked from a listing/tag/home page, in page order, each once.

    Links are resolved against ``page_url`` (or the page's ``<base href>``); only URLs the
    outlet's ``article_url`` accepts are kept, so menus, tags and videos fall away.
    """
    if not html or not html.strip():
        return []
    doc = lxml_html.fromstring(html)
    base = urljoin(page_url, (doc.xpath("string(//base/@href)") or "").strip())
    urls = (strip_tracking(urljoin(base, href.strip())) for href in doc.xpath("//a/@href"))
    return _unique(u for u in urls if outlet.is_article(u))


def _parse_xml(body: bytes, what: str) -> etree._Element:
    """The XML root of ``body`` (gunzipped if need be); DiscoveryError when it is not XML."""
    if body[:2] == b"\x1f\x8b":
        try:
            body = gzip.decompress(body)
        except (OSError, EOFError) as exc:
            raise DiscoveryError(f"{what}: bad gzip body: {exc}") from exc
    parser = etree.XMLParser(resolve_entities=False, no_network=True, recover=False,
                             huge_tree=True)
    try:
        root = etree.fromstring(body.strip(), parser=parser)
    except etree.XMLSyntaxError as exc:
        raise DiscoveryError(f"{what}: not valid XML: {exc}") from exc
    if root is None:
        raise DiscoveryError(f"{what}: empty body")
    return root


def _local(tag) -> str:
    return etree.QName(tag).localname.lower() if isinstance(tag, str) else ""


def _children(element, name: str) -> list:
    return [child for child in element if _local(child.tag) == name]


def _text(element, name: str) -> str:
    found = _children(element, name)
    return "".join(found[0].itertext()).strip() if found else ""


def parse_date(text: str) -> datetime | None:
    """An aware datetime from RFC 822 (RSS) or ISO 8601 (Atom, sitemaps); None if unreadable.

    A date without a zone is taken as Vietnam time (UTC+7), which is what these outlets mean.
    """
    text = (text or "").strip()
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            value = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=VIETNAM)
    return value


def _rss_entry(item) -> FeedEntry:
    url = _text(item, "link") or _text(item, "guid")
    published = _text(item, "pubdate") or _text(item, "date") or _text(item, "updated")
    return FeedEntry(url.strip(), _text(item, "title"), parse_date(published))


def _atom_entry(entry) -> FeedEntry:
    links = _children(entry, "link")
    alternate = [l for l in links if l.get("rel", "alternate") == "alternate"] or links
    url = alternate[0].get("href", "") if alternate else ""
    published = _text(entry, "published") or _text(entry, "updated")
    return FeedEntry(url.strip(), _text(entry, "title"), parse_date(published))


def feed_entries(body: bytes, outlet: Outlet) -> list[FeedEntry]:
    """The entries of an RSS 2.0 or Atom feed that link to ``outlet`` (others are dropped).

    Feeds often carry partner or advertising links; keeping only the outlet's own URLs
    stops the spider wandering off-site.
    """
    root = _parse_xml(body, "feed")
    kind = _local(root.tag)
    if kind == "rss" or kind == "rdf":
        items = [i for i in root.iter() if _local(i.tag) == "item"]
        entries = [_rss_entry(i) for i in items]
    elif kind == "feed":
        entries = [_atom_entry(e) for e in _children(root, "entry")]
    else:
        raise DiscoveryError(f"feed: root element <{kind}> is neither RSS nor Atom")
    kept = [FeedEntry(strip_tracking(e.url), e.title, e.published) for e in entries if e.url]
    return [e for e in kept if outlet.owns(e.url)]


def sitemap_entries(body: bytes) -> tuple[list[SitemapEntry], list[str]]:
    """(page entries of a ``urlset``, child sitemap URLs of a ``sitemapindex``).

    ``lastmod`` falls back to Google News' ``publication_date``, which news sitemaps fill
    instead.
    """
    root = _parse_xml(body, "sitemap")
    kind = _local(root.tag)
    if kind == "sitemapindex":
        children = (_text(s, "loc") for s in _children(root, "sitemap"))
        return [], _unique(c for c in children if c)
    if kind != "urlset":
        raise DiscoveryError(f"sitemap: root element <{kind}> is neither urlset nor sitemapindex")
    entries = []
    for url in _children(root, "url"):
        loc = _text(url, "loc")
        if loc:
            entries.append(SitemapEntry(loc, parse_date(_text(url, "lastmod") or _news_date(url))))
    return entries, []


def _news_date(url) -> str:
    for element in url.iter():
        if _local(element.tag) == "publication_date":
            return (element.text or "").strip()
    return ""
