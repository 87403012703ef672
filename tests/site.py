"""The mirrored news web the end-to-end tests crawl.

Four outlets, each with a real captured listing page served at the outlet's
first registered listing URL (a captured page of that outlet's layout, possibly
of a sibling section), the real captured article that listing links to, and one
composed industrial-zone article (see fixtures/compose.py) served at another
URL the listing links to. Every other link answers 404, as a removed page would.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from crawler.registry import load_outlets

FIXTURES = Path(__file__).parent / "fixtures"

# outlet: (captured listing page, captured article (not about zones), composed zone article)
SITE = {
    "vnexpress": ("listing_vnexpress_2026", "vnexpress_2026_energy", "vnexpress_kcn_hanoi_613"),
    "cafef": ("listing_cafef_2026", "cafef_2026_chung_khoan", "cafef_kkt_haiphong_2023"),
    "nld": ("listing_nld_2026", "nld_2026_thue", "nld_kcn_hanoi_doi_thoai"),
    "baodautu": ("listing_baodautu_2026", "baodautu_2026_chung_khoan", "baodautu_kcn_hanoi_613_copy"),
}


@dataclass(frozen=True)
class ServedArticle:
    outlet: str
    url: str
    title: str
    body: list[str]  # lead first
    about_zones: bool


def page(name: str) -> bytes:
    return (FIXTURES / "pages" / f"{name}.html").read_bytes()


def _expected(folder: str, name: str) -> dict:
    return json.loads((FIXTURES / folder / f"{name}.json").read_text(encoding="utf-8"))


def serve_site(mirror) -> list[ServedArticle]:
    """Register the site's pages on ``mirror``; return the articles it serves."""
    outlets = load_outlets()
    served = []
    for outlet, (listing, captured, composed) in SITE.items():
        mirror.add(outlets[outlet].listings[0].url, page(listing))
        gold = _expected("gold", captured)
        mirror.add(gold["url"], page(captured))
        served.append(ServedArticle(outlet, gold["url"], gold["title"], gold["body"], False))
        made = _expected("composed", composed)
        mirror.add(made["url"], (FIXTURES / "composed" / f"{composed}.html").read_bytes())
        served.append(ServedArticle(outlet, made["url"], made["title"], made["body"], True))
    return served
