#!/usr/bin/env python
"""Crawl throughput, memory and incremental cost, measured side by side.

Builds N distinct article pages in real outlet layouts (the captured 2026
article pages of tests/fixtures/pages/, their body, title, lead and URL swapped
the way tests/fixtures/compose.py composes its fixtures) with recombined real
texts: most are industrial-zone articles (titles and leads of the labelled zone
stories in tests/fixtures/relevance/, body paragraphs of the legacy archive's
zone articles in tests/fixtures/seeds/), a share are not (titles of labelled
non-zone stories, body paragraphs of the captured non-zone articles). Each page
is served, by the loopback mirror of tests/mirror.py, as an article of the
outlet whose layout it has, under a URL of that outlet's shape (its captured
article's URL with the slug and the last digits of the id swapped), and listed
in the outlet's registered RSS feed and listing pages: the real registry
entries discover them, as in a daily crawl of eight outlets.

Then:

1. crawl them with the whole pipeline (``kcn crawl --outlet ...``, a
   subprocess, politeness off) into a fresh archive: pages/s end to end (wall
   time of the process), peak RSS (sampled from /proc: the crawl process, and
   the crawl process with its extraction workers), CPU time;
2. run plain ``trafilatura.extract(html, url=url)`` over the same N pages in
   one process before and after the crawl (and between crawls with
   ``--rounds``): pages/s (and, for reference, the project's own
   ``extract_article`` on a sample of them);
3. print the ratio (1)/(2) of each crawl against the runs on either side of
   it, archive bytes per stored article (database, text files and WARC
   folder) and the machine's core count;
4. crawl again over the unchanged mirror: requests made per article already
   held (target: no article page fetched again, only feeds/listings).

Not part of the test suite. Run from the repository root with the project's
virtualenv::

    python benchmarks/crawl_throughput.py              # N=2000
    python benchmarks/crawl_throughput.py --rounds 3   # median ratio of three crawls
    python benchmarks/crawl_throughput.py --pages 10000 --no-baseline   # memory check
    python benchmarks/crawl_throughput.py --pages 300 -s KCN_EXTRACT_WORKERS=0

See benchmarks/README.md for figures measured on a 2-core machine.
"""
from __future__ import annotations

import argparse
import html as htmllib
import json
import os
import random
import re
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import lxml.html  # noqa: E402

from crawler.registry import load_outlets  # noqa: E402
from tests.fixtures.compose import _norm, _replace_strings, _swap_body  # noqa: E402
from tests.mirror import Mirror  # noqa: E402
from tests.mirror import normalize_url as mirror_key  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"
# The captured 2026 article pages used as layouts (all of tests/fixtures/pages/*_2026_*.html),
# each named after its outlet: <outlet>_2026_<topic>.
LAYOUTS = sorted(p.stem for p in (FIXTURES / "pages").glob("*_2026_*.html"))
OUTLETS = sorted({name.split("_")[0] for name in LAYOUTS})
NOT_RELEVANT_SHARE = 0.15
# A captured article URL: <prefix>/<slug><-|-d><digits><.ext>; the last 6 digits become a page number.
_ARTICLE_URL = re.compile(r"^(?P<prefix>.*/)[^/]*?(?P<sep>-d?)(?P<id>\d{6,})(?P<ext>\.\w+)$")
# Placeholders put into each layout once; every page is then a few string replacements.
TITLE, LEAD, URL, BODY = "KCNBENCHTITLE", "KCNBENCHLEAD", "https://kcnbench.invalid/url", "KCNBENCHBODY"
OUTLET_ARGS = tuple(arg for name in OUTLETS for arg in ("--outlet", name))
POLITENESS_OFF = ("-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False",
                  "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=16", "-s", "LOG_LEVEL=WARNING")


# --------------------------------------------------------------------------- pages
@dataclass(frozen=True)
class Layout:
    name: str
    outlet: str
    url: str         # the captured article's URL, the template of the pages' URLs
    head: str        # page up to the first body paragraph
    para: str        # one body paragraph element, "{}" for its (escaped) text
    tail: str        # page after the last body paragraph
    has_lead: bool   # the layout shows a lead (sapo) apart from the body


