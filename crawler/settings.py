"""Scrapy settings of kcn-archive: polite by default, components wired in order.

Override any of them for one run with ``kcn crawl -s NAME=VALUE``.
"""
import os

BOT_NAME = "kcn-archive"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

# Who we are: set KCN_CONTACT to a URL or e-mail where outlets can reach you.
KCN_CONTACT = os.environ.get("KCN_CONTACT", "https://github.com/search?q=kcn-archive")
USER_AGENT = f"kcn-archive/0.1 (+{KCN_CONTACT}; news archive of Vietnamese industrial zones)"

# Politeness.
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 1.0
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
RETRY_TIMES = 2
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 10 * 1024 * 1024
DOWNLOAD_WARNSIZE = 3 * 1024 * 1024
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False

# Items/requests of one callback processed at once. Scrapy starts this many asyncio
# tasks per response (default 100); an article callback yields one item, a listing
# yields cheap requests, so a few suffice and spare the reactor ~100 tasks per page.
CONCURRENT_ITEMS = 4

DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawler.retry_after.RetryAfterMiddleware": 550,
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
    "crawler.meta_refresh.HeadMetaRefreshMiddleware": 580,
}
# 429/503: wait what Retry-After asks (at most this many seconds), else back off
# KCN_BACKOFF_BASE * 2**retries.
KCN_RETRY_AFTER_MAX = 300.0
KCN_BACKOFF_BASE = 5.0

ITEM_PIPELINES = {
    "pipelines.raw.KeepRawPipeline": 50,
    "pipelines.extract.ExtractPipeline": 100,
    "pipelines.relevance.RelevancePipeline": 200,
    "pipelines.dedup.DedupPipeline": 300,
    "pipelines.store.StorePipeline": 400,
}

# One fetch per article per crawl, however its URL was spelled.
REQUEST_FINGERPRINTER_CLASS = "crawler.fingerprint.CanonicalRequestFingerprinter"

# The archive (None: $KCN_DB or ./data/archive.db) and what started this crawl.
KCN_DB = None
KCN_TRIGGER = "manual"
# Articles scheduled per crawl at most (0: no limit).
KCN_MAX_ARTICLES = 0
# Extraction worker processes (None: one per core; 0: extract inline in the crawl process).
KCN_EXTRACT_WORKERS = None
# Pages extracted by one pool of workers before fresh workers take over (0: never):
# keeps the workers' memory flat over long crawls.
KCN_EXTRACT_PAGES_PER_POOL = 2000
# Daily crawls re-fetch archived articles published in the last N days, to catch edits.
KCN_REVISIT_DAYS = 2
# A backfill (kcn crawl --since) follows a listing's paging at most this far.
KCN_BACKFILL_MAX_PAGES = 500
# Minimum relevance score for an article to be archived.
KCN_RELEVANCE_THRESHOLD = None  # None: the scorer's default
# True: a page with no industrial-zone term anywhere on it is recorded as not relevant without
# being extracted (it cannot score): most of a general outlet's feed, ~40% less CPU there. Off by
# default, because such a page is then never known to have come out empty: a soft error page or a
# broken layout counts as "not relevant" (not retried, not flagged by health) instead of failed.
KCN_ZONE_GATE = False
# Estimated Jaccard similarity (word 4-shingles) from which two articles are one story.
KCN_NEAR_DUP_THRESHOLD = 0.8

DEFAULT_DROPITEM_LOG_LEVEL = "INFO"
LOG_LEVEL = "INFO"
FEED_EXPORT_ENCODING = "utf-8"

# Distributed crawl (kcn crawl --redis URL; see README "Crawling from several machines").
KCN_REDIS_URL = None
# A worker stops after this many seconds without work (the shared frontier empty).
KCN_WORKER_IDLE = 30.0
# A worker silent this long is dead: its requests go back to the frontier.
KCN_WORKER_TIMEOUT = 15.0
KCN_SEED_ONLY = False
