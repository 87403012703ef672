"""Fault injection: one crawl meets every kind of bad page and fault the web has.

Each case must end as a recorded, readable outcome (or a correct archive entry)
counted under its cause in the run ledger, and the run must go on.
"""
from __future__ import annotations

import json
import sqlite3
import unicodedata

import pytest

from crawler.registry import load_outlets
from tests.conftest import FAST, kcn_runner
from tests.mirror import Mirror
from tests.site import FIXTURES

OUTLETS = load_outlets()
VNEXPRESS, CAFEF = OUTLETS["vnexpress"], OUTLETS["cafef"]
COMPOSED = json.loads((FIXTURES / "composed" / "vnexpress_kcn_hanoi_613.json").read_text(encoding="utf-8"))
LAYOUT = (FIXTURES / "composed" / "vnexpress_kcn_hanoi_613.html").read_text(encoding="utf-8")
# Real politeness is off, but retries stay on (once) so 429/503/timeouts are retried.
SETTINGS = (*FAST, "-s", "RETRY_TIMES=1", "-s", "DOWNLOAD_TIMEOUT=2", "-s", "KCN_BACKOFF_BASE=0.2")
TONES = "\u0300\u0301\u0303\u0309\u0323"


def url(case: str, n: int) -> str:
    return f"https://vnexpress.net/{case}-50490{n:02d}.html"


def zone_page(case: str) -> str:
    """The composed zone article, retitled and with one paragraph of its own, so no two cases are duplicates."""
    title = f"{COMPOSED['title']} ({case})"
    extra = f"Ghi chú riêng của trường hợp {case}: khu công nghiệp được nhắc lại để kiểm thử."
    html = LAYOUT.replace(COMPOSED["title"], title).replace(COMPOSED["body"][-1], COMPOSED["body"][-1] + " " + extra)
    return html.replace(COMPOSED["url"], url(case, CASES.index(case)))


def cp1258(text: str) -> bytes:
    """Windows-1258 as legacy Vietnamese sites write it: base letters precomposed, tones combining."""
    out = []
    for char in text:
        try:
            out.append(char.encode("cp1258"))
        except UnicodeEncodeError:
            parts = unicodedata.normalize("NFD", char)
            base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in TONES))
            out.append((base + "".join(c for c in parts if c in TONES)).encode("cp1258", errors="replace"))
    return b"".join(out)


CASES = ["cp1258", "cp1258-undeclared", "utf8-declared-latin1", "utf16", "truncated-html", "empty",
         "big3mb", "huge50mb", "pdf", "image", "no-body", "bad-date", "redirect-loop", "offsite",
         "gone404", "gone410", "throttled429", "unavailable503", "timeout", "reset", "robots", "meta-refresh"]

# case: (status in seen_urls, cause counted in the ledger or None for archived ones)
EXPECTED = {
    "cp1258": ("archived", None), "cp1258-undeclared": ("archived", None),
    "utf8-declared-latin1": ("archived", None), "utf16": ("archived", None),
    "truncated-html": ("archived", None), "empty": ("failed", "empty_page"),
    "big3mb": ("archived", None), "huge50mb": ("failed", "too_large"), "pdf": ("failed", "not_html"),
    "image": ("failed", "not_html"), "no-body": ("failed", "no_text"), "bad-date": ("archived", None),
    "redirect-loop": ("failed", "redirect_loop"), "offsite": ("failed", "offsite_redirect"),
    "gone404": ("gone", "http_404"), "gone410": ("gone", "http_410"),
    "throttled429": ("archived", None), "unavailable503": ("archived", None),
    "timeout": ("failed", "timeout"), "reset": ("failed", "connection_lost"), "robots": ("blocked", "robots"),
    "meta-refresh": ("archived", None),
}