def _layout(name: str) -> Layout:
    """A captured page with title, lead, URL and body replaced by placeholders (compose.py's way)."""
    gold = json.loads((FIXTURES / "gold" / f"{name}.json").read_text(encoding="utf-8"))
    doc = lxml.html.fromstring((FIXTURES / "pages" / f"{name}.html").read_text(encoding="utf-8"))
    _swap_body(doc, gold["body"][1:] if gold["lead"] else gold["body"], [BODY])
    swaps = {gold["title"]: TITLE, gold["url"]: URL}
    for value in doc.xpath("//meta[@property='og:title' or @name='twitter:title' "
                           "or @itemprop='headline']/@content"):
        swaps.setdefault(value, TITLE)
    if gold["lead"]:
        swaps[gold["lead"]] = LEAD
    _replace_strings(doc, swaps)
    text = lxml.html.tostring(doc, encoding="unicode", doctype="<!DOCTYPE html>")
    m = re.search(rf"<(\w+)([^>]*)>{BODY}</\1>", text)
    if not m:
        raise SystemExit(f"layout {name}: body placeholder not found")
    return Layout(name, name.split("_")[0], gold["url"], text[:m.start()],
                  f"<{m.group(1)}{m.group(2)}>{{}}</{m.group(1)}>", text[m.end():],
                  bool(gold["lead"]) and LEAD in text)


def _paragraphs(texts) -> list[str]:
    """Blank-line-separated blocks long enough to be body paragraphs (no captions, bylines)."""
    seen, out = set(), []
    for text in texts:
        for block in text.split("\n\n"):
            block = _norm(block)
            if len(block) >= 120 and block not in seen:
                seen.add(block)
                out.append(block)
    return out


def _article_url(layout: Layout, title: str, number: int) -> str:
    """The URL of page ``number`` in the outlet's shape: its captured article's URL with the
    title's slug and the id's last 6 digits swapped (date-coded ids keep their date)."""
    m = _ARTICLE_URL.match(layout.url)
    if not m:
        raise SystemExit(f"layout {layout.name}: no slug-and-id URL to vary: {layout.url}")
    digits = m["id"][:-6] + f"{number:06d}"
    return f"{m['prefix']}{_slug(title)}{m['sep']}{digits}{m['ext']}"


def _slug(title: str) -> str:
    folded = unicodedata.normalize("NFD", title.replace("đ", "d").replace("Đ", "D"))
    ascii_ = "".join(c for c in folded if not unicodedata.combining(c)).lower()
    return "-".join(re.findall(r"[a-z0-9]+", ascii_)[:10]) or "bai-viet"


@dataclass(frozen=True)
class Spec:
    url: str
    layout: int
    title: str
    lead: str
    body: tuple[int, ...]  # indexes into the relevant or the other paragraph pool
    about_zones: bool


