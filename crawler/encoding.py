"""Decode a fetched page so Vietnamese text comes out right, whatever the
page declares: a BOM wins, then a declared UTF-16/32, then a body that is
valid UTF-8 (outlets often declare windows-1252/iso-8859-1 wrongly), then the
declared charset, and windows-1258 (the Vietnamese code page) when none is
declared. A single-byte decode is made NFC, since windows-1258 spells tones as
combining marks.
"""
from __future__ import annotations

import codecs
import unicodedata

from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding, read_bom

FALLBACK = "cp1258"


def _codec(name: str | None) -> str | None:
    try:
        return codecs.lookup(name).name if name else None
    except LookupError:
        return None


def declared_encoding(body: bytes, content_type: str | None) -> str | None:
    return _codec(http_content_type_encoding(content_type)) or _codec(html_body_declared_encoding(body))


def decode_html(body: bytes, content_type: str | None = None) -> str:
    bom_encoding, bom = read_bom(body)
    if bom_encoding:
        return body[len(bom):].decode(bom_encoding, errors="replace")
    declared = declared_encoding(body, content_type)
    if declared and declared.startswith(("utf-16", "utf-32")):
        return body.decode(declared, errors="replace")
    try:
        return body.decode("utf-8")  # the extractor NFC-normalises the text it keeps
    except UnicodeDecodeError:
        return unicodedata.normalize("NFC", body.decode(declared or FALLBACK, errors="replace"))
