"""Named industrial zones mentioned in articles: ``zones`` and ``article_zones``.

Precision over recall: a zone is a head (KCN, Khu công nghiệp, CCN, Khu kinh
tế...) followed by capitalised words ("KCN Thăng Long II", "Khu kinh tế Đình
Vũ - Cát Hải"). The name stops at a lowercase word, punctuation or a function
word. Skipped: heads after "các/những" (the zones of a province), after
"Ban Quản lý" (the authority, not a zone), a KCN/CCN named only by a
province ("khu công nghiệp Hà Nội"), and shouted all-caps headlines. Each zone gets one canonical display name, so
"KCN Thăng Long" and "Khu công nghiệp Thăng Long" are one zone.
"""
from __future__ import annotations

import re
import unicodedata
from collections import Counter
from typing import NamedTuple

import sqlite_utils

# kind -> canonical head; heads as written -> kind.
KINDS = {"KCN": "Khu công nghiệp", "CCN": "Cụm công nghiệp", "KKT": "Khu kinh tế",
         "KCX": "Khu chế xuất", "KCNC": "Khu công nghệ cao"}
_WORD_HEADS = {long.lower(): kind for kind, long in KINDS.items()}
# Qualifiers that belong to the zone's name ("Khu kinh tế mở Chu Lai").
QUALIFIERS = ("cửa khẩu", "ven biển", "mở")
# Capitalised words that still end a name (sentence words, province prefixes alone).
STOP_WORDS = {"Tại", "Của", "Và", "Với", "Ở", "Trong", "Thuộc", "Cho", "Là", "Có", "Được",
              "Theo", "Từ", "Đến", "Khi", "Nhưng", *KINDS}
NOT_NAMES = {"Việt Nam", "TP", "Nhà nước", "Tỉnh", "Thành phố"}
# "khu công nghiệp Hà Nội" is nearly always "the zones of Hà Nội", not one zone;
# an economic zone or hi-tech park named after its province is real (KKT Thái Bình).
PROVINCES = set("""An Giang|Bà Rịa - Vũng Tàu|Bạc Liêu|Bắc Giang|Bắc Kạn|Bắc Ninh|Bến Tre|Bình Dương|
Bình Định|Bình Phước|Bình Thuận|Cà Mau|Cao Bằng|Cần Thơ|Đà Nẵng|Đắk Lắk|Đắk Nông|Điện Biên|Đồng Nai|
Đồng Tháp|Gia Lai|Hà Giang|Hà Nam|Hà Nội|Hà Tĩnh|Hải Dương|Hải Phòng|Hậu Giang|Hòa Bình|Hưng Yên|
Khánh Hòa|Kiên Giang|Kon Tum|Lai Châu|Lâm Đồng|Lạng Sơn|Lào Cai|Long An|Nam Định|Nghệ An|Ninh Bình|
Ninh Thuận|Phú Thọ|Phú Yên|Quảng Bình|Quảng Nam|Quảng Ngãi|Quảng Ninh|Quảng Trị|Sóc Trăng|Sơn La|
Tây Ninh|Thái Bình|Thái Nguyên|Thanh Hóa|Thừa Thiên Huế|Tiền Giang|TP HCM|TPHCM|Trà Vinh|Tuyên Quang|
Vĩnh Long|Vĩnh Phúc|Yên Bái|Hồ Chí Minh|TP Hồ Chí Minh""".replace("\n", "").split("|"))
AUTHORITY = re.compile(r"(?i:ban quản lý|BQL)\s+$")  # "Ban Quản lý Khu kinh tế Hải Phòng": the authority
MAX_WORDS = 6

_abbrevs = "|".join(sorted(KINDS, key=len, reverse=True))
_words = "|".join(r"\s+".join(h.split()) for h in sorted(_WORD_HEADS, key=len, reverse=True))
_quals = "|".join(QUALIFIERS)
_HEAD = re.compile(rf"(?<![\w&])(?:(?P<abbr>{_abbrevs})|(?P<word>(?i:{_words})))"
                   rf"(?:\s+(?P<qual>{_quals}))?(?=\s)")
_NEXT = re.compile(r"(?P<sep>[ \t]*-[ \t]*|[ \t]+)(?P<tok>\w+(?:-\w+)*)")
_PLURAL = re.compile(r"(?i:các|những|nhiều|mọi|vài|mấy)\s+$")


