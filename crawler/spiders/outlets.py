"""The one generic spider: the outlet registry tells it where to look.

Discovery (feeds, sitemaps, listing pages with paging) yields article URLs;
URLs the archive has already settled are not fetched again; article pages
become items for the pipelines (extract -> relevance -> dedup -> store).
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from urllib.parse import urlsplit

import scrapy
from scrapy.http import TextResponse
from scrapy.spidermiddlewares.httperror import HttpError

from archive.db import FAILED, GONE
from crawler.discovery import DiscoveryError, feed_entries, listing_article_links, sitemap_entries
from crawler.registry import Listing, Outlet, load_outlets, outlet_for_url, select_outlets
from crawler.session import CrawlSession

MAX_SITEMAP_DEPTH = 2


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
        self.session.count("listing_pages")
        try:
            urls = [e.url for e in feed_entries(response.body, outlet) if self._in_range(e.published)]
        except DiscoveryError as exc:
            self._discovery_error(response.url, outlet, f"feed unreadable: {exc}")
            return
        yield from self._article_requests(urls, outlet)

    def parse_sitemap(self, response, outlet: Outlet, depth: int):
        self.session.count("listing_pages")
        try:
            entries, children = sitemap_entries(response.body)
        except DiscoveryError as exc:
            self._discovery_error(response.url, outlet, f"sitemap unreadable: {exc}")
            return
        if depth < MAX_SITEMAP_DEPTH:
            for child in children:
                yield scrapy.Request(child, self.parse_sitemap, errback=self.discovery_failed,
                                     cb_kwargs={"outlet": outlet, "depth": depth + 1})
        yield from self._article_requests(
            [e.url for e in entries if outlet.is_article(e.url) and self._in_range(e.lastmod)], outlet)

    def parse_listing(self, response, outlet: Outlet, listing: Listing, page: int):
        self.session.count("listing_pages")
        if not isinstance(response, TextResponse):
            self._discovery_error(response.url, outlet, "listing page is not text")
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
        self.session.count("article_links", len(urls))
        for url in urls:
            if self._budget_spent():
                return
            if not self.session.archive.needs_fetch(url, self.revisit_days):
                self.session.count("known_skipped")
                continue
            yield self._article_request(url, outlet.name)

    def _budget_spent(self) -> bool:
        return bool(self.max_articles) and self.scheduled >= self.max_articles

    def discovery_failed(self, failure):
        request = failure.request
        outlet = request.cb_kwargs.get("outlet")
        self._discovery_error(request.url, outlet, _failure_reason(failure))

    def _discovery_error(self, url: str, outlet: Outlet | None, reason: str) -> None:
        self.session.count("discovery_errors")
        self.logger.warning("discovery failed for %s (%s): %s", outlet.name if outlet else "?", url, reason)

    # --- articles --------------------------------------------------------

    def _article_request(self, url: str, outlet: str, forced: bool = False) -> scrapy.Request:
        self.scheduled += 1
        return scrapy.Request(url, self.parse_article, errback=self.article_failed,
                              dont_filter=forced,
                              cb_kwargs={"outlet": outlet, "forced": forced})

    def parse_article(self, response, outlet: str, forced: bool):
        self.session.count("articles_fetched")
        if not isinstance(response, TextResponse):
            content_type = response.headers.get("Content-Type", b"").decode("latin-1") or "none"
            self.session.outcome(response.url, outlet, FAILED,
                                 f"not an HTML page (Content-Type: {content_type})",
                                 http_status=response.status)
            return
        yield {
            "url": response.url, "requested_url": response.request.url, "outlet": outlet,
            "html": response.text, "http_status": response.status, "forced": forced,
            "body": response.body, "headers": [(k.decode("latin-1"), v.decode("latin-1"))
                                               for k, vs in response.headers.items() for v in vs],
            "fetched_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }

    def article_failed(self, failure):
        request = failure.request
        status = failure.value.response.status if failure.check(HttpError) else None
        self.session.outcome(request.url, request.cb_kwargs.get("outlet"),
                             GONE if status in (404, 410) else FAILED,
                             _failure_reason(failure), http_status=status)


def _failure_reason(failure) -> str:
    if failure.check(HttpError):
        return f"HTTP {failure.value.response.status}"
    return f"{failure.type.__name__}: {failure.getErrorMessage()}"
