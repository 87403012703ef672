"""One crawl's link to the archive: the open Archive, its ledger row, its counters.

Spider and pipelines share it through ``CrawlSession.of(crawler)``, so a crawl
opens the archive once and records every outcome in one place.
"""
from __future__ import annotations

import json
import logging

from scrapy import signals

from archive.db import (
    BLOCKED,
    DUPLICATE,
    FAILED,
    GONE,
    NOT_RELEVANT,
    Archive,
    default_db_path,
)
from crawler.health import outlet_rows
from crawler.urls import normalize_url

logger = logging.getLogger(__name__)

STATUS_COUNTER = {DUPLICATE: "duplicate", NOT_RELEVANT: "not_relevant", FAILED: "failed", GONE: "gone",
                  BLOCKED: "blocked"}
GOOD_FINISH = ("finished", "closespider_itemcount", "closespider_pagecount")


class Recorder:
    """Records outcomes through ``self.archive``: the local Archive, or a worker's
    Redis sink (crawler/distributed.py), which offers the same few methods.
    Subclasses say where counts go."""

    archive = None

    def count(self, name: str, n: int = 1, outlet: str | None = None) -> None:
        raise NotImplementedError

    def outcome(self, url: str, outlet: str | None, status: str, reason: str,
                cause: str | None = None, **extra) -> None:
        """Record what became of a fetched URL and count it (and its cause)."""
        self.archive.record_seen(url, outlet, status, reason, **extra)
        self.count(STATUS_COUNTER[status], outlet=outlet)
        if cause:
            self.count(f"cause/{cause}", outlet=outlet)
        log = logger.warning if status == FAILED else logger.info
        log("%s %s: %s", status, url, reason)

    def item_outcome(self, item: dict, status: str, reason: str, cause: str | None = None,
                     **extra) -> None:
        """``outcome`` for a fetched article item, keeping the pointer to its raw page."""
        self.outcome(item["url"], item["outlet"], status, reason, cause, warc=item.get("warc"), **extra)
        self.remember_aliases(item, item["url"], status, reason, extra.get("article_id"))

    def remember_aliases(self, item: dict, recorded: str, status: str, reason: str,
                         article_id: int | None = None) -> None:
        """Keep the URL first asked for and the URL fetched (before a redirect or a
        canonical link) known too, so no crawl fetches them again for nothing."""
        done = {normalize_url(recorded)}
        for url in (item.get("requested_url"), item["url"]):
            if url and normalize_url(url) not in done:
                done.add(normalize_url(url))
                self.archive.record_seen(url, item["outlet"], status, f"{reason} (as {recorded})",
                                         article_id=article_id)


def open_sink(crawler):
    """Where a crawl writes: the SQLite archive, or with ``KCN_REDIS_URL`` the
    distributed run's queue (redis is imported only then)."""
    settings = crawler.settings
    if settings.get("KCN_REDIS_URL"):
        from crawler.distributed import RedisSink
        return RedisSink(crawler)
    return Archive(settings.get("KCN_DB") or default_db_path(),
                   near_threshold=settings.getfloat("KCN_NEAR_DUP_THRESHOLD"))


class CrawlSession(Recorder):
    """Counters live in Scrapy's stats as ``kcn/<name>`` and end up in the run ledger."""

    def __init__(self, crawler) -> None:
        self.crawler = crawler
        settings = crawler.settings
        self.archive = open_sink(crawler)
        self.trigger = settings.get("KCN_TRIGGER", "manual")
        self.run_id: int | None = None
        crawler.signals.connect(self._opened, signal=signals.spider_opened)
        crawler.signals.connect(self._closed, signal=signals.spider_closed)
        crawler.signals.connect(self._item_error, signal=signals.item_error)
        crawler.signals.connect(self._response_received, signal=signals.response_received)

    @classmethod
    def of(cls, crawler) -> "CrawlSession":
        if not hasattr(crawler, "_kcn_session"):
            crawler._kcn_session = cls(crawler)
        return crawler._kcn_session

    @property
    def stats(self):
        return self.crawler.stats  # set only once the crawl starts

    def count(self, name: str, n: int = 1, outlet: str | None = None) -> None:
        """Count for the run, and for the outlet when given (its health is judged on them)."""
        self.stats.inc_value(f"kcn/{name}", n)
        if outlet:
            self.stats.inc_value(f"kcn/outlet/{outlet}/{name}", n)

    def _item_error(self, item, response, spider, failure) -> None:
        """A stage crashed on one article: record it as failed, never lose it silently."""
        self.item_outcome(item, FAILED, f"pipeline error: {failure.getErrorMessage()}"[:500],
                          "pipeline_error")

    def _response_received(self, response, request, spider) -> None:
        """Bytes and HTTP errors per outlet (requests carry their outlet in cb_kwargs)."""
        outlet = request.cb_kwargs.get("outlet")
        name = getattr(outlet, "name", outlet)
        if name:
            self.count("bytes", len(response.body), outlet=name)
            if response.status >= 400:
                self.stats.inc_value(f"kcn/outlet/{name}/http/{response.status}")

    def _opened(self, spider) -> None:
        self.run_id = self.archive.start_run(self.trigger, getattr(spider, "outlet_names", []))

    def _closed(self, spider, reason: str) -> None:
        counts = self.ledger_counts()
        status = run_status([reason], counts)
        self.stats.set_value("kcn/run_status", status)
        self.stats.set_value("kcn/run_id", self.run_id)
        outlets = outlet_rows(self.stats.get_stats(), getattr(spider, "outlet_names", []))
        flagged = {row["outlet"]: row["flag"] for row in outlets if row["flag"]}
        for outlet, flag in flagged.items():
            logger.warning("outlet %s looks broken: %s", outlet, flag)
        self.stats.set_value("kcn/flagged", flagged)
        self.archive.finish_run(self.run_id, status, {**counts, "finish_reason": reason,
                                                      "flagged": json.dumps(flagged, ensure_ascii=False)},
                                outlets)
        self.archive.close()

    def ledger_counts(self) -> dict:
        return ledger_counts(self.stats.get_stats())


def run_status(reasons, counts: dict) -> str:
    """A run is ok when every crawl of it finished normally and fetched something."""
    return "ok" if all(r in GOOD_FINISH for r in reasons) and counts["pages_fetched"] > 0 else "failed"


def ledger_counts(stats: dict) -> dict:
    """The ``crawl_runs`` columns from a crawl's stats (one crawl's, or a distributed run's sum)."""
    http_errors = {
        key.rsplit("/", 1)[1]: value for key, value in stats.items()
        if key.startswith("downloader/response_status_count/") and int(key.rsplit("/", 1)[1]) >= 400
    }
    return {
        "pages_fetched": stats.get("response_received_count", 0),
        "articles_fetched": stats.get("kcn/articles_fetched", 0),
        "new": stats.get("kcn/new", 0),
        "updated": stats.get("kcn/updated", 0),
        "duplicate": stats.get("kcn/duplicate", 0),
        "not_relevant": stats.get("kcn/not_relevant", 0),
        "failed": stats.get("kcn/failed", 0),
        "gone": stats.get("kcn/gone", 0),
        "http_errors": json.dumps(http_errors),
        "failures": json.dumps({key.split("/", 2)[2]: value for key, value in sorted(stats.items())
                                if key.startswith("kcn/cause/")}),
    }
