"""Discovery parsers on real captured listing pages and on small feeds/sitemaps.

How the expected link lists in tests/fixtures/listings/<page>.txt were made: the raw HTML of
each page in tests/fixtures/pages/ was scanned for ``<a href>`` with a regular expression (not
lxml, which the code under test uses), resolved against the page URL named in the file's first
line, fragments and tracking parameters dropped, and split into article / non-article by reading
each URL; the non-article links to the outlet's own site are kept as ``! <url>`` lines. Counts were
checked against the page (e.g. 50 story links on vnexpress /kinh-doanh 2026, 15 server-rendered
stories on tuoitre /kinh-doanh, whose timeline is loaded by script) and the non-article lists
were read for missed stories (this found the 2012 ebank.vnexpress.net and ihay.thanhnien.com.vn
stories). The files are static: regenerating them needs the same hand check.
"""
from __future__ import annotations

import gzip
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from crawler.discovery import (
    DiscoveryError,
    FeedEntry,
    SitemapEntry,
    feed_entries,
    listing_article_links,
    sitemap_entries,
)
from crawler.registry import load_outlets
from crawler.urls import strip_tracking

FIXTURES = Path(__file__).parent / "fixtures"
LISTINGS = sorted((FIXTURES / "listings").glob("*.txt"))
OUTLETS = load_outlets()
VN = timezone(timedelta(hours=7))

# One story per page, taken from the outlet's own captured article page (its canonical URL),
# not from the listing: an independent check that the listing files hold real stories.
KNOWN_STORIES = {
    "listing_baochinhphu_2026": "https://baochinhphu.vn/chinh-sach-moi-co-hieu-luc-tu-thang-3-2026-102260228093004191.htm",
    "listing_baodautu_2026": "https://baodautu.vn/xu-phat-giam-doc-tai-chinh-tap-doan-tien-son-thanh-hoa-vi-thao-tung-co-phieu-d538952.html",
    "listing_cafef_2026": "https://cafef.vn/thoi-diem-nang-hang-can-ke-mbs-diem-ten-30-co-phieu-viet-nam-co-kha-nang-lot-ro-chi-so-ftse-18826030622484142.chn",
    "listing_dantri_2026": "https://dantri.com.vn/kinh-doanh/gia-vang-giam-van-cao-hon-the-gioi-gan-20-trieu-dongluong-20260307080054340.htm",
    "listing_nld_2026": "https://nld.com.vn/nhung-sai-sot-ho-kinh-doanh-thuong-gap-khi-thuc-hien-quy-dinh-moi-ve-thue-196260307071308923.htm",
    "listing_tuoitre_2026": "https://tuoitre.vn/chien-su-day-gia-hoa-nhap-khau-dip-8-3-tang-manh-20260307075519174.htm",
    "listing_vietnamnet_2026": "https://vietnamnet.vn/co-phieu-flc-duoc-giao-dich-tro-lai-2495349.html",
    "listing_vnexpress_2026": "https://vnexpress.net/cach-cac-nuoc-doi-pho-cu-soc-nang-luong-tu-trung-dong-5047363.html",
}


