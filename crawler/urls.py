"""URL normalisation: one article, one key, however it was linked."""
from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

TRACKING_NAMES = frozenset({
    "fbclid", "gclid", "dclid", "zarsrc", "zalo_source", "gidzl", "_ga", "mc_cid", "mc_eid",
    "ref", "refer", "source", "src",
})
TRACKING_PREFIXES = ("utm_", "itm_", "vnn_")
DEFAULT_PORTS = {"http": 80, "https": 443}


class UnsupportedURL(ValueError):
    """The URL is not an absolute http(s) URL."""


def _is_tracking(name: str) -> bool:
    name = name.lower()
    return name in TRACKING_NAMES or name.startswith(TRACKING_PREFIXES)


def _query_without_tracking(query: str) -> str:
    return urlencode([(k, v) for k, v in parse_qsl(query, keep_blank_values=True)
                      if not _is_tracking(k) and k.lower() != "amp"])


def strip_tracking(url: str) -> str:
    """``url`` as the outlet spells it, less its fragment and tracking parameters."""
    parts = urlsplit(url.strip())
    return urlunsplit((parts.scheme, parts.netloc, parts.path, _query_without_tracking(parts.query), ""))


def normalize_url(url: str) -> str:
    """Lowercase scheme and host, https, no www./m. prefix, no default port,
    fragment, tracking parameters or AMP suffix.

    The result is the archive key and the crawl's request fingerprint input, so
    http/https, www/mobile, AMP and utm_* variants of one article collapse.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        raise UnsupportedURL(f"not an absolute http(s) URL: {url!r}")
    host = parts.hostname.lower()
    for prefix in ("www.", "m.", "amp."):
        if host.startswith(prefix) and host.count(".") >= 2:
            host = host[len(prefix):]
            break
    if parts.port and parts.port != DEFAULT_PORTS[scheme]:
        host = f"{host}:{parts.port}"
    path = parts.path or "/"
    for suffix in ("/amp", ".amp"):
        if path.endswith(suffix):
            path = path[: -len(suffix)] or "/"
    if path.startswith("/amp/"):
        path = path[4:]
    return urlunsplit(("https", host, path, _query_without_tracking(parts.query), ""))


def is_http_url(url: str) -> bool:
    try:
        normalize_url(url)
    except UnsupportedURL:
        return False
    return True
