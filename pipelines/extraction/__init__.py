"""One extraction function for every caller: pipeline, `kcn extract`, re-extraction, evaluation."""
from pipelines.extraction.article import Article
from pipelines.extraction.extract import extract_article

__all__ = ["Article", "extract_article"]
