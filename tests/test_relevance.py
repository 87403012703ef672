"""The industrial-zone relevance filter: matching rules, scoring shape, and floors
on the labelled set of real news leads (tests/fixtures/relevance/labelled.jsonl)."""
from __future__ import annotations

import json
import tomllib
import unicodedata
from pathlib import Path
from types import SimpleNamespace

import pytest

from pipelines.evaluate_relevance import (baseline_relevant, evaluate, load_samples, main,
                                          misclassified, ours_relevant)
from pipelines.evaluate import _rules_for
from pipelines.extraction import extract_article
from pipelines.extraction.dom import page_texts, parse
from pipelines.relevance import (DEFAULT_THRESHOLD, TERMS_FILE, RelevancePipeline,
                                 load_vocabulary, may_be_relevant, score_relevance)

FIXTURES = Path(__file__).parent / "fixtures" / "relevance"
LABELLED = FIXTURES / "labelled.jsonl"
FILLER = "Giá vàng trong nước hôm nay tiếp tục biến động theo thị trường thế giới. " * 80


def score(title, text=""):
    return score_relevance(title, text).score


# ------------------------------------------------------------ matching rules
@pytest.mark.parametrize("title", [
    "Hà Nội thành lập thêm khu công nghiệp",
    "Ha Noi thanh lap them khu cong nghiep",         # no accents
    "HÀ NỘI THÀNH LẬP THÊM KHU CÔNG NGHIỆP",         # upper case
    unicodedata.normalize("NFD", "Hà Nội thành lập thêm khu công nghiệp"),  # decomposed
])
def test_phrases_match_accent_and_case_insensitively(title):
    rel = score_relevance(title, "")
    assert rel.terms.get("khu công nghiệp") == 1
    assert rel.relevant


def test_d_with_stroke_folds_to_d():
    with_d = score_relevance("Khu kinh tế Đình Vũ - Cát Hải thu hút vốn", "")
    without = score_relevance("Khu kinh te Dinh Vu - Cat Hai thu hut von", "")
    assert with_d.score == without.score > 0
    assert with_d.terms["khu kinh tế"] == 1


def test_nbsp_between_words_still_matches():
    assert score_relevance("Khu\u00a0công\u00a0nghiệp mới", "").terms["khu công nghiệp"] == 1


@pytest.mark.parametrize("text,count", [
    ("Vốn FDI vào các KCN tăng mạnh", 1),
    ("Ban quản lý các KCN&CX thành phố", 1),          # KCN&CX counts
    ("xem thêm tại /kcn-thang-long-ii.html", 0),     # slug: lower case
    ("các kcn được nhắc trong văn bản thường", 0),   # lower case prose
    ("Khu KCNC Hòa Lạc", 0),                          # KCNC is its own term
    ("TKCNX là một mã khác", 0),                      # inside a longer word
])
def test_abbreviations_only_as_uppercase_whole_words(text, count):
    assert score_relevance(None, text).terms.get("KCN", 0) == count


def test_khu_cn_needs_uppercase_cn():
    assert score_relevance("Hải Phòng thành lập thêm 5 Khu CN", "").terms.get("Khu CN") == 1
    assert "Khu CN" not in score_relevance("khu cn và khu dân cư", "").terms


@pytest.mark.parametrize("title", [
    "Phát triển công nghiệp văn hóa Việt Nam",
    "Công nghiệp ô tô: vì sao tỷ lệ nội địa hóa thấp?",
    "Ngành công nghiệp hỗ trợ cần cách tiếp cận mới",
    "Công nghiệp chế biến, chế tạo dẫn dắt tăng trưởng",
    "Ngành công nghiệp điện ảnh bùng nổ",
    "Đại học Công nghiệp công bố điểm chuẩn",
    "Khu đô thị mới và công viên trung tâm",
    "Kinh tế vĩ mô quý III ổn định",
    "Vùng kinh tế trọng điểm miền Trung liên kết phát triển",
    "Khu vực kinh tế tư nhân đóng góp 50% GDP",
    "Nông nghiệp công nghệ cao ở Lâm Đồng",
    "Khu dân cư mới ở ngoại thành",
])
def test_other_senses_of_cong_nghiep_khu_kinh_te_do_not_count(title):
    rel = score_relevance(title, title)
    assert rel.score == 0 and not rel.relevant, rel.reasons


