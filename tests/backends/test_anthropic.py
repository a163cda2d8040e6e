"""The Anthropic Messages backend against the loopback provider."""

from __future__ import annotations

import httpx
import pytest

from server.backends.anthropic import ANTHROPIC_VERSION, AnthropicBackend, usage_from_anthropic
from server.backends.base import Usage
from server.errors import BackendBadResponse, BackendRateLimited, BackendTimeout, ContextTooLarge
from tests.backends.helpers import KEY, make_request
from tests.support import Hang, LoopbackProvider, Malformed, Reply, Status, StreamError, Truncate

# Ours counts every prompt token: 30 fresh + 500 cache reads + 70 cache writes.
USAGE = Usage(input_tokens=600, output_tokens=42, cached_input_tokens=500, cache_write_tokens=70)


@pytest.mark.parametrize("stream", [True, False])
async def test_system_prompt_is_split_out_and_headers_are_sent(
    lp: LoopbackProvider, client: httpx.AsyncClient, stream: bool
) -> None:
    done = await AnthropicBackend(client).complete(
        make_request(lp.base_url, protocol="anthropic", stream=stream)
    )
    assert done.text == "ok"
    sent = lp.requests[0]
    assert sent.path == "/v1/messages"
    assert sent.headers["x-api-key"] == KEY
    assert sent.headers["anthropic-version"] == ANTHROPIC_VERSION
    assert "authorization" not in sent.headers
    assert sent.json["system"] == "Be brief."
    assert sent.json["messages"] == [{"role": "user", "content": "Say hi"}]
    assert sent.json["stream"] is stream


async def test_base_url_ending_in_v1_is_not_doubled(lp: LoopbackProvider, client: httpx.AsyncClient) -> None:
    await AnthropicBackend(client).complete(make_request(lp.base_url + "/v1", protocol="anthropic"))
    assert lp.requests[0].path == "/v1/messages"


@pytest.mark.parametrize("stream", [True, False])
async def test_cache_tokens_are_counted_into_input(
    lp: LoopbackProvider, client: httpx.AsyncClient, stream: bool
) -> None:
    lp.script("model-x", [Reply("cached answer", usage=USAGE, generation_id="msg_01")])
    done = await AnthropicBackend(client).complete(
        make_request(lp.base_url, protocol="anthropic", stream=stream)
    )
    assert done.text == "cached answer"
    assert done.usage == USAGE
    assert done.generation_id == "msg_01"
    assert done.finish_reason == "end_turn"


def test_message_delta_usage_updates_only_what_it_carries() -> None:
    start = usage_from_anthropic(
        {
            "input_tokens": 10,
            "cache_read_input_tokens": 5,
            "cache_creation_input_tokens": 2,
            "output_tokens": 1,
        }
    )
    end = usage_from_anthropic({"output_tokens": 99}, start)
    assert end == Usage(input_tokens=17, output_tokens=99, cached_input_tokens=5, cache_write_tokens=2)


async def test_overloaded_error_event_is_retryable(lp: LoopbackProvider, client: httpx.AsyncClient) -> None:
    lp.script("model-x", [StreamError("overloaded_error", "Overloaded", after_chunks=3)])
    with pytest.raises(BackendBadResponse, match="overloaded_error") as caught:
        await AnthropicBackend(client).complete(make_request(lp.base_url, protocol="anthropic"))
    assert caught.value.retryable


async def test_rate_limit_error_event_is_rate_limited(
    lp: LoopbackProvider, client: httpx.AsyncClient
) -> None:
    lp.script("model-x", [StreamError("rate_limit_error", "slow down", code=429)])
    with pytest.raises(BackendRateLimited):
        await AnthropicBackend(client).complete(make_request(lp.base_url, protocol="anthropic"))


async def test_529_overloaded_status_is_retryable(lp: LoopbackProvider, client: httpx.AsyncClient) -> None:
    lp.script("model-x", [Status(529)])
    with pytest.raises(BackendBadResponse) as caught:
        await AnthropicBackend(client).complete(make_request(lp.base_url, protocol="anthropic"))
    assert caught.value.retryable and caught.value.status == 529


async def test_429_carries_retry_after(lp: LoopbackProvider, client: httpx.AsyncClient) -> None:
    lp.script("model-x", [Status(429, retry_after=12)])
    with pytest.raises(BackendRateLimited) as caught:
        await AnthropicBackend(client).complete(make_request(lp.base_url, protocol="anthropic"))
    assert caught.value.retry_after == 12.0


async def test_prompt_too_long_is_context_too_large(lp: LoopbackProvider, client: httpx.AsyncClient) -> None:
    lp.script("model-x", [Status(400, message="prompt is too long: 210000 tokens > 200000 maximum")])
    with pytest.raises(ContextTooLarge):
        await AnthropicBackend(client).complete(make_request(lp.base_url, protocol="anthropic"))


async def test_stream_without_message_stop_is_truncated(
    lp: LoopbackProvider, client: httpx.AsyncClient
) -> None:
    lp.script("model-x", [Truncate(after_chunks=4, abort=False)])
    with pytest.raises(BackendBadResponse, match="truncated"):
        await AnthropicBackend(client).complete(make_request(lp.base_url, protocol="anthropic"))


async def test_malformed_event_is_a_bad_response(lp: LoopbackProvider, client: httpx.AsyncClient) -> None:
    lp.script("model-x", [Malformed(after_chunks=2)])
    with pytest.raises(BackendBadResponse, match="not JSON"):
        await AnthropicBackend(client).complete(make_request(lp.base_url, protocol="anthropic"))


async def test_stalled_stream_times_out(lp: LoopbackProvider, client: httpx.AsyncClient) -> None:
    lp.script("model-x", [Hang(30, after_chunks=3)])
    with pytest.raises(BackendTimeout, match="stalled"):
        await AnthropicBackend(client).complete(
            make_request(lp.base_url, protocol="anthropic", stall_timeout_s=0.2)
        )


async def test_anthropic_rate_limit_headers_are_read(lp: LoopbackProvider, client: httpx.AsyncClient) -> None:
    lp.configure("model-x", rpm=50)
    done = await AnthropicBackend(client).complete(make_request(lp.base_url, protocol="anthropic"))
    assert done.rate_limits is not None
    assert done.rate_limits.limit_requests == 50
    assert done.rate_limits.remaining_requests == 49
    assert done.rate_limits.reset_requests_s is not None and 0 <= done.rate_limits.reset_requests_s <= 61
