"""Page metadata: canonical URL, title, dates, author, lead, tags, image, language.

Each field tries the most reliable source first: the outlet's own CSS rule,
then machine-readable data (JSON-LD, meta tags), then visible markup. Read on
the unpruned page: dates and bylines sit in blocks the body pruning removes.
"""
from __future__ import annotations

import html as html_lib
import json
import re
import unicodedata
from urllib.parse import urljoin, urlsplit

from lxml import etree

from pipelines.extraction.cleanup import text_key, clean_author, is_signature, normalize
from pipelines.extraction.dates import has_time, parse_date_line, parse_iso, parse_vietnamese_date, same_day
from pipelines.extraction.dom import class_names, select, text_content, text_of

# Sapo classes of the outlets seen so far (any element), and tag-qualified ones.
_LEAD_CLASSES = frozenset({"sapo", "detail-sapo", "sapo_detail", "article__sapo", "content-detail-sapo",
                           "singular-sapo", "lead", "description", "article-summary", "summary", "chapeau"})
_LEAD_TAG_CLASSES = {"h2": frozenset({"Lead"}), "p": frozenset({"Lead"})}
LEAD_CSS = ", ".join([*(f".{c}" for c in sorted(_LEAD_CLASSES)),
                      *(f"{tag}.{c}" for tag, cs in _LEAD_TAG_CLASSES.items() for c in sorted(cs))])
_LEAD_HINT = re.compile("sapo|lead|Lead|description|summary|chapeau")  # in every name above
_NO_CLASSES: frozenset[str] = frozenset()
_CLASSED = etree.XPath("descendant-or-self::*[@class]")
_RELATED_LINK = re.compile(r"\s*>>")
_NON_SPACE = re.compile(r"\S")
_key = text_key.__wrapped__  # text_key without its memo, for strings seen once
_DATE_XPATH = (
    "//*[@data-role='publishdate' or contains(@class,'date') or contains(@class,'Date') or contains(@class,'time')"
    " or contains(@class,'Time') or contains(@id,'date') or contains(@id,'time')][not(self::script)][not(self::meta)]"
)


def _meta(tree, *names: str) -> str | None:
    """Content of the first non-empty <meta> whose property, name or itemprop is ``names[0]``, else ``names[1]``..."""
    metas = [(el, {el.get("property"), el.get("name"), el.get("itemprop")}) for el in tree.iter("meta")]
    for name in names:
        for el, keys in metas:
            if name in keys and (value := normalize(el.get("content"))):
                return value
    return None


def json_ld(tree) -> list[dict]:
    """All JSON-LD objects of the page, flattened out of lists and @graph."""
    out: list[dict] = []
    for script in tree.xpath("//script[@type='application/ld+json']"):
        raw = html_lib.unescape(script.text or "")
        try:
            data = json.loads(raw, strict=False)
        except ValueError:
            continue
        stack = [data]
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, dict):
                out.append(item)
                stack.extend(item.get("@graph", []) if isinstance(item.get("@graph"), list) else [])
    return out


def _articles(ld: list[dict]) -> list[dict]:
    return [d for d in ld if "Article" in str(d.get("@type", "")) or "datePublished" in d]


def canonical_url(tree, url: str) -> str:
    """rel=canonical, else og:url, when it stays on the page's own site; else the fetched URL."""
    site = _site(url)
    for cand in [*tree.xpath("//link[@rel='canonical']/@href"), _meta(tree, "og:url")]:
        if cand:
            absolute = urljoin(url, cand.strip())
            if absolute.startswith("http") and _site(absolute) == site:
                return absolute
    return url


