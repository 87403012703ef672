"""The one generic spider: the outlet registry tells it where to look.

Discovery (feeds, sitemaps, listing pages with paging) yields article URLs;
URLs the archive has already settled are not fetched again; article pages
become items for the pipelines (extract -> relevance -> dedup -> store).
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from urllib.parse import urlsplit

import scrapy
from scrapy import signals
from scrapy.http import TextResponse
from scrapy.spidermiddlewares.httperror import HttpError

from archive.db import BLOCKED, DUPLICATE, FAILED, GONE
from archive.warc import RawPage
from crawler.discovery import (
    DiscoveryError,
    feed_entries,
    listing_article_links,
    sitemap_entries,
)
from crawler.failures import failure_cause
from crawler.registry import (
    Listing,
    Outlet,
    load_outlets,
    outlet_for_url,
    select_outlets,
)
from crawler.session import CrawlSession
from crawler.urls import normalize_url

MAX_SITEMAP_DEPTH = 2
# Content types an article page may come with ("" when the server sends none).
HTML_TYPES = ("text/html", "application/xhtml+xml", "text/plain", "")


class OutletSpider(scrapy.Spider):
    name = "outlets"

    def __init__(self, outlets: str = "", url: str | None = None,
                 max_articles: int | str = 0, since: str | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.registry = load_outlets()
        self.recrawl_url = url
        names = [n for n in outlets.split(",") if n] if isinstance(outlets, str) else list(outlets)
        self.selected = [] if url else select_outlets(names, self.registry)
        self.outlet_names = [o.name for o in self.selected] if not url else [self._recrawl_outlet()]
        self.max_articles = int(max_articles or 0)
        self.since = date.fromisoformat(since) if since else None
        self.scheduled = 0

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.session = CrawlSession.of(crawler)
        spider.max_articles = spider.max_articles or crawler.settings.getint("KCN_MAX_ARTICLES")
        spider.revisit_days = crawler.settings.getint("KCN_REVISIT_DAYS")
        spider.backfill_max_pages = crawler.settings.getint("KCN_BACKFILL_MAX_PAGES")
        crawler.signals.connect(spider.request_dropped, signal=signals.request_dropped)
        return spider

    def _recrawl_outlet(self) -> str:
        outlet = outlet_for_url(self.recrawl_url, self.registry)
        return outlet.name if outlet else (urlsplit(self.recrawl_url).hostname or "")

    async def start(self):
        if self.recrawl_url:
            yield self._article_request(self.recrawl_url, self.outlet_names[0], forced=True)
            return
        for outlet in self.selected:
            for url in outlet.feeds:
                yield scrapy.Request(url, self.parse_feed, cb_kwargs={"outlet": outlet},
                                     errback=self.discovery_failed)
            for url in outlet.sitemaps:
                yield scrapy.Request(url, self.parse_sitemap, cb_kwargs={"outlet": outlet, "depth": 0},
                                     errback=self.discovery_failed)
            for listing in outlet.listings:
                yield self._listing_request(outlet, listing, 1)

    # --- discovery -------------------------------------------------------

    def _listing_request(self, outlet: Outlet, listing: Listing, page: int) -> scrapy.Request:
        return scrapy.Request(listing.page_url(page), self.parse_listing, errback=self.discovery_failed,
                              cb_kwargs={"outlet": outlet, "listing": listing, "page": page})

    def parse_feed(self, response, outlet: Outlet):
        self.session.count("listing_pages", outlet=outlet.name)
        try:
            urls = [e.url for e in feed_entries(response.body, outlet) if self._in_range(e.published)]
        except DiscoveryError as exc:
            self._discovery_error(response.url, outlet, f"feed unreadable: {exc}", "bad_feed")
            return
        yield from self._article_requests(urls, outlet)

    def parse_sitemap(self, response, outlet: Outlet, depth: int):
        self.session.count("listing_pages", outlet=outlet.name)
        try:
            entries, children = sitemap_entries(response.body)
        except DiscoveryError as exc:
            self._discovery_error(response.url, outlet, f"sitemap unreadable: {exc}", "bad_sitemap")
            return
        if depth < MAX_SITEMAP_DEPTH:
            for child in children:
                yield scrapy.Request(child, self.parse_sitemap, errback=self.discovery_failed,
                                     cb_kwargs={"outlet": outlet, "depth": depth + 1})
        yield from self._article_requests(
            [e.url for e in entries if outlet.is_article(e.url) and self._in_range(e.lastmod)], outlet)

    def parse_listing(self, response, outlet: Outlet, listing: Listing, page: int):
        self.session.count("listing_pages", outlet=outlet.name)
        if not isinstance(response, TextResponse):
            self._discovery_error(response.url, outlet, "listing page is not text", "bad_listing")
            return
        urls = listing_article_links(response.text, response.url, outlet)
        requests = list(self._article_requests(urls, outlet))
        yield from requests
        if listing.paging and not self._budget_spent() and self._page_on(outlet, urls, requests, page):
            yield self._listing_request(outlet, listing, page + 1)

    def _page_on(self, outlet: Outlet, urls: list[str], requests: list, page: int) -> bool:
        """Daily: page on only while a page still brings unknown articles.
        Backfill (--since): page on while a page still links articles from the
        period (dates read off the URLs where the outlet encodes them)."""
        if self.since is None:
            return bool(requests) and page < outlet.max_pages
        dates = [outlet.date_from_url(url) for url in urls]
        in_period = [d for d in dates if d is None or d >= self.since]
        return bool(in_period) and page < self.backfill_max_pages

    def _in_range(self, moment: datetime | None) -> bool:
        return self.since is None or moment is None or moment.date() >= self.since

    def _article_requests(self, urls: list[str], outlet: Outlet):
        self.session.count("article_links", len(urls), outlet=outlet.name)
        for url in urls:
            if self._budget_spent():
                return
            if not self.session.archive.needs_fetch(url, self.revisit_days):
                self.session.count("known_skipped", outlet=outlet.name)
                continue
            yield self._article_request(url, outlet.name)

    def _budget_spent(self) -> bool:
        return bool(self.max_articles) and self.scheduled >= self.max_articles

    def discovery_failed(self, failure):
        request = failure.request
        self._discovery_error(request.url, request.cb_kwargs.get("outlet"), *failure_cause(failure)[::-1])

    def _discovery_error(self, url: str, outlet: Outlet | None, reason: str, cause: str) -> None:
        name = outlet.name if outlet else None
        self.session.count("discovery_errors", outlet=name)
        self.session.count(f"cause/{cause}", outlet=name)
        self.logger.warning("discovery failed for %s (%s): %s", outlet.name if outlet else "?", url, reason)

    # --- articles --------------------------------------------------------

    def _article_request(self, url: str, outlet: str, forced: bool = False) -> scrapy.Request:
        self.scheduled += 1
        return scrapy.Request(url, self.parse_article, errback=self.article_failed,
                              dont_filter=forced,
                              cb_kwargs={"outlet": outlet, "forced": forced})

    def parse_article(self, response, outlet: str, forced: bool):
        self.session.count("articles_fetched", outlet=outlet)
        requested = _first_url(response.request)
        content_type = response.headers.get("Content-Type", b"").decode("latin-1")
        problem = self._unusable(response, requested, content_type)
        if problem:
            self.session.outcome(requested, outlet, FAILED, problem[1], problem[0], http_status=response.status)
            return
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, vs in response.headers.items() for v in vs]
        yield {
            "url": response.url, "requested_url": requested, "outlet": outlet,
            "http_status": response.status, "forced": forced,
            "raw": RawPage(response.url, response.status, headers, response.body),
            "fetched_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }

    def _unusable(self, response, requested: str, content_type: str) -> tuple[str, str] | None:
        """(cause, reason) when a fetched article page cannot be archived."""
        if not response.body.strip():
            return "empty_page", "the page is empty"
        media_type = content_type.split(";")[0].strip().lower()
        if media_type not in HTML_TYPES or not isinstance(response, TextResponse):
            return "not_html", f"not an HTML page (Content-Type: {content_type or 'none'})"
        if _site(response.url) != _site(requested):
            return "offsite_redirect", f"redirected off the outlet, to {response.url}"
        return None

    def request_dropped(self, request, spider=None) -> None:
        """The dupefilter drops a redirect to a URL this crawl already asked for:
        a loop back into the chain is a failure; otherwise the article was
        reached under another spelling and is accounted for there."""
        chain = request.meta.get("redirect_urls")
        if not chain or request.callback != self.parse_article:
            return
        outlet = request.cb_kwargs.get("outlet")
        if normalize_url(request.url) in {normalize_url(u) for u in chain}:
            self.session.outcome(chain[0], outlet, FAILED, "redirect loop: " + " -> ".join([*chain, request.url]),
                                 "redirect_loop")
        else:
            self.session.outcome(chain[0], outlet, DUPLICATE, f"redirects to {request.url}, fetched in this crawl")

    def article_failed(self, failure):
        cause, reason = failure_cause(failure)
        status = failure.value.response.status if failure.check(HttpError) else None
        outcome = GONE if cause in ("http_404", "http_410") else BLOCKED if cause == "robots" else FAILED
        self.session.outcome(_first_url(failure.request), failure.request.cb_kwargs.get("outlet"),
                             outcome, reason, cause, http_status=status)


def _first_url(request) -> str:
    """The URL asked for, before any redirect."""
    return request.meta.get("redirect_urls", [request.url])[0]


def _site(url: str) -> str:
    return normalize_url(url).split("/")[2]
