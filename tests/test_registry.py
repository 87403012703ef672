"""The outlet declarations in crawler/outlets/ and the loader's error messages."""
from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from crawler.registry import (
    OUTLETS_DIR,
    Listing,
    RegistryError,
    load_outlets,
    outlet_for_url,
    select_outlets,
)

FIXTURES = Path(__file__).parent / "fixtures"
OUTLETS = load_outlets()
EXPECTED = {
    "vnexpress", "cafef", "baodautu", "tuoitre", "dantri", "vietnamnet", "nld", "baochinhphu",
    "thanhnien", "moitruongvadothi", "nguoihanoi", "baoquocte", "heza", "congthuonghanoi",
}
FIXTURE_NAME = re.compile(r"(?:tests/fixtures/pages/)?([a-z0-9_]+\.html)")


def _fixtures_named(checked: str) -> list[Path]:
    return [FIXTURES / "pages" / name for name in FIXTURE_NAME.findall(checked)]


def _page_url(path: Path) -> str | None:
    """The page's own URL as it declares it (canonical, then og:url)."""
    text = path.read_text(encoding="utf-8", errors="replace")
    for pattern in (r'<link[^>]+rel="canonical"[^>]+href="([^"]+)"',
                    r'<meta[^>]+property="og:url"[^>]+content="([^"]+)"'):
        match = re.search(pattern, text)
        if match:
            return match.group(1)
    return None


def test_all_outlets_load_with_required_fields():
    # The outlets the archive was founded on, among at least 25 that publish zone news.
    assert EXPECTED <= set(OUTLETS) and len(OUTLETS) >= 25
    for outlet in OUTLETS.values():
        assert outlet.title and outlet.domains and outlet.checked
        assert outlet.feeds or outlet.sitemaps or outlet.listings, outlet.name
        assert 1 <= outlet.max_pages <= 10


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_start_urls_are_owned_and_not_articles(name):
    outlet = OUTLETS[name]
    for url in outlet.start_urls():
        assert outlet.owns(url), url
        assert outlet_for_url(url, OUTLETS) is outlet, url
        assert not outlet.is_article(url), url
    for listing in outlet.listings:
        second = listing.page_url(2)
        assert outlet.owns(second) and not outlet.is_article(second), second


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_checked_fixtures_exist_and_match_or_outlet_is_unverified(name):
    outlet = OUTLETS[name]
    named = _fixtures_named(outlet.checked)
    if not outlet.verified:
        assert not named or "unverified" in outlet.checked.lower()
        return
    assert named, f"{name}: verified but names no fixture"
    for path in named:
        assert path.exists(), f"{name}: {path} named in 'checked' is missing"
        listing = FIXTURES / "listings" / f"{path.stem}.txt"
        if listing.exists():  # every article on the page matches, no listed non-article does
            lines = listing.read_text(encoding="utf-8").splitlines()
            for line in lines:
                if line and not line.startswith("#"):
                    url = line[2:] if line.startswith("! ") else line
                    assert outlet.is_article(url) is not line.startswith("! "), url
        elif _page_url(path):  # an article page: its own URL is an article URL
            assert outlet.is_article(_page_url(path)), path.name


def test_outlets_without_a_fixture_are_unverified():
    for outlet in OUTLETS.values():
        present = [p for p in _fixtures_named(outlet.checked) if p.exists()]
        if not present:
            assert outlet.checked.lower().startswith("unverified"), outlet.name


@pytest.mark.parametrize("name,url", [
    ("vietnamnet", "https://vietnamnet.vn/gia-vang-tag14642850852768478603.html"),
    ("dantri", "https://dantri.com.vn/video/bo-bua-trua-xin-nghi-lam-di-mua-vang-187983.htm"),
    ("baochinhphu", "https://baochinhphu.vn/chu-de/51-luat-duoc-quoc-hoi-thong-qua-274.htm"),
    ("tuoitre", "https://tuoitre.vn/kinh-te-tu-nhan-e1921.htm"),
    ("vnexpress", "https://vnexpress.net/topic/ha-noi-26482"),
    ("vnexpress", "https://video.vnexpress.net/x-y-5000002.html"),
    ("heza", "https://heza.gov.vn/category/tin-tuc/"),
    ("heza", "https://heza.gov.vn/en/lich-su-hinh-thanh/"),
])
def test_non_article_shapes_are_rejected(name, url):
    assert not OUTLETS[name].is_article(url)


