"""Score the extractor against hand-made gold files, side by side with plain trafilatura.

Run ``python -m pipelines.evaluate [GOLD_DIR]`` (default ``tests/fixtures/gold``).
Each gold JSON names its page (``file``, relative to the gold folder's parent)
and gives title, published, body paragraphs and must/must-not snippets; see
tests/fixtures/gold/*.json. The scoring functions are importable so the tests
assert the same numbers the lead reads in the table.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import unicodedata
from collections import Counter
from pathlib import Path
from statistics import mean

import trafilatura

from pipelines.extraction import extract_article

DEFAULT_GOLD_DIR = Path("tests/fixtures/gold")
_WORD = re.compile(r"\w+")


def tokens(text: str | None) -> Counter:
    """Bag of NFC-lowercased words: order-free, so paragraph splits don't matter."""
    return Counter(_WORD.findall(unicodedata.normalize("NFC", text or "").lower()))


def token_prf(gold: str, got: str) -> tuple[float, float, float]:
    """Multiset-overlap precision, recall, F1 of ``got`` against ``gold``."""
    g, s = tokens(gold), tokens(got)
    overlap = sum((g & s).values())
    p = overlap / sum(s.values()) if s else 0.0
    r = overlap / sum(g.values()) if g else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def _norm(text: str | None) -> str:
    return " ".join(unicodedata.normalize("NFC", text or "").split())


def same_minute(gold: str | None, got: str | None) -> bool | None:
    """None when gold has no date; else equal up to the minute (offset included)."""
    if not gold:
        return None
    if not got:
        return False
    return _minute_key(gold) == _minute_key(got)


def _minute_key(value: str) -> str:
    m = re.match(r"(\d{4}-\d{2}-\d{2})(?:T(\d{2}:\d{2})(?::\d{2}(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?", value)
    if not m:
        return value
    return f"{m[1]}T{m[2] or ''}{(m[3] or '').replace('Z', '+00:00')}"


def score(gold: dict, text: str, title: str | None, published: str | None) -> dict:
    """All measures of one extraction (any extractor) against one gold record."""
    body = "\n\n".join(gold["body"])
    p, r, f = token_prf(body, text)
    flat = _norm(text)
    return {
        "precision": p, "recall": r, "f1": f,
        "title_ok": _norm(title) == _norm(gold.get("title")),
        "date_ok": same_minute(gold.get("published"), published),
        "with_found": sum(_norm(s) in flat for s in gold.get("with", [])),
        "with_total": len(gold.get("with", [])),
        "leaks": [s for s in gold.get("without", []) if _norm(s) in flat],
    }


def _load(gold_path: Path) -> tuple[dict, bytes]:
    gold = json.loads(Path(gold_path).read_text(encoding="utf-8"))
    page = Path(gold_path).parent.parent / gold["file"]
    return gold, page.read_bytes()


def _page_url(gold: dict) -> str:
    return gold.get("url") or f"https://{gold.get('outlet', 'example.invalid')}/"


def evaluate_page(gold_path: Path | str, rules=None) -> dict:
    """Scores of our extractor (``ours``) and plain trafilatura (``plain``) on one gold page.

    ``rules`` defaults to the outlet's ``[extraction]`` table from the registry.
    """
    gold, html = _load(Path(gold_path))
    url = _page_url(gold)
    if rules is None:
        rules = _rules_for(url)
    article = extract_article(html, url, rules)
    ours = score(gold, article.text, article.title, article.published)
    ours["article"] = article
    plain_json = trafilatura.extract(html, url=url, output_format="json", with_metadata=True)
    plain_data = json.loads(plain_json) if plain_json else {}
    plain_text = trafilatura.extract(html, url=url) or ""
    plain = score(gold, plain_text, plain_data.get("title"), plain_data.get("date"))
    return {"name": Path(gold_path).stem, "gold": gold, "ours": ours, "plain": plain}


def _rules_for(url: str):
    try:
        from crawler.registry import load_outlets, outlet_for_url
        outlet = outlet_for_url(url, load_outlets())
    except Exception:  # a half-written outlet file must not stop the measure
        return None
    return outlet.extraction if outlet else None


def evaluate_dir(gold_dir: Path | str) -> list[dict]:
    return [evaluate_page(p) for p in sorted(Path(gold_dir).glob("*.json"))]


def _fmt_date(ok: bool | None) -> str:
    return "—" if ok is None else ("ok" if ok else "WRONG")


def render(results: list[dict]) -> str:
    head = (f"{'page':<28} | {'F1 ours':>7} {'plain':>6} | {'P/R ours':>11} | "
            f"{'title o/p':>9} | {'date o/p':>11} | {'with o/p':>9} | {'leaks o/p':>9}")
    lines = [head, "-" * len(head)]
    for res in results:
        o, p = res["ours"], res["plain"]
        lines.append(
            f"{res['name']:<28} | {o['f1']:7.3f} {p['f1']:6.3f} | {o['precision']:.3f}/{o['recall']:.3f} | "
            f"{('ok' if o['title_ok'] else 'NO'):>4}/{('ok' if p['title_ok'] else 'NO'):<4} | "
            f"{_fmt_date(o['date_ok']):>5}/{_fmt_date(p['date_ok']):<5} | "
            f"{o['with_found']}/{o['with_total']} {p['with_found']}/{p['with_total']:<3} | "
            f"{len(o['leaks']):>4}/{len(p['leaks']):<4}")
    lines.append("-" * len(head))
    for who in ("ours", "plain"):
        rs = [r[who] for r in results]
        dated = [r["date_ok"] for r in rs if r["date_ok"] is not None]
        lines.append(
            f"{who:<6} mean F1 {mean(r['f1'] for r in rs):.3f}  P {mean(r['precision'] for r in rs):.3f}  "
            f"R {mean(r['recall'] for r in rs):.3f}  min F1 {min(r['f1'] for r in rs):.3f} | "
            f"titles {sum(r['title_ok'] for r in rs)}/{len(rs)} | dates {sum(dated)}/{len(dated)} | "
            f"with {sum(r['with_found'] for r in rs)}/{sum(r['with_total'] for r in rs)} | "
            f"leaks {sum(len(r['leaks']) for r in rs)}")
    worse = [r["name"] for r in results if r["ours"]["f1"] < r["plain"]["f1"]]
    lines.append("pages where ours < plain: " + (", ".join(worse) or "none"))
    for res in results:
        for leak in res["ours"]["leaks"]:
            lines.append(f"LEAK (ours) {res['name']}: {leak}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.evaluate",
        description="Score our extractor and plain trafilatura.extract() on hand-made gold pages: "
                    "body token precision/recall/F1 (bag of NFC-lowercased words), title, published "
                    "date (to the minute), must-contain snippets found, must-not-contain snippets leaked.")
    parser.add_argument("gold_dir", nargs="?", default=str(DEFAULT_GOLD_DIR),
                        help="folder of gold *.json files; pages are resolved relative to its parent "
                             "(default: tests/fixtures/gold, relative to the current directory)")
    args = parser.parse_args(argv)
    gold_dir = Path(args.gold_dir)
    if not gold_dir.is_dir() or not any(gold_dir.glob("*.json")):
        parser.error(f"no gold files: {gold_dir.resolve()} is not a folder of *.json "
                     "(run from the project root or pass GOLD_DIR)")
    print(render(evaluate_dir(gold_dir)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
