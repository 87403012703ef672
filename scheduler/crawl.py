"""Run one crawl in this process (Scrapy's reactor runs once per process)."""
from __future__ import annotations

from pathlib import Path

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from crawler.spiders.outlets import OutletSpider


class SettingError(ValueError):
    """A ``-s NAME=VALUE`` override is malformed."""


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
    process = CrawlerProcess(settings, install_root_handler=True)
    crawler = process.create_crawler(OutletSpider)
    process.crawl(crawler, outlets=",".join(outlets), url=url, max_articles=max_articles, since=since)
    process.start()
    return crawler.stats.get_stats()
