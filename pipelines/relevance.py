"""Stage 2: is this article about Vietnam's industrial zones (KCN, CCN, KKT...)?

A pure, explainable scorer. The vocabulary and its weights are data in
``relevance_terms.toml`` next to this module; this file only says how matches
combine:

* zone phrases ("khu công nghiệp") match accent-, case- and đ/d-insensitively;
  abbreviations ("KCN") only as uppercase whole words;
* a title match weighs ``title_multiplier`` times a body match; body counts grow
  as log2(1 + n), capped, so one passing mention in a long text stays low;
* a named zone ("KCN Thăng Long", "Khu kinh tế mở Chu Lai") earns a bonus;
* support words (giá thuê, lấp đầy...) and incident words (trộm, tai nạn...)
  are read in the title and lead only: support counts only next to a zone
  term there, incidents subtract (the zone is then just a crime scene).

``score_relevance`` returns a ``Relevance`` with the score, the matched terms and
one human-readable reason per contribution. ``RelevancePipeline`` applies it in
the crawl.
"""
from __future__ import annotations

import math
import re
import sys
import tomllib
import unicodedata
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from scrapy.exceptions import DropItem

from archive.db import NOT_RELEVANT
from pipelines.base import SessionPipeline

TERMS_FILE = Path(__file__).with_name("relevance_terms.toml")
# Chosen on tests/fixtures/relevance/labelled.jsonl (python -m
# pipelines.evaluate_relevance): every threshold in (3.0, 4.5] scores the same
# there; 4.0 sits inside that plateau and keeps the design rules: one title
# mention (6.0) passes, one plain body mention (3.0) does not, unless the lead
# names the zone (+1.5) or adds a support word (+1.0 each).
DEFAULT_THRESHOLD = 4.0

_ALNUM = r"A-Za-z0-9"


# ------------------------------------------------------------------ folding
def _fold_char(ch: str, lower: bool) -> str:
    """One char -> one char: strip Vietnamese diacritics, đ -> d (keeps offsets aligned)."""
    if ch in "đĐ":
        base = "d" if ch == "đ" else "D"
    else:
        base = "".join(c for c in unicodedata.normalize("NFD", ch) if not unicodedata.combining(c))
        base = base if len(base) == 1 else ch
    if lower:
        low = base.lower()
        base = low if len(low) == 1 else base
    return base


class _FoldTable:
    """Codepoint -> folded codepoint, filled lazily (each distinct character is folded
    once); a whole text then maps in one numpy lookup instead of a per-character
    ``str.translate`` dict lookup."""

    _UNSEEN = 0  # entries hold folded codepoint + 1, so the zeroed table means "not folded yet"

    def __init__(self, lower: bool) -> None:
        self.lower = lower
        # np.zeros is calloc'ed: only the pages of characters met take memory.
        self.table = np.zeros(sys.maxunicode + 1, dtype=np.uint32)

    def __call__(self, text: str) -> str:
        codes = np.frombuffer(text.encode(_UTF32, "surrogatepass"), dtype=np.uint32)
        folded = self.table[codes]
        if not folded.all():
            self._learn(codes[folded == self._UNSEEN])
            folded = self.table[codes]
        return (folded - 1).tobytes().decode(_UTF32, "surrogatepass")

    def _learn(self, codes: np.ndarray) -> None:
        for code in np.unique(codes).tolist():
            self.table[code] = ord(_fold_char(chr(code), self.lower)) + 1


_UTF32 = "utf-32-le" if sys.byteorder == "little" else "utf-32-be"  # native order, as numpy reads it
_FOLD = {True: _FoldTable(lower=True), False: _FoldTable(lower=False)}


def fold(text: str, *, lower: bool = True) -> str:
    """Accent-folded copy of NFC ``text`` with the same length, so spans map back."""
    return _FOLD[lower](text)


_NON_SPACE_WHITESPACE = re.compile(r"[^\S ]")


def nfc(text: str | None) -> str:
    """NFC with unified whitespace: input may come NFD or with NBSPs from the web."""
    return _NON_SPACE_WHITESPACE.sub(" ", unicodedata.normalize("NFC", text or ""))


# ------------------------------------------------------------------ vocabulary
@dataclass(frozen=True)
class Term:
    term: str            # canonical form, as written in the TOML
    weight: float
    pattern: re.Pattern  # compiled against the folded text
    cased: bool          # True: matched against the case-kept fold (abbreviations)
    # Every match, its whitespace squeezed to single spaces, contains ``needle``: a
    # cheap ``in`` on the squeezed text rules most terms out without a regex scan.
    needle: str


