"""The archive writer of a distributed crawl (`kcn archive-writer`): the one
process that opens the SQLite archive, draining the workers' queue into it.

Reliable queue: each entry is moved (BLMOVE) to a processing list and removed
from it only after its write is committed, in one Redis transaction with the
run's counters and the shared sets the workers read (settled URL keys, content
hashes). On start the writer re-applies what the processing list still holds;
an entry whose outcome is already in the archive (recorded at or after the
entry was queued) is skipped, so nothing is written twice.

Entries: ``item`` (an article that passed relevance: raw page to the WARC,
then the same dedup and store stages as a local crawl), ``seen`` (a URL
outcome, with its raw page when it has one), ``stats`` (a worker's counters at
its end, summed into the run's ledger row).
"""
from __future__ import annotations

import json
import logging
import time
from collections import Counter

from scrapy.exceptions import DropItem

from archive.db import FAILED, Archive
from crawler import settings as defaults
from crawler.distributed import Keys, decode_page, live_workers
from crawler.health import outlet_rows
from crawler.session import Recorder, ledger_counts, run_status
from crawler.urls import normalize_url
from pipelines.dedup import dedup
from pipelines.extraction import Article
from pipelines.relevance import Relevance
from pipelines.store import store

logger = logging.getLogger("kcn.writer")

POLL_SECONDS = 1.0
FIRST_WORKER_WAIT = 120.0  # before any worker joined, the writer waits at least this long


