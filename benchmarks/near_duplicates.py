"""Near-duplicate check cost as the archive grows (a benchmark, not a test).

Builds archives of realistic articles (real paragraphs of the legacy archive and
the gold pages, recombined so each text is distinct) with their MinHash rows and
LSH index, then times what a crawl does for each new article: signature of its
text, LSH query, verification against the stored signatures
(``Archive.add_article`` -> ``NearDuplicateIndex.find``). Reports ms per check
and the index's memory, at each size, plus how many syndicated copies (one
paragraph edited) are found.

    python benchmarks/near_duplicates.py [--sizes 10000 100000] [--checks 500]
"""
from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path

from archive.stories import NearDuplicateIndex, signature, to_blob

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"


def real_paragraphs() -> list[str]:
    paragraphs = []
    for seed in sorted((FIXTURES / "seeds").glob("*.txt")):
        paragraphs += [p.strip() for p in seed.read_text(encoding="utf-8").split("\n\n") if len(p.strip()) > 120]
    for gold in sorted((FIXTURES / "gold").glob("*.json")):
        paragraphs += [p for p in json.loads(gold.read_text(encoding="utf-8"))["body"] if len(p) > 120]
    return paragraphs


def article(rng: random.Random, paragraphs: list[str], n: int) -> str:
    """Six to twelve real paragraphs in a random order, plus a line of its own."""
    chosen = rng.sample(paragraphs, rng.randint(6, 12))
    return "\n\n".join(chosen + [f"Bài số {n}: {rng.random():.12f} khu công nghiệp {n % 977}."])


def build(size: int, paragraphs: list[str], directory: Path) -> tuple[sqlite3.Connection, list[str]]:
    rng = random.Random(size)
    conn = sqlite3.connect(directory / f"minhash-{size}.db")
    conn.execute("create table minhashes (article_id integer primary key, signature blob)")
    texts = [article(rng, paragraphs, n) for n in range(size)]
    conn.executemany("insert into minhashes values (?, ?)",
                     ((n + 1, to_blob(signature(text))) for n, text in enumerate(texts)))
    conn.commit()
    return conn, texts


def measure(size: int, checks: int, paragraphs: list[str], directory: Path) -> dict:
    started = time.perf_counter()
    conn, texts = build(size, paragraphs, directory)
    tracemalloc.start()
    index = NearDuplicateIndex(conn, directory / f"minhash-{size}.lsh")
    index.find(signature(texts[0]))  # loads the index from the table
    index_bytes = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    build_s = time.perf_counter() - started
    rng = random.Random(1)
    fresh = [article(rng, paragraphs, size + n) for n in range(checks)]
    copies = []
    for n in rng.sample(range(size), checks):  # syndicated copies: one paragraph edited
        parts = texts[n].split("\n\n")
        parts[1] = parts[1] + " Theo nguồn tin riêng của báo."
        copies.append((n + 1, "\n\n".join(parts)))
    timings, found = [], 0
    for text in fresh:
        t = time.perf_counter()
        index.find(signature(text))
        timings.append((time.perf_counter() - t) * 1000)
    for original, text in copies:
        hit = index.find(signature(text))
        found += bool(hit and hit.article_id == original)
    index.save()
    cache = directory / f"minhash-{size}.lsh"
    return {"articles": size, "build_s": round(build_s, 1),
            "check_ms_p50": round(statistics.median(timings), 2),
            "check_ms_p95": round(statistics.quantiles(timings, n=20)[18], 2),
            "index_mib": round(index_bytes / 2**20, 1), "cache_file_mib": round(cache.stat().st_size / 2**20, 1),
            "copies_found": f"{found}/{len(copies)}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--checks", type=int, default=500)
    args = parser.parse_args()
    paragraphs = real_paragraphs()
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            print(json.dumps(measure(size, args.checks, paragraphs, Path(tmp))), flush=True)


if __name__ == "__main__":
    main()
