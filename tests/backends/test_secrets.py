"""No error message or log line ever carries the API key, even when a provider echoes it."""

from __future__ import annotations

import logging

import httpx
import pytest

from server.backends.openai_compat import OpenAICompatBackend
from server.backends.registry import BACKENDS
from server.errors import BackendError
from tests.backends.helpers import KEY, make_request
from tests.support import LoopbackProvider, Status, StreamError

ECHO = f"Incorrect API key provided: {KEY}"


@pytest.mark.parametrize(
    "behaviour",
    [
        Status(401, message=ECHO),
        Status(403, message=ECHO),
        Status(404, message=ECHO),
        Status(429, message=ECHO, retry_after=1),
        Status(400, message=ECHO),
        Status(500, message=ECHO),
        Status(502, body=f"<html>bad gateway for {KEY}</html>"),
        StreamError(message=ECHO, code=500),
        StreamError("rate_limit_error", ECHO, code=429),
    ],
)
@pytest.mark.parametrize("protocol", ["openai", "anthropic", "ollama"])
async def test_errors_and_logs_never_contain_the_key(
    lp: LoopbackProvider,
    client: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
    behaviour: Status | StreamError,
    protocol: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    url = lp.openai_url if protocol == "openai" else lp.base_url
    lp.script("model-x", [behaviour])
    with pytest.raises(BackendError) as caught:
        await BACKENDS[protocol](client).complete(make_request(url, protocol=protocol, api_key=KEY))
    assert KEY not in str(caught.value) and KEY not in repr(caught.value)
    assert "[redacted]" in str(caught.value)
    assert KEY not in caplog.text


async def test_a_wrong_key_echoed_by_the_provider_is_redacted(
    lp: LoopbackProvider, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    lp.api_key = "the-right-one"
    with pytest.raises(BackendError) as caught:
        await OpenAICompatBackend(client).complete(make_request(lp.openai_url, api_key=KEY))
    assert caught.value.status == 401
    assert KEY not in str(caught.value) and KEY not in caplog.text
