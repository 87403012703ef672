"""The extractor against the hand-made gold pages, plus the date rules it relies on.

The floors are the lead's targets: a regression on any page fails here.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from statistics import mean

import pytest

from crawler.registry import ExtractionRules, load_outlets
from pipelines.evaluate import evaluate_page, token_prf
from pipelines.extraction import extract_article
from pipelines.extraction.cleanup import normalize
from pipelines.extraction.dom import decode, parse, select
from pipelines.extraction.dates import parse_date_line, parse_iso, parse_vietnamese_date

GOLD_DIR = Path(__file__).parent / "fixtures" / "gold"
GOLD_FILES = sorted(GOLD_DIR.glob("*.json"))


@pytest.fixture(scope="module")
def results() -> dict[str, dict]:
    return {p.stem: evaluate_page(p) for p in GOLD_FILES}


def test_gold_set_is_present():
    assert len(GOLD_FILES) == 14
    for path in GOLD_FILES:
        assert (GOLD_DIR.parent / "pages" / f"{path.stem}.html").exists(), path.stem


def test_mean_body_f1_floor(results):
    assert mean(r["ours"]["f1"] for r in results.values()) >= 0.97


@pytest.mark.parametrize("name", [p.stem for p in GOLD_FILES])
def test_page(results, name):
    res = results[name]
    ours, plain, gold = res["ours"], res["plain"], res["gold"]
    article = ours["article"]
    assert ours["f1"] >= plain["f1"], "worse than plain trafilatura"
    assert ours["f1"] >= 0.95
    assert ours["leaks"] == [], "must-not-contain snippets leaked"
    assert ours["with_found"] == ours["with_total"], "must-contain snippets missing"
    assert ours["title_ok"], article.title
    if gold.get("published"):
        assert ours["date_ok"], article.published
    assert article.author == gold["author"]
    assert normalize(article.lead) == normalize(gold["lead"])
    if gold.get("url"):
        assert article.url == gold["url"]
    assert article.text.split("\n\n")[0] == normalize(gold["body"][0])


def test_token_prf_is_a_multiset_overlap():
    assert token_prf("a a b", "a b") == pytest.approx((1.0, 2 / 3, 0.8))
    assert token_prf("Khu Công Nghiệp", "khu công nghiệp")[2] == 1.0
    assert token_prf("x", "")[2] == 0.0


@pytest.mark.parametrize("text, expected", [
    ("Cập nhật: Thứ tư, 20/12/2023 | 4:34:49 PM", "2023-12-20T16:34:49+07:00"),
    ("05/04/2024 12:06", "2024-04-05T12:06:00+07:00"),
    ("Thứ Bảy, 7/3/2026, 00:05 (GMT+7)", "2026-03-07T00:05:00+07:00"),
    ("15:20 PM | 21/12/2012", "2012-12-21T15:20:00+07:00"),
    ("Thứ Ba, 25/12/2012 - 10:03", "2012-12-25T10:03:00+07:00"),
    ("07-03-2026 - 09:40 AM", "2026-03-07T09:40:00+07:00"),
    ("12:30 AM 01/01/2024", "2024-01-01T00:30:00+07:00"),
    ("07/03/2026", "2026-03-07"),
])
def test_vietnamese_date_lines(text, expected):
    assert parse_vietnamese_date(text) == expected
    assert parse_date_line(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("20/12/2012 03:18 GMT+0", "2012-12-20T10:18:00+07:00"),
    ("Thứ năm, 20/12/2012, 10:18 (GMT+9)", "2012-12-20T08:18:00+07:00"),
])
def test_date_lines_in_other_offsets_convert_to_vietnam_time(text, expected):
    assert parse_vietnamese_date(text) == expected


@pytest.mark.parametrize("value, expected", [
    ("2026-03-07T01:40:00Z", "2026-03-07T08:40:00+07:00"),
    ("2026-03-06T20:05:00-05:00", "2026-03-07T08:05:00+07:00"),
    ("2026-03-07T09:40:00", "2026-03-07T09:40:00+07:00"),  # no offset on a VN site: local time
    ("2026-03-07T08:52:11.000 +07:00", "2026-03-07T08:52:11+07:00"),
    ("2012-12-25", "2012-12-25"),
    ("not a date", None),
])
def test_machine_dates(value, expected):
    assert parse_iso(value) == expected


@pytest.mark.parametrize("sentence", [
    "Từ ngày 1/3/2026, khu công nghiệp sẽ mở rộng thêm 200ha.",
    "Đến 10:30 ngày 20/12/2026, giai đoạn một sẽ hoàn thành và bàn giao mặt bằng cho doanh nghiệp.",
])
def test_a_sentence_is_not_a_date_line(sentence):
    assert parse_date_line(sentence) is None


_BODY = ("<p>Từ ngày 1/3/2026, khu công nghiệp Thăng Long sẽ mở rộng thêm 200ha theo quyết định của "
         "UBND thành phố Hà Nội ngày 15/02/2026.</p><p>Dự án dự kiến thu hút thêm nhiều nhà đầu tư nước "
         "ngoài trong lĩnh vực điện tử và cơ khí chính xác, tạo việc làm cho hàng nghìn lao động.</p>"
         "<p>Đến ngày 20/12/2026 10:30, giai đoạn một sẽ hoàn thành và bàn giao mặt bằng cho các doanh "
         "nghiệp đã đăng ký thuê đất tại khu vực phía bắc.</p>")


def _page(head: str = "", top: str = "") -> str:
    return (f"<html><head><title>KCN Thăng Long mở rộng - Báo X</title>{head}</head><body>"
            f"<h1>KCN Thăng Long mở rộng</h1>{top}<div class='content'>{_BODY}</div></body></html>")


def test_no_date_is_invented_from_body_text():
    article = extract_article(_page(), "https://baox.vn/kcn-1.html")
    assert article.published is None
    assert len(article.paragraphs) == 3


def test_page_date_sources_and_conversion():
    utc = '<meta property="article:published_time" content="2026-03-07T01:40:00Z">'
    assert extract_article(_page(utc), "https://baox.vn/a").published == "2026-03-07T08:40:00+07:00"
    line = '<div class="date-time">Thứ Bảy, 7/3/2026, 00:05 (GMT+7)</div>'
    assert extract_article(_page(top=line), "https://baox.vn/a").published == "2026-03-07T00:05:00+07:00"
    # a date-only meta is completed by the time printed under the title on the same day
    day = '<meta itemprop="datePublished" content="2026-03-07">'
    assert extract_article(_page(day, line), "https://baox.vn/a").published == "2026-03-07T00:05:00+07:00"


def test_canonical_url_only_on_the_same_site():
    same = '<link rel="canonical" href="https://www.baox.vn/kcn-1.html">'
    other = '<meta property="og:url" content="https://aggregator.example.com/kcn-1">'
    assert extract_article(_page(same), "https://baox.vn/kcn-1.html?utm=x").url == "https://www.baox.vn/kcn-1.html"
    assert extract_article(_page(other), "https://baox.vn/kcn-1.html").url == "https://baox.vn/kcn-1.html"


def test_bytes_and_text_give_the_same_article():
    page = _page()
    assert extract_article(page.encode("utf-8"), "https://baox.vn/a") == extract_article(page, "https://baox.vn/a")


def test_outlet_rules_are_used_and_bad_selectors_tolerated():
    page = _page(top="<div class='sapo'>Sapo của bài viết về khu công nghiệp Thăng Long mở rộng.</div>")
    rules = ExtractionRules(body="div.content", prune=("p:nth-child(2)", "[[bad"), lead="div.sapo")
    article = extract_article(page, "https://baox.vn/a", rules)
    assert article.lead.startswith("Sapo của bài viết")
    assert not any("Dự án dự kiến" in p for p in article.paragraphs)


def test_worker_preload_builds_the_stoplist_trafilatura_would_build_per_worker():
    """The forkserver's preload (pipelines/worker_preload.py) leaves justext's all-language
    stoplist built and cached in the form trafilatura's justext rescue asks for, so the
    workers share it instead of each building ~30 MB of its own."""
    code = ("import pipelines.worker_preload\n"
            "from justext.core import define_stoplist\n"
            "from trafilatura import external\n"
            "hits = define_stoplist.cache_info().hits\n"
            "define_stoplist(external.JT_STOPLIST)\n"
            "print(len(external.JT_STOPLIST) > 10000, define_stoplist.cache_info().hits == hits + 1)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["True", "True"]


def _gold_outlet_pages():
    outlets = load_outlets()
    for path in GOLD_FILES:
        outlet = outlets.get(path.stem.split("_")[0])
        if outlet and outlet.extraction.body:
            yield path.stem, outlet


@pytest.mark.parametrize("name, outlet", list(_gold_outlet_pages()), ids=lambda v: getattr(v, "name", v))
def test_declared_body_container_is_one_element_of_the_current_layout(name, outlet):
    """Extraction works on the declared container only when exactly one element matches it
    (else on the whole page, several times slower): so it must match once on the outlet's
    captured current page, and at most once on an older layout."""
    html = (GOLD_DIR.parent / "pages" / f"{name}.html").read_bytes()
    matches = len(select(parse(decode(html)), outlet.extraction.body))
    assert matches == 1 if "_2026_" in name else matches <= 1


def test_page_without_its_declared_container_is_extracted_from_the_whole_page():
    """An outlet redesign that renames the article container loses nothing: the body then
    comes from the whole page, as if no container were declared."""
    rules = load_outlets()["vnexpress"].extraction
    page = (GOLD_DIR.parent / "pages" / "vnexpress_2026_energy.html").read_text(encoding="utf-8")
    redesigned = page.replace("fck_detail", "noi-dung-bai")
    url = "https://vnexpress.net/cach-cac-nuoc-doi-pho-cu-soc-nang-luong-tu-trung-dong-5047363.html"
    assert "noi-dung-bai" in redesigned and not select(parse(redesigned), rules.body)
    before, after = extract_article(page, url, rules), extract_article(redesigned, url, rules)
    assert len(after.paragraphs) >= 20
    assert after.paragraphs == before.paragraphs
    assert (before.body_from, after.body_from) == ("container", "page")  # what the health check counts
