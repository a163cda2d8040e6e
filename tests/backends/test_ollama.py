"""The native Ollama backend: context window raised (never truncated), NDJSON, busy 503."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from server.backends.base import CompletionRequest, Usage
from server.backends.ollama import OllamaBackend, context_size, ollama_root
from server.errors import (
    BackendBadResponse,
    BackendNotFound,
    BackendRateLimited,
    BackendTimeout,
    ContextTooLarge,
)
from tests.backends.helpers import make_request
from tests.support import Hang, LoopbackProvider, Malformed, Reply, Status, StreamError, Truncate


def ollama_request(lp: LoopbackProvider, **kwargs: Any) -> CompletionRequest:
    return make_request(
        lp.base_url, protocol="ollama", api_key=None, model_fields={"tier": "local"}, **kwargs
    )


@pytest.mark.parametrize("stream", [True, False])
async def test_native_chat_returns_text_and_usage(
    lp: LoopbackProvider, client: httpx.AsyncClient, stream: bool
) -> None:
    lp.script(
        "model-x", [Reply("local words here", usage=Usage(input_tokens=321, output_tokens=12), chunks=3)]
    )
    done = await OllamaBackend(client).complete(ollama_request(lp, stream=stream))
    assert done.text == "local words here"
    assert done.usage == Usage(input_tokens=321, output_tokens=12)
    sent = lp.requests[0]
    assert sent.path == "/api/chat"
    assert sent.json["stream"] is stream
    assert sent.json["options"]["num_predict"] == 256


async def test_needed_context_is_sent_as_num_ctx(lp: LoopbackProvider, client: httpx.AsyncClient) -> None:
    await OllamaBackend(client).complete(ollama_request(lp, context_tokens=9000))
    assert lp.requests[0].json["options"]["num_ctx"] == 16384


async def test_small_prompt_still_gets_at_least_the_default_window(
    lp: LoopbackProvider, client: httpx.AsyncClient
) -> None:
    await OllamaBackend(client).complete(ollama_request(lp))
    assert lp.requests[0].json["options"]["num_ctx"] == 4096


async def test_prompt_larger_than_the_model_window_is_never_sent(
    lp: LoopbackProvider, client: httpx.AsyncClient
) -> None:
    with pytest.raises(ContextTooLarge, match="not sent"):
        await OllamaBackend(client).complete(ollama_request(lp, context_tokens=40000))
    assert lp.requests == []


def test_context_size_without_a_count_estimates_from_the_messages(lp: LoopbackProvider) -> None:
    long_prompt = [{"role": "user", "content": "x" * 30000}]
    request = ollama_request(lp, messages=long_prompt)
    assert context_size(request) == 16384


async def test_busy_503_is_rate_limited_not_broken(lp: LoopbackProvider, client: httpx.AsyncClient) -> None:
    lp.script("model-x", [Status(503)])
    with pytest.raises(BackendRateLimited, match="busy") as caught:
        await OllamaBackend(client).complete(ollama_request(lp))
    assert caught.value.retryable


async def test_missing_model_is_not_found(lp: LoopbackProvider, client: httpx.AsyncClient) -> None:
    lp.script("model-x", [Status(404, message='model "model-x" not found, try pulling it first')])
    with pytest.raises(BackendNotFound):
        await OllamaBackend(client).complete(ollama_request(lp))


@pytest.mark.parametrize("abort", [True, False])
async def test_answer_ending_before_done_is_truncated(
    lp: LoopbackProvider, client: httpx.AsyncClient, abort: bool
) -> None:
    lp.script("model-x", [Truncate(after_chunks=2, abort=abort)])
    with pytest.raises(BackendBadResponse):
        await OllamaBackend(client).complete(ollama_request(lp))


async def test_malformed_line_and_error_line_are_bad_responses(
    lp: LoopbackProvider, client: httpx.AsyncClient
) -> None:
    lp.script("model-x", [Malformed(after_chunks=1), StreamError(message="llama runner crashed")])
    with pytest.raises(BackendBadResponse, match="not JSON"):
        await OllamaBackend(client).complete(ollama_request(lp))
    with pytest.raises(BackendBadResponse, match="llama runner crashed"):
        await OllamaBackend(client).complete(ollama_request(lp))


async def test_stall_mid_answer_times_out(lp: LoopbackProvider, client: httpx.AsyncClient) -> None:
    lp.script("model-x", [Hang(30, after_chunks=1)])
    with pytest.raises(BackendTimeout):
        await OllamaBackend(client).complete(ollama_request(lp, stall_timeout_s=0.2))


async def test_openai_style_base_url_is_accepted(lp: LoopbackProvider, client: httpx.AsyncClient) -> None:
    request = make_request(
        lp.base_url + "/v1", protocol="ollama", api_key=None, model_fields={"tier": "local"}
    )
    await OllamaBackend(client).complete(request)
    assert lp.requests[0].path == "/api/chat"


@pytest.mark.parametrize(
    ("base", "root"),
    [
        ("http://127.0.0.1:11434/v1", "http://127.0.0.1:11434"),
        ("http://127.0.0.1:11434/", "http://127.0.0.1:11434"),
        ("http://gpu-box:11434/api", "http://gpu-box:11434"),
    ],
)
def test_ollama_root_strips_api_suffixes(base: str, root: str) -> None:
    assert ollama_root(base) == root
