"""Meta-refresh redirects, read from the head of the page only.

Scrapy's ``MetaRefreshMiddleware`` looks for ``<meta http-equiv="refresh">`` in
the first 4,096 characters, but gets them from ``response.text``: it decodes
the whole body and the response keeps that copy. News pages run to several
hundred KiB and the crawl decodes them again for extraction, so this subclass
hands it a response cut to the first ``HEAD_BYTES`` bytes (4,096 characters
are at most 16 KiB of UTF-8) and passes the real response on.
"""
from __future__ import annotations

from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware
from scrapy.http import HtmlResponse

HEAD_BYTES = 16 * 1024


class HeadMetaRefreshMiddleware(MetaRefreshMiddleware):
    def process_response(self, request, response, spider=None):
        if not isinstance(response, HtmlResponse) or len(response.body) <= HEAD_BYTES:
            return super().process_response(request, response)
        result = super().process_response(request, response.replace(body=response.body[:HEAD_BYTES]))
        return result if not isinstance(result, HtmlResponse) else response
