"""The OpenAI-compatible backend against the loopback provider: answers, streams and failures."""

from __future__ import annotations

import email.utils
import time

import httpx
import pytest

from server.backends.base import Usage
from server.backends.classify import BackendBadRequest
from server.backends.openai_compat import OpenAICompatBackend, usage_from_openai
from server.backends.ratelimits import rate_limits_of
from server.errors import (
    BackendAuthError,
    BackendBadResponse,
    BackendNotFound,
    BackendRateLimited,
    BackendTimeout,
    ContextTooLarge,
)
from tests.backends.helpers import make_request
from tests.support import Hang, LoopbackProvider, Malformed, Reply, Status, StreamError, Truncate

USAGE = Usage(input_tokens=120, output_tokens=40, cached_input_tokens=100, reasoning_tokens=25)


async def test_plain_json_answer_gives_text_usage_and_generation_id(
    lp: LoopbackProvider, client: httpx.AsyncClient
) -> None:
    lp.script("model-x", [Reply("hello there", usage=USAGE, generation_id="gen-abc")])
    done = await OpenAICompatBackend(client).complete(make_request(lp.openai_url, stream=False))
    assert done.text == "hello there"
    assert done.usage == USAGE
    assert done.generation_id == "gen-abc"
    assert done.finish_reason == "stop"
    body = lp.requests[0].json
    assert body["stream"] is False and "stream_options" not in body
    assert lp.requests[0].headers["authorization"].startswith("Bearer ")


async def test_stream_takes_usage_from_final_chunk_that_also_carries_content(
    lp: LoopbackProvider, client: httpx.AsyncClient
) -> None:
    lp.script("model-x", [Reply("one two three four", usage=USAGE, chunks=4, usage_in_content_chunk=True)])
    done = await OpenAICompatBackend(client).complete(make_request(lp.openai_url))
    assert done.text == "one two three four"
    assert done.usage == USAGE
    assert done.extra["stream_complete"] is True


async def test_stream_takes_usage_from_its_own_final_chunk(
    lp: LoopbackProvider, client: httpx.AsyncClient
) -> None:
    lp.script("model-x", [Reply("abc", usage=USAGE, usage_in_content_chunk=False)])
    done = await OpenAICompatBackend(client).complete(make_request(lp.openai_url))
    assert (done.text, done.usage) == ("abc", USAGE)


async def test_stream_always_asks_for_usage(lp: LoopbackProvider, client: httpx.AsyncClient) -> None:
    await OpenAICompatBackend(client).complete(make_request(lp.openai_url))
    body = lp.requests[0].json
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["max_tokens"] == 256
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}


async def test_stream_without_usage_returns_none_usage(
    lp: LoopbackProvider, client: httpx.AsyncClient
) -> None:
    lp.script("model-x", [Reply("x", usage=None)])
    done = await OpenAICompatBackend(client).complete(make_request(lp.openai_url))
    assert done.text == "x" and done.usage is None


async def test_openrouter_usage_cost_becomes_provider_cost(
    lp: LoopbackProvider, client: httpx.AsyncClient
) -> None:
    lp.script("model-x", [Reply("x", cost=0.00123)])
    request = make_request(lp.openrouter_url, provider_fields={"reports_cost": True})
    done = await OpenAICompatBackend(client).complete(request)
    assert done.provider_cost == pytest.approx(0.00123)
    assert lp.requests[0].path == "/api/v1/chat/completions"
    assert lp.requests[0].json["usage"] == {"include": True}


async def test_stream_passes_each_delta_to_on_chunk(lp: LoopbackProvider, client: httpx.AsyncClient) -> None:
    seen: list[str] = []

    async def on_chunk(text: str) -> None:
        seen.append(text)

    lp.script("model-x", [Reply("abcdef", chunks=3)])
    done = await OpenAICompatBackend(client).complete(make_request(lp.openai_url, on_chunk=on_chunk))
    assert seen == ["ab", "cd", "ef"]
    assert done.first_token_s is not None


async def test_openai_reasoning_model_gets_max_completion_tokens_and_no_temperature(
    lp: LoopbackProvider, client: httpx.AsyncClient
) -> None:
    request = make_request(lp.openai_url, provider_name="openai", model_fields={"reasoning": True})
    await OpenAICompatBackend(client).complete(request)
    body = lp.requests[0].json
    assert body["max_completion_tokens"] == 256
    assert "max_tokens" not in body and "temperature" not in body


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (Status(429, retry_after=7), 7.0),
        (Status(429, retry_after_ms=1500), 1.5),
        (Status(429, retry_after=3, retry_after_ms=250), 0.25),
    ],
)
@pytest.mark.parametrize("stream", [True, False])
async def test_429_is_rate_limited_with_retry_after(
    lp: LoopbackProvider, client: httpx.AsyncClient, status: Status, expected: float, stream: bool
) -> None:
    lp.script("model-x", [status])
    with pytest.raises(BackendRateLimited) as caught:
        await OpenAICompatBackend(client).complete(make_request(lp.openai_url, stream=stream))
    assert caught.value.retry_after == pytest.approx(expected)
    assert caught.value.retryable and caught.value.status == 429


