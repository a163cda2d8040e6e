"""Turn HTTP failures into the error tree, the same way for every wire protocol.

    401 / 403 / 402        BackendAuthError   (key or account problem, never retried)
    404                    BackendNotFound    (unknown model on that provider)
    400 / 413 "too long"   ContextTooLarge
    other 400 / 422        BackendBadRequest  (our request is wrong; not retried on this model)
    408, timeouts          BackendTimeout
    429                    BackendRateLimited (retry_after from the headers); 429 "insufficient
                           quota" is an account problem -> BackendAuthError
    503 from a local server BackendRateLimited (Ollama: busy, not broken)
    529 / other 5xx        BackendBadResponse (retryable)

Every message passes through `redact` so an API key echoed by a server never leaves here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

import httpx

from server.backends.base import RateLimitInfo
from server.backends.ratelimits import parse_rate_limits, retry_after_from
from server.errors import (
    BackendAuthError,
    BackendBadRequest,
    BackendBadResponse,
    BackendError,
    BackendNotFound,
    BackendRateLimited,
    BackendTimeout,
    ContextTooLarge,
)

__all__ = [
    "BackendBadRequest",
    "attach_rate_limits",
    "error_for_status",
    "error_for_transport",
    "error_text",
    "redact",
]

_CONTEXT_PATTERNS = re.compile(
    r"context[_ ]length|context window|maximum context|prompt is too long|too many tokens|"
    r"reduce the length|input is too long|exceeds the (?:model'?s? )?(?:maximum|context)|"
    r"request too large|num_ctx",
    re.IGNORECASE,
)
_QUOTA_PATTERNS = re.compile(r"insufficient_quota|exceeded your current quota|billing", re.IGNORECASE)
_MAX_BODY_IN_MESSAGE = 300


def redact(text: str, secret: str | None) -> str:
    """`text` with every occurrence of `secret` (an API key) masked."""
    if secret and len(secret) >= 4 and secret in text:
        text = text.replace(secret, "[redacted]")
    return text


def error_text(body: str) -> str:
    """The human part of an error body: `error.message`, `error` or the raw text, shortened."""
    text = body.strip()
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        error = data.get("error", data)
        if isinstance(error, dict):
            message = error.get("message") or error.get("type") or error.get("code")
            if message:
                text = str(message)
        elif isinstance(error, str):
            text = error
        elif isinstance(data.get("message"), str):
            text = data["message"]
    if len(text) > _MAX_BODY_IN_MESSAGE:
        text = text[:_MAX_BODY_IN_MESSAGE] + "..."
    return text


def attach_rate_limits(error: BackendError, info: RateLimitInfo | None) -> BackendError:
    """Hang the parsed rate-limit headers on the error (read back with `rate_limits_of`)."""
    error.rate_limits = info
    return error


def error_for_status(
    status: int,
    body: str,
    headers: Mapping[str, str],
    *,
    provider: str,
    model: str,
    api_key: str | None,
    local: bool = False,
) -> BackendError:
    """The classified error for an HTTP error answer."""
    info = parse_rate_limits(headers, provider=provider)
    detail = redact(error_text(body), api_key) or f"HTTP {status}"
    where = f"{provider}/{model}"
    error: BackendError
    if status == 429:
        if _QUOTA_PATTERNS.search(body):
            error = BackendAuthError(f"{where}: quota or billing exhausted (429): {detail}", status=status)
        else:
            error = BackendRateLimited(
                f"{where}: rate limited (429): {detail}", status=status, retry_after=retry_after_from(info)
            )
    elif status == 503 and local:
        error = BackendRateLimited(
            f"{where}: server busy (503): {detail}", status=status, retry_after=retry_after_from(info)
        )
    elif status in (401, 403):
        error = BackendAuthError(f"{where}: authentication failed ({status}): {detail}", status=status)
    elif status == 402:
        error = BackendAuthError(f"{where}: payment required (402): {detail}", status=status)
    elif status == 404:
        error = BackendNotFound(f"{where}: not found (404): {detail}", status=status)
    elif status in (400, 413, 422) and _CONTEXT_PATTERNS.search(body):
        error = ContextTooLarge(
            f"{where}: prompt does not fit the context window ({status}): {detail}", status=status
        )
    elif status in (400, 422):
        error = BackendBadRequest(f"{where}: request rejected ({status}): {detail}", status=status)
    elif status == 408:
        error = BackendTimeout(f"{where}: provider timed out (408): {detail}", status=status)
    else:
        error = BackendBadResponse(f"{where}: provider error ({status}): {detail}", status=status)
    return attach_rate_limits(error, info)


def error_for_transport(
    exc: httpx.HTTPError, *, provider: str, model: str, api_key: str | None, stall_timeout_s: float
) -> BackendError:
    """The classified error for a connection-level failure."""
    where = f"{provider}/{model}"
    detail = redact(str(exc) or type(exc).__name__, api_key)
    if isinstance(exc, httpx.ConnectTimeout):
        return BackendTimeout(f"{where}: connect timed out: {detail}")
    if isinstance(exc, httpx.ReadTimeout):
        return BackendTimeout(f"{where}: no data for {stall_timeout_s:g} s (stalled)")
    if isinstance(exc, httpx.TimeoutException):
        return BackendTimeout(f"{where}: timed out ({type(exc).__name__}): {detail}")
    if isinstance(exc, httpx.ConnectError):
        return BackendBadResponse(f"{where}: cannot connect: {detail}")
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
        return BackendBadResponse(f"{where}: connection dropped mid-answer (truncated): {detail}")
    return BackendBadResponse(f"{where}: transport error ({type(exc).__name__}): {detail}")
