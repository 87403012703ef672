#!/usr/bin/env python
"""Extraction speed: the project's ``extract_article`` against plain trafilatura.

Runs, over the 14 gold pages (tests/fixtures/pages/*_20*.html with gold in
tests/fixtures/gold) and the composed pages (tests/fixtures/composed/*.html),
N rounds each of:

- plain ``trafilatura.extract(html, url=url)`` (default settings),
- ``trafilatura.extract(html, url=url, fast=True)``,
- ``extract_article(html, url, rules)`` with the outlet's registry rules,

and prints milliseconds per page (best round and median round) and the ratios.
Pages are read once, before timing; process CPU time is measured, so a loaded
machine inflates the figures less than wall time would. Not part of the test
suite::

    python benchmarks/extraction_speed.py            # 5 rounds
    python benchmarks/extraction_speed.py -n 10 --profile extract.prof
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from statistics import median

import trafilatura

from pipelines.evaluate import _page_url, _rules_for
from pipelines.extraction import extract_article

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"


def load_pages() -> list[tuple[str, bytes, str, object]]:
    """(name, html, url, rules) of the gold pages and the composed pages."""
    pages = []
    for gold_path in sorted((FIXTURES / "gold").glob("*.json")):
        gold = json.loads(gold_path.read_text(encoding="utf-8"))
        url = _page_url(gold)
        pages.append((gold_path.stem, (FIXTURES / gold["file"]).read_bytes(), url, _rules_for(url)))
    for html_path in sorted((FIXTURES / "composed").glob("*.html")):
        url = json.loads(html_path.with_suffix(".json").read_text(encoding="utf-8"))["url"]
        pages.append((f"composed/{html_path.stem}", html_path.read_bytes(), url, _rules_for(url)))
    return pages


RUNNERS = {
    "trafilatura default": lambda html, url, rules: trafilatura.extract(html, url=url),
    "trafilatura fast": lambda html, url, rules: trafilatura.extract(html, url=url, fast=True),
    "extract_article": lambda html, url, rules: extract_article(html, url, rules),
}


def time_rounds(run, pages, rounds: int) -> list[float]:
    """Milliseconds per page of each round (process CPU time)."""
    out = []
    for _ in range(rounds):
        start = time.process_time()
        for _, html, url, rules in pages:
            run(html, url, rules)
        out.append((time.process_time() - start) * 1000 / len(pages))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--rounds", type=int, default=5,
                        help="rounds over all pages per extractor (default 5)")
    parser.add_argument("--profile", help="also write a cProfile of extract_article (all rounds) here")
    args = parser.parse_args()
    pages = load_pages()
    for run in RUNNERS.values():  # warm-up: imports, trafilatura's caches
        time_rounds(run, pages, 1)
    results = {}
    print(f"{len(pages)} pages, {args.rounds} rounds, CPU ms per page (best / median round)")
    for name, run in RUNNERS.items():
        rounds = time_rounds(run, pages, args.rounds)
        results[name] = min(rounds)
        print(f"  {name:<20} {min(rounds):7.1f} / {median(rounds):7.1f}")
    ours = results["extract_article"]
    for name in ("trafilatura default", "trafilatura fast"):
        print(f"  extract_article / {name:<20} {ours / results[name]:.2f}")
    if args.profile:
        import cProfile
        cProfile.runctx("time_rounds(RUNNERS['extract_article'], pages, args.rounds)",
                        globals(), {"pages": pages, "args": args}, args.profile)
        print(f"profile written to {args.profile}")


if __name__ == "__main__":
    main()
