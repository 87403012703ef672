"""Body text: trafilatura's paragraphs, with the blocks it skipped inside the article put back.

Trafilatura sometimes drops in-article headings (Báo Chính phủ's <h2>s) and
bare-text <div> paragraphs of old ASP.NET layouts (Dân trí 2012). Its output
tells where the article is; every leaf block of the pruned page that lies
between two of its paragraphs, inside their common container, is article text
it skipped, and goes back in at its place.
"""
from __future__ import annotations

import trafilatura

from pipelines.extraction.cleanup import text_key, normalize
from pipelines.extraction.dom import prune, select, tostring

_BLOCKS = ("p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "td", "th", "pre", "dd", "dt")


def body_paragraphs(tree, url: str, body_css: str | None,
                    prune_css: tuple[str, ...] = ()) -> tuple[list[str], str]:
    """Paragraph lines of the article body, pruning ``tree`` in place, and where they were
    read: "container" or "page".

    With one element matching the outlet's ``body`` selector, only that container is pruned
    and extracted (a tenth to a third of the page: it costs that much less). When there is
    none, several, or too little text in it (a layout change), the whole page is.
    """
    for br in tree.iter("br"):
        br.tail = "\n" + (br.tail or "")
    containers = select(tree, body_css)
    if len(containers) == 1:
        prune(containers[0], prune_css)
        lines = _extracted_lines(containers[0], url)
        if lines:
            return _recover_skipped(containers[0], lines), "container"
    prune(tree, prune_css)
    return _recover_skipped(tree, _extracted_lines(tree, url)), "page"


def _extracted_lines(scope, url: str) -> list[str]:
    """Trafilatura's text of ``scope`` as normalised lines; none when it finds 200 characters or fewer."""
    out = trafilatura.extract(tostring(scope), url=url, include_comments=False, include_tables=True,
                              include_images=False, deduplicate=False)
    if not out or len(out) <= 200:
        return []
    return [normalize(x) for x in out.split("\n") if normalize(x)]


def _leaf_blocks(scope) -> list:
    """Blocks inside ``scope`` holding no other block, in document order.

    One walk up from each block marks the elements holding one (an XPath ``not(.//p or ...)``
    per block searches each subtree again, and costs several times more).
    """
    blocks = list(scope.iterdescendants(*_BLOCKS))
    holders = set()
    for el in blocks:
        parent = el.getparent()
        while parent is not None and parent not in holders:  # above a marked one, all are marked
            holders.add(parent)
            parent = parent.getparent()
    return [el for el in blocks if el not in holders]


def _leaf_lines(scope) -> list[tuple[object, str]]:
    out = []
    for el in _leaf_blocks(scope):
        text = "".join(el.itertext())
        for line in text.split("\n"):
            line = normalize(line)
            if line:
                out.append((el, line))
    return out


def _link_dense(el) -> bool:
    total = len(normalize("".join(el.itertext())))
    linked = sum(len(normalize("".join(a.itertext()))) for a in el.iter("a"))
    return total == 0 or linked / total > 0.5


def _majority_container(elements: list):
    """Deepest element holding at least 80% of the matched blocks (outliers such as footers ignored)."""
    counts: dict = {}
    depth: dict = {}
    for el in elements:
        for d, anc in enumerate(reversed([el, *el.iterancestors()])):
            counts[anc] = counts.get(anc, 0) + 1
            depth[anc] = d
    need = 0.8 * len(elements)
    good = [a for a, c in counts.items() if c >= need]
    return max(good, key=lambda a: depth[a]) if good else None


def _find(keys: list[str], k: str, start: int) -> int | None:
    """Leaf block of a trafilatura line: exact match first, then the line inside a block (<br> splits)."""
    tests = [lambda b: b == k]
    if len(k) > 30:
        tests.append(lambda b: k in b)
    for test in tests:
        for rng in (range(start, len(keys)), range(0, min(start, len(keys)))):
            for i in rng:
                if test(keys[i]):
                    return i
    return None


def _recover_skipped(scope, lines: list[str]) -> list[str]:
    """Put back skipped blocks between matched paragraphs; drop matched lines outside the article."""
    if not lines:
        return lines
    flat = _leaf_lines(scope)
    keys = [text_key(line) for _, line in flat]
    matched: list[int | None] = []
    cursor = 0
    for line in lines:
        pos = _find(keys, text_key(line), cursor)
        matched.append(pos)
        if pos is not None:
            cursor = pos + 1
    hits = [p for p in matched if p is not None]
    if len(hits) < 3:
        return lines
    container = _majority_container([flat[p][0] for p in hits])
    if container is None:
        return lines
    inside = set(container.iter())
    taken = set(hits)
    out: list[str] = []
    first = min((p for p in hits if flat[p][0] in inside), default=0)
    prev = max((i for i in range(first) if flat[i][0] not in inside), default=-1)
    for line, pos in zip(lines, matched):
        if pos is not None and flat[pos][0] not in inside:
            continue  # a footer/rail line trafilatura picked up outside the article container
        if pos is not None and pos > prev:
            for i in range(prev + 1, pos):
                el, text = flat[i]
                if i not in taken and el in inside and not _link_dense(el) and len(text.split()) >= 2:
                    out.append(text)
                    taken.add(i)
        out.append(line)
        if pos is not None:
            prev = pos
    return out
