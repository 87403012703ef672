"""Dates as the archive stores them: ISO 8601 in Vietnam time (+07:00), or a bare date.

Vietnamese pages print dates day-first in many shapes ("Thứ Bảy, 7/3/2026, 00:05
(GMT+7)", "Cập nhật: Thứ tư, 20/12/2023 | 4:34:49 PM", "15:20 PM | 21/12/2012");
machine-readable ones (JSON-LD, meta) are ISO but sometimes lack the offset,
which on a Vietnamese site means local time. Everything is converted to +07:00
so dates from different sources compare by string.
"""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

VN_TZ = timezone(timedelta(hours=7), "Asia/Ho_Chi_Minh")

_ISO = re.compile(
    r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?\s*$", re.I)

# Day-first date, optionally preceded/followed by a time; "PM" may follow a 24h time ("15:20 PM").
_TIME = r"(\d{1,2})[:h](\d{2})(?::(\d{2}))?\s*(AM|PM|SA|CH)?"
_DMY = r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})"
_WEEKDAY = r"(?:(?:thứ\s*(?:hai|ba|tư|năm|sáu|bảy|2|3|4|5|6|7)|chủ\s*nhật|CN)\s*,?\s*)?"
_TZ = r"(?:\(?\s*(?:GMT|UTC)\s*([+-]\d{1,2})(?::?(\d{2}))?\s*\)?)?"
_SEP = r"\s*(?:[,|\-–]\s*)*"
_DATE_THEN_TIME = re.compile(_WEEKDAY + _DMY + rf"(?:{_SEP}{_TIME})?\s*{_TZ}", re.I)
_TIME_THEN_DATE = re.compile(_TIME + _SEP + _WEEKDAY + _DMY + rf"\s*{_TZ}", re.I)

# A whole line that is only a date stamp (with an optional label), as printed under titles.
_LABEL = r"(?:(?:cập nhật|đăng|ngày đăng|ngày|xuất bản|thời gian|posted|updated)\s*(?:lúc|ngày)?\s*:?\s*)?"
_DATE_LINE = re.compile(
    rf"^\W*{_LABEL}(?:{_DATE_THEN_TIME.pattern}|{_TIME_THEN_DATE.pattern})\W*$", re.I)


def _iso(dt: datetime) -> str:
    return dt.astimezone(VN_TZ).isoformat(timespec="seconds")


def _offset(sign_hours: str | None, minutes: str | None) -> timezone | None:
    if sign_hours is None:
        return None
    h = int(sign_hours)
    m = int(minutes or 0) * (1 if h >= 0 else -1)
    return timezone(timedelta(hours=h, minutes=m))


def parse_iso(value: str | None) -> str | None:
    """Machine date (JSON-LD, meta, <time datetime>) -> archive form; no offset means Vietnam time."""
    if not value:
        return None
    value = value.strip()
    if re.fullmatch(r"\d{10}", value):  # epoch seconds (e.g. VnExpress article_updatetime)
        return _iso(datetime.fromtimestamp(int(value), VN_TZ))
    m = _ISO.match(value)
    if not m:
        return None
    y, mo, d, hh, mm, ss, tz = m.groups()
    try:
        if hh is None:
            return date(int(y), int(mo), int(d)).isoformat()
        tzinfo = VN_TZ if not tz else (timezone.utc if tz.upper() == "Z" else _offset(tz[:3], tz[-2:]))
        return _iso(datetime(int(y), int(mo), int(d), int(hh), int(mm), int(ss or 0), tzinfo=tzinfo))
    except ValueError:
        return None


def _build(d: str, mo: str, y: str, hh: str | None, mm: str | None, ss: str | None,
           ampm: str | None, tzh: str | None, tzm: str | None) -> str | None:
    try:
        if hh is None:
            return date(int(y), int(mo), int(d)).isoformat()
        hour = int(hh)
        marker = (ampm or "").upper()
        if marker in ("PM", "CH") and hour < 12:
            hour += 12
        elif marker in ("AM", "SA") and hour == 12:
            hour = 0
        tzinfo = _offset(tzh, tzm) or VN_TZ
        return _iso(datetime(int(y), int(mo), int(d), hour, int(mm), int(ss or 0), tzinfo=tzinfo))
    except ValueError:
        return None


def parse_vietnamese_date(text: str | None) -> str | None:
    """First day-first date (with its time when printed next to it) in a short date string."""
    if not text:
        return None
    text = " ".join(text.split())
    m1, m2 = _DATE_THEN_TIME.search(text), _TIME_THEN_DATE.search(text)
    if m2 and (not m1 or m2.start() <= m1.start()):
        hh, mm, ss, ap, d, mo, y, tzh, tzm = m2.groups()
        return _build(d, mo, y, hh, mm, ss, ap, tzh, tzm)
    if m1:
        d, mo, y, hh, mm, ss, ap, tzh, tzm = m1.groups()
        return _build(d, mo, y, hh, mm, ss, ap, tzh, tzm)
    return None


def parse_date_line(line: str | None) -> str | None:
    """The date of a line that is only a date stamp ("Cập nhật: ..."), else None.

    Sentences that merely mention a date ("từ ngày 1/3/2026 ...") never match:
    the archive must not invent a publication date from body text.
    """
    if not line or len(line) > 80:
        return None
    line = " ".join(line.split())
    return parse_vietnamese_date(line) if _DATE_LINE.match(line) else None


def has_time(value: str | None) -> bool:
    return bool(value and "T" in value)


def same_day(a: str | None, b: str | None) -> bool:
    return bool(a and b and a[:10] == b[:10])
