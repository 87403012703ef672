"""read_legacy_text / clean_paragraphs on the five legacy plain-text seeds."""
from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.extraction import clean_paragraphs, read_legacy_text

SEEDS = Path(__file__).parent / "fixtures" / "seeds"


def _read(prefix: str):
    (path,) = SEEDS.glob(f"{prefix}_*.txt")
    return read_legacy_text(path.read_text(encoding="utf-8"))


def _has(paragraphs: list[str], snippet: str) -> int:
    return sum(snippet in p for p in paragraphs)


def test_000_tags_other_news_and_date_line():
    doc = _read("000")
    assert doc.title == "Năm 2023, các khu công nghiệp Hà Nội thu hút 613 triệu USD vốn đầu tư"
    assert doc.published == "2023-12-20T16:34:49+07:00"
    ps = doc.paragraphs
    assert ps[0].startswith("QLMT - Tối 19/12, Ban Quản lý các khu công nghiệp")
    assert _has(ps, "Lũy kế đến nay, số dự án thứ phát đang hoạt động") == 1
    assert _has(ps, '"Công tác cải cách thủ tục hành chính được quan tâm thực hiện tốt.') == 1
    for gone in ("Cập nhật", "Tags Hà Nội", "Các tin khác", "Bộ Công Thương khẩn trương triển khai",
                 "Những năm qua, Hà Nội chú trọng quy hoạch", "Xem các tin đã đưa ngày", "Tin trong:", "AN NA"):
        assert _has(ps, gone) == 0, gone
    # the photo caption printed twice (alt text + caption) goes
    assert _has(ps, "Ông Lê Quang Long, Trưởng Ban quản lý các Khu công nghiệp và Chế xuất Hà Nội phát biểu") == 0


def test_001_section_label_byline_image_file_and_page_furniture():
    doc = _read("001")
    assert doc.title == "Hà Nội đối thoại tháo gỡ khó khăn cho các doanh nghiệp tại khu, cụm công nghiệp"
    assert doc.published == "2024-04-05T12:06:00+07:00"
    assert doc.author == "Phan Anh"
    ps = doc.paragraphs
    assert ps[0].startswith("Sáng nay 5/4, UBND thành phố Hà Nội tổ chức Hội nghị đối thoại")
    assert ps[-1].startswith("Với quyết tâm đồng hành cùng doanh nghiệp vì sự phát triển chung")
    assert _has(ps, "Hiện Hà Nội đang triển khai đầu tư xây dựng hạ tầng kỹ thuật 44 cụm công nghiệp") == 1
    for gone in ("Chuyển động Hà Nội", "Phan Anh 05/04/2024", "z5317926814019_2a6093a7f019fc7d85034cfc20728923.jpg",
                 ".jpg", "Bài liên quan", "Bình luận", "Nổi bật", "Nhạc sĩ Nguyễn Thành Trung", "Đừng bỏ lỡ",
                 "POWERED BY ONECMS", "Hà Nội đối thoại tháo gỡ khó khăn cho các doanh nghiệp tại khu"):
        assert _has(ps, gone) == 0, gone


def test_002_repeated_title_lines_counted_once():
    doc = _read("002")
    assert doc.title.startswith("SPCNCL Hà Nội: Kết nối doanh nghiệp sản xuất sản phẩm công nghiệp chủ lực")
    ps = doc.paragraphs
    assert _has(ps, "SPCNCL Hà Nội: Kết nối doanh nghiệp") == 0  # title is not body text
    assert ps[0].startswith("Chiều 20/10/2023, Sở Công Thương Hà Nội phối hợp")
    assert ps[-1].startswith("Đại diện Hội HAMI đề xuất")
    assert _has(ps, "Giai đoạn 2018 đến nay, Thành phố Hà Nội đã ban hành quyết định thành lập") == 1
    assert _has(ps, "Hội nghị là cơ hội, diễn đàn để các chủ đầu tư") == 1
    assert doc.published is None  # "Chiều 20/10/2023" is body text, not a date stamp


def test_003_font_widget_related_pairs_and_older_news():
    doc = _read("003")
    assert doc.title.startswith("Ban Quản lý các khu công nghiệp và chế xuất Hà Nội: Chung tay xây dựng")
    ps = doc.paragraphs
    assert ps[0].startswith("Với quyết tâm chính trị cao")
    for kept in ("Thứ nhất, tiếp tục rà soát", "Thứ bảy, đẩy mạnh chuyển đổi số",
                 "Năm 2024 là năm quyết định việc thực hiện thắng lợi"):
        assert _has(ps, kept) == 1, kept
    assert ps[-1].startswith("Với quyết tâm chính trị cao") and "Ban Quản lý sẽ xây dựng" in ps[-1]
    for gone in ("Nhỏ Bình thường Lớn", "KCN Thăng Long. (Nguồn: CafeF)", "Tin cũ hơn",
                 "Nhiều dự án xuất sắc được trao giải", "Sáng 14/10, tại Hà Nội", "Giá nông sản hôm nay",
                 "Thu hút đầu tư vào các KCN Hà Nội góp phần", "Tôn vinh những thành tựu công nghệ"):
        assert _has(ps, gone) == 0, gone


def test_004_duplicated_paragraphs_kept_once():
    doc = _read("004")
    assert doc.title.startswith("Ban Quản lý Khu kinh tế Hải Phòng tổ chức Hội nghị Tổng kết năm 2023")
    ps = doc.paragraphs
    assert ps[0].startswith("Sáng 18/12/2023, Ban Quản lý Khu kinh tế Hải Phòng")
    assert _has(ps, "Trong bối cảnh đó, nhiệm vụ phát triển kinh tế- xã hội thành phố năm 2023") == 1
    assert _has(ps, "Kết quả đầu tư trực tiếp nước ngoài (FDI) đạt 3,5 tỷ USD") == 1
    assert _has(ps, "Ban Quản lý đã chủ động thực hiện thu hút đầu tư có chọn lọc") == 1
    assert ps[-1].startswith("Phát biểu tại Hội nghị, đồng chí Lê Trung Kiên")
    assert doc.published is None


@pytest.mark.parametrize("prefix", ["000", "001", "002", "003", "004"])
def test_unpacks_as_title_and_paragraphs(prefix):
    doc = _read(prefix)
    title, paragraphs = doc
    assert title == doc.title and paragraphs == doc.paragraphs
    assert all(p == " ".join(p.split()) for p in paragraphs)


def test_clean_paragraphs_rules():
    ps = clean_paragraphs([
        "Tiêu đề bài", "Cập nhật: Thứ tư, 20/12/2023 | 4:34:49 PM", "Đoạn một của bài viết.",
        "Nhỏ Bình thường Lớn", "Đoạn hai của bài viết.", "Đoạn một của bài viết.",
        "Tags khu công nghiệp", "Tin liên quan", "Một tin khác", "POWERED BY ONECMS",
    ], "Tiêu đề bài")
    assert ps == ["Đoạn một của bài viết.", "Đoạn hai của bài viết."]
