"""Stage 1: HTML -> Article (clean text and metadata).

Extraction is the crawl's CPU cost, so it runs in a pool of worker processes
(setting ``KCN_EXTRACT_WORKERS``: the number of workers, default the machine's
core count; 0 extracts inline in the crawl process). The crawl process keeps
downloading, gzipping WARC records and writing SQLite while the workers parse;
only picklable data crosses the boundary: the raw page (bytes and headers; the
worker decodes it) and the outlet's ``ExtractionRules`` go out, an ``Article``
comes back. The raw page leaves the item once extracted.

Every ``KCN_EXTRACT_PAGES_PER_POOL`` pages the pool is replaced by a fresh one
(the old workers finish the pages they hold and exit first): what a worker keeps
between pages (trafilatura's and htmldate's caches filling up to their caps, a
fragmented heap) goes with them, so a long crawl's memory is bounded by what
one pool's pages can add. (``max_tasks_per_child`` would do this per worker,
but deadlocks ProcessPoolExecutor on Python 3.11-3.13, CPython gh-115634.)

With ``KCN_ZONE_GATE`` on, a worker first looks for any zone term on the page
(``extract_zone_page``) and returns no article for a page without one, which is
recorded as not relevant, unextracted.

A page whose extraction raises is recorded as failed, as before. A worker that
dies (segfault, OOM kill) breaks the pool: the pool is replaced and each page
that was in flight is tried once more, alone in a process of its own; a page
that kills that one too is recorded as failed. The crawl goes on either way.
"""
from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from scrapy.exceptions import DropItem
from scrapy.utils.asyncio import is_asyncio_available

from archive.db import FAILED, NOT_RELEVANT
from archive.warc import RawPage
from pipelines.base import SessionPipeline
from pipelines.extraction import Article, decoded_html, extract_page
from pipelines.extraction.dom import page_texts, parse
from pipelines.extraction.extract import extract_tree
from pipelines.relevance import may_be_relevant, relevance_threshold

logger = logging.getLogger(__name__)
NO_ZONE_TERM = "no industrial-zone term anywhere on the page (not extracted)"


def extract_zone_page(raw: RawPage, rules=None) -> Article | None:
    """``extract_page``, or None without extracting when no zone term is anywhere on the
    page (``may_be_relevant``): it could not reach any positive relevance threshold, and
    most fetched articles are such pages. Parsing is the cheap part; this skips the rest."""
    tree = parse(decoded_html(raw))
    if not may_be_relevant(page_texts(tree)):
        return None
    return extract_tree(tree, raw.url, rules)


def _warm_up() -> None:
    """Worker initializer: import the extractor (trafilatura, lxml) before the first page."""
    import pipelines.extraction  # noqa: F401


def extract_workers(value) -> int:
    """The ``KCN_EXTRACT_WORKERS`` setting as a worker count (None/"" -> core count)."""
    if value in (None, ""):
        return os.cpu_count() or 1
    workers = int(value)
    if workers < 0:
        raise ValueError(f"KCN_EXTRACT_WORKERS must be >= 0, got {value!r}")
    return workers