class Site:
    """N distinct article pages in real layouts, each built by a few string replacements."""

    def __init__(self, n: int, seed: int = 2026, not_relevant_share: float = NOT_RELEVANT_SHARE) -> None:
        if n > 999_999:
            raise SystemExit("at most 999,999 pages (the page number fills 6 digits of an id)")
        self.layouts = [_layout(name) for name in LAYOUTS]
        self.outlets = load_outlets()
        labelled = [json.loads(line) for line in
                    (FIXTURES / "relevance" / "labelled.jsonl").read_text(encoding="utf-8").splitlines()
                    if line.strip()]
        zone_stories = [(r["title"], _norm(r["text"])) for r in labelled if r["label"]]
        other_stories = [(r["title"], _norm(r["text"])) for r in labelled if not r["label"]]
        self.zone_pool = _paragraphs(p.read_text(encoding="utf-8")
                                     for p in sorted((FIXTURES / "seeds").glob("*.txt")))
        self.other_pool = _paragraphs("\n\n".join(json.loads(p.read_text(encoding="utf-8"))["body"])
                                      for p in sorted((FIXTURES / "gold").glob("*.json")))
        rng = random.Random(seed)
        self.specs: list[Spec] = []
        texts: set[tuple] = set()
        for i in range(n):
            about_zones = rng.random() >= not_relevant_share
            stories, pool = (zone_stories, self.zone_pool) if about_zones else (other_stories, self.other_pool)
            title, lead = rng.choice(stories)
            while True:  # distinct text (lead + body) for every page: no page is a duplicate
                body = tuple(rng.sample(range(len(pool)), rng.randint(5, 9)))
                if (lead, body) not in texts:
                    texts.add((lead, body))
                    break
            layout = self.layouts[i % len(self.layouts)]
            url = _article_url(layout, title, i + 1)
            if not self.outlets[layout.outlet].is_article(url):
                raise SystemExit(f"layout {layout.name}: {url} is not an article URL of {layout.outlet}")
            self.specs.append(Spec(url, i % len(self.layouts), title, lead, body, about_zones))
        self.index = {mirror_key(s.url): i for i, s in enumerate(self.specs)}

    def __len__(self) -> int:
        return len(self.specs)

    def html(self, i: int) -> str:
        spec, layout = self.specs[i], self.layouts[self.specs[i].layout]
        pool = self.zone_pool if spec.about_zones else self.other_pool
        paragraphs = [pool[k] for k in spec.body]
        if not layout.has_lead:
            paragraphs.insert(0, spec.lead)
        body = "".join(layout.para.format(htmllib.escape(p, quote=False)) for p in paragraphs)
        page = layout.head + body + layout.tail
        return (page.replace(URL, spec.url).replace(TITLE, htmllib.escape(spec.title))
                .replace(LEAD, htmllib.escape(spec.lead, quote=False)))

    def outlet_specs(self, outlet: str) -> list[Spec]:
        return [s for s in self.specs if self.layouts[s.layout].outlet == outlet]

    @staticmethod
    def feed(specs: list[Spec]) -> str:
        items = "".join(f"<item><title>{htmllib.escape(s.title)}</title><link>{s.url}</link>"
                        f"<guid>{s.url}</guid></item>" for s in specs)
        return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
                f"<title>Kinh doanh</title><link>https://example.invalid/</link>"
                f"<description>benchmark feed</description>{items}</channel></rss>")

    @staticmethod
    def listing(specs: list[Spec]) -> str:
        links = "".join(f'<article><h3><a href="{s.url}">{htmllib.escape(s.title)}</a></h3></article>'
                        for s in specs)
        return f"<!DOCTYPE html><html><head><title>Kinh doanh</title></head><body>{links}</body></html>"


class SiteMirror(Mirror):
    """The test mirror serving the site: every page registered with ``Mirror.add``
    (public API only; the pages live in this process, not in the crawl's)."""

    def __init__(self, site: Site) -> None:
        super().__init__()
        self.site = site

    @property
    def article_hits(self) -> int:
        """Article pages served so far."""
        return sum(1 for r in self.requests if r.url in self.site.index)


