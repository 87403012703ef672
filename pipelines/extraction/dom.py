"""HTML-level work: decoding, pruning furniture before trafilatura sees the page.

Trafilatura keeps captions, in-body related boxes and comment threads on many
Vietnamese layouts; those are recognisable by markup (class names, image
tables, centred caption lines), so they are removed from the tree first.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

from lxml import etree, html as lxml_html
from lxml.cssselect import CSSSelector

# Blocks that are never article text: tags, and class/id/attribute fragments seen on VN outlets.
# Tested in Python in one pass over the page (a union of ``contains()`` XPaths scans it once per term).
_PRUNE_TAGS = frozenset({"script", "style", "noscript", "iframe", "form", "button", "select", "textarea",
                         "header", "footer", "nav", "aside", "figcaption"})
_PRUNE_ATTRS = {  # attribute -> test of its value
    "class": re.compile("relate|Relate|caption|Caption|comment|Comment|tinlienquan|lienquan|tin-lien-quan"
                        "|tag-list|keyword|share|social|advert|banner|tplCaption|author"
                        r"|(?:^|[ \t\r\n])(?:tags|Image)(?:[ \t\r\n]|$)").search,  # the last two: whole class names
    "id": re.compile("relate|Relate|comment|Comment|advert").search,
    "style": re.compile("display: ?none").search,
    "type": re.compile("RelatedNewsBox|RelatedOneNews|RelatedNews").fullmatch,
    "data-role": re.compile("author").fullmatch,
}
_XML_SPACE = re.compile(r"[ \t\r\n]+")  # what XPath normalize-space() and CSS class matching split on


def class_names(el) -> set[str]:
    """The element's class names, split the way CSS class selectors split them."""
    return set(_XML_SPACE.split(el.get("class") or ""))


def _is_furniture(el) -> bool:
    if el.tag in _PRUNE_TAGS:
        return True
    for name, value in el.items():
        test = _PRUNE_ATTRS.get(name)
        if test is not None and test(value):
            return True
    return False


def decode(page: str | bytes) -> str:
    """Bytes -> text: UTF-8 (what VN outlets serve), else the declared charset, else cp1258."""
    if isinstance(page, str):
        return page
    try:
        return page.decode("utf-8")
    except UnicodeDecodeError:
        m = re.search(rb"charset=[\"']?([\w-]+)", page[:4096], re.I)
        for enc in ([m.group(1).decode()] if m else []) + ["cp1258"]:
            try:
                return page.decode(enc, errors="replace")
            except LookupError:
                continue
    return page.decode("utf-8", errors="replace")


# lxml.html's parser picks each element's class (form controls get their own) in Python, once per
# element proxy: a sizeable share of extraction time. These pages need only HtmlElement's methods,
# so a C-level lookup giving every node its lxml.html class serves them.
_PARSER = etree.HTMLParser()
_PARSER.set_element_class_lookup(etree.ElementDefaultClassLookup(
    element=lxml_html.HtmlElement, comment=lxml_html.HtmlComment, pi=lxml_html.HtmlProcessingInstruction,
    entity=lxml_html.HtmlEntity))


def parse(text: str) -> lxml_html.HtmlElement:
    text = re.sub(r"^\s*<\?xml[^>]*>", "", text)
    return lxml_html.document_fromstring(text or "<html></html>", parser=_PARSER)


def text_content(el) -> str:
    """``el.text_content()``, read directly from a childless element (most headings and
    paragraphs): the XPath call behind ``text_content`` costs more than the rest of most uses."""
    return el.text_content() if len(el) else el.text or ""


# Text nodes (and tails) outside scripts and styles: what an article's title and text are made of.
_PAGE_TEXT = etree.XPath("//text()[not(parent::script or parent::style)]", smart_strings=False)


def page_texts(tree) -> Iterator[str]:
    """Every text a title, lead or body taken from this page can be made of: its text nodes run
    together (words split by inline tags, "<b>K</b>CN") and apart (blocks), and the <meta>
    contents (og:title, description). Made one by one: a reader may stop at the first."""
    nodes = _PAGE_TEXT(tree)
    yield "".join(nodes)
    yield " ".join(nodes)
    yield " ".join(m.get("content") or "" for m in tree.iter("meta"))


def text_of(el) -> str:
    return " ".join(text_content(el).split())


@lru_cache(maxsize=512)
def _compiled(css: str) -> CSSSelector | None:
    try:
        return CSSSelector(css, translator="html")
    except Exception:  # cssselect raises several error types for bad selectors
        return None


def select(tree, css: str | None) -> list:
    """CSS selection (compiled once per selector) that tolerates a bad selector in an outlet file."""
    selector = _compiled(css) if css else None
    if selector is None:
        return []
    try:
        return selector(tree)
    except Exception:  # e.g. an XPath evaluation error from an odd selector
        return []


def drop(el) -> None:
    """Remove an element (and its children) but keep its tail text in the document."""
    if el.getparent() is not None:
        el.drop_tree()


def _is_centered(el) -> bool:
    style = (el.get("style") or "").replace(" ", "").lower()
    return el.get("align", "").lower() == "center" or "text-align:center" in style


def _prev_has_image(el) -> bool:
    prev = el.getprevious()
    for _ in range(2):
        if prev is None:
            return False
        if prev.tag == "img" or prev.xpath(".//img"):
            return True
        if text_of(prev):
            return False
        prev = prev.getprevious()
    return False


def _furniture(tree) -> list:
    """Furniture to drop, in document order, leaving out what lies inside it (it goes with it)."""
    total = len(text_of(tree)) or 1
    found = []
    walker = etree.iterwalk(tree, events=("start",))
    for _, el in walker:
        if _is_furniture(el) and not _is_page_wrapper(el, total):
            found.append(el)
            walker.skip_subtree()
    return found


def _is_page_wrapper(el, total: int) -> bool:
    """A pattern matching a page-wide wrapper (ASP.NET <form>, a "share" layout div) is a false hit."""
    return el.tag in ("html", "body") or (el.tag not in ("script", "style") and len(text_of(el)) > total / 3)


def prune(tree, extra: tuple[str, ...] = ()) -> None:
    """Remove furniture in place from ``tree`` (a page or one element of it): generic patterns,
    outlet ``prune`` selectors, image captions."""
    for el in _furniture(tree):
        drop(el)
    for css in extra:
        for el in select(tree, css):
            drop(el)
    # Lists of links (related headlines without a heading) are not prose.
    for lst in tree.xpath(".//ul[count(li)>=2]|.//ol[count(li)>=2]"):
        total = len(text_of(lst))
        linked = sum(len(text_of(a)) for a in lst.iter("a"))
        if total and linked / total > 0.7:
            drop(lst)
    # Image tables (photo + caption cell): the caption is not article text.
    for table in tree.xpath(".//table[.//img]"):
        if len(text_of(table)) < 400:
            drop(table)
    # Centred short text right after (or holding) a picture is its caption.
    for el in tree.xpath(".//*[self::p or self::div or self::span or self::td][@align or @style]"):
        if el.getparent() is None or not _is_centered(el):
            continue
        txt = text_of(el)
        if txt and len(txt) < 300 and (el.xpath(".//img") or _prev_has_image(el)):
            for child in list(el):
                if child.tag != "img" and not child.xpath(".//img"):
                    drop(child)
            el.text = None
            if not el.xpath(".//img"):
                drop(el)


def tostring(el) -> str:
    return etree.tostring(el, encoding="unicode", method="html")