class ExtractPipeline(SessionPipeline):
    def __init__(self, session) -> None:
        super().__init__(session)
        # The pool is awaited through asyncio: Scrapy's default reactor; otherwise extract inline.
        workers = extract_workers(self.settings.get("KCN_EXTRACT_WORKERS"))
        self.workers = workers if is_asyncio_available() else 0
        self.pages_per_pool = self.settings.getint("KCN_EXTRACT_PAGES_PER_POOL")
        if self.pages_per_pool < 0:
            raise ValueError(f"KCN_EXTRACT_PAGES_PER_POOL must be >= 0, got {self.pages_per_pool}")
        self._pool: ProcessPoolExecutor | None = None
        self._pool_pages = 0  # pages submitted to the current pool
        # KCN_ZONE_GATE: pages with no zone term are not extracted (pointless when all are kept).
        self.zone_gate = self.settings.getbool("KCN_ZONE_GATE") and relevance_threshold(self.settings) > 0
        self._retiring: asyncio.Future | None = None  # the previous pool's shutdown, while it lasts

    # --- the worker pool ---------------------------------------------------

    def _context(self):
        # forkserver: workers fork from a clean server process that has the extractor
        # imported (not from this one, which runs a reactor and threads), so they start
        # in milliseconds; spawn where there is no forkserver.
        if "forkserver" not in multiprocessing.get_all_start_methods():
            return multiprocessing.get_context("spawn")
        # "__main__" (the kcn script; skipped under ``python -m``) too: each worker imports it
        # otherwise, into memory of its own.
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["__main__", "pipelines.worker_preload"])
        return context

    async def _get_pool(self) -> ProcessPoolExecutor:
        if self._pool is not None and self.pages_per_pool and self._pool_pages >= self.pages_per_pool:
            logger.info("%d pages extracted by this pool of workers: fresh workers take over"
                        " (KCN_EXTRACT_PAGES_PER_POOL)", self._pool_pages)
            retired, self._pool = self._pool, None
            # Its workers finish the pages they hold and exit before fresh ones start, so the
            # two sets are never in memory together; pages arriving meanwhile wait here.
            self._retiring = asyncio.ensure_future(asyncio.to_thread(retired.shutdown, wait=True))
        if self._retiring is not None:
            await asyncio.shield(self._retiring)
            self._retiring = None
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.workers, mp_context=self._context(), initializer=_warm_up)
            self._pool_pages = 0
        self._pool_pages += 1
        return self._pool

    def _replace_pool(self, broken: ProcessPoolExecutor) -> None:
        if self._pool is broken:
            logger.warning("an extraction worker died; starting a new worker pool")
            broken.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def close_spider(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    async def _extract_in_pool(self, task, raw: RawPage, rules) -> Article | None:
        pool = await self._get_pool()
        try:
            return await asyncio.wrap_future(pool.submit(task, raw, rules))
        except BrokenProcessPool:
            self._replace_pool(pool)
        # A worker died with this page in flight: this page or another one killed it.
        # Try this page again in a process of its own, so only the culprit fails.
        solo = ProcessPoolExecutor(1, mp_context=self._context(), initializer=_warm_up)
        try:
            return await asyncio.wrap_future(solo.submit(task, raw, rules))
        finally:
            solo.shutdown(wait=False)

    # --- the stage -----------------------------------------------------------

    async def process_item(self, item: dict) -> dict:
        rules, raw = self.rules_for(item["outlet"]), item.pop("raw")
        # A forced re-crawl is kept whatever its relevance: extracted whatever it holds.
        task = extract_zone_page if self.zone_gate and not item.get("forced") else extract_page
        try:
            if self.workers:
                article = await self._extract_in_pool(task, raw, rules)
            else:
                article = task(raw, rules)
        except BrokenProcessPool as exc:
            self.session.item_outcome(item, FAILED, "extraction error: the extraction worker died",
                                      cause="extraction_error")
            raise DropItem(f"extraction worker died on {item['url']}", log_level="WARNING") from exc
        except Exception as exc:  # a parser crash on one page must not stop the crawl
            self.session.item_outcome(item, FAILED, f"extraction error: {exc!r}", cause="extraction_error")
            raise DropItem(f"extraction error on {item['url']}", log_level="WARNING") from exc
        if article is None:
            self.session.item_outcome(item, NOT_RELEVANT, NO_ZONE_TERM)
            raise DropItem(f"not relevant: {item['url']}")
        if rules and rules.body and article.body_from != "container":  # the health check's sign of a redesign
            self.session.count("container_missed", outlet=item["outlet"])
        if not article.text.strip():
            self.session.item_outcome(item, FAILED, "no article text found on the page", cause="no_text")
            raise DropItem(f"no article text on {item['url']}", log_level="WARNING")
        item["article"] = article
        return item