class Zone(NamedTuple):
    name: str   # canonical display name, e.g. "Khu công nghiệp Thăng Long"
    kind: str   # KCN, CCN, KKT, KCX or KCNC


def _is_name_word(tok: str, first: bool) -> bool:
    if tok in STOP_WORDS:
        return False
    return tok[0].isupper() or (not first and tok.isdigit())


def _name_after(text: str, pos: int) -> str:
    """Capitalised words from ``pos``; " - " joins two names ("Đình Vũ - Cát Hải")."""
    parts: list[str] = []
    while len(parts) < MAX_WORDS and (m := _NEXT.match(text, pos)):
        tok, dash = m["tok"], "-" in m["sep"]
        if not _is_name_word(tok, not parts) or (dash and not parts):
            break
        parts.append(f"- {tok}" if dash else tok)
        pos = m.end()
    return " ".join(parts)


def _canonical(name: str) -> str:
    # "Vũ-Cát Hải" and "Vũ - Cát Hải" are one name; "II-C" stays tight.
    return re.sub(r"(?<=[a-zà-ỹđ])-(?=[A-ZÀ-ỸĐ][a-zà-ỹđ])", " - ", name)


def find_zones(text: str) -> Counter:
    """Count the named zones in ``text``: ``Counter({Zone: mentions})``."""
    text = unicodedata.normalize("NFC", text or "")
    found: Counter = Counter()
    for m in _HEAD.finditer(text):
        before = max(0, m.start() - 14)
        if _PLURAL.search(text, before, m.start()) or AUTHORITY.search(text, before, m.start()):
            continue
        name = _name_after(text, m.end())
        if not name or name in NOT_NAMES or (m["word"] and m["word"].isupper()):
            continue
        kind = m["abbr"] or _WORD_HEADS[" ".join(m["word"].lower().split())]
        if kind in ("KCN", "CCN", "KCX") and _canonical(name) in PROVINCES:
            continue
        qual = f"{m['qual']} " if m["qual"] else ""
        found[Zone(f"{KINDS[kind]} {qual}{_canonical(name)}", kind)] += 1
    return found


def ensure_zone_schema(db: sqlite_utils.Database) -> None:
    """Create ``zones`` / ``article_zones`` (foreign keys, so Datasette links them);
    an archive made before zones existed gets its mentions indexed once, here."""
    created = not db["article_zones"].exists()
    if not db["zones"].exists():
        db["zones"].create({"id": int, "name": str, "kind": str}, pk="id", not_null={"name"})
        db["zones"].create_index(["name"], unique=True)
    if not db["article_zones"].exists():
        db["article_zones"].create(
            {"article_id": int, "zone_id": int, "mentions": int}, pk=("article_id", "zone_id"),
            foreign_keys=[("article_id", "articles", "id"), ("zone_id", "zones", "id")])
        db["article_zones"].create_index(["zone_id"])
    db.execute("create trigger if not exists article_zones_ad after delete on articles "
               "begin delete from article_zones where article_id = old.id; end")
    if created and db["articles"].count:
        reindex_zones(db)


def index_zone_mentions(db: sqlite_utils.Database, article_id: int, row: dict) -> None:
    """Replace the zone mentions recorded for one article (inside the caller's transaction)."""
    db.execute("delete from article_zones where article_id = ?", [article_id])
    found = find_zones(f"{row.get('title') or ''}\n\n{row.get('text') or ''}")
    for zone, mentions in found.items():
        db.execute("insert into article_zones(article_id, zone_id, mentions) values (?, ?, ?)",
                   [article_id, _zone_id(db, zone), mentions])


def _zone_id(db: sqlite_utils.Database, zone: Zone) -> int:
    """The zone's id; its row is created on its first mention."""
    known = db.execute("select id from zones where name = ?", [zone.name]).fetchone()
    if known:
        return known[0]
    return db.execute("insert into zones(name, kind) values (?, ?)", [zone.name, zone.kind]).lastrowid


def reindex_zones(db: sqlite_utils.Database) -> int:
    """Recompute every article's zone mentions (after the extractor changed); returns articles seen."""
    n = 0
    with db.atomic():  # streamed: a big archive does not fit in memory at once
        for n, (article_id, title, text) in enumerate(
                db.conn.execute("select id, title, text from articles"), start=1):
            index_zone_mentions(db, article_id, {"title": title, "text": text})
    return n