def test_khu_cong_nghe_cao_counts_but_cong_nghe_cao_alone_does_not():
    assert score_relevance("84 dự án vào khu công nghệ cao Hòa Lạc", "").relevant
    assert score("Startup công nghệ cao gọi vốn", "Doanh nghiệp công nghệ cao") == 0


def test_khu_kinh_te_counts_as_economic_zone():
    rel = score_relevance("Thành lập Ban Quản lý Khu kinh tế tỉnh Lai Châu", "")
    assert rel.relevant and rel.terms["khu kinh tế"] == 1


def test_projects_outside_the_zones_are_excluded():
    rel = score_relevance("25 dự án đầu tư ngoài khu công nghiệp chậm triển khai",
                          "Toàn tỉnh có 41 dự án đầu tư ngoài khu công nghiệp chậm tiến độ.")
    assert rel.score == 0 and not rel.relevant


# ------------------------------------------------------------ scoring shape
def test_title_match_weighs_more_than_body_match():
    sentence = "Hà Nội sẽ có thêm khu công nghiệp mới"
    assert score(sentence, "") > score("Tin tổng hợp", sentence) > 0


def test_named_zone_counts_more_than_generic_term():
    named = score_relevance(None, "Khởi công mở rộng KCN Thăng Long II tại Hưng Yên.")
    generic = score_relevance(None, "Khởi công mở rộng các KCN tại Hưng Yên.")
    assert named.score > generic.score
    assert any(r.startswith("named zone: 'KCN Thăng Long II'") for r in named.reasons)
    assert named.terms["named: KCN Thăng Long II"] == 1
    assert score(None, "Khu kinh tế mở Chu Lai tiếp tục thu hút") > score(None, "các khu kinh tế tiếp tục thu hút")


def test_one_passing_mention_in_a_long_article_does_not_pass():
    generic = score_relevance("Giá vàng hôm nay", FILLER + "Một công nhân khu công nghiệp cho biết.")
    named = score_relevance("Giá vàng hôm nay", FILLER + "Chị làm việc tại KCN Yên Phong.")
    assert not generic.relevant and not named.relevant
    assert generic.score == 3.0 == named.score  # the deep name earns no bonus


def test_body_counts_are_capped():
    rel = score_relevance(None, "KCN " * 50)
    assert any("capped" in r for r in rel.reasons)
    assert rel.score == score_relevance(None, "KCN " * 500).score


def test_support_words_need_a_zone_term_in_title_or_lead():
    lead = "Nguồn cung khan hiếm, giá thuê tăng tại các khu công nghiệp gần Hà Nội."
    assert score_relevance("“Đại bàng” gặp khó", lead).relevant
    no_zone = score_relevance("Giá thuê nhà xưởng, quỹ đất, hạ tầng", "Nguồn cung nhà đầu tư FDI")
    assert no_zone.score == 0


def test_crime_at_a_zone_is_not_zone_news():
    rel = score_relevance("Bắt nhóm tuổi teen đột nhập bãi xe khu công nghiệp trộm tài sản",
                          "Đồn công an Khu công nghiệp Nhơn Trạch vừa bắt giữ nhóm thanh thiếu niên.")
    assert not rel.relevant
    assert any(r.startswith("incident (title/lead)") for r in rel.reasons)


