"""Why a request failed, as a short cause (for counting) and a readable reason."""
from __future__ import annotations

from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.error import ConnectionLost, TimeoutError as TwistedTimeout
from twisted.web._newclient import ResponseFailed, ResponseNeverReceived

_CAUSES = (
    (DownloadTimeoutError, "timeout"),
    (TwistedTimeout, "timeout"),
    (DownloadCancelledError, "too_large"),  # DOWNLOAD_MAXSIZE
    (ResponseDataLossError, "connection_lost"),
    (ResponseFailed, "connection_lost"),
    (ResponseNeverReceived, "connection_lost"),
    (ConnectionLost, "connection_lost"),
    (DownloadFailedError, "connection_lost"),
    (DownloadConnectionRefusedError, "unreachable"),
    (CannotResolveHostError, "unreachable"),
)


def failure_cause(failure) -> tuple[str, str]:
    """(cause, reason) of a failed request: http_404, timeout, too_large, robots, ..."""
    if failure.check(HttpError):
        status = failure.value.response.status
        return f"http_{status}", f"HTTP {status}"
    message = failure.getErrorMessage()
    if failure.check(IgnoreRequest):
        if "robots.txt" in message.lower():
            return "robots", "disallowed by the outlet's robots.txt"
        if "redirect" in message.lower():
            return "redirect_loop", f"too many redirects ({message})"
        return "ignored", message
    for exc_type, cause in _CAUSES:
        if failure.check(exc_type):
            return cause, f"{failure.type.__name__}: {message}"
    return "error", f"{failure.type.__name__}: {message}"
