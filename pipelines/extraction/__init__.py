"""One extraction function for every caller: pipeline, `kcn extract`, re-extraction, evaluation.

``extract_article`` turns an HTML page into an ``Article`` (``extract_page`` a raw
fetched page, decoding it first); ``clean_paragraphs``
is its text-level cleanup, shared with ``read_legacy_text`` for the legacy
archive's plain-text files.
"""
from pipelines.extraction.article import Article
from pipelines.extraction.cleanup import clean_paragraphs
from pipelines.extraction.extract import extract_article
from pipelines.extraction.legacy import LegacyText, read_legacy_text
from pipelines.extraction.page import decoded_html, extract_page

__all__ = ["Article", "LegacyText", "clean_paragraphs", "decoded_html", "extract_article", "extract_page",
           "read_legacy_text"]
