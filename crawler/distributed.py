"""Distributed crawling: any number of `kcn crawl --redis URL` workers share one
frontier in Redis (scrapy-redis's scheduler and dupefilter, keyed by the
project's canonical fingerprint) and never open the SQLite archive. What they
settle goes, as JSON entries, to a Redis list that the one archive writer
(`kcn archive-writer`, archive/writer.py) drains into the archive.

A worker's ``RedisSink`` stands in for the ``Archive`` in its ``CrawlSession``:
it answers the few calls a crawl makes (``needs_fetch``, ``keep_raw``,
``record_seen``, ``start_run``, ``finish_run``, ``close``) from and into Redis,
so the spider and the extract/relevance stages run unchanged.

Workers beat a heartbeat; each keeps the requests it took from the frontier in
its own in-flight hash until their outcome is queued, so when a worker dies a
survivor puts them back (``reclaim_dead``): nothing taken is lost, and what is
fetched twice is a no-op for the writer (URL key and content hash).

Only imported with ``--redis``: the local crawl needs no Redis.
"""
from __future__ import annotations

import base64
import json
import logging
import os
import socket
import time

import redis
import scrapy
from scrapy import signals
from scrapy.exceptions import DontCloseSpider
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.scheduler import Scheduler
from twisted.internet import task

from archive.db import utc_now
from archive.warc import RawPage
from crawler import settings as project
from crawler.fingerprint import CanonicalRequestFingerprinter
from crawler.urls import normalize_url

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 1.0
# The stats a run's ledger row and outlet health are computed from (crawler/session.py, crawler/health.py).
LEDGER_STATS = ("kcn/", "response_received_count", "downloader/response_status_count/")


class Keys:
    """The Redis keys of a distributed run."""
    RUN = "kcn:run"                  # the open run's crawl_runs id; absent: no run open
    QUEUE = "kcn:queue"              # JSON entries for the writer (LPUSH; the writer takes from the right)
    PROCESSING = "kcn:processing"    # entries the writer holds until their write is committed
    SETTLED = "kcn:settled"          # URL keys no worker needs to fetch
    HASHES = "kcn:hashes"            # content hash -> {"id", "url"} of an archived article
    WORKERS = "kcn:workers"          # sorted set: worker id -> last heartbeat (unix time)
    INFLIGHT = "kcn:inflight:"       # + worker id: fingerprint -> encoded request taken from the frontier
    STATS = "kcn:run:stats"          # summed counters of the run (workers' and writer's)
    REASONS = "kcn:run:reasons"      # how the run's crawls finished
    OUTLETS = "kcn:run:outlets"      # outlets the run's crawls covered
    FRONTIER = "kcn:frontier:requests"
    SEEN = "kcn:frontier:seen"


