"""Retries that honour Retry-After: on 429/503 the outlet's download slot waits
as long as the server asked (capped) before the retry and every other request
to that outlet; without the header it backs off exponentially. The slot's own
delay comes back after the next successful response."""
from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

from scrapy.downloadermiddlewares.retry import RetryMiddleware

logger = logging.getLogger(__name__)

BACKOFF_CODES = (429, 503)


def retry_after_seconds(value: bytes | str | None, now: datetime | None = None) -> float | None:
    """Seconds asked by a Retry-After header (delta-seconds or HTTP-date); None if absent/bad."""
    if not value:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


class RetryAfterMiddleware(RetryMiddleware):
    def __init__(self, settings) -> None:
        super().__init__(settings)
        self.max_wait = settings.getfloat("KCN_RETRY_AFTER_MAX")
        self.backoff_base = settings.getfloat("KCN_BACKOFF_BASE")
        self._normal_delay: dict[str, float] = {}
        self._backoff_until: dict[str, float] = {}

    def process_response(self, request, response, spider=None):
        if response.status in BACKOFF_CODES and not request.meta.get("dont_retry"):
            self._slow_down(request, response)
        elif 200 <= response.status < 300:
            self._restore(request)
        return super().process_response(request, response)

    def _slot(self, request):
        downloader = self.crawler.engine.downloader
        key = downloader.get_slot_key(request)
        return key, downloader.slots.get(key)

    def _slow_down(self, request, response) -> None:
        asked = retry_after_seconds(response.headers.get("Retry-After"))
        tries = request.meta.get("retry_times", 0)
        wait = min(asked if asked is not None else self.backoff_base * 2 ** tries, self.max_wait)
        key, slot = self._slot(request)
        if slot is None:
            return
        self._normal_delay.setdefault(key, slot.delay)
        self._backoff_until[key] = max(self._backoff_until.get(key, 0.0), time.monotonic() + wait)
        slot.delay = max(slot.delay, wait)
        self.crawler.stats.inc_value("kcn/backoffs")
        logger.info("%s answered %d: waiting %.1f s before asking %s again",
                    request.url, response.status, wait, key)

    def _restore(self, request) -> None:
        """Back to the normal pace once the wait asked for has passed and pages come through."""
        key, slot = self._slot(request)
        if slot is not None and key in self._normal_delay and time.monotonic() >= self._backoff_until[key]:
            slot.delay = self._normal_delay.pop(key)
            del self._backoff_until[key]