def _words_regex(words: str) -> str:
    return r"\s+".join(re.escape(w) for w in words.split())


def squeeze(text: str) -> str:
    """``text`` with every whitespace run as one space (the view ``Term.needle`` is sought in)."""
    return " ".join(text.split())


def _whole(words: list[str], first: str, edge: str) -> re.Pattern:
    """``words`` (``first``: the regex of the first one) apart by whitespace, with no
    ``edge`` character before or after. The lookbehind sits after the first word: an
    equivalent form that lets the regex engine jump to that word instead of trying
    every position of the text (~30x faster)."""
    rest = "".join(rf"\s+{re.escape(w)}" for w in words[1:])
    return re.compile(rf"{first}(?<!{edge}{first}){rest}(?!{edge})")


def _phrase(term: str, weight: float) -> Term:
    """Accent/case-insensitive whole phrase."""
    words = fold(term).split()
    return Term(term, weight, _whole(words, re.escape(words[0]), r"\w"), False, " ".join(words))


def _abbrev(term: str, weight: float) -> Term:
    """Case-sensitive whole word; a multi-word one may start lower ('khu CN')."""
    folded = fold(term, lower=False)
    words = folded.split()
    first, needle = re.escape(words[0]), " ".join(words)
    if " " in folded and folded[0].isalpha():
        first = f"[{folded[0].upper()}{folded[0].lower()}]" + re.escape(words[0][1:])
        needle = needle[1:]  # the first letter may come in either case
    return Term(term, weight, _whole(words, first, f"[{_ALNUM}]"), True, needle)


@dataclass(frozen=True)
class Vocabulary:
    zone: tuple[Term, ...]
    support: tuple[Term, ...]
    negative: tuple[Term, ...]
    exclude: tuple[Term, ...]
    named: re.Pattern
    scoring: dict = field(default_factory=dict)
    named_cfg: dict = field(default_factory=dict)
    # Every zone term and named-zone head, folded and lowercased: without one of them
    # somewhere in a text, nothing in it can score (``may_be_relevant``).
    scoring_words: tuple[str, ...] = ()


def _named_pattern(heads: list[str], connectors: list[str]) -> re.Pattern:
    """Head, optional connector, then a capitalised name of up to four tokens."""
    head_alts = "|".join(_abbrev(h, 0.0).pattern.pattern if h != h.lower()
                         else "(?i:" + _words_regex(fold(h)) + ")"
                         for h in sorted(heads, key=len, reverse=True))
    conn = "|".join(_words_regex(fold(c)) for c in sorted(connectors, key=len, reverse=True))
    token = r"(?:[A-Z]\w*|\d+[A-Za-z]?)"
    name = rf"[A-Z][\w]*(?:[ \-/]{token}){{0,3}}"
    return re.compile(rf"(?<![{_ALNUM}])(?P<head>{head_alts})\s+(?:(?i:{conn})\s+)?(?P<name>{name})")


@lru_cache(maxsize=4)
def load_vocabulary(path: Path = TERMS_FILE) -> Vocabulary:
    """Read the TOML once; compile every term."""
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    zone = [_phrase(t["term"], t["weight"]) for t in data.get("phrase", [])]
    zone += [_abbrev(t["term"], t["weight"]) for t in data.get("abbrev", [])]
    named = data.get("named", {})
    scoring_words = {squeeze(fold(word)) for word in [t.term for t in zone] + named.get("heads", [])}
    return Vocabulary(
        scoring_words=tuple(sorted(scoring_words)),
        zone=tuple(zone),
        support=tuple(_phrase(t["term"], t["weight"]) for t in data.get("support", [])),
        negative=tuple(_phrase(t["term"], t["weight"]) for t in data.get("negative", [])),
        exclude=tuple(_phrase(t["term"], 0.0) for t in data.get("exclude", [])),
        named=_named_pattern(named.get("heads", []), named.get("connectors", [])),
        scoring=data.get("scoring", {}),
        named_cfg=named,
    )