async def test_429_retry_after_as_http_date(lp: LoopbackProvider, client: httpx.AsyncClient) -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    lp.script("model-x", [Status(429, retry_after=when)])
    with pytest.raises(BackendRateLimited) as caught:
        await OpenAICompatBackend(client).complete(make_request(lp.openai_url))
    assert caught.value.retry_after is not None and 25 <= caught.value.retry_after <= 31


async def test_429_without_retry_after_uses_exhausted_budget_reset(
    lp: LoopbackProvider, client: httpx.AsyncClient
) -> None:
    headers = {"x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "1m30s"}
    lp.script("model-x", [Status(429, headers=headers)])
    with pytest.raises(BackendRateLimited) as caught:
        await OpenAICompatBackend(client).complete(make_request(lp.openai_url))
    assert caught.value.retry_after == pytest.approx(90.0)
    info = rate_limits_of(caught.value)
    assert info is not None and info.remaining_tokens == 0


async def test_429_insufficient_quota_is_an_account_problem(
    lp: LoopbackProvider, client: httpx.AsyncClient
) -> None:
    lp.script(
        "model-x", [Status(429, message="You exceeded your current quota", error_type="insufficient_quota")]
    )
    with pytest.raises(BackendAuthError):
        await OpenAICompatBackend(client).complete(make_request(lp.openai_url))


@pytest.mark.parametrize(
    ("code", "error"),
    [(401, BackendAuthError), (403, BackendAuthError), (402, BackendAuthError), (404, BackendNotFound)],
)
async def test_auth_and_not_found_are_not_retryable(
    lp: LoopbackProvider, client: httpx.AsyncClient, code: int, error: type[Exception]
) -> None:
    lp.script("model-x", [Status(code)])
    with pytest.raises(error) as caught:
        await OpenAICompatBackend(client).complete(make_request(lp.openai_url))
    assert not caught.value.retryable  # type: ignore[attr-defined]
    assert str(code) in str(caught.value)


@pytest.mark.parametrize("code", [500, 502, 503, 504])
async def test_server_errors_are_retryable_bad_responses(
    lp: LoopbackProvider, client: httpx.AsyncClient, code: int
) -> None:
    lp.script("model-x", [Status(code)])
    with pytest.raises(BackendBadResponse) as caught:
        await OpenAICompatBackend(client).complete(make_request(lp.openai_url))
    assert caught.value.retryable and caught.value.status == code


async def test_503_from_a_local_server_means_busy(lp: LoopbackProvider, client: httpx.AsyncClient) -> None:
    lp.script("model-x", [Status(503, retry_after=2)])
    request = make_request(lp.openai_url, provider_name="lmstudio", provider_fields={"local": True})
    with pytest.raises(BackendRateLimited) as caught:
        await OpenAICompatBackend(client).complete(request)
    assert caught.value.retry_after == 2.0


async def test_context_length_400_is_context_too_large(
    lp: LoopbackProvider, client: httpx.AsyncClient
) -> None:
    message = "This model's maximum context length is 8192 tokens. However, you requested 9000 tokens."
    lp.script("model-x", [Status(400, message=message, error_type="invalid_request_error")])
    with pytest.raises(ContextTooLarge) as caught:
        await OpenAICompatBackend(client).complete(make_request(lp.openai_url))
    assert not caught.value.retryable


async def test_other_400_is_a_bad_request_not_retried(
    lp: LoopbackProvider, client: httpx.AsyncClient
) -> None:
    lp.script("model-x", [Status(400, message="temperature must be at most 1")])
    with pytest.raises(BackendBadRequest) as caught:
        await OpenAICompatBackend(client).complete(make_request(lp.openai_url))
    assert not caught.value.retryable
    assert "temperature must be at most 1" in str(caught.value)


@pytest.mark.parametrize("after_chunks", [None, 1])
async def test_silence_longer_than_stall_timeout_is_a_timeout(
    lp: LoopbackProvider, client: httpx.AsyncClient, after_chunks: int | None
) -> None:
    lp.script("model-x", [Hang(30, after_chunks=after_chunks)])
    with pytest.raises(BackendTimeout) as caught:
        await OpenAICompatBackend(client).complete(make_request(lp.openai_url, stall_timeout_s=0.2))
    assert "stalled" in str(caught.value)
    assert caught.value.retryable


async def test_whole_call_deadline_ends_a_slow_plain_answer(
    lp: LoopbackProvider, client: httpx.AsyncClient
) -> None:
    lp.script("model-x", [Hang(30)])
    with pytest.raises(BackendTimeout) as caught:
        await OpenAICompatBackend(client).complete(make_request(lp.openai_url, stream=False, timeout_s=0.3))
    assert "within 0.3 s" in str(caught.value)


@pytest.mark.parametrize("abort", [True, False])
async def test_truncated_stream_is_a_retryable_bad_response(
    lp: LoopbackProvider, client: httpx.AsyncClient, abort: bool
) -> None:
    lp.script("model-x", [Truncate(after_chunks=2, abort=abort)])
    with pytest.raises(BackendBadResponse) as caught:
        await OpenAICompatBackend(client).complete(make_request(lp.openai_url))
    assert "truncated" in str(caught.value)
    assert caught.value.retryable


async def test_truncated_plain_body_is_a_retryable_bad_response(
    lp: LoopbackProvider, client: httpx.AsyncClient
) -> None:
    lp.script("model-x", [Truncate(after_chunks=0)])
    with pytest.raises(BackendBadResponse):
        await OpenAICompatBackend(client).complete(make_request(lp.openai_url, stream=False))


async def test_malformed_json_body_is_a_bad_response(lp: LoopbackProvider, client: httpx.AsyncClient) -> None:
    lp.script("model-x", [Malformed()])
    with pytest.raises(BackendBadResponse, match="not JSON"):
        await OpenAICompatBackend(client).complete(make_request(lp.openai_url, stream=False))


async def test_malformed_stream_chunk_is_a_bad_response(
    lp: LoopbackProvider, client: httpx.AsyncClient
) -> None:
    lp.script("model-x", [Malformed(after_chunks=1)])
    with pytest.raises(BackendBadResponse, match="not JSON") as caught:
        await OpenAICompatBackend(client).complete(make_request(lp.openai_url))
    assert caught.value.retryable


async def test_error_object_mid_stream_is_a_bad_response(
    lp: LoopbackProvider, client: httpx.AsyncClient
) -> None:
    lp.script("model-x", [StreamError(message="upstream overloaded", code=502)])
    with pytest.raises(BackendBadResponse, match="upstream overloaded"):
        await OpenAICompatBackend(client).complete(make_request(lp.openai_url))


async def test_rate_limit_headers_are_attached_to_the_completion(
    lp: LoopbackProvider, client: httpx.AsyncClient
) -> None:
    lp.configure("model-x", rpm=100)
    done = await OpenAICompatBackend(client).complete(make_request(lp.openai_url))
    assert done.rate_limits is not None
    assert done.rate_limits.limit_requests == 100
    assert done.rate_limits.remaining_requests == 99


async def test_refused_connection_is_a_retryable_failure(client: httpx.AsyncClient) -> None:
    with pytest.raises(BackendBadResponse, match="cannot connect") as caught:
        await OpenAICompatBackend(client).complete(make_request("http://127.0.0.1:9/v1"))
    assert caught.value.retryable


async def test_groq_request_limits_are_read_as_per_day(
    lp: LoopbackProvider, client: httpx.AsyncClient
) -> None:
    lp.configure("model-x", rpm=30)
    done = await OpenAICompatBackend(client).complete(make_request(lp.openai_url, provider_name="groq"))
    assert done.rate_limits is not None and done.rate_limits.requests_window_s == 86400


def test_usage_variants_are_normalised() -> None:
    reasoning = {"reasoning_tokens": 30}
    # OpenAI: reasoning already inside completion_tokens.
    openai = {
        "prompt_tokens": 100,
        "completion_tokens": 50,
        "total_tokens": 150,
        "completion_tokens_details": reasoning,
    }
    assert usage_from_openai(openai).output_tokens == 50
    # Gemini's endpoint: reasoning outside completion_tokens, visible in total_tokens.
    gemini = {
        "prompt_tokens": 100,
        "completion_tokens": 20,
        "total_tokens": 150,
        "completion_tokens_details": reasoning,
    }
    assert usage_from_openai(gemini) == Usage(input_tokens=100, output_tokens=50, reasoning_tokens=30)
    # DeepSeek's cache hits.
    deepseek = {"prompt_tokens": 100, "completion_tokens": 5, "prompt_cache_hit_tokens": 64}
    assert usage_from_openai(deepseek).cached_input_tokens == 64
    # Garbage never crashes the mapping.
    assert usage_from_openai({"prompt_tokens": "many", "prompt_tokens_details": None}) == Usage()