class ArchiveWriter(Recorder):
    """Applies queue entries to ``archive``; counts go to the run's counters in Redis."""

    def __init__(self, server, archive: Archive, *, idle: float, trigger: str = "manual",
                 worker_timeout: float = defaults.KCN_WORKER_TIMEOUT) -> None:
        self.redis, self.archive = server, archive
        self.idle, self.trigger, self.worker_timeout = idle, trigger, worker_timeout
        self.counts: Counter = Counter()
        self.stopping = False
        self.run_id: int | None = None

    def count(self, name: str, n: int = 1, outlet: str | None = None) -> None:
        self.counts[f"kcn/{name}"] += n
        if outlet:
            self.counts[f"kcn/outlet/{outlet}/{name}"] += n

    # --- the run ------------------------------------------------------------

    def open_run(self) -> int:
        """Resume the open run, or start one: a fresh frontier and shared sets seeded from the archive."""
        run = self.redis.get(Keys.RUN)
        if run is not None:
            self.run_id = int(run)
            logger.info("resuming distributed run #%d", self.run_id)
            return self.run_id
        self.redis.delete(Keys.FRONTIER, Keys.SEEN, Keys.SETTLED, Keys.HASHES, Keys.STATS, Keys.REASONS,
                          Keys.OUTLETS, Keys.WORKERS, *self.redis.keys(Keys.INFLIGHT + "*"))
        self._seed()
        self.run_id = self.archive.start_run(self.trigger, [])
        self.redis.set(Keys.RUN, self.run_id)
        logger.info("distributed run #%d open: workers may join", self.run_id)
        return self.run_id

    def _seed(self) -> None:
        pipe = self.redis.pipeline(transaction=False)
        for key in self.archive.settled_keys(defaults.KCN_REVISIT_DAYS):
            pipe.sadd(Keys.SETTLED, key)
        for digest, article_id, url in self.archive.content_hashes():
            pipe.hset(Keys.HASHES, digest, json.dumps({"id": article_id, "url": url}))
        pipe.execute()

    def finish_run(self) -> dict:
        """Write the run's ledger row from the summed counters, as a local crawl would."""
        stats = {k.decode(): int(v) for k, v in self.redis.hgetall(Keys.STATS).items()}
        reasons = sorted(r.decode() for r in self.redis.smembers(Keys.REASONS)) or ["no worker finished"]
        names = sorted(o.decode() for o in self.redis.smembers(Keys.OUTLETS))
        counts = ledger_counts(stats)
        outlets = outlet_rows(stats, names)
        flagged = {row["outlet"]: row["flag"] for row in outlets if row["flag"]}
        status = run_status(reasons, counts)
        self.archive.finish_run(self.run_id, status, {
            **counts, "finish_reason": ", ".join(reasons), "outlets": json.dumps(names),
            "flagged": json.dumps(flagged, ensure_ascii=False)}, outlets)
        self.redis.delete(Keys.RUN)
        logger.info("distributed run #%d %s: %s", self.run_id, status, counts)
        return {**counts, "status": status, "run_id": self.run_id, "flagged": flagged}

    def frontier_left(self) -> int:
        """Requests not yet fetched: in the frontier, or taken by workers that died."""
        inflight = sum(self.redis.hlen(key) for key in self.redis.keys(Keys.INFLIGHT + "*"))
        return self.redis.zcard(Keys.FRONTIER) + inflight

    # --- draining -------------------------------------------------------------

    def recover(self) -> int:
        """Re-apply what a killed writer left in the processing list (oldest first)."""
        left = self.redis.lrange(Keys.PROCESSING, 0, -1)[::-1]
        for raw in left:
            self.apply(raw, recovered=True)
        if left:
            logger.warning("re-applied %d entries a previous writer had not acknowledged", len(left))
        return len(left)

    def drain(self) -> None:
        """Apply entries until told to stop, or until the queue stays empty with no
        worker alive for ``idle`` seconds (``idle`` 0: until told to stop); the
        first worker gets at least ``FIRST_WORKER_WAIT`` seconds to join."""
        quiet_since, joined = time.monotonic(), False
        while not self.stopping:
            raw = self.redis.blmove(Keys.QUEUE, Keys.PROCESSING, POLL_SECONDS, "RIGHT", "LEFT")
            if raw is not None:
                self.apply(raw)
                quiet_since, joined = time.monotonic(), True
            elif live_workers(self.redis, self.worker_timeout):
                quiet_since, joined = time.monotonic(), True
            elif self.idle and time.monotonic() - quiet_since >= (self.idle if joined else
                                                                  max(self.idle, FIRST_WORKER_WAIT)):
                return

    def apply(self, raw: bytes, recovered: bool = False) -> None:
        entry = json.loads(raw)
        self.counts.clear()
        pipe = self.redis.pipeline()
        if not (recovered and entry["op"] != "stats" and self.archive.seen_since(entry["url"], entry["queued_at"])):
            getattr(self, f"_apply_{entry['op']}")(entry, pipe)
        for key, n in self.counts.items():
            pipe.hincrby(Keys.STATS, key, n)
        pipe.lrem(Keys.PROCESSING, 1, raw)
        pipe.execute()

    def _apply_seen(self, entry: dict, pipe) -> None:
        page = entry["page"] and self.archive.keep_raw(decode_page(entry["page"]))
        self.archive.record_seen(entry["url"], entry["outlet"], entry["status"], entry["reason"],
                                 article_id=entry["article_id"], http_status=entry["http_status"], warc=page)
        self._settle(pipe, entry["url"])

    def _apply_item(self, entry: dict, pipe) -> None:
        item = {**entry, "article": _article(entry["article"]), "relevance": Relevance(**entry["relevance"]),
                "warc": self.archive.keep_raw(decode_page(entry["page"]))}
        try:
            store(self, dedup(self, item))
            pipe.hset(Keys.HASHES, item["content_hash"], json.dumps({"id": item["article_id"],
                                                                      "url": item["archive_url"]}))
        except DropItem:
            pass
        except Exception as exc:  # as a local crawl's item_error: recorded, never lost silently
            logger.exception("storing %s failed", item["url"])
            self.item_outcome(item, FAILED, f"pipeline error: {exc}"[:500], "pipeline_error")
        self._settle(pipe, item["url"], item.get("requested_url"), item.get("archive_url"))

    def _apply_stats(self, entry: dict, pipe) -> None:
        self.counts.update(entry["stats"])
        pipe.sadd(Keys.REASONS, entry["reason"])
        if entry["outlets"]:
            pipe.sadd(Keys.OUTLETS, *entry["outlets"])

    def _settle(self, pipe, *urls: str | None) -> None:
        """Tell the workers which of these URLs need no fetch any more."""
        keys = {normalize_url(u) for u in urls if u and not self.archive.needs_fetch(u)}
        if keys:
            pipe.sadd(Keys.SETTLED, *keys)


def _article(data: dict) -> Article:
    return Article(**{k: v for k, v in data.items() if k != "text"})