# ------------------------------------------------------------------ texts
@dataclass(frozen=True)
class _Text:
    """One field (title or body) in three aligned views, plus squeezed copies of the
    whole field's folded views (see ``Term.needle``; a lead keeps its field's)."""
    original: str
    lower: str   # accent-folded, lowercased: for phrases
    cased: str   # accent-folded, case kept: for abbreviations and names
    lower_words: str
    cased_words: str

    @classmethod
    def of(cls, text: str | None, exclude: tuple[Term, ...]) -> "_Text":
        original = nfc(text)
        lower, cased = fold(original), fold(original, lower=False)
        lower_words = squeeze(lower)
        for term in exclude:  # blank excluded spans in both views, offsets kept
            if term.needle in lower_words:
                for m in term.pattern.finditer(lower):
                    blank = " " * (m.end() - m.start())
                    lower = lower[:m.start()] + blank + lower[m.end():]
                    cased = cased[:m.start()] + blank + cased[m.end():]
                lower_words = squeeze(lower)
        return cls(original, lower, cased, lower_words, squeeze(cased))

    def count(self, term: Term) -> int:
        view, words = (self.cased, self.cased_words) if term.cased else (self.lower, self.lower_words)
        return len(term.pattern.findall(view)) if term.needle in words else 0

    def lead(self, words: int) -> "_Text":
        """The first ``words`` words (the lead paragraph of a news text)."""
        m = re.match(rf"\s*(?:\S+\s+){{0,{max(words - 1, 0)}}}\S*", self.original)
        end = m.end() if m else len(self.original)
        return _Text(self.original[:end], self.lower[:end], self.cased[:end],
                     self.lower_words, self.cased_words)


# ------------------------------------------------------------------ result
@dataclass(frozen=True)
class Relevance:
    relevant: bool
    score: float
    terms: dict[str, int]
    reasons: list[str]

    def to_dict(self) -> dict:
        return asdict(self)


def _fmt(x: float) -> str:
    return f"{x:+.1f}"


def _zone_scores(title: _Text, body: _Text, vocab: Vocabulary, terms: dict, reasons: list) -> float:
    """Zone vocabulary: title hits x multiplier, body hits log2(1+n) capped."""
    mult, cap = vocab.scoring.get("title_multiplier", 2.0), vocab.scoring.get("body_cap", 3.0)
    score = 0.0
    for term in vocab.zone:
        in_title, in_body = title.count(term), body.count(term)
        if in_title:
            gain = term.weight * mult
            score += gain
            reasons.append(f"title: '{term.term}' ×{in_title} ({_fmt(gain)})")
        if in_body:
            factor = math.log2(1 + in_body)
            gain = term.weight * min(cap, factor)
            score += gain
            capped = ", capped" if factor > cap else ""
            reasons.append(f"body: '{term.term}' ×{in_body} ({_fmt(gain)}{capped})")
        if in_title or in_body:
            terms[term.term] = in_title + in_body
    return score


def _names(text: _Text, vocab: Vocabulary) -> list[str]:
    return [re.sub(r"\s+", " ", text.original[m.start():m.end()])
            for m in vocab.named.finditer(text.cased)]


def _named_zones(title: _Text, body: _Text, vocab: Vocabulary, terms: dict, reasons: list) -> float:
    """Bonus for concrete zones ("KCN Thăng Long") named in the title or lead: the
    story is about a place. Names deeper in the body are recorded, not rewarded."""
    for label in _names(title, vocab) + _names(body, vocab):
        terms[f"named: {label}"] = terms.get(f"named: {label}", 0) + 1
    lead = body.lead(int(vocab.scoring.get("lead_words", 80)))
    seen = {fold(label): label for label in _names(title, vocab) + _names(lead, vocab)}
    if not seen:
        return 0.0
    cfg = vocab.named_cfg
    bonus = min(cfg.get("max_bonus", 3.0),
                cfg.get("first_bonus", 1.5) + cfg.get("extra_bonus", 0.5) * (len(seen) - 1))
    names = ", ".join(f"'{n}'" for n in seen.values())
    reasons.append(f"named zone: {names} ({_fmt(bonus)})")
    return bonus


def _context(title: _Text, lead: _Text, words: tuple[Term, ...], title_mult: float) -> tuple[float, list[str]]:
    """Sum over distinct context words: in the title x title_mult, else in the lead x1."""
    total, hits = 0.0, []
    for term in words:
        where = title_mult if title.count(term) else 1.0 if lead.count(term) else 0.0
        if where:
            total, hits = total + term.weight * where, hits + [term.term]
    return total, hits


def _record(hits: list[str], terms: dict) -> None:
    for h in hits:
        terms[h] = terms.get(h, 0) + 1


