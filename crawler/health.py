"""Outlet health: per-outlet counts of one run, and the flags users must see.

An outlet that changes its layout does not fail loudly: it just yields nothing.
So after each run every crawled outlet is judged on its own counts, and a flag
with its reason goes to the ledger (``outlet_runs``), the CLI and the log.
"""
from __future__ import annotations

import json

# Counters kept per outlet as "kcn/outlet/<name>/<counter>" in Scrapy's stats.
COUNTERS = ("listing_pages", "article_links", "known_skipped", "articles_fetched", "new", "updated",
            "unchanged", "duplicate", "not_relevant", "failed", "gone", "blocked", "discovery_errors",
            "bytes", "container_missed")
MIN_ATTEMPTS = 4          # below this, an error rate says little
MAX_ERROR_RATE = 0.5
MAX_EMPTY_SHARE = 0.5
MAX_CONTAINER_MISSED_SHARE = 0.5


def outlet_rows(stats: dict, outlets: list[str]) -> list[dict]:
    """One ledger row per crawled outlet, with its counters, HTTP errors, causes and flag."""
    rows = []
    for outlet in outlets:
        prefix = f"kcn/outlet/{outlet}/"
        row = {"outlet": outlet, **{name: stats.get(prefix + name, 0) for name in COUNTERS}}
        row["http_errors"] = _sub(stats, prefix + "http/")
        row["failures"] = _sub(stats, prefix + "cause/")
        row["flag"] = judge(row)
        row["http_errors"], row["failures"] = json.dumps(row["http_errors"]), json.dumps(row["failures"])
        rows.append(row)
    return rows


def _sub(stats: dict, prefix: str) -> dict:
    return {key[len(prefix):]: value for key, value in sorted(stats.items()) if key.startswith(prefix)}


def judge(row: dict) -> str | None:
    """Why this outlet looks broken in this run, or None when it looks healthy."""
    if row["article_links"] == 0:
        if row["listing_pages"] == 0:
            causes = ", ".join(f"{cause} ×{n}" for cause, n in row["failures"].items())
            return "no feed or listing page could be read" + (f" ({causes})" if causes else "")
        return f"discovery found no article links on {row['listing_pages']} feed/listing page(s)"
    fetched = row["articles_fetched"]
    empty = row["failures"].get("no_text", 0)
    if _share_of_pages(empty, fetched) >= MAX_EMPTY_SHARE:
        return f"extraction came out empty for {empty} of {fetched} pages"
    errors = row["failed"] + row["discovery_errors"]
    attempts = row["listing_pages"] + row["discovery_errors"] + row["articles_fetched"] + row["gone"] + \
        row["failed"]
    if attempts >= MIN_ATTEMPTS and errors / attempts >= MAX_ERROR_RATE:
        return f"{errors} of {attempts} requests failed ({', '.join(row['failures']) or 'see the log'})"
    missed = row.get("container_missed", 0)
    if _share_of_pages(missed, fetched) >= MAX_CONTAINER_MISSED_SHARE:
        return (f"the declared article container (extraction body) was not found on {missed} of {fetched} "
                f"pages: they were extracted from the whole page; update the selector")
    return None


def _share_of_pages(count: int, fetched: int) -> float:
    """``count`` as a share of the article pages fetched; 0 when they are too few to judge."""
    return count / fetched if fetched >= MIN_ATTEMPTS else 0.0
