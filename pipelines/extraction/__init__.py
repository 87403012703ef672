"""One extraction function for every caller: pipeline, `kcn extract`, re-extraction, evaluation.

``extract_article`` turns an HTML page into an ``Article``; ``clean_paragraphs``
is its text-level cleanup, shared with ``read_legacy_text`` for the legacy
archive's plain-text files.
"""
from pipelines.extraction.article import Article
from pipelines.extraction.cleanup import clean_paragraphs
from pipelines.extraction.extract import extract_article
from pipelines.extraction.legacy import LegacyText, read_legacy_text

__all__ = ["Article", "LegacyText", "clean_paragraphs", "extract_article", "read_legacy_text"]
