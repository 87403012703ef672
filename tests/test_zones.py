"""Named-zone extraction: conservative names, one canonical display name per zone."""
from __future__ import annotations

import pytest

from archive.db import Archive
from archive.zones import Zone, find_zones
from tests.site import FIXTURES

KCN_THANG_LONG = Zone("Khu công nghiệp Thăng Long", "KCN")


def names(text: str) -> dict[str, int]:
    return {zone.name: n for zone, n in find_zones(text).items()}


@pytest.mark.parametrize("text, expected", [
    ("Nhà máy mới tại KCN Thăng Long, Đông Anh.", {"Khu công nghiệp Thăng Long": 1}),
    ("Khu công nghiệp Phú Nghĩa (Chương Mỹ) đã lấp đầy", {"Khu công nghiệp Phú Nghĩa": 1}),
    ("giới thiệu về khu công nghiệp Phú Nghĩa đóng trên địa bàn", {"Khu công nghiệp Phú Nghĩa": 1}),
    ("CCN Võng Xuyên của huyện Phúc Thọ", {"Cụm công nghiệp Võng Xuyên": 1}),
    ("Cụm công nghiệp Võng Xuyên và CCN Phùng", {"Cụm công nghiệp Võng Xuyên": 1,
                                                "Cụm công nghiệp Phùng": 1}),
    ("vốn vào Khu kinh tế Đình Vũ - Cát Hải, Hải Phòng", {"Khu kinh tế Đình Vũ - Cát Hải": 1}),
    ("KKT Đình Vũ-Cát Hải", {"Khu kinh tế Đình Vũ - Cát Hải": 1}),
    ("Khu kinh tế mở Chu Lai tại Quảng Nam", {"Khu kinh tế mở Chu Lai": 1}),
    ("Khu Công nghệ cao Hòa Lạc. Năm nay", {"Khu công nghệ cao Hòa Lạc": 1}),
    ("Khu chế xuất Tân Thuận của TP.HCM", {"Khu chế xuất Tân Thuận": 1}),
    ("KCN Yên Phong II-C và KCN Quang Minh 2", {"Khu công nghiệp Yên Phong II-C": 1,
                                              "Khu công nghiệp Quang Minh 2": 1}),
    ("KCN VSIP Bắc Ninh tuyển dụng", {"Khu công nghiệp VSIP Bắc Ninh": 1}),
    # not a named zone: plural heads, authorities, compound heads, province-wide, lowercase, caps
    ("Ban Quản lý các KCN&CX Hà Nội", {}),
    ("các khu công nghiệp Hà Nội thu hút 613 triệu USD", {}),
    ("những KCN Bắc Ninh", {}),
    ("xúc tiến đầu tư khu công nghiệp Hà Nội", {}),
    ("Ban Quản lý Khu kinh tế Hải Phòng tổ chức hội nghị", {}),
    ("khu công nghiệp và chế xuất", {}),
    ("phát triển khu công nghiệp tại địa phương", {}),
    ("KHU CÔNG NGHIỆP THĂNG LONG", {}),
    ("KCN mở rộng", {}),
])
def test_zone_names(text, expected):
    assert names(text) == expected


def test_short_and_long_forms_are_one_zone():
    found = find_zones("KCN Thăng Long mở rộng. Khu công nghiệp Thăng Long có 100 nhà đầu tư. "
                       "khu công nghiệp Thăng Long")
    assert found == {KCN_THANG_LONG: 3}


def test_decomposed_unicode_is_normalised():
    import unicodedata

    assert find_zones(unicodedata.normalize("NFD", "tại KCN Thăng Long")) == {KCN_THANG_LONG: 1}


def test_real_seed_article():
    text = (FIXTURES / "seeds" / "004_c29c595c5ac2d704.txt").read_text(encoding="utf-8")
    assert names(text) == {"Khu kinh tế Đình Vũ - Cát Hải": 1, "Khu kinh tế Nam Hải Phòng": 1}


def test_archive_keeps_zone_mentions_in_sync(tmp_path):
    with Archive(tmp_path / "archive.db") as archive:
        first = archive.add_article({"url": "https://example.vn/a-1.html", "outlet": "x",
                                     "title": "KCN Thăng Long đón nhà đầu tư",
                                     "text": "Khu công nghiệp Thăng Long và CCN Võng Xuyên."})
        second = archive.add_article({"url": "https://example.vn/b-2.html", "outlet": "x",
                                      "title": "Tin khác", "text": "Khu công nghiệp Thăng Long."})
        db = archive.db
        rows = db.execute("select a.article_id, z.name, z.kind, a.mentions from article_zones a "
                          "join zones z on z.id = a.zone_id order by 1, 2").fetchall()
        assert rows == [(first.id, "Cụm công nghiệp Võng Xuyên", "CCN", 1),
                        (first.id, "Khu công nghiệp Thăng Long", "KCN", 2),
                        (second.id, "Khu công nghiệp Thăng Long", "KCN", 1)]
        archive.update_article(first.id, {"url": "https://example.vn/a-1.html", "outlet": "x",
                                          "title": "Sửa bài", "text": "KKT Vân Phong mở rộng."})
        assert db.execute("select z.name from article_zones a join zones z on z.id = a.zone_id "
                          "where a.article_id = ?", [first.id]).fetchall() == [("Khu kinh tế Vân Phong",)]
        db.execute("delete from articles where id = ?", [second.id])
        assert db.execute("select count(*) from article_zones where article_id = ?",
                          [second.id]).fetchone() == (0,)
        assert db.execute("pragma foreign_key_check(article_zones)").fetchall() == []
