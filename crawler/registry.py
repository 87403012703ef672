"""The outlet registry: one TOML declaration per outlet in ``crawler/outlets/``.

Adding an outlet means adding a file, never code: the generic spider, the
extractor and the tests all read these declarations.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

OUTLETS_DIR = Path(__file__).with_name("outlets")


class RegistryError(ValueError):
    """A declaration is malformed; the message names the file and the field."""


@dataclass(frozen=True)
class Listing:
    """A category/tag page; ``paging`` is a URL template with ``{page}`` (2, 3, ...)
    or, for sites that number pages from 0, ``{index}`` (1, 2, ... for pages 2, 3, ...)."""

    url: str
    paging: str | None = None

    def page_url(self, page: int) -> str:
        if page <= 1 or not self.paging:
            return self.url
        return self.paging.format(page=page, index=page - 1)


@dataclass(frozen=True)
class ExtractionRules:
    """Per-outlet hints for the extractor.

    All are CSS selectors. ``body``, the article container, is worth declaring
    for every outlet: extraction then works on that element alone (the page when
    it matches none or several). The others are for where the generic rules
    fail: ``prune`` blocks to drop before extraction, ``date``/``title``/
    ``lead``/``author`` elements whose text gives that field.
    """

    body: str | None = None
    prune: tuple[str, ...] = ()
    date: str | None = None
    title: str | None = None
    lead: str | None = None
    author: str | None = None


@dataclass(frozen=True)
class Outlet:
    name: str
    title: str
    domains: tuple[str, ...]
    article_url: re.Pattern
    checked: str
    feeds: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()
    listings: tuple[Listing, ...] = ()
    max_pages: int = 3
    extraction: ExtractionRules = field(default_factory=ExtractionRules)
    # Where the outlet's article URLs encode the publish date: named groups
    # year (or yy) / month / day. Lets a backfill stop paging without fetching.
    url_date: re.Pattern | None = None

    @property
    def verified(self) -> bool:
        return not self.checked.lower().startswith("unverified")

    def owns(self, url: str) -> bool:
        host = (urlsplit(url).hostname or "").lower()
        return any(host == d or host.endswith("." + d) for d in self.domains)

    def is_article(self, url: str) -> bool:
        return self.owns(url) and bool(self.article_url.search(url))

    def date_from_url(self, url: str) -> date | None:
        match = self.url_date.search(url) if self.url_date else None
        if not match:
            return None
        parts = match.groupdict()
        year = int(parts["year"]) if parts.get("year") else 2000 + int(parts["yy"])
        try:
            return date(year, int(parts["month"]), int(parts["day"]))
        except ValueError:
            return None

    def start_urls(self) -> list[str]:
        return [*self.feeds, *self.sitemaps, *(listing.url for listing in self.listings)]


def _outlet_from_toml(path: Path) -> Outlet:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise RegistryError(f"{path.name}: not valid TOML: {exc}") from exc
    for key in ("name", "domains", "article_url", "checked"):
        if key not in data:
            raise RegistryError(f"{path.name}: missing required field {key!r}")
    pattern = _regex(path, data, "article_url")
    url_date = _regex(path, data, "url_date") if "url_date" in data else None
    groups = set(url_date.groupindex) if url_date else {"year", "month", "day"}
    if not ({"month", "day"} <= groups and groups & {"year", "yy"}):
        raise RegistryError(f"{path.name}: url_date needs named groups year (or yy), month and day")
    rules = data.get("extraction", {})
    try:
        listings = tuple(_listing(item) for item in data.get("listings", ()))
    except (TypeError, KeyError, ValueError) as exc:
        raise RegistryError(f"{path.name}: bad [[listings]] entry: {exc}") from exc
    try:
        extraction = ExtractionRules(**{**rules, "prune": tuple(rules.get("prune", ()))})
    except TypeError as exc:
        raise RegistryError(f"{path.name}: bad [extraction] table: {exc}") from exc
    if not isinstance(data["domains"], list) or not data["domains"]:
        raise RegistryError(f"{path.name}: domains must be a non-empty list")
    return Outlet(
        name=data["name"],
        title=data.get("title", data["name"]),
        domains=tuple(d.lower() for d in data["domains"]),
        article_url=pattern,
        checked=data["checked"],
        feeds=tuple(data.get("feeds", ())),
        sitemaps=tuple(data.get("sitemaps", ())),
        listings=listings,
        max_pages=int(data.get("max_pages", 3)),
        extraction=extraction,
        url_date=url_date,
    )


def _regex(path: Path, data: dict, key: str) -> re.Pattern:
    try:
        return re.compile(data[key])
    except re.error as exc:
        raise RegistryError(f"{path.name}: {key} is not a valid regex: {exc}") from exc


def _listing(item: dict) -> Listing:
    """A ``[[listings]]`` entry; a paging template must say where the page number goes."""
    listing = Listing(**item)
    if listing.paging and "{page}" not in listing.paging and "{index}" not in listing.paging:
        raise ValueError(f"paging {listing.paging!r} has no {{page}} or {{index}}")
    return listing


def load_outlets(directory: Path = OUTLETS_DIR) -> dict[str, Outlet]:
    """All outlets declared in ``directory``, keyed by name."""
    outlets: dict[str, Outlet] = {}
    for path in sorted(directory.glob("*.toml")):
        outlet = _outlet_from_toml(path)
        if outlet.name in outlets:
            raise RegistryError(f"{path.name}: outlet name {outlet.name!r} declared twice")
        outlets[outlet.name] = outlet
    return outlets


def outlet_for_url(url: str, outlets: dict[str, Outlet]) -> Outlet | None:
    """The outlet whose domains cover ``url`` (longest domain wins)."""
    matches = [o for o in outlets.values() if o.owns(url)]
    if not matches:
        return None
    host = (urlsplit(url).hostname or "").lower()
    return max(matches, key=lambda o: max(len(d) for d in o.domains if host.endswith(d)))


def select_outlets(names: list[str] | tuple[str, ...], outlets: dict[str, Outlet]) -> list[Outlet]:
    """The outlets named (all when none), with a clear error for an unknown name."""
    if not names:
        return list(outlets.values())
    unknown = [n for n in names if n not in outlets]
    if unknown:
        raise RegistryError(
            f"unknown outlet(s): {', '.join(unknown)}; known: {', '.join(sorted(outlets))}"
        )
    return [outlets[n] for n in names]
