"""Text-level cleanup: the rules that need only plain paragraphs, not HTML.

One function, ``clean_paragraphs``, serves both the HTML extractor (after
trafilatura) and the legacy archive's plain-text files, so a boilerplate rule
learnt on one source protects the other.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from pipelines.extraction.dates import parse_date_line, parse_vietnamese_date

_DATE = r"\d{1,2}[/.-]\d{1,2}[/.-]\d{4}"

# Headings that start a related-news / most-read list: everything after them goes.
_LIST_HEADING = re.compile(
    r"^(?:>>\s*)?(?:tin|bài)\s+(?:liên quan|cùng chuyên mục|cùng chủ đề|khác|cũ hơn|mới hơn|mới nhất|mới|xem nhiều(?: nhất)?)"
    r"|^các (?:tin|bài)(?: viết)? (?:khác|liên quan|cùng chuyên mục|đã đưa)"
    r"|^(?:đọc|xem) (?:thêm|nhiều|tiếp)|^đọc nhiều|^xem nhiều|^nổi bật|^đừng bỏ lỡ|^có thể bạn quan tâm"
    r"|^bạn (?:có thể )?quan tâm|^theo dòng sự kiện|^cùng chuyên mục|^tham khảo thêm|^bình luận được xem nhiều"
    r"|^ý kiến bạn đọc|^gửi bình luận|^bình luận\b|^\(\d+\) bình luận|^tin tiêu điểm|^tiêu điểm$|^video nổi bật",
    re.I)

# Single lines that are page furniture, wherever they appear.
_BOILERPLATE = re.compile(
    r"^(?:nhỏ\s+bình thường\s+lớn|cỡ chữ\b.*|a\s*-?\s*a\s*\+?)$"          # font-size widgets
    r"|^(?:tags?|từ khóa|từ khoá|chủ đề|hashtag)\s*:?(?:\s|$)"               # tag lines
    r"|^powered by\b|^©|^copyright\b|bản quyền thuộc|all rights reserved"    # CMS footers
    r"|^xem các tin đã đưa ngày|^tin trong\s*:|^chia sẻ(?: bài viết)?\s*:?$|^in bài$|^gửi bài$"
    r"|^\(\d+\)\s*bình luận$|^bình luận\s*\(\d+\)$|^link bài gốc|^lấy link|^nguồn\s*:\s*\S+\.\S+$"
    r"|^>>\s|^\[[^\]]{1,20}\]$",                                                               # ">> related headline" links
    re.I)

_IMAGE_FILE = re.compile(r"^\S+\.(?:jpe?g|png|gif|webp|bmp|tiff?)$", re.I)
# Caption-ish lines: "(Ảnh: X)" / "Ảnh: X" at the end, "Ảnh minh họa", "(Nguồn: X)".
_CAPTION = re.compile(
    r"^ảnh(?: minh họa| minh hoạ)?\s*[.:]?|(?:\(|\.\s|^|-\s)ảnh(?: minh họa| minh hoạ)?\s*:\s*[^.]{1,60}\)?\.?$"
    r"|\((?:ảnh|nguồn)\s*:[^)]{1,60}\)\.?$", re.I)

_BYLINE_PREFIX = re.compile(r"^(?:theo|tin, ảnh|tin và ảnh|tin|ảnh|bài và ảnh|bài, ảnh|bài|nhóm pv|pv|ctv)\s*:?\s+", re.I)
_BYLINE_SUFFIX = re.compile(r"\s*\((?:tổng hợp|theo [^)]*|t/h|th)\)\s*$", re.I)
_NAME = r"[A-ZĐÀ-Ỹ][\wÀ-ỹ.]*"
_BYLINE_DATE = re.compile(rf"^((?:{_NAME}\s+){{0,4}}{_NAME})\s*[-–|,]?\s*(?:{_DATE}.*)$")


_NON_WORD = re.compile(r"[\W_]+")


# Both are memoised: one page asks for the same lines' forms many times (about 5 calls per distinct
# string); extract_article clears the memos for each page.
@lru_cache(maxsize=1024)
def normalize(text: str | None) -> str:
    """NFC with whitespace collapsed: the one text form the archive stores."""
    return " ".join(unicodedata.normalize("NFC", text or "").split())


@lru_cache(maxsize=1024)
def text_key(text: str) -> str:
    """Comparison key: case-, punctuation- and space-insensitive."""
    return _NON_WORD.sub(" ", text.casefold()).strip()


def clean_author(text: str | None) -> str | None:
    """Byline -> name: drop "Theo", "Tin, ảnh:", "(tổng hợp)"; None for empty/URL/outlet-like values."""
    text = normalize(text)
    if not text:
        return None
    text = _BYLINE_SUFFIX.sub("", _BYLINE_PREFIX.sub("", text)).strip(" -–|,;")
    if not text or re.search(r"https?:|www\.|\.(?:vn|com|net)\b|^\d+$", text, re.I) or len(text.split()) > 8:
        return None
    return text


def is_byline_date(line: str) -> bool:
    """"Phan Anh 05/04/2024 12:06": a short name followed by the publication stamp."""
    m = _BYLINE_DATE.match(line)
    return bool(m and len(line) <= 80 and parse_vietnamese_date(line))


def byline_date(line: str) -> tuple[str | None, str | None]:
    """(author, date) of a byline+date line or a bare date line; (None, None) otherwise."""
    if parse_date_line(line):
        return None, parse_date_line(line)
    if is_byline_date(line):
        return clean_author(_BYLINE_DATE.match(line).group(1)), parse_vietnamese_date(line)
    return None, None


def is_list_heading(line: str) -> bool:
    """ "Tin liên quan", "Các tin khác", "Đừng bỏ lỡ" ...: the start of a list of other stories."""
    return bool(_LIST_HEADING.search(line)) and len(line.split()) <= 8


def is_boilerplate(line: str) -> bool:
    return bool(_BOILERPLATE.search(line) or parse_date_line(line) or is_byline_date(line))


def is_signature(line: str) -> bool:
    """A closing byline ("AN NA", "K. Miên", "Hà Thu (tổng hợp)"): a few words, no sentence punctuation."""
    line = _BYLINE_SUFFIX.sub("", _BYLINE_PREFIX.sub("", line))
    return 0 < len(line.split()) <= 5 and not re.search(r"[.!?:;\"”)…]$|\d", line) and line[:1].isupper()


def is_caption(line: str) -> bool:
    return len(line) < 200 and bool(_CAPTION.search(line))


def _lines(paragraphs: list[str]) -> list[tuple[int, str]]:
    """Flatten to (block number, line): lines of one block stay related (file name + its caption)."""
    out = []
    for block_no, para in enumerate(paragraphs):
        for line in (para or "").split("\n"):
            line = normalize(line)
            if line:
                out.append((block_no, line))
    return out


def clean_paragraphs(paragraphs: list[str], title: str | None = None) -> list[str]:
    """Article paragraphs without page furniture, in order, each once.

    A paragraph may hold several lines ("\\n"): lines of one block are treated
    as neighbours, e.g. an image file name and the caption printed under it.
    Drops: title repeats, date and byline+date lines, tag lines, font-size and
    comment widgets, CMS footers, ">> ..." links, image file names with their
    caption, captions printed twice (alt text + caption), related-news lists from
    their heading ("Tin liên quan", "Các tin khác", "Tin cũ hơn", "Đừng bỏ lỡ" ...)
    to the end, a trailing run of truncated teasers ("... ..."), and repeated
    paragraphs (first occurrence kept). Output is NFC, whitespace collapsed.
    """
    lines = _lines(paragraphs)
    title_key = text_key(normalize(title)) if title else None
    kept: list[tuple[int, str]] = []
    skip_block = None
    for block_no, line in lines:
        if is_list_heading(line):
            if kept:  # a list heading after article text: the rest of the page is lists
                break
            continue
        if block_no == skip_block:
            continue  # caption following an image file name in the same block
        if _IMAGE_FILE.match(line):
            skip_block = block_no
            continue
        if title_key and title_key in text_key(line) and _is_title_line(text_key(line), title_key):
            continue
        if is_boilerplate(line) or is_caption(line):
            continue
        kept.append((block_no, line))
    kept = _drop_twin_lines(kept)
    kept = _drop_trailing_teasers(kept)
    if kept and is_signature(kept[-1][1]):
        kept.pop()
    seen: set[str] = set()
    out: list[str] = []
    for _, line in kept:
        k = text_key(line)
        if k and k not in seen:
            seen.add(k)
            out.append(line)
    return out


def _is_title_line(key: str, title_key: str) -> bool:
    """The title itself, or the title glued to a date stamp / section label."""
    rest = key.replace(title_key, " ").strip()
    return not rest or len(rest.split()) <= 12


def _drop_twin_lines(lines: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """A short line printed twice in a row is a caption (alt + caption) or a related headline."""
    out, i = [], 0
    while i < len(lines):
        line = lines[i][1]
        if (i + 1 < len(lines) and text_key(lines[i + 1][1]) == text_key(line)
                and len(line.split()) <= 40):
            i += 2
            while i < len(lines) and text_key(lines[i][1]) == text_key(line):
                i += 1
            continue
        out.append(lines[i])
        i += 1
    return out


def _is_teaser(line: str) -> bool:
    return bool(re.search(r"\s(?:\.\.\.|…)$", line))


def _drop_trailing_teasers(lines: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Related items below the article end in a cut-off teaser ("... tiếp ..."); two or more in a run go."""
    end = len(lines)
    while end and _is_teaser(lines[end - 1][1]):
        end -= 1
    return lines[:end] if len(lines) - end >= 2 else lines