def connect(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def distributed_settings(url: str, seed_only: bool = False) -> dict:
    """Scrapy settings turning a crawl into a worker (or, with ``seed_only``, a seeder)."""
    return {
        "KCN_REDIS_URL": url, "REDIS_URL": url, "KCN_SEED_ONLY": seed_only,
        "SCHEDULER": f"crawler.distributed.{'SeedScheduler' if seed_only else 'SharedScheduler'}",
        "DUPEFILTER_CLASS": "crawler.distributed.CanonicalRFPDupeFilter",
        "SCHEDULER_PERSIST": True, "SCHEDULER_QUEUE_KEY": Keys.FRONTIER, "SCHEDULER_DUPEFILTER_KEY": Keys.SEEN,
        # Workers stop at extract -> relevance -> queue; the writer keeps raw pages, dedups and stores.
        "ITEM_PIPELINES": {**project.ITEM_PIPELINES, "pipelines.dedup.DedupPipeline": None,
                           "pipelines.store.StorePipeline": None, "pipelines.enqueue.EnqueuePipeline": 300},
    }


_fingerprinter = CanonicalRequestFingerprinter()


def fingerprint(request_or_url) -> str:
    request = scrapy.Request(request_or_url) if isinstance(request_or_url, str) else request_or_url
    return _fingerprinter.fingerprint(request).hex()


def encode_page(page: RawPage) -> dict:
    return {"url": page.url, "status": page.status, "headers": page.headers,
            "body": base64.b64encode(page.body).decode("ascii")}


def decode_page(data: dict) -> RawPage:
    return RawPage(data["url"], data["status"], [tuple(h) for h in data["headers"]],
                   base64.b64decode(data["body"]))


def live_workers(server: redis.Redis, timeout: float) -> int:
    return server.zcount(Keys.WORKERS, time.time() - timeout, "+inf")


def reclaim_dead(server: redis.Redis, timeout: float) -> int:
    """Put the requests of workers silent for ``timeout`` seconds back in the frontier.

    RENAME claims a dead worker's in-flight hash atomically, so two survivors
    never both requeue it. Returns how many requests went back."""
    requeued = 0
    for worker in server.zrangebyscore(Keys.WORKERS, 0, time.time() - timeout):
        worker = worker.decode()
        claimed = f"{Keys.INFLIGHT}reclaimed:{worker}"
        try:
            server.rename(Keys.INFLIGHT + worker, claimed)
        except redis.ResponseError:  # nothing in flight, or another survivor took it
            server.zrem(Keys.WORKERS, worker)
            continue
        requests = server.hvals(claimed)
        pipe = server.pipeline()
        if requests:
            pipe.zadd(Keys.FRONTIER, {data: 0 for data in requests})
        pipe.delete(claimed).zrem(Keys.WORKERS, worker).execute()
        logger.warning("worker %s died: %d of its requests back in the frontier", worker, len(requests))
        requeued += len(requests)
    return requeued


class CanonicalRFPDupeFilter(RFPDupeFilter):
    """scrapy-redis's shared dupefilter on the project's canonical fingerprint."""

    def request_fingerprint(self, request) -> str:
        return fingerprint(request)


class SharedScheduler(Scheduler):
    """scrapy-redis's scheduler that notes what this worker took, so a survivor can take it back."""

    def next_request(self):
        request = super().next_request()
        if request is not None:
            self.server.hset(Keys.INFLIGHT + worker_id(), fingerprint(request),
                             self.queue._encode_request(request))
        return request


class SeedScheduler(SharedScheduler):
    """Puts the start requests in the frontier and hands out none: `--seed-only`."""

    def next_request(self):
        return None

    def has_pending_requests(self) -> bool:
        return False


class RedisSink:
    """A worker's stand-in for the Archive: the calls a crawl makes, over Redis."""

    def __init__(self, crawler) -> None:
        settings = crawler.settings
        self.crawler = crawler
        self.redis = connect(settings["KCN_REDIS_URL"])
        self.worker = worker_id()
        self.inflight = Keys.INFLIGHT + self.worker
        self.timeout = settings.getfloat("KCN_WORKER_TIMEOUT")
        self.idle = settings.getfloat("KCN_WORKER_IDLE")
        self.seed_only = settings.getbool("KCN_SEED_ONLY")
        self.last_busy = time.monotonic()
        self._beat: task.LoopingCall | None = None  # made once the reactor runs
        crawler.signals.connect(self._spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(self._busy, signal=signals.response_received)

    # --- what the crawl asks the archive ------------------------------------

    def needs_fetch(self, url: str, revisit_days: int = 0) -> bool:
        """The writer keeps the set of settled URL keys (revisits already decided when seeding)."""
        return not self.redis.sismember(Keys.SETTLED, normalize_url(url))

    def keep_raw(self, page: RawPage) -> RawPage:
        """The raw page travels with the entry; the writer appends it to the WARC."""
        return page

    def record_seen(self, url: str, outlet: str | None, status: str, reason: str, *,
                    article_id: int | None = None, http_status: int | None = None,
                    warc: RawPage | None = None) -> None:
        self.push({"op": "seen", "url": url, "outlet": outlet, "status": status, "reason": reason,
                   "article_id": article_id, "http_status": http_status,
                   "page": encode_page(warc) if warc else None}, done=[url])

    def twin(self, digest: str) -> dict | None:
        """The archived article (id, url) with this text, as far as the writer has told."""
        found = self.redis.hget(Keys.HASHES, digest)
        return json.loads(found) if found else None

    def submit(self, item: dict) -> None:
        """An article that passed relevance: the writer dedups it authoritatively and stores it."""
        self.push({"op": "item", **{k: item.get(k) for k in (
            "url", "requested_url", "outlet", "http_status", "forced", "fetched_at")},
            "article": item["article"].to_dict(), "relevance": item["relevance"].to_dict(),
            "page": encode_page(item["warc"])}, done=[item["requested_url"], item["url"]])

    def push(self, entry: dict, done=()) -> None:
        """Queue one entry and, in the same transaction, let go of the requests it settles."""
        entry["queued_at"] = utc_now()
        pipe = self.redis.pipeline()
        pipe.lpush(Keys.QUEUE, json.dumps(entry, ensure_ascii=False))
        settled = {fingerprint(url) for url in done if url}
        if settled:
            pipe.hdel(self.inflight, *settled)
        pipe.execute()

    # --- the run ------------------------------------------------------------

    def start_run(self, trigger: str, outlets: list[str]) -> int:
        """Join the run the writer opened (its crawl_runs id)."""
        run = self.redis.get(Keys.RUN)
        if run is None:
            raise RuntimeError("no distributed run is open: start `kcn archive-writer --redis ...` first")
        self.heartbeat()
        self._beat = task.LoopingCall(self.heartbeat)
        self._beat.start(HEARTBEAT_SECONDS, now=False)
        self.reclaim()
        return int(run)

    def finish_run(self, run_id: int, status: str, counts: dict, outlets=()) -> None:
        """Send this worker's counters; the writer sums them into the run's ledger row."""
        stats = {k: v for k, v in self.crawler.stats.get_stats().items()
                 if k.startswith(LEDGER_STATS) and isinstance(v, int) and not isinstance(v, bool)}
        self.push({"op": "stats", "worker": self.worker, "stats": stats,
                   "reason": counts["finish_reason"], "outlets": [row["outlet"] for row in outlets]})

    def close(self) -> None:
        """Leave the run: everything taken was processed, so nothing stays in flight."""
        if self._beat and self._beat.running:
            self._beat.stop()
        self.redis.pipeline().zrem(Keys.WORKERS, self.worker).delete(self.inflight).execute()

    def heartbeat(self) -> None:
        self.redis.zadd(Keys.WORKERS, {self.worker: time.time()})

    def reclaim(self) -> int:
        requeued = reclaim_dead(self.redis, self.timeout)
        if requeued:
            self.last_busy = time.monotonic()
        return requeued

    # --- when to stop ---------------------------------------------------------

    def _busy(self, **kwargs) -> None:
        self.last_busy = time.monotonic()

    def _spider_idle(self, spider) -> None:
        """Stay while the frontier may still fill (other workers, dead workers' requests),
        up to ``KCN_WORKER_IDLE`` seconds without work."""
        if self.seed_only:
            return
        if self.reclaim() or time.monotonic() - self.last_busy < self.idle:
            raise DontCloseSpider