def _site(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return ".".join(host.split(".")[-3:]) if host.endswith(".com.vn") else ".".join(host.split(".")[-2:])


def _strip_site_suffix(title: str) -> str:
    """"Headline - Ảnh | Site - Brand" -> "Headline": cut at " | ", then one short " - Section" tail."""
    title = re.split(r"\s+\|\s+", title)[0]
    parts = re.split(r"\s+[-–—]\s+", title)
    if len(parts) > 1 and len(parts[-1].split()) <= 4:
        title = title[: title.rfind(parts[-1])].rstrip(" -–—")
    return title.strip()


def _overlap(a: str, b: str) -> float:
    ta, tb = set(text_key(a).split()), set(text_key(b).split())
    return len(ta & tb) / max(len(ta), len(tb)) if ta and tb else 0.0


_H1 = etree.XPath("//body//h1")
_HEADLINE_CANDIDATES = etree.XPath("//body//h1 | //body//*[contains(@class,'title') or contains(@class,'Title')]")


def headline_element(tree):
    """The printed headline: the <h1> (or title-classed element) agreeing with og:title / <title>.

    The printed headline wins over og:title, which outlets often shorten or reword for sharing.
    An <h1> with all the reference's words cannot be outscored, so the scan of every
    title-classed element (dozens on a news page) is left out when there is one.
    """
    refs = [_strip_site_suffix(r) for r in (normalize(_meta(tree, "og:title") or ""),
                                             *(normalize(text_of(t)) for t in tree.xpath("//title"))) if r]
    if not refs:
        return None
    if (h1 := next((el for el in _H1(tree) if _headline_overlap(el, refs) == 1.0), None)) is not None:
        return h1
    best, best_score = None, 0.0
    for el in _HEADLINE_CANDIDATES(tree):
        score = _headline_overlap(el, refs) + (0.05 if el.tag == "h1" else 0.0)
        if score > best_score:
            best, best_score = el, score
    return best if best_score >= 0.6 else None


def _headline_overlap(el, refs: list[str]) -> float:
    """How well ``el``'s text agrees with the best of ``refs`` (0 for a text no headline has)."""
    t = normalize(text_of(el))
    return max(_overlap(t, r) for r in refs) if 10 <= len(t) <= 300 else 0.0


def title(tree, css: str | None, headline) -> str | None:
    """The outlet rule's element, else ``headline`` (``headline_element``), else og:title / <title>."""
    el = next((el for el in select(tree, css) if text_of(el)), headline)
    if el is not None:
        return normalize(text_of(el))
    og = normalize(_meta(tree, "og:title") or "")
    doc = normalize(" ".join(tree.xpath("//title//text()")))
    return _strip_site_suffix(og or doc) or None


def dates(tree, css: str | None, headline) -> tuple[str | None, str | None]:
    """(published, updated). JSON-LD, meta, <time>, then date lines printed on the page
    (the one nearest ``headline``, the ``headline_element``, among several)."""
    published = updated = None
    for el in select(tree, css):
        published = parse_vietnamese_date(text_of(el)) or parse_iso(el.get("datetime") or el.get("content"))
        if published:
            break
    ld = _articles(json_ld(tree))
    published = published or next((p for d in ld if (p := parse_iso(str(d.get("datePublished") or ""))) is not None), None)
    updated = next((p for d in ld if (p := parse_iso(str(d.get("dateModified") or ""))) is not None), None)
    published = published or parse_iso(_meta(tree, "article:published_time", "datePublished", "pubdate",
                                             "publishdate", "dc.date.issued", "date"))
    updated = updated or parse_iso(_meta(tree, "article:modified_time", "dateModified", "lastmod"))
    if not published:
        for el in tree.xpath("//time[@datetime]"):
            published = parse_iso(el.get("datetime")) or parse_vietnamese_date(el.get("datetime"))
            if published:
                break
    if not published or not has_time(published):
        line_date = _visible_date(tree, headline)
        if line_date and (not published or same_day(published, line_date)):
            published = line_date
    if not published:
        published = _htmldate(tree)
    return published, updated


def _visible_date(tree, anchor=None) -> str | None:
    """The date stamp printed with the article: in a date/time-classed element, else any
    stamp-only text; among several, the one nearest the headline (not a rail's timestamps)."""
    found = []
    for el in tree.xpath(_DATE_XPATH):
        txt = text_of(el)
        if txt and len(txt) <= 80 and (d := parse_vietnamese_date(txt)):
            found.append((el, d))
    if not found:
        for node in tree.xpath("//body//text()[normalize-space()][not(ancestor::script)][not(ancestor::style)]"):
            if (d := parse_date_line(str(node))) and has_time(d):
                found.append((node.getparent(), d))
    if not found:
        return None
    if anchor is None or len(found) == 1:
        return found[0][1]
    order = {el: i for i, el in enumerate(tree.iter())}
    where = order.get(anchor, 0)
    return min(found, key=lambda f: (abs(order.get(f[0], 0) - where), not has_time(f[1])))[1]


def _htmldate(tree) -> str | None:
    try:
        from htmldate import find_date
        found = find_date(tree, extensive_search=False, original_date=True, outputformat="%Y-%m-%d")
    except Exception:  # htmldate is a best-effort last resort
        return None
    return found or None


def author(tree, css: str | None) -> str | None:
    """Byline name(s); None when only the outlet is named."""
    for el in select(tree, css):
        if (name := clean_author(text_of(el))):
            return name
    names = []
    for d in _articles(json_ld(tree)):
        people = d.get("author")
        for p in people if isinstance(people, list) else [people]:
            if isinstance(p, dict) and "Organization" not in str(p.get("@type", "")):
                if (name := clean_author(str(p.get("name") or ""))) and name not in names:
                    names.append(name)
    if names:
        return " - ".join(names)
    for name in ("article:author", "dable:author"):
        value = _meta(tree, name) or ""
        if " " in value or ";" in value:  # "baotuoitre", URLs: an account, not a name
            if (cleaned := clean_author(" - ".join(v.strip() for v in value.split(";")))):
                return cleaned
    for el in tree.xpath("//*[@data-role='author' or contains(@class,'author-name') or "
                         "contains(concat(' ',normalize-space(@class),' '),' author ')]"):
        if (name := clean_author(text_of(el))) and is_signature(name):
            return name
    return _right_aligned_byline(tree)


def _right_aligned_byline(tree) -> str | None:
    """Old layouts sign articles with a right-aligned short line under the text."""
    for el in tree.xpath("//*[self::p or self::div][@align or @style]"):
        style = (el.get("style") or "").replace(" ", "").lower()
        if el.get("align", "").lower() == "right" or "text-align:right" in style:
            txt = normalize(text_of(el))
            if txt and len(txt) <= 60 and (name := clean_author(txt)) and is_signature(name):
                return name
    return None


def sapo_elements(tree) -> list:
    """The elements ``LEAD_CSS`` selects, in document order (class names tested in Python: much
    cheaper than the CSS union, which scans the page once per class)."""
    out = []
    for el in _CLASSED(tree):
        if not _LEAD_HINT.search(el.get("class")):
            continue
        names = class_names(el)
        if not _LEAD_CLASSES.isdisjoint(names) or not _LEAD_TAG_CLASSES.get(el.tag, _NO_CLASSES).isdisjoint(names):
            out.append(el)
    return out


def lead_element(tree, blocks: list):
    """The sapo element: the first of ``blocks`` (the outlet rule's elements, else
    ``sapo_elements``) with a lead's length, else the block that opens like the description."""
    for el in blocks:
        if len(lead_text(el)) >= 40:
            return el
    desc = text_key(description(tree) or "")[:60]
    body = tree.find("body")
    if len(desc) >= 40 and body is not None and _may_open_a_block(body, desc):
        found = [el for el in _lead_candidates(body) if _opens_with(el, desc)]
        if found:  # the innermost block, not a wrapper that merely starts with the sapo
            return min(found, key=lambda el: len(text_of(el)))
    return None


_UNSURE = 20  # key characters at the end of a head's key that may differ from the whole text's key


def _may_open_a_block(body, key: str) -> bool:
    """False when no block of ``body`` can open with ``key``, found with one search of its text.

    A block's key is its casefolded, NFC-composed text with each run of non-word characters made
    one space, and agrees with the body's text except at the block's two ends (a combining
    sequence cut by its edges): so the words of ``key`` but its first and last, in order and
    separated by non-word runs, are in the body's text whenever some block opens with ``key``.
    With the sapo dropped, they rarely are, and testing every block (hundreds) costs much more.
    """
    inner_words = key.split(" ")[1:-1]
    if not inner_words:
        return True
    text = unicodedata.normalize("NFC", text_content(body)).casefold()
    return re.search(r"[\W_]+".join(map(re.escape, inner_words)), text) is not None


def _opens_with(el, key: str) -> bool:
    """``text_key(lead_text(el)).startswith(key)``, mostly decided on the first characters of the text.

    The key of a prefix of the text agrees with the whole text's key except in its last few
    characters (a combining sequence or a ">>" cut at the boundary), so all but the last
    ``_UNSURE`` characters of a head's key can reject, or accept once they cover ``key``.
    """
    text = text_content(el)
    start = m.start() if (m := _NON_SPACE.search(text)) else len(text)  # leading whitespace has no key
    size = 64
    while start + size < len(text):
        head_key = _lead_key(text[start:start + size])
        sure = min(len(key), max(0, len(head_key) - _UNSURE))
        if head_key[:sure] != key[:sure]:
            return False
        if sure == len(key):
            return True
        size *= 4
    return _lead_key(text).startswith(key)


def _lead_key(raw: str) -> str:
    """``text_key(_lead_text_of(raw))``, without the whitespace collapsing that makes no difference to a key."""
    return _key(unicodedata.normalize("NFC", raw).split(">>", 1)[0])


def _lead_candidates(body) -> list:
    """``//body//*[self::h2 or self::h3 or self::p or self::div or self::span or self::strong]``."""
    return list(body.iter("h2", "h3", "p", "div", "span", "strong"))


def lead_text(el) -> str:
    """The lead of ``lead_element``'s element: its text without a trailing ">> headline" link."""
    return _lead_text_of(text_content(el))


def _lead_text_of(raw: str | None) -> str:
    # Drop embedded ">> related headline" links (Dân trí 2012 sapos end with one).
    txt = normalize(" ".join((raw or "").split()))
    return normalize(_RELATED_LINK.split(txt, 1)[0])


def description(tree) -> str | None:
    return _meta(tree, "description", "og:description")


def tags(tree) -> list[str]:
    raw = _meta(tree, "news_keywords", "keywords", "article:tag") or ""
    return [t.strip() for t in raw.split(",") if t.strip()][:30]


def image(tree, url: str) -> str | None:
    src = _meta(tree, "og:image")
    return urljoin(url, src) if src else None


def language(tree) -> str | None:
    lang = (tree.get("lang") or _meta(tree, "og:locale", "language") or "").lower()
    return lang[:2] if lang else None