def _expected(path: Path) -> tuple[str, str, list[str], list[str]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    page_url = lines[0].split("page URL ", 1)[1].rstrip(")")
    outlet = path.stem.split("_")[1]
    articles = [line for line in lines if line and not line.startswith(("#", "!"))]
    others = [line[2:] for line in lines if line.startswith("! ")]
    return outlet, page_url, articles, others


def test_every_captured_listing_page_has_a_checked_list():
    pages = {p.stem for p in (FIXTURES / "pages").glob("listing_*.html")}
    pages |= {p.stem for p in (FIXTURES / "pages").glob("homepage_*.html")}
    assert pages == {p.stem for p in LISTINGS}
    assert len(pages) == 10


@pytest.mark.parametrize("path", LISTINGS, ids=lambda p: p.stem)
def test_listing_finds_every_article_and_nothing_else(path):
    outlet, page_url, articles, others = _expected(path)
    html = (FIXTURES / "pages" / f"{path.stem}.html").read_bytes()
    found = listing_article_links(html, page_url, OUTLETS[outlet])
    assert found == articles  # every article, in page order, once
    assert not set(found) & set(others)  # no section/tag/video/paging link
    assert len(articles) >= 15 and len(others) >= 20


@pytest.mark.parametrize("stem,url", sorted(KNOWN_STORIES.items()))
def test_known_story_is_listed(stem, url):
    _, _, articles, _ = _expected(FIXTURES / "listings" / f"{stem}.txt")
    assert url in articles


def test_listing_resolves_dedups_and_strips_fragments_and_tracking():
    html = """<html><body>
      <a href="/a-b-c-5000001.html#comment">1</a>
      <a href="https://vnexpress.net/a-b-c-5000001.html?utm_source=x&utm_medium=y">1 again</a>
      <a href="/kinh-doanh">section</a>
      <a href="https://video.vnexpress.net/x-y-5000002.html">video</a>
      <a href="https://dantri.com.vn/kinh-doanh/x-20260307080054340.htm">other outlet</a>
      <a href="javascript:;">js</a><a>no href</a>
      <a href="d-e-5000003.html">relative</a>
    </body></html>"""
    found = listing_article_links(html, "https://vnexpress.net/kinh-doanh", OUTLETS["vnexpress"])
    assert found == [
        "https://vnexpress.net/a-b-c-5000001.html",
        "https://vnexpress.net/d-e-5000003.html",
    ]


def test_listing_of_empty_page_is_empty():
    assert listing_article_links(b"", "https://vnexpress.net/", OUTLETS["vnexpress"]) == []


def test_clean_url_keeps_real_query_parameters():
    assert strip_tracking("https://x.vn/a.htm?id=5&utm_campaign=z&fbclid=q#top") == "https://x.vn/a.htm?id=5"


RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel>
<title>Kinh doanh - VnExpress RSS</title><link>https://vnexpress.net/kinh-doanh</link>
<item><title><![CDATA[Thái Nguyên dẫn đầu về thu hút FDI]]></title>
 <link><![CDATA[https://vnexpress.net/thai-nguyen-dan-dau-ca-nuoc-ve-thu-hut-fdi-dau-nam-2026-5047492.html]]></link>
 <guid>https://vnexpress.net/thai-nguyen-dan-dau-ca-nuoc-ve-thu-hut-fdi-dau-nam-2026-5047492.html</guid>
 <pubDate>Sat, 07 Mar 2026 08:00:54 +0700</pubDate></item>
<item><title>Quảng cáo đối tác</title><link>https://partner.example.com/ad?id=1</link></item>
<item><title>Không có ngày</title>
 <link>https://vnexpress.net/khong-ngay-5047000.html?utm_source=rss</link></item>
</channel></rss>""".encode("utf-8")

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>HEZA</title>
<entry><title>Trao giấy chứng nhận đầu tư KCN Tiên Thanh</title>
 <link rel="alternate" href="https://heza.gov.vn/trao-giay-chung-nhan-dau-tu-kcn-tien-thanh/"/>
 <link rel="replies" href="https://heza.gov.vn/trao-giay-chung-nhan-dau-tu-kcn-tien-thanh/feed/"/>
 <published>2023-12-18T09:30:00Z</published></entry>
<entry><title>Chỉ updated</title><link href="https://heza.gov.vn/chi-updated/"/>
 <updated>2023-12-19T10:00:00</updated></entry>
</feed>""".encode("utf-8")


def test_rss_entries_with_dates_and_foreign_links_dropped():
    entries = feed_entries(RSS, OUTLETS["vnexpress"])
    assert entries == [
        FeedEntry(
            "https://vnexpress.net/thai-nguyen-dan-dau-ca-nuoc-ve-thu-hut-fdi-dau-nam-2026-5047492.html",
            "Thái Nguyên dẫn đầu về thu hút FDI",
            datetime(2026, 3, 7, 8, 0, 54, tzinfo=VN),
        ),
        FeedEntry("https://vnexpress.net/khong-ngay-5047000.html", "Không có ngày", None),
    ]
    assert entries[0].published.utcoffset() == timedelta(hours=7)


def test_atom_entries_use_alternate_link_and_aware_dates():
    entries = feed_entries(ATOM, OUTLETS["heza"])
    assert [e.url for e in entries] == [
        "https://heza.gov.vn/trao-giay-chung-nhan-dau-tu-kcn-tien-thanh/",
        "https://heza.gov.vn/chi-updated/",
    ]
    assert entries[0].published == datetime(2023, 12, 18, 9, 30, tzinfo=timezone.utc)
    assert entries[1].published == datetime(2023, 12, 19, 10, 0, tzinfo=VN)  # no zone: Vietnam time


@pytest.mark.parametrize("body,message", [
    (b"<rss><channel><item><title>broken</channel></rss>", "not valid XML"),
    (b"<!DOCTYPE html><html><body>Trang ch\xe1\xbb\xa7<br></body></html>", "not valid XML"),
    (b"<html><body><p>x</p></body></html>", "neither RSS nor Atom"),
    (b"", "not valid XML"),
])
def test_bad_feed_raises_readable_error(body, message):
    with pytest.raises(DiscoveryError, match=message):
        feed_entries(body, OUTLETS["vnexpress"])
    assert issubclass(DiscoveryError, ValueError)


URLSET = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
<url><loc>https://baodautu.vn/kcn-a-d538952.html</loc><lastmod>2026-03-07T10:15:00+07:00</lastmod></url>
<url><loc>https://baodautu.vn/kcn-b-d538953.html</loc>
 <news:news><news:publication_date>2026-03-06T08:00:00+07:00</news:publication_date></news:news></url>
<url><loc>https://baodautu.vn/kcn-c-d538954.html</loc></url>
</urlset>"""

INDEX = b"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap><loc>https://dantri.com.vn/sitemaps/2026-03.xml</loc><lastmod>2026-03-07</lastmod></sitemap>
<sitemap><loc>https://dantri.com.vn/sitemaps/2026-02.xml</loc></sitemap>
</sitemapindex>"""


def test_urlset_entries_with_lastmod_or_news_date():
    entries, children = sitemap_entries(URLSET)
    assert children == []
    assert entries == [
        SitemapEntry("https://baodautu.vn/kcn-a-d538952.html", datetime(2026, 3, 7, 10, 15, tzinfo=VN)),
        SitemapEntry("https://baodautu.vn/kcn-b-d538953.html", datetime(2026, 3, 6, 8, 0, tzinfo=VN)),
        SitemapEntry("https://baodautu.vn/kcn-c-d538954.html", None),
    ]


def test_sitemap_index_gives_children_and_gzip_is_accepted():
    assert sitemap_entries(gzip.compress(INDEX)) == ([], [
        "https://dantri.com.vn/sitemaps/2026-03.xml",
        "https://dantri.com.vn/sitemaps/2026-02.xml",
    ])


@pytest.mark.parametrize("body,message", [
    (b"<urlset><url><loc>x</loc></urlset>", "not valid XML"),
    (b"\x1f\x8bnot really gzip", "bad gzip"),
    (RSS, "neither urlset nor sitemapindex"),
])
def test_bad_sitemap_raises_readable_error(body, message):
    with pytest.raises(DiscoveryError, match=message):
        sitemap_entries(body)
