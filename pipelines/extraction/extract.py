"""HTML -> Article. Trafilatura finds the body; our layers fix what it gets wrong on VN pages.

Order: metadata from the whole page; then, in place, the sapo dropped and
furniture pruned (generic patterns + the outlet's ``prune``) and trafilatura run
on the outlet's declared ``body`` container, or on the page when there is none;
then the shared text cleanup. Pure: no I/O.
"""
from __future__ import annotations

from crawler.registry import ExtractionRules
from pipelines.extraction import metadata
from pipelines.extraction.article import Article
from pipelines.extraction.body import body_paragraphs
from pipelines.extraction.cleanup import text_key, clean_author, clean_paragraphs, normalize
from pipelines.extraction.dom import decode, drop, parse, select, text_content


def extract_article(html: str | bytes, url: str, rules: ExtractionRules | None = None) -> Article:
    """Extract clean text and metadata from one article page (pure: no I/O)."""
    return extract_tree(parse(decode(html)), url, rules)


def extract_tree(tree, url: str, rules: ExtractionRules | None = None) -> Article:
    """``extract_article`` of a page already parsed (``dom.parse``). The tree is consumed:
    it is pruned in place rather than copied, so every field read from the whole page is
    read first."""
    rules = rules or ExtractionRules()
    normalize.cache_clear()  # the text memos hold one page's strings: no growth across pages
    text_key.cache_clear()
    headline = metadata.headline_element(tree)
    title = metadata.title(tree, rules.title, headline)
    published, updated = metadata.dates(tree, rules.date, headline)
    author = metadata.author(tree, rules.author)
    rule_blocks = select(tree, rules.lead)
    sapo_blocks = rule_blocks or metadata.sapo_elements(tree)
    lead_el = metadata.lead_element(tree, sapo_blocks)
    lead = metadata.lead_text(lead_el) if lead_el is not None else None
    page = dict(url=metadata.canonical_url(tree, url), tags=metadata.tags(tree),
                image=metadata.image(tree, url), language=metadata.language(tree))
    description = normalize(metadata.description(tree))

    _drop_sapo(tree, rule_blocks, sapo_blocks)
    paragraphs, body_from = body_paragraphs(tree, url, rules.body, rules.prune)
    paragraphs = clean_paragraphs(paragraphs, title)
    paragraphs = _drop_lead_and_byline(paragraphs, lead, author)
    if not lead and paragraphs and description and _similar_start(paragraphs[0], description):
        lead = paragraphs.pop(0)
    return Article(title=title, lead=lead or None, author=author, published=published,
                   updated=updated, paragraphs=paragraphs, body_from=body_from, **page)


def _drop_sapo(tree, rule_blocks: list, sapo_blocks: list) -> None:
    """Sapo-classed blocks are the lead or related items' teasers: never body text. Then the
    lead element of what is left (a body paragraph repeating the lead) goes too."""
    kept = []
    for el in sapo_blocks:
        if len(text_content(el)) < 1500:
            drop(el)
        else:
            kept.append(el)
    if rule_blocks and not kept:  # the rule's blocks are all gone: the generic classes, as with no rule
        kept = metadata.sapo_elements(tree)
    lead_el = metadata.lead_element(tree, kept)
    if lead_el is not None:
        drop(lead_el)


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
