"""Request fingerprints on the normalised URL, so http/https, www/m., AMP,
tracking-parameter and fragment variants of one article are fetched once per crawl."""
from __future__ import annotations

import hashlib

from scrapy.utils.request import RequestFingerprinter

from crawler.urls import UnsupportedURL, normalize_url


class CanonicalRequestFingerprinter(RequestFingerprinter):
    def fingerprint(self, request) -> bytes:
        try:
            key = normalize_url(request.url)
        except UnsupportedURL:
            return super().fingerprint(request)
        return hashlib.sha1(b"\0".join([request.method.encode(), key.encode(), request.body])).digest()
