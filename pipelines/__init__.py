"""Scrapy item pipelines of kcn-archive: extract -> relevance -> dedup -> store."""