def serve(mirror: SiteMirror) -> None:
    """Every page, and per outlet its first feed listing all of its pages and its listing
    pages listing them in ``max_pages`` slices (all an outlet without a feed has)."""
    site = mirror.site
    for i, spec in enumerate(site.specs):
        mirror.add(spec.url, site.html(i))
    for name in OUTLETS:
        outlet, specs = site.outlets[name], site.outlet_specs(name)
        if outlet.feeds:
            mirror.add(outlet.feeds[0], site.feed(specs), content_type="application/rss+xml; charset=utf-8")
        per_page = -(-len(specs) // outlet.max_pages)
        for listing in outlet.listings:
            for page in range(1, outlet.max_pages + 1):
                mirror.add(listing.page_url(page), site.listing(specs[(page - 1) * per_page:page * per_page]))


# --------------------------------------------------------------------------- measuring
def _proc_kib(pid: int, file: str, key: str) -> int:
    """One "Key:   N kB" figure of /proc/PID/<file>, 0 once the process is gone."""
    try:
        with open(f"/proc/{pid}/{file}", encoding="ascii") as handle:
            for line in handle:
                if line.startswith(key):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _rss_kib(pid: int) -> int:
    return _proc_kib(pid, "status", "VmRSS:")


def _pss_kib(pid: int) -> int:
    """Proportional set size: pages shared between processes (the forked workers share the
    forkserver's imported modules copy-on-write) counted once in a sum, not once per process."""
    return _proc_kib(pid, "smaps_rollup", "Pss:")


_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a live process."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICK
    except (OSError, ValueError, IndexError):
        return 0.0


def _descendants(pid: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                    ppid = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            parents.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        kids = parents.get(todo.pop(), [])
        out += kids
        todo += kids
    return out


class RssSampler(threading.Thread):
    """Polls the RSS of a process and of its process tree (extraction workers), and counts the
    article pages served since it was made."""

    def __init__(self, pid: int, mirror: SiteMirror, interval: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.pid, self.mirror, self.interval = pid, mirror, interval
        self.served_before = mirror.article_hits
        # (t, articles served, main RSS, tree RSS, tree PSS), KiB
        self.samples: list[tuple[float, int, int, int, int]] = []
        self.cpu: dict[int, float] = {}  # pid -> CPU seconds last seen (workers die before the crawl ends)
        self.done = threading.Event()
        self.next_report = 1000

    def run(self) -> None:
        start = time.monotonic()
        while not self.done.is_set():
            main = _rss_kib(self.pid)
            if main:
                pids = [self.pid, *_descendants(self.pid)]
                tree = main + sum(_rss_kib(p) for p in pids[1:])
                tree_pss = sum(_pss_kib(p) for p in pids)
                for p in pids:
                    self.cpu[p] = max(self.cpu.get(p, 0.0), _cpu_seconds(p))
                served = self.served
                self.samples.append((time.monotonic() - start, served, main, tree, tree_pss))
                if served >= self.next_report:
                    print(f"   ... {served} article pages served after {time.monotonic() - start:.0f} s: "
                          f"RSS crawl process {_mb(main)}, with workers {_mb(tree)} "
                          f"(PSS {_mb(tree_pss)})", flush=True)
                    self.next_report += 1000
            self.done.wait(self.interval)

    @property
    def served(self) -> int:
        return self.mirror.article_hits - self.served_before

    def peak(self) -> tuple[int, int, int]:
        """Peak (main RSS, tree RSS, tree PSS)."""
        return tuple(max((s[k] for s in self.samples), default=0) for k in (2, 3, 4))

    def when(self, articles: int) -> float | None:
        """Seconds after the start at which ``articles`` article pages had been served, if reached."""
        return next((t for t, served, *_ in self.samples if served >= articles), None)

    def at(self, articles: int) -> tuple[int, int, int] | None:
        """(main RSS, tree RSS, tree PSS) when ``articles`` article pages had been served, if reached."""
        for _, served, *memory in self.samples:
            if served >= articles:
                return tuple(memory)
        return None


def _kcn() -> list[str]:
    script = Path(sys.executable).with_name("kcn")
    return [str(script)] if script.exists() else [sys.executable, "-m", "scheduler.cli"]


@dataclass
class CrawlResult:
    seconds: float
    returncode: int
    summary: str
    cpu_seconds: float
    peak_main_kib: int
    peak_tree_kib: int
    peak_tree_pss_kib: int
    cpu_main_seconds: float
    rss_at_2000: tuple[int, int, int] | None
    rss_curve: list[tuple[int, int, int, int]]  # (articles served, main RSS, tree RSS, tree PSS), KiB
    articles_served: int
    first_article_s: float | None  # start-up: process start to the first article page served
    last_article_s: float | None  # process start to the last article page served
    stderr_tail: str
    serving_cpu_seconds: float  # this process meanwhile: the mirror serving the pages, the sampler


def crawl(mirror: SiteMirror, workdir: Path, overrides: list[str], profile: Path | None = None) -> CrawlResult:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update(mirror.proxy_env())
    env["KCN_DB"] = str(workdir / "data" / "archive.db")
    sets = [arg for o in overrides for arg in ("-s", o)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    serving_before = time.process_time()
    log = workdir / "crawl-stderr.log"
    with log.open("w") as err:
        start = time.perf_counter()
        command = [*_kcn(), "crawl", *OUTLET_ARGS, *POLITENESS_OFF, *sets]
        if profile:
            command = [sys.executable, "-m", "cProfile", "-o", str(profile.resolve()), *command]
        proc = subprocess.Popen(command,
                                env=env, cwd=workdir, stdout=subprocess.PIPE, stderr=err, text=True)
        sampler = RssSampler(proc.pid, mirror)
        sampler.start()
        out, _ = proc.communicate()
        seconds = time.perf_counter() - start
    sampler.done.set()
    sampler.join()
    serving_cpu = time.process_time() - serving_before
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # getrusage misses the extraction workers (reaped by the forkserver, not by us): add
    # what the sampler last saw of every process below the crawl process.
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    cpu += sum(seconds for p, seconds in sampler.cpu.items() if p != proc.pid)
    lines = out.strip().splitlines()
    main, tree, tree_pss = sampler.peak()
    return CrawlResult(seconds, proc.returncode, lines[-1] if lines else "", cpu, main, tree, tree_pss,
                       sampler.cpu.get(proc.pid, 0.0), sampler.at(2000),
                       [(n, *sampler.at(n)) for n in (250, 500, 1000, 2000, 4000, 6000, 8000, 10000)
                        if sampler.at(n)],
                       sampler.served, sampler.when(1), sampler.when(sampler.served),
                       log.read_text(errors="replace")[-3000:], serving_cpu)


def baseline(site: Site, limit: int | None = None, ours: bool = False) -> tuple[int, float]:
    """(pages, seconds) of single-process extraction over the site's pages (page building untimed)."""
    if ours:
        from pipelines.extraction import extract_article

        rules = {spec.url: site.outlets[site.layouts[spec.layout].outlet].extraction for spec in site.specs}
        extract = lambda html, url: extract_article(html, url, rules[url])  # noqa: E731
    else:
        import trafilatura

        extract = lambda html, url: trafilatura.extract(html, url=url)  # noqa: E731
    n = len(site) if limit is None else min(limit, len(site))
    extract(site.html(0), site.specs[0].url)  # warm-up (imports, lazy tables), not timed
    total = 0.0
    for i in range(n):
        page = site.html(i)
        start = time.perf_counter()
        extract(page, site.specs[i].url)
        total += time.perf_counter() - start
    return n, total


def _fresh(folder: Path) -> Path:
    folder.mkdir(parents=True)
    return folder


def _failed(result: CrawlResult) -> int:
    print(result.stderr_tail, file=sys.stderr)
    print(f"crawl failed (exit {result.returncode}): {result.summary}", file=sys.stderr)
    return 1


def archive_size(data: Path) -> int:
    return sum(p.stat().st_size for p in data.rglob("*") if p.is_file())


def _mb(kib: int) -> str:
    return f"{kib / 1024:.0f} MB"


# --------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Crawl N composed industrial-zone article pages from the loopback mirror with "
                    "the full pipeline (kcn crawl) and compare pages/s with plain single-process "
                    "trafilatura on the same pages; report peak RSS, archive bytes per article and "
                    "what a second (incremental) crawl fetches.")
    parser.add_argument("--pages", type=int, default=2000, help="number of article pages (default 2000)")
    parser.add_argument("--not-relevant", type=float, default=NOT_RELEVANT_SHARE, metavar="SHARE",
                        help=f"share of pages not about the zones (default {NOT_RELEVANT_SHARE}; a general "
                             "outlet's feed is mostly such pages, e.g. 0.9)")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip the single-process trafilatura run (e.g. for a --pages 10000 memory check)")
    parser.add_argument("--ours-sample", type=int, default=200, metavar="K",
                        help="also time the project's extract_article single-process on the first K pages "
                             "(0: skip; default 200)")
    parser.add_argument("--no-recrawl", action="store_true", help="skip the second (incremental) crawl")
    parser.add_argument("--rounds", type=int, default=1, metavar="R",
                        help="crawl R times (each into a fresh archive) with plain trafilatura run before, "
                             "between and after: each crawl is compared with the runs on either side of "
                             "it and the median ratio is reported (default 1; the machine's speed drifts)")
    parser.add_argument("-s", "--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE",
                        help="extra Scrapy setting for every crawl, e.g. -s KCN_EXTRACT_WORKERS=0")
    parser.add_argument("--keep", metavar="DIR", type=Path,
                        help="crawl into DIR (kept) instead of a temporary folder")
    parser.add_argument("--profile", metavar="FILE", type=Path,
                        help="run the first crawl under cProfile (crawl process only) and save the stats to FILE")
    parser.add_argument("--json", metavar="FILE", type=Path, help="also write the figures as JSON")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")

    cores = os.cpu_count()
    t = time.perf_counter()
    site = Site(args.pages, not_relevant_share=args.not_relevant)
    relevant = sum(s.about_zones for s in site.specs)
    print(f"machine: {cores} cores; load average {os.getloadavg()[0]:.2f} before the run")
    print(f"site: {len(site)} distinct article pages ({relevant} built from zone texts, "
          f"{len(site) - relevant} not) in {len(site.layouts)} real layouts, "
          f"mean {sum(len(site.html(i)) for i in range(min(50, len(site)))) / min(50, len(site)) / 1024:.0f} KiB/page; "
          f"built in {time.perf_counter() - t:.1f} s")
    figures: dict = {"cores": cores, "pages": len(site), "zone_pages": relevant,
                     "overrides": args.overrides}

    workdir = Path(tempfile.mkdtemp(prefix="kcn-bench-")) if args.keep is None else args.keep
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        # Plain trafilatura runs before, between and after the crawls, and each crawl is compared
        # with the runs on either side of it: the VM's speed drifts by tens of percent within minutes.
        plain_runs = [] if args.no_baseline else [baseline(site)]
        with SiteMirror(site) as mirror:
            serve(mirror)
            first = crawl(mirror, workdir, args.overrides, args.profile)
            if first.returncode != 0:
                return _failed(first)
            crawl_rates = [len(site) / first.seconds]
            db = workdir / "data" / "archive.db"
            with sqlite3.connect(db) as conn:
                articles = conn.execute("select count(*) from articles").fetchone()[0]
                outcomes = dict(conn.execute("select status, count(*) from seen_urls group by status"))
            size = archive_size(workdir / "data")
            print(f"\n1. crawl: {first.summary}")
            print(f"   {len(site)} pages in {first.seconds:.1f} s wall = {crawl_rates[0]:.1f} pages/s end to end "
                  f"(CPU {first.cpu_seconds:.0f} s over the crawl's processes, {first.cpu_main_seconds:.0f} s "
                  f"of it in the crawl process = {1000 * first.cpu_seconds / len(site):.0f} ms CPU per page)")
            if first.first_article_s is not None and first.last_article_s is not None:
                span = first.last_article_s - first.first_article_s
                print(f"   phases: {first.first_article_s:.1f} s to the first article page (start-up, robots.txt,"
                      f" feed), {span:.1f} s serving the article pages ({first.articles_served / span:.1f}/s),"
                      f" {first.seconds - first.last_article_s:.1f} s from the last one to exit"
                      f" (sampled every 0.25 s)")
            print(f"   seen_urls: {outcomes}")
            print(f"   meanwhile this process (the mirror serving the pages, the /proc sampler): "
                  f"{first.serving_cpu_seconds:.1f} s CPU = {1000 * first.serving_cpu_seconds / len(site):.1f} "
                  f"ms per page, on the same {cores} cores")
            print(f"   peak memory: crawl process RSS {_mb(first.peak_main_kib)}; with its extraction "
                  f"workers RSS {_mb(first.peak_tree_kib)}, PSS {_mb(first.peak_tree_pss_kib)} "
                  f"(sampled every 0.25 s from /proc)")
            if first.rss_at_2000:
                print(f"   after 2,000 articles: crawl process RSS {_mb(first.rss_at_2000[0])}, "
                      f"with workers RSS {_mb(first.rss_at_2000[1])}, PSS {_mb(first.rss_at_2000[2])}")
            curve = ", ".join(f"{n}: {_mb(m)}/{_mb(t)}/{_mb(p)}" for n, m, t, p in first.rss_curve)
            print(f"   by articles served (crawl process RSS / with workers RSS / with workers PSS): {curve}")
            print(f"   archive: {size / 1e6:.1f} MB for {articles} articles = {size / max(articles, 1) / 1024:.1f} KiB "
                  f"per article (database + texts/ + warc/; WARC keeps every fetched page, "
                  f"{size / len(site) / 1024:.1f} KiB per fetched page)")
            figures["crawl"] = {
                "seconds": round(first.seconds, 2), "pages_per_s": round(crawl_rates[0], 2),
                "serving_cpu_seconds": round(first.serving_cpu_seconds, 1),
                "cpu_seconds": round(first.cpu_seconds, 1),
                "cpu_main_seconds": round(first.cpu_main_seconds, 1), "summary": first.summary,
                "first_article_s": first.first_article_s, "last_article_s": first.last_article_s,
                "peak_rss_main_mb": round(first.peak_main_kib / 1024),
                "peak_rss_tree_mb": round(first.peak_tree_kib / 1024),
                "peak_pss_tree_mb": round(first.peak_tree_pss_kib / 1024),
                "rss_curve_mb": [[n, *(round(k / 1024) for k in memory)] for n, *memory in first.rss_curve],
                "rss_at_2000_mb": [round(k / 1024) for k in first.rss_at_2000] if first.rss_at_2000 else None,
                "articles": articles, "outcomes": outcomes, "archive_bytes": size,
                "bytes_per_article": round(size / max(articles, 1)),
            }

            if not args.no_recrawl:
                mirror.reset_log()
                second = crawl(mirror, workdir, args.overrides)
                requests = mirror.requests
                article_requests = [r for r in requests if r.url in site.index]
                others = sorted({r.url for r in requests if r.url not in site.index})
                print(f"\n4. second crawl over the unchanged mirror: {second.summary}")
                print(f"   {len(requests)} requests in {second.seconds:.1f} s: {len(article_requests)} article pages "
                      f"({len(article_requests) / max(articles, 1):.3f} per article held), other: {others}")
                figures["recrawl"] = {"seconds": round(second.seconds, 2), "requests": len(requests),
                                      "article_requests": len(article_requests), "other": others,
                                      "summary": second.summary}

            for round_ in range(2, args.rounds + 1):
                if not args.no_baseline:
                    plain_runs.append(baseline(site))
                again = crawl(mirror, _fresh(workdir / f"round-{round_}"), args.overrides)
                if again.returncode != 0:
                    return _failed(again)
                crawl_rates.append(len(site) / again.seconds)
                print(f"\n1. crawl, round {round_}: {len(site)} pages in {again.seconds:.1f} s wall = "
                      f"{crawl_rates[-1]:.1f} pages/s ({1000 * again.cpu_seconds / len(site):.0f} ms CPU per page)")
            figures["crawl"]["rounds_pages_per_s"] = [round(rate, 2) for rate in crawl_rates]

        if not args.no_baseline:
            plain_runs.append(baseline(site))
            n, seconds = sum(p for p, _ in plain_runs), sum(s for _, s in plain_runs)
            each = ", ".join(f"{p / s:.1f}" for p, s in plain_runs)
            print(f"\n2. plain trafilatura.extract(html, url=url), one process, before, between and after the "
                  f"crawls: {each} pages/s ({n} pages in {seconds:.1f} s in all)")
            figures["trafilatura"] = {"pages": n, "seconds": round(seconds, 2), "pages_per_s": round(n / seconds, 2),
                                      "runs_pages_per_s": [round(p / s, 2) for p, s in plain_runs]}
            if args.ours_sample:
                k, ours = baseline(site, args.ours_sample, ours=True)
                print(f"   for reference, the project's extract_article, one process: {k} pages in {ours:.1f} s "
                      f"= {k / ours:.1f} pages/s ({(ours / k) / (seconds / n):.2f}x trafilatura's time per page)")
                figures["extract_article_sample"] = {"pages": k, "seconds": round(ours, 2),
                                                     "pages_per_s": round(k / ours, 2)}
            ratios = []
            for i, rate in enumerate(crawl_rates):
                (n1, s1), (n2, s2) = plain_runs[i], plain_runs[i + 1]
                plain_rate = (n1 + n2) / (s1 + s2)
                ratios.append(rate / plain_rate)
                print(f"\n3. ratio end-to-end crawl / plain trafilatura{f', round {i + 1}' if args.rounds > 1 else ''}: "
                      f"{ratios[-1]:.2f} ({rate:.1f} vs {plain_rate:.1f} pages/s, the runs before and after it) "
                      f"on {cores} cores")
            if len(ratios) > 1:
                print(f"   median ratio over {len(ratios)} rounds: {statistics.median(ratios):.2f}")
            figures["ratio"] = round(statistics.median(ratios), 3)
            figures["ratios"] = [round(r, 3) for r in ratios]
        print(f"   load average after the run: {os.getloadavg()[0]:.2f}")
        if args.json:
            args.json.write_text(json.dumps(figures, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    finally:
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