def test_reasons_explain_every_contribution_and_to_dict_is_json():
    rel = score_relevance("KCN Thăng Long thu hút FDI", "Các khu công nghiệp Hà Nội lấp đầy 90%.")
    text = "\n".join(rel.reasons)
    assert "title: 'KCN' ×1 (+6.0)" in text and "body: 'khu công nghiệp' ×1" in text
    assert rel.reasons[-1].startswith(f"total {rel.score:.1f} >= threshold")
    assert json.loads(json.dumps(rel.to_dict(), ensure_ascii=False))["terms"] == rel.terms
    empty = score_relevance("Giá vàng hôm nay", "Giá vàng tăng.")
    assert empty.reasons[0] == "no industrial-zone term found" and empty.terms == {}


def test_threshold_is_a_parameter():
    title = "Khu, cụm công nghiệp - nền tảng phát triển"
    assert score_relevance(title, "").relevant
    assert not score_relevance(title, "", threshold=100).relevant


def test_vocabulary_is_data_from_the_toml():
    data = tomllib.loads(TERMS_FILE.read_text(encoding="utf-8"))
    vocab = load_vocabulary()
    assert {t.term for t in vocab.zone} == {t["term"] for t in data["phrase"] + data["abbrev"]}
    assert all(t["weight"] > 0 for t in data["phrase"] + data["abbrev"] + data["support"])


# ------------------------------------------------------------ labelled set
def test_labelled_set_is_real_sized_and_balanced():
    samples = load_samples(LABELLED)
    positives = sum(s.label for s in samples)
    assert len(samples) >= 120 and 0.4 <= positives / len(samples) <= 0.6
    assert len({s.url for s in samples}) == len(samples)
    assert all(s.url.startswith("http") and s.title and s.text for s in samples)
    assert all(len(s.text) < 600 for s in samples)  # leads only, never page text
    hard = [s for s in samples if not s.label and "hard negative" in s.note]
    assert len(hard) >= 30


def test_floors_on_the_labelled_set_and_better_than_baseline():
    samples = load_samples(LABELLED)
    ours = evaluate(samples, ours_relevant(DEFAULT_THRESHOLD))
    base = evaluate(samples, baseline_relevant)
    assert ours.precision >= 0.97 and ours.recall >= 0.97, ours
    assert ours.f1 > base.f1 and ours.precision >= base.precision and ours.recall >= base.recall
    assert len(misclassified(samples, DEFAULT_THRESHOLD)) == ours.fp + ours.fn


def test_held_out_samples_are_classified():
    samples = load_samples(FIXTURES / "holdout.jsonl")
    m = evaluate(samples, ours_relevant(DEFAULT_THRESHOLD))
    assert m.fp == 0 and m.fn == 0


