"""Search latency of `kcn serve` on a large archive (a benchmark, not a test).

Builds an archive of N articles (default 100,000) whose texts recombine real
paragraphs (tests/fixtures/seeds/*.txt and the gold bodies), inserted in bulk
into a real archive (schema, FTS5 triggers and zone mentions are the real
ones; text files are not written), serves it like `kcn serve`, and reports
p50/p95 of ``/archive/articles.json?_search=...`` and of the HTML page over HTTP.

    python benchmarks/search_latency.py [--articles 100000] [--dir /tmp/kcn-bench] [--rounds 5]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
import statistics
import sys
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archive.db import Archive  # noqa: E402
from archive.zones import reindex_zones  # noqa: E402
from tests.test_browse import Server, _free_port  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"
OUTLETS = ["vnexpress", "cafef", "baodautu", "nld", "dantri", "tuoitre", "thanhnien", "vietnamnet",
           "baochinhphu", "vneconomy", "laodong", "congthuong", "nhadautu", "baoxaydung", "kinhtedothi"]
ZONE_LINES = ["Nhà máy mới đặt tại KCN Thăng Long, Đông Anh.", "Khu công nghiệp Phú Nghĩa mở rộng giai đoạn 2.",
              "CCN Võng Xuyên hoàn thành hạ tầng.", "Khu kinh tế Đình Vũ - Cát Hải thu hút thêm vốn FDI.",
              "KCN VSIP Bắc Ninh tuyển 2.000 lao động.", "Khu công nghệ cao Hòa Lạc đón nhà đầu tư Hàn Quốc.",
              "KCN Yên Phong II-C lấp đầy 80%.", "Khu kinh tế mở Chu Lai điều chỉnh quy hoạch."]
QUERIES = ["khu cong nghiep", "khu công nghiệp", "KCN Thăng Long", "kcn thang long", "Đình Vũ Cát Hải",
           "dinh vu cat hai", "thu hút đầu tư", "lap day", "giá thuê đất", "cụm công nghiệp Hà Nội",
           "nhà đầu tư Hàn Quốc", "FDI", "Bắc Ninh", "công nhân", "hạ tầng kỹ thuật", "Hòa Lạc",
           "năng lượng", "xuất khẩu", "chứng khoán", "VSIP"]
TERMS = ["khu công nghiệp", "KCN", "cụm công nghiệp", "khu kinh tế", "lấp đầy", "thu hút đầu tư", "nhà đầu tư"]


def paragraphs() -> tuple[list[str], list[str]]:
    """Real paragraphs and titles from the fixtures."""
    paras, titles = [], []
    for path in sorted((FIXTURES / "seeds").glob("*.txt")):
        blocks = [b.strip() for b in path.read_text(encoding="utf-8").split("\n\n") if b.strip()]
        titles.append(blocks[0])
        paras += [b for b in blocks[1:] if len(b) > 60]
    for path in sorted((FIXTURES / "gold").glob("*.json")):
        gold = json.loads(path.read_text(encoding="utf-8"))
        titles.append(gold["title"])
        paras += [p for p in ([gold.get("lead") or ""] + gold["body"]) if len(p) > 60]
    return paras, titles


def rows(n: int, seed: int = 7):
    """n synthetic articles: 4-12 real paragraphs each, a third naming a zone."""
    rng = random.Random(seed)
    paras, titles = paragraphs()
    for i in range(n):
        body = rng.sample(paras, rng.randint(4, 12))
        if rng.random() < 0.35:
            body.insert(rng.randrange(len(body)), rng.choice(ZONE_LINES))
        text = "\n\n".join(body)
        year, month, day = rng.randint(2012, 2026), rng.randint(1, 12), rng.randint(1, 28)
        outlet = rng.choice(OUTLETS)
        url = f"https://{outlet}.vn/bai-{i}.html"
        yield {"url": url, "url_key": url, "outlet": outlet, "title": f"{rng.choice(titles)} ({i})",
               "text": text, "content_hash": hashlib.sha256(f"{i}{text}".encode()).hexdigest(),
               "filename": f"{i:03d}_bench.txt", "source": "crawl",
               "published": f"{year}-{month:02d}-{day:02d}T{rng.randint(0, 23):02d}:00:00+07:00",
               "relevance": round(rng.uniform(4, 20), 1),
               "relevance_terms": json.dumps({t: rng.randint(1, 9) for t in rng.sample(TERMS, 3)},
                                             ensure_ascii=False)}


def build(db: Path, n: int) -> float:
    start = time.monotonic()
    with Archive(db) as archive:  # the real schema, FTS triggers included
        with archive.db.atomic():
            archive.db["articles"].insert_all(rows(n), batch_size=2000)
        zoned = reindex_zones(archive.db)
        archive.db.execute("analyze")
    assert zoned == n
    return time.monotonic() - start


def timed(server: Server, path: str) -> float:
    start = time.perf_counter()
    server.get(path)
    return (time.perf_counter() - start) * 1000


def measure(server: Server, template: str, rounds: int) -> dict:
    times = []
    for _ in range(rounds):
        for q in QUERIES:
            times.append(timed(server, template.format(q=urllib.parse.quote_plus(q))))
    times.sort()
    return {"n": len(times), "p50": statistics.median(times),
            "p95": times[int(0.95 * (len(times) - 1))], "max": times[-1]}


VARIANTS = {
    "json (rows + count + facets)": "/archive/articles.json?_search={q}",
    "html page (what a user sees)": "/archive/articles?_search={q}",
    "json rows + count (_nofacet)": "/archive/articles.json?_search={q}&_nofacet=1",
    "json rows only (_nocount, _nofacet)": "/archive/articles.json?_search={q}&_nocount=1&_nofacet=1",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100_000,
                        help="archive size in articles (default 100,000)")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/kcn-bench"),
                        help="where the built archive is kept and reused across runs (default /tmp/kcn-bench)")
    parser.add_argument("--rounds", type=int, default=5,
                        help="times each query is asked per variant (default 5)")
    args = parser.parse_args()
    db = args.dir / f"archive-{args.articles}.db"
    if not db.exists():
        args.dir.mkdir(parents=True, exist_ok=True)
        print(f"building {args.articles:,} articles in {db} ...", flush=True)
        print(f"built in {build(db, args.articles):.1f} s, {db.stat().st_size / 1e6:.0f} MB", flush=True)
    server = Server(db, _free_port())
    try:
        for q in QUERIES:  # warm the page cache
            server.get(f"/archive/articles.json?_search={urllib.parse.quote_plus(q)}")
        hits = {q: server.json("/archive/articles.json", _search=q, _size=0)["filtered_table_rows_count"]
                for q in QUERIES}
        print("matches per query:", json.dumps(hits, ensure_ascii=False))
        for name, template in VARIANTS.items():
            r = measure(server, template, args.rounds)
            print(f"{name:<38} n={r['n']:<4} p50={r['p50']:7.1f} ms  p95={r['p95']:7.1f} ms  "
                  f"max={r['max']:7.1f} ms")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
