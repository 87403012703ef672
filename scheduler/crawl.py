"""Run one crawl in this process (Scrapy's reactor runs once per process)."""
from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from scrapy import signals
from scrapy.crawler import Crawler, CrawlerProcess
from scrapy.settings import Settings
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.defer import Deferred

from crawler.spiders.outlets import OutletSpider

SHUTDOWN_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class SettingError(ValueError):
    """A ``-s NAME=VALUE`` override is malformed."""


class StoppableCrawler(Crawler):
    """Scrapy's Crawler, except that a graceful stop asked while it starts is kept.

    ``Crawler.stop_async()`` stops only a running engine. Asked while the spider
    opens (a SIGINT/SIGTERM just after `kcn crawl` starts, when its run row is
    already written) it did nothing: the crawl went on, and CrawlerProcess then
    stopped the reactor under the open spider, leaving the run 'running'. Here
    such a stop waits for the engine to start and stops it then (Scrapy lets an
    engine be stopped from ``engine_started`` on).
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._engine_up: Deferred[None] = Deferred()
        self.signals.connect(self._engine_started, signal=signals.engine_started)

    def _engine_started(self) -> None:
        self._engine_up.callback(None)

    async def stop_async(self) -> None:
        if not self.crawling or self.engine.running:
            await super().stop_async()
            return
        self.crawling = False  # as Scrapy does: later stops are no-ops
        await maybe_deferred_to_future(self._engine_up)
        await self.engine.stop_async()


@contextmanager
def signals_held() -> Iterator[Callable[[], None]]:
    """Hold SIGINT/SIGTERM from now on; the function yielded delivers them again.

    Scrapy installs its graceful-shutdown handlers only once its reactor runs;
    a signal before then would end the crawl by Python's default handler. Call
    the function once Scrapy's handlers are in (when the engine starts) and a
    held signal stops the crawl as any Ctrl-C does. A second signal while one
    is held acts as if none were held (KeyboardInterrupt, or death by SIGTERM).
    On leaving, the previous handlers are back.
    """
    held: list[int] = []
    previous = {signum: signal.getsignal(signum) for signum in SHUTDOWN_SIGNALS}

    def restore() -> None:
        for signum, handler in previous.items():
            signal.signal(signum, handler)

    def hold(signum: int, frame) -> None:
        if held:
            restore()
            signal.raise_signal(signum)
        held.append(signum)

    def deliver() -> None:
        for signum in held:
            signal.raise_signal(signum)

    for signum in SHUTDOWN_SIGNALS:
        signal.signal(signum, hold)
    try:
        yield deliver
    finally:
        restore()


def crawl_settings(db: Path, trigger: str, overrides: tuple[str, ...] = ()) -> Settings:
    """The project's settings, then the archive and trigger, then ``-s`` overrides."""
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    settings.set("KCN_DB", str(db), priority="cmdline")
    settings.set("KCN_TRIGGER", trigger, priority="cmdline")
    for override in overrides:
        name, sep, value = override.partition("=")
        if not sep or not name.strip():
            raise SettingError(f"-s expects NAME=VALUE, got {override!r}")
        settings.set(name.strip(), value, priority="cmdline")
    return settings


def run_crawl(db: Path, *, outlets: tuple[str, ...] = (), url: str | None = None,
              max_articles: int = 0, since: str | None = None, jobdir: Path | None = None,
              trigger: str = "manual", overrides: tuple[str, ...] = (), redis_url: str | None = None,
              seed_only: bool = False) -> dict:
    """Crawl the given outlets (all when none) or one URL; return Scrapy's final stats.

    ``since`` turns the crawl into a backfill; with ``jobdir`` Scrapy keeps its
    queue there, so stopping (Ctrl-C once) and running again continues it.
    With ``redis_url`` the crawl is a worker of a distributed run (crawler/distributed.py).
    """
    settings = crawl_settings(db, trigger, overrides)
    if redis_url:
        from crawler.distributed import distributed_settings

        # Below -s overrides (cmdline), above the project's settings.
        settings.setdict(distributed_settings(redis_url, seed_only), priority="spider")
    if jobdir:
        settings.set("JOBDIR", str(jobdir), priority="cmdline")
    with signals_held() as deliver:
        process = CrawlerProcess(settings, install_root_handler=True)
        # As process.create_crawler() would build it: its crawl() installs the asyncio reactor.
        crawler = StoppableCrawler(OutletSpider, process.settings, init_reactor=True)
        crawler.signals.connect(deliver, signal=signals.engine_started, weak=False)
        process.crawl(crawler, outlets=",".join(outlets), url=url, max_articles=max_articles, since=since)
        process.start()
    return crawler.stats.get_stats()