@pytest.mark.parametrize("name,url", [
    ("baoquocte", "https://baoquocte.vn/ly-do-cpi-thang-102023-tang-32-va-so-voi-cung-ky-nam-2022-247894.html"),
    ("nguoihanoi", "https://nguoihanoi.vn/hoc-vien-aiuni-ra-mat-nen-tang-dao-tao-va-so-tay-thuc-hanh-ai-93023.html"),
    ("moitruongvadothi", "http://quanly.moitruongvadothi.vn/22/26956/Nam-2023-cac-khu-cong-nghiep-Ha-Noi-thu-hut-613-trieu-USD-von-dau-tu.aspx"),
    ("heza", "https://heza.gov.vn/phong-su-ban-quan-ly-khu-kinh-te-hai-phong-no-luc-trong-thu-hut-fdi/"),
])
def test_unverified_outlets_match_the_urls_they_were_made_from(name, url):
    assert OUTLETS[name].is_article(url)


def test_zero_based_paging_uses_index():
    listing = Listing("https://vietnamnet.vn/kinh-doanh", "https://vietnamnet.vn/kinh-doanh-page{index}")
    assert [listing.page_url(n) for n in (1, 2, 3)] == [
        "https://vietnamnet.vn/kinh-doanh",
        "https://vietnamnet.vn/kinh-doanh-page1",
        "https://vietnamnet.vn/kinh-doanh-page2",
    ]


GOOD = """name = "x"
domains = ["x.vn"]
article_url = '^https://x\\.vn/[a-z-]+-\\d+\\.html$'
checked = "unverified: test"
"""


def _write(tmp_path: Path, text: str, name: str = "x.toml") -> Path:
    (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def test_a_good_file_loads(tmp_path):
    outlets = load_outlets(_write(tmp_path, GOOD + '[[listings]]\nurl = "https://x.vn/a"\n'))
    assert outlets["x"].listings == (Listing("https://x.vn/a"),)


@pytest.mark.parametrize("text,message", [
    ('name = "x"\ndomains = [', r"x\.toml: not valid TOML"),
    (GOOD.replace("checked", "# checked"), r"x\.toml: missing required field 'checked'"),
    (GOOD.replace("'^https", "'(^https"), r"x\.toml: article_url is not a valid regex"),
    (GOOD + '[[listings]]\nurl = "https://x.vn/a"\npage = "p"\n', r"x\.toml: bad \[\[listings\]\]"),
    (GOOD + '[[listings]]\nurl = "https://x.vn/a"\npaging = "https://x.vn/a/p2"\n', r"x\.toml: .*no \{page\}"),
    (GOOD + '[extraction]\nbodyy = "article"\n', r"x\.toml: bad \[extraction\]"),
    (GOOD.replace('["x.vn"]', '"x.vn"'), r"x\.toml: domains must be a non-empty list"),
])
def test_load_errors_name_the_file_and_field(tmp_path, text, message):
    with pytest.raises(RegistryError, match=message):
        load_outlets(_write(tmp_path, text))


def test_duplicate_name_is_an_error(tmp_path):
    _write(tmp_path, GOOD, "a.toml")
    with pytest.raises(RegistryError, match=r"b\.toml: outlet name 'x' declared twice"):
        load_outlets(_write(tmp_path, GOOD, "b.toml"))


def test_select_outlets_unknown_name_lists_known_ones():
    assert [o.name for o in select_outlets(["dantri"], OUTLETS)] == ["dantri"]
    assert len(select_outlets([], OUTLETS)) == len(OUTLETS)
    with pytest.raises(RegistryError, match=r"unknown outlet\(s\): vnexpres; known: .*vnexpress"):
        select_outlets(["vnexpres"], OUTLETS)


def test_outlet_files_end_with_an_extraction_table():
    for path in OUTLETS_DIR.glob("*.toml"):
        text = path.read_text(encoding="utf-8")
        assert "\n[extraction]" in text, path.name
        assert "[[listings]]" not in text.split("\n[extraction]", 1)[1], path.name


@pytest.mark.parametrize("name", sorted(n for n, o in OUTLETS.items() if o.url_date))
def test_dates_read_off_article_urls_match_the_capture(name):
    """A backfill stops paging by these dates: every article linked from the
    captured listing (2026-03-07) must yield a plausible one."""
    listing = FIXTURES / "listings" / f"listing_{name}_2026.txt"
    urls = [line.strip() for line in listing.read_text(encoding="utf-8").splitlines() if line.startswith("http")]
    dates = [OUTLETS[name].date_from_url(url) for url in urls]
    assert urls and None not in dates
    assert all(date(2015, 1, 1) <= d <= date(2026, 3, 7) for d in dates)
    assert max(dates) >= date(2026, 3, 6)  # a listing's newest story is from its capture day or the day before
