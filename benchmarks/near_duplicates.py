"""Near-duplicate check cost as the archive grows (a benchmark, not a test).

Builds archives of realistic articles (real paragraphs of the legacy archive and
the gold pages, recombined so each text is distinct) with their MinHash rows,
builds the LSH band rows from them (what opening an archive from before the band
table does), then times what a crawl does for each new article: signature of its
text, band lookups, verification against the stored signatures
(``Archive.add_article`` -> ``NearDuplicateIndex.find``). Reports, at each size,
ms per check (p50/p95), the on-disk bytes of the band table per article, the
process's RSS growth from opening the index to the last check (flat: nothing
per article is held in memory), and how many syndicated copies (one paragraph
edited) are found.

    python benchmarks/near_duplicates.py [--sizes 10000 100000] [--checks 500]
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

import sqlite_utils

from archive.schema import ensure_schema
from archive.stories import NearDuplicateIndex, signature, to_blob

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
MIB = 2**20


def real_paragraphs() -> list[str]:
    paragraphs = []
    for seed in sorted((FIXTURES / "seeds").glob("*.txt")):
        paragraphs += [p.strip() for p in seed.read_text(encoding="utf-8").split("\n\n") if len(p.strip()) > 120]
    for gold in sorted((FIXTURES / "gold").glob("*.json")):
        paragraphs += [p for p in json.loads(gold.read_text(encoding="utf-8"))["body"] if len(p) > 120]
    return paragraphs


def article(paragraphs: list[str], n: int) -> str:
    """Article ``n``: six to twelve real paragraphs in a random order, plus a line of its
    own; drawn again from ``n`` when needed, so no text of a large archive is kept."""
    rng = random.Random(n)
    chosen = rng.sample(paragraphs, rng.randint(6, 12))
    return "\n\n".join(chosen + [f"Bài số {n}: {rng.random():.12f} khu công nghiệp {n % 977}."])


def syndicated_copy(text: str) -> str:
    parts = text.split("\n\n")
    parts[1] += " Theo nguồn tin riêng của báo."
    return "\n\n".join(parts)


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def build(path: Path, size: int, paragraphs: list[str]) -> float:
    """An archive of ``size`` signatures; returns the seconds its band rows took."""
    db = sqlite_utils.Database(path)
    ensure_schema(db)
    with db.atomic():
        db.conn.executemany("insert into minhashes values (?, ?)",
                            ((n, to_blob(signature(article(paragraphs, n)))) for n in range(1, size + 1)))
    started = time.perf_counter()
    NearDuplicateIndex(db).migrate(path.parent)
    bands_s = time.perf_counter() - started
    db.close()
    return bands_s


def measure(size: int, checks: int, paragraphs: list[str], directory: Path) -> dict:
    path = directory / f"archive-{size}.db"
    bands_s = build(path, size, paragraphs)
    gc.collect()
    rss_before = rss_bytes()
    db = sqlite_utils.Database(path)
    index = NearDuplicateIndex(db)
    timings = []
    for n in range(size + 1, size + checks + 1):
        text = article(paragraphs, n)
        started = time.perf_counter()
        index.find(signature(text))
        timings.append((time.perf_counter() - started) * 1000)
    originals = random.Random(1).sample(range(1, size + 1), checks)
    found = sum(getattr(index.find(signature(syndicated_copy(article(paragraphs, n)))), "article_id", None) == n
                for n in originals)
    rss_growth = rss_bytes() - rss_before
    band_bytes = db.execute("select sum(pgsize) from dbstat where name = 'minhash_bands'").fetchone()[0]
    db.close()
    return {"articles": size, "bands_build_s": round(bands_s, 1),
            "check_ms_p50": round(statistics.median(timings), 2),
            "check_ms_p95": round(statistics.quantiles(timings, n=20)[18], 2),
            "band_bytes_per_article": round(band_bytes / size), "band_table_mib": round(band_bytes / MIB, 1),
            "rss_growth_mib": round(rss_growth / MIB, 1), "rss_mib": round(rss_bytes() / MIB),
            "copies_found": f"{found}/{checks}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000],
                        help="archive sizes in articles (default 10000 100000)")
    parser.add_argument("--checks", type=int, default=500,
                        help="new articles checked at each size (default 500)")
    args = parser.parse_args()
    paragraphs = real_paragraphs()
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            print(json.dumps(measure(size, args.checks, paragraphs, Path(tmp))), flush=True)


if __name__ == "__main__":
    main()