def _support(title: _Text, lead: _Text, vocab: Vocabulary, terms: dict, reasons: list) -> float:
    """Domain words (giá thuê, lấp đầy...) back a zone term seen in title/lead; never alone."""
    if not any(title.count(t) or lead.count(t) for t in vocab.zone):
        return 0.0
    gain, hits = _context(title, lead, vocab.support, 1.0)
    if not hits:
        return 0.0
    gain = min(gain, vocab.scoring.get("support_cap", 2.5))
    _record(hits, terms)
    reasons.append(f"support (title/lead): {', '.join(map(repr, hits))} ({_fmt(gain)})")
    return gain


def _incidents(title: _Text, lead: _Text, vocab: Vocabulary, terms: dict, reasons: list) -> float:
    """Crime/accident words: the zone is only where it happened, not what it is about."""
    loss, hits = _context(title, lead, vocab.negative, vocab.scoring.get("title_multiplier", 2.0))
    if not hits:
        return 0.0
    loss = min(loss, vocab.scoring.get("negative_cap", 9.0))
    _record(hits, terms)
    reasons.append(f"incident (title/lead): {', '.join(map(repr, hits))} ({_fmt(-loss)})")
    return -loss


def _visible(text: str) -> str:
    """``text`` without the characters trafilatura drops from what it extracts (neither
    printable nor whitespace: zero-width spaces, soft hyphens, controls): their removal can
    join the words of a zone term. Its whitespace must already be spaces (``nfc``), so a
    C-speed ``isprintable`` clears most texts at once."""
    if text.isprintable():
        return text
    return text.translate(dict.fromkeys(ord(c) for c in set(text) if not c.isprintable()))


def may_be_relevant(texts: Iterable[str], vocabulary: Vocabulary | None = None) -> bool:
    """False when no text holds a zone term or a named-zone head (``Vocabulary.scoring_words``)
    in any case, accent or spacing form: an article whose title and text are made of these
    texts then scores 0, since zone terms and zone names are what scores (support words count
    only beside a zone term, incidents only subtract). A test on the whole page, before
    extracting it: most fetched articles are not about the zones."""
    vocab = vocabulary or load_vocabulary()
    for text in texts:
        words = squeeze(fold(_visible(nfc(text))))
        if any(word in words for word in vocab.scoring_words):
            return True
    return False


def relevance_threshold(settings) -> float:
    """The ``KCN_RELEVANCE_THRESHOLD`` setting, or the scorer's default."""
    configured = settings.get("KCN_RELEVANCE_THRESHOLD")
    return DEFAULT_THRESHOLD if configured in (None, "") else float(configured)


def score_relevance(title: str | None, text: str, *, threshold: float = DEFAULT_THRESHOLD,
                    vocabulary: Vocabulary | None = None) -> Relevance:
    """Score one article (title + body text); relevant when score >= threshold."""
    vocab = vocabulary or load_vocabulary()
    t, b = _Text.of(title, vocab.exclude), _Text.of(text, vocab.exclude)
    terms: dict[str, int] = {}
    reasons: list[str] = []
    score = _zone_scores(t, b, vocab, terms, reasons)
    score += _named_zones(t, b, vocab, terms, reasons)
    lead = b.lead(int(vocab.scoring.get("lead_words", 80)))
    score += _support(t, lead, vocab, terms, reasons) + _incidents(t, lead, vocab, terms, reasons)
    score = round(max(score, 0.0), 2)
    if not reasons:
        reasons.append("no industrial-zone term found")
    verdict = ">=" if score >= threshold else "<"
    reasons.append(f"total {score:.1f} {verdict} threshold {threshold:.1f}")
    return Relevance(score >= threshold, score, terms, reasons)


# ------------------------------------------------------------------ crawl stage
class RelevancePipeline(SessionPipeline):
    """Crawl stage 2: keep articles about the zones; record the others as not relevant.

    A forced re-crawl (``item["forced"]``) is kept whatever its score; the score
    is stored either way. Threshold: setting ``KCN_RELEVANCE_THRESHOLD`` or the default.
    """

    def __init__(self, session) -> None:
        super().__init__(session)
        self.threshold = relevance_threshold(self.settings)

    def process_item(self, item: dict) -> dict:
        article = item["article"]
        relevance = score_relevance(article.title, article.text, threshold=self.threshold)
        item["relevance"] = relevance
        if relevance.relevant or item.get("forced"):
            return item
        top = ", ".join(f"{k} ×{v}" for k, v in list(relevance.terms.items())[:5]) or "no zone terms"
        reason = f"relevance {relevance.score:.1f} < {self.threshold:.1f} ({top})"
        self.session.item_outcome(item, NOT_RELEVANT, reason)
        raise DropItem(f"not relevant: {item['url']}")
