"""HTML -> Article. Trafilatura finds the body; our layers fix what it gets wrong on VN pages.

Order: metadata from the whole page; furniture pruned from a copy (generic
patterns + the outlet's ``prune``); trafilatura on the outlet's ``body``
container or the pruned page; then the shared text cleanup. Pure: no I/O.
"""
from __future__ import annotations

from copy import deepcopy

from crawler.registry import ExtractionRules
from pipelines.extraction import metadata
from pipelines.extraction.article import Article
from pipelines.extraction.body import body_paragraphs
from pipelines.extraction.cleanup import text_key, clean_author, clean_paragraphs, normalize
from pipelines.extraction.dom import decode, drop, parse, prune, select, text_content


def extract_article(html: str | bytes, url: str, rules: ExtractionRules | None = None) -> Article:
    """Extract clean text and metadata from one article page (pure: no I/O)."""
    return extract_tree(parse(decode(html)), url, rules)


def extract_tree(tree, url: str, rules: ExtractionRules | None = None) -> Article:
    """``extract_article`` of a page already parsed (``dom.parse``); ``tree`` is left as it was."""
    rules = rules or ExtractionRules()
    normalize.cache_clear()  # the text memos hold one page's strings: no growth across pages
    text_key.cache_clear()
    body_tree = deepcopy(tree)  # pruned below; a copy is cheaper than a second parse
    headline = metadata.headline_element(tree)
    title = metadata.title(tree, rules.title, headline)
    published, updated = metadata.dates(tree, rules.date, headline)
    author = metadata.author(tree, rules.author)
    lead = metadata.lead(tree, rules.lead)

    # Sapo-classed blocks are the lead or related items' teasers: never body text.
    for el in select(body_tree, rules.lead) or metadata.sapo_elements(body_tree):
        if len(text_content(el)) < 1500:
            drop(el)
    lead_el = metadata.lead_element(body_tree, rules.lead)
    if lead_el is not None:
        drop(lead_el)
    prune(body_tree, rules.prune)
    paragraphs = body_paragraphs(body_tree, url, rules.body)
    paragraphs = clean_paragraphs(paragraphs, title)
    paragraphs = _drop_lead_and_byline(paragraphs, lead, author)
    if not lead and paragraphs:
        desc = normalize(metadata.description(tree))
        if desc and _similar_start(paragraphs[0], desc):
            lead = paragraphs.pop(0)
    return Article(
        url=metadata.canonical_url(tree, url), title=title, lead=lead or None, author=author,
        published=published, updated=updated, tags=metadata.tags(tree), paragraphs=paragraphs,
        image=metadata.image(tree, url), language=metadata.language(tree),
    )


def _similar_start(paragraph: str, description: str) -> bool:
    a, b = text_key(paragraph), text_key(description)
    n = min(len(a), len(b), 120)
    return n >= 40 and a[:n] == b[:n]


def _drop_lead_and_byline(paragraphs: list[str], lead: str | None, author: str | None) -> list[str]:
    """The lead is stored apart; a body copy of it (often with the byline glued on) goes."""
    out = []
    lead_key = text_key(lead) if lead else None
    for i, p in enumerate(paragraphs):
        k = text_key(p)
        if lead_key and i < 3 and (k == lead_key or (len(lead_key) > 40 and k.startswith(lead_key))):
            continue
        if author and clean_author(p) == author:
            continue
        out.append(p)
    return out


__all__ = ["extract_article", "extract_tree"]