def test_evaluation_cli(capsys, tmp_path):
    assert main([str(LABELLED)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[2].startswith("ours") and "baseline" in out and "misclassified" in out
    assert main([str(tmp_path / "missing.jsonl")]) == 2
    assert "labelled set not found" in capsys.readouterr().err


# ------------------------------------------------------------ crawl stage
class _Session:
    def __init__(self, threshold=None):
        self.crawler = SimpleNamespace(settings={"KCN_RELEVANCE_THRESHOLD": threshold})
        self.outcomes = []

    def item_outcome(self, item, status, reason, **extra):
        self.outcomes.append((item["url"], status, reason))


def _item(title, text, **extra):
    return {"url": "https://example.vn/a.html", "outlet": "x",
            "article": SimpleNamespace(title=title, text=text), **extra}


def test_pipeline_keeps_zone_articles_and_records_the_rest():
    from scrapy.exceptions import DropItem
    session = _Session()
    stage = RelevancePipeline(session)
    kept = stage.process_item(_item("KCN Thăng Long mở rộng", "Các khu công nghiệp..."))
    assert kept["relevance"].relevant and not session.outcomes
    with pytest.raises(DropItem):
        stage.process_item(_item("Giá vàng hôm nay", "Giá vàng tăng."))
    assert session.outcomes[0][1] == "not_relevant" and "relevance 0.0 < 4.0" in session.outcomes[0][2]
    forced = stage.process_item(_item("Giá vàng hôm nay", "Giá vàng tăng.", forced=True))
    assert not forced["relevance"].relevant


def test_pipeline_threshold_setting():
    assert RelevancePipeline(_Session("7.5")).threshold == 7.5
    assert RelevancePipeline(_Session()).threshold == DEFAULT_THRESHOLD


def test_folding_maps_every_character_like_the_per_character_rule():
    from pipelines.relevance import _fold_char, fold
    text = "".join(map(chr, range(0x10000))) + "\U0001d400\U0002f800"
    for lower in (True, False):
        assert fold(text, lower=lower) == "".join(_fold_char(ch, lower) for ch in text)


@pytest.mark.parametrize("text,term,count", [
    ("khu  công \n\n nghiệp", "khu công nghiệp", 1),          # any whitespace run between words
    ("Khu công nghiệpX và khu công nghiệp", "khu công nghiệp", 1),  # whole phrases only
    ("ngoài ngoài khu công nghiệp KCN", "KCN", 0),  # blanking one exclusion reveals another
])
def test_term_counts_across_whitespace_and_exclusions(text, term, count):
    assert score_relevance(None, text).terms.get(term, 0) == count


# --- the zone gate: pages not worth extracting ------------------------------------------------

PAGES = Path(__file__).parent / "fixtures"


def _gate(html: str) -> bool:
    return may_be_relevant(page_texts(parse(html)))


def _page_url(page: Path) -> str:
    for gold in (PAGES / "gold" / f"{page.stem}.json", page.with_suffix(".json")):
        if gold.exists():
            return json.loads(gold.read_text(encoding="utf-8")).get("url") or "https://example.invalid/"
    return "https://example.invalid/"


@pytest.mark.parametrize("page", sorted((PAGES / "pages").glob("*.html")) + sorted((PAGES / "composed").glob("*.html")),
                         ids=lambda p: p.stem)
def test_gate_never_skips_a_page_whose_article_scores(page):
    """Every captured and composed page: the gate (run on the raw page, before extraction)
    stops only pages whose extracted article scores 0."""
    html, url = page.read_text(encoding="utf-8"), _page_url(page)
    article = extract_article(html, url, _rules_for(url))
    relevance = score_relevance(article.title, article.text)
    assert _gate(html) or relevance.score == 0, relevance.reasons


def test_gate_skips_pages_without_zone_terms_and_keeps_zone_articles():
    pages = sorted((PAGES / "pages").glob("*_20??_*.html"))
    skipped = [p.name for p in pages if not _gate(p.read_text(encoding="utf-8"))]
    assert len(skipped) >= 5, skipped  # most captured non-zone articles hold no zone term at all
    assert all(_gate(p.read_text(encoding="utf-8")) for p in (PAGES / "composed").glob("*.html"))


@pytest.mark.parametrize("body", [
    "<p><span class='dropcap'>K</span>hu công nghiệp Thăng Long mở rộng</p>",  # a word split by a tag
    "<p>Khu\n</p><p>công nghiệp mới</p>",  # a phrase across blocks
    "<p>khu c&ocirc;ng nghi&#7879;p</p>",  # entities
    "<p>khu \u200bcông nghiệp</p>",  # a zero-width space trafilatura drops
    "<p>" + unicodedata.normalize("NFD", "Khu công nghiệp") + "</p>",  # decomposed accents
    "<p>Vốn FDI vào KCN tăng</p>",  # an abbreviation
    "<p>Doanh nghiệp</p><meta property='og:title' content='Khu kinh tế Vân Đồn'>",  # only in og:title
])
def test_gate_finds_zone_terms_however_the_page_writes_them(body):
    assert _gate(f"<html><head><title>Tin</title></head><body>{body}</body></html>")


def test_gate_ignores_scripts_and_pages_without_zone_terms():
    assert not _gate("<html><body><script>var menu = 'Khu công nghiệp';</script><p>Giá vàng hôm nay</p></body></html>")
    assert not _gate("<html><body><p>Công nghiệp văn hóa và khu đô thị mới</p></body></html>")
