"""The legacy archive's plain-text files: title line, blank line, paragraphs.

Those files were dumped from pages without cleanup, so they carry the same
furniture the HTML extractor removes; they go through the same
``clean_paragraphs``. The date stamp line, when the dump kept one, is the only
date trusted (never one mentioned in the body).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from pipelines.extraction.cleanup import byline_date, clean_paragraphs, is_boilerplate, is_list_heading, normalize


@dataclass
class LegacyText:
    """Title, date stamp, byline and clean paragraphs of one legacy text file.

    Iterates as ``(title, paragraphs)``, so ``title, paragraphs = read_legacy_text(t)`` works.
    """

    title: str | None
    paragraphs: list[str] = field(default_factory=list)
    published: str | None = None  # from a "Cập nhật: ..." or "Name dd/mm/yyyy hh:mm" line only
    author: str | None = None

    def __iter__(self):
        return iter((self.title, self.paragraphs))


def _blocks(text: str) -> list[str]:
    return [b.strip("\n") for b in re.split(r"\n\s*\n", text.replace("\r\n", "\n")) if b.strip()]


def _is_section_label(line: str, following: str | None) -> bool:
    """ "Chuyển động Hà Nội" above the title: a few words, then a longer line that is not a sentence."""
    return (following is not None and len(line.split()) <= 5 and not re.search(r"[.!?:]$", line)
            and len(following) > len(line) and not re.search(r"[.!?]$", following))


def read_legacy_text(text: str) -> LegacyText:
    """(title, clean paragraphs) of a legacy plain-text file, plus the stamped date if present."""
    blocks = _blocks(text)
    first_lines = [normalize(line) for b in blocks[:4] for line in b.split("\n") if normalize(line)]
    candidates = [line for line in first_lines if not is_boilerplate(line) and not is_list_heading(line)]
    title = candidates[0] if candidates else None
    if title and len(candidates) > 1 and _is_section_label(title, candidates[1]):
        title = candidates[1]
    published = author = None
    for block in blocks[:6]:  # the stamp sits under the title, never deep in the body
        for line in block.split("\n"):
            who, when = byline_date(normalize(line))
            if when:
                published, author = when, who
                break
        if published:
            break
    body = blocks
    if title:  # drop everything up to and including the title line (section label, widgets)
        for i, block in enumerate(blocks):
            if any(normalize(line) == title for line in block.split("\n")):
                body = blocks[i + 1:]
                break
    return LegacyText(title=title, paragraphs=clean_paragraphs(body, title),
                      published=published, author=author)