def serve_faults(mirror) -> None:
    u = {case: url(case, n) for n, case in enumerate(CASES)}
    html = {case: zone_page(case) for case in CASES}
    no_meta = html["cp1258-undeclared"].replace('<meta charset="utf-8">', "")
    mirror.add(u["cp1258"], cp1258(html["cp1258"].replace('<meta charset="utf-8">', "")),
               content_type="text/html; charset=windows-1258")
    mirror.add(u["cp1258-undeclared"], cp1258(no_meta), content_type="text/html")
    mirror.add(u["utf8-declared-latin1"], html["utf8-declared-latin1"].replace('<meta charset="utf-8">', ""),
               content_type="text/html; charset=iso-8859-1")
    mirror.add(u["utf16"], html["utf16"].replace('<meta charset="utf-8">', "").encode("utf-16"),
               content_type="text/html")
    cut = html["truncated-html"]
    mirror.add(u["truncated-html"], cut[: cut.index(COMPOSED["body"][-1])])
    mirror.add(u["empty"], b"")
    mirror.add(u["big3mb"], html["big3mb"].replace("</body>", "<!--" + "x" * 3_000_000 + "--></body>"))
    mirror.add(u["huge50mb"], b"<html>" + b" " * 50_000_000)
    mirror.add(u["pdf"], b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n", content_type="application/pdf")
    mirror.add(u["image"], b"\x89PNG\r\n\x1a\n" + b"\0" * 64, content_type="image/png")
    mirror.add(u["no-body"], "<html><head><title>VnExpress</title></head><body><nav><a href='/'>Trang chủ</a>"
               "<a href='/kinh-doanh'>Kinh doanh</a></nav><footer>© VnExpress</footer></body></html>")
    mirror.add(u["bad-date"], html["bad-date"].replace("<head>", '<head><meta property="article:published_time"'
                                                       ' content="2024-13-45T99:99:00+07:00">', 1))
    loop_b = u["redirect-loop"].replace(".html", "-b.html")
    mirror.add_redirect(u["redirect-loop"], loop_b)
    mirror.add_redirect(loop_b, u["redirect-loop"])
    mirror.add_redirect(u["offsite"], "https://other-site.test/copied-article.html")
    mirror.add("https://other-site.test/copied-article.html", html["offsite"])
    mirror.add(u["gone404"], "not here", status=404)
    mirror.add(u["gone410"], "removed", status=410)
    mirror.add_sequence(u["throttled429"], [
        {"status": 429, "body": "slow down", "headers": {"Retry-After": "2"}}, {"body": html["throttled429"]}])
    mirror.add_sequence(u["unavailable503"], [
        {"status": 503, "body": "busy", "headers": {"Retry-After": "1"}}, {"body": html["unavailable503"]}])
    mirror.add(u["timeout"], html["timeout"], fault="stall")
    mirror.add(u["reset"], html["reset"], fault="reset")
    # A moved article: a stub page, longer than the head the refresh tag is looked for in.
    moved = u["meta-refresh"].replace(".html", "-moved.html")
    mirror.add(u["meta-refresh"], f'<html><head><meta http-equiv="refresh" content="0; url={moved}">'
               f'<title>Chuyển trang</title></head><body><!--{"x" * 40_000}--><p>Bài đã chuyển.</p></body></html>')
    mirror.add(moved, html["meta-refresh"])
    mirror.add("https://vnexpress.net/robots.txt", "User-agent: *\nDisallow: /robots-", content_type="text/plain")
    items = "".join(f"<item><title>{c}</title><link>{u[c]}</link></item>" for c in CASES)
    mirror.add(VNEXPRESS.feeds[0], f'<?xml version="1.0"?><rss version="2.0"><channel>{items}</channel></rss>',
               content_type="application/rss+xml")
    mirror.add(CAFEF.feeds[0], "<rss><channel><item><link>https://cafef.vn/a", content_type="application/rss+xml")


@pytest.fixture(scope="module")
def faulty_crawl(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("faults")
    with Mirror() as mirror:
        serve_faults(mirror)
        result = kcn_runner(tmp)("crawl", "--outlet", "vnexpress", "--outlet", "cafef", *SETTINGS, mirror=mirror)
        requests = mirror.requests
    conn = sqlite3.connect(tmp / "data" / "archive.db")
    conn.row_factory = sqlite3.Row
    yield result, conn, requests
    conn.close()


def test_the_run_survives_every_fault(faulty_crawl):
    result, conn, _ = faulty_crawl
    assert result.returncode == 0, result.stderr[-3000:]
    assert conn.execute("pragma integrity_check").fetchone()[0] == "ok"
    run = conn.execute("select * from crawl_runs").fetchone()
    assert run["status"] == "ok"


@pytest.mark.parametrize("case", CASES)
def test_each_case_is_recorded_under_its_cause(faulty_crawl, case):
    _, conn, _ = faulty_crawl
    status, cause = EXPECTED[case]
    row = conn.execute("select * from seen_urls where url_key = ?", [url(case, CASES.index(case))]).fetchone()
    assert row is not None, f"{case}: no outcome recorded"
    assert row["status"] == status, f"{case}: {row['status']} ({row['reason']})"
    assert row["reason"]
    if status == "archived":
        article = conn.execute("select * from articles where id = ?", [row["article_id"]]).fetchone()
        assert article["title"] == f"{COMPOSED['title']} ({case})"  # Vietnamese decoded right, NFC
        assert COMPOSED["body"][1] in article["text"]


def test_ledger_counts_each_cause(faulty_crawl):
    _, conn, _ = faulty_crawl
    failures = json.loads(conn.execute("select failures from crawl_runs").fetchone()["failures"])
    expected: dict[str, int] = {}
    for status, cause in EXPECTED.values():
        if cause:
            expected[cause] = expected.get(cause, 0) + 1
    for cause, n in expected.items():
        if cause.startswith("http_"):  # listing pages of cafef also answer 404
            assert failures.get(cause, 0) >= n, cause
        else:
            assert failures.get(cause) == n, (cause, failures)
    assert failures.get("bad_feed") == 1


def test_retry_after_is_honoured(faulty_crawl):
    _, _, requests = faulty_crawl
    for case, wait in (("throttled429", 2), ("unavailable503", 1)):
        times = [r.at for r in requests if r.url == url(case, CASES.index(case))]
        assert len(times) == 2 and times[1] - times[0] >= wait * 0.95, (case, times)


def test_archived_article_that_disappears_is_marked_gone_not_deleted(mirror, kcn, tmp_path):
    page_url = url("cp1258", 0)
    mirror.add(page_url, zone_page("cp1258"))
    assert kcn("recrawl", page_url, *FAST, mirror=mirror).returncode == 0
    mirror.add(page_url, "gone", status=410)
    assert kcn("recrawl", page_url, *FAST, mirror=mirror).returncode == 0
    conn = sqlite3.connect(tmp_path / "data" / "archive.db")
    title, gone_at, text_file = conn.execute("select title, gone_at, filename from articles").fetchone()
    assert title.endswith("(cp1258)") and gone_at
    assert (tmp_path / "data" / "texts" / text_file).exists()
    status = conn.execute("select status from seen_urls where url = ?", [page_url]).fetchone()[0]
    assert status == "gone"


def test_retry_after_header_forms():
    from datetime import datetime, timezone

    from crawler.retry_after import retry_after_seconds

    now = datetime(2026, 3, 7, 8, 0, 0, tzinfo=timezone.utc)
    assert retry_after_seconds(b"120") == 120
    assert retry_after_seconds("Sat, 07 Mar 2026 08:01:30 GMT", now=now) == 90
    assert retry_after_seconds("Sat, 07 Mar 2026 07:00:00 GMT", now=now) == 0
    assert retry_after_seconds(b"soon") is None and retry_after_seconds(None) is None


def test_a_page_in_decomposed_unicode_is_archived_in_nfc():
    from crawler.encoding import decode_html
    from pipelines.extraction import extract_article

    page = unicodedata.normalize("NFD", zone_page("cp1258")).encode("utf-8")
    article = extract_article(decode_html(page, "text/html; charset=utf-8"), url("cp1258", 0))
    assert article.title == f"{COMPOSED['title']} (cp1258)"
    assert unicodedata.is_normalized("NFC", article.text) and COMPOSED["body"][1] in article.text
