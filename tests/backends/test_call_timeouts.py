"""Each call has its own limits (first byte, stall, total), enforced against a loopback provider
that hangs or cuts its answers; each raises `BackendCallTimeout` naming the phase."""

from __future__ import annotations

import time

import httpx
import pytest

from server.backends.base import CallTimeouts
from server.errors import BackendBadResponse, BackendCallTimeout, BackendTimeout
from tests.backends.helpers import PROTOCOLS, backend, protocol_request
from tests.support import Hang, LoopbackProvider, Reply, Truncate

SLACK_S = 1.5  # how late a timer may fire on a busy 2-core machine


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_server_that_never_sends_a_byte_fails_at_the_first_byte_limit(
    lp: LoopbackProvider, client: httpx.AsyncClient, protocol: str
) -> None:
    lp.script("model-x", [Hang(30)])
    request = protocol_request(lp, protocol, first_byte_timeout_s=0.3, stall_timeout_s=5, timeout_s=10)
    started = time.monotonic()
    with pytest.raises(BackendCallTimeout) as caught:
        await backend(protocol, client).complete(request)
    assert caught.value.phase == "first_byte"
    assert "0.3 s" in str(caught.value)
    assert time.monotonic() - started < 0.3 + SLACK_S


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_headers_without_any_event_count_as_no_first_byte(
    lp: LoopbackProvider, client: httpx.AsyncClient, protocol: str
) -> None:
    lp.script("model-x", [Hang(30, after_chunks=0)])
    request = protocol_request(lp, protocol, first_byte_timeout_s=0.3, stall_timeout_s=5, timeout_s=10)
    with pytest.raises(BackendCallTimeout) as caught:
        await backend(protocol, client).complete(request)
    assert caught.value.phase == "first_byte"


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_stream_that_stalls_mid_answer_fails_at_the_stall_limit(
    lp: LoopbackProvider, client: httpx.AsyncClient, protocol: str
) -> None:
    lp.script("model-x", [Hang(30, after_chunks=2, then=Reply("one two three four five", chunks=5))])
    request = protocol_request(lp, protocol, first_byte_timeout_s=5, stall_timeout_s=0.3, timeout_s=10)
    started = time.monotonic()
    with pytest.raises(BackendCallTimeout) as caught:
        await backend(protocol, client).complete(request)
    assert caught.value.phase == "stall"
    assert "stalled" in str(caught.value)
    assert time.monotonic() - started < 0.3 + SLACK_S


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_steady_but_slow_stream_fails_at_the_total_limit(
    lp: LoopbackProvider, client: httpx.AsyncClient, protocol: str
) -> None:
    # 20 chunks 0.1 s apart: never silent for the stall limit, but longer than the total.
    lp.script("model-x", [Reply("x" * 20, chunks=20, chunk_delay=0.1)])
    request = protocol_request(lp, protocol, first_byte_timeout_s=1, stall_timeout_s=1, timeout_s=0.6)
    with pytest.raises(BackendCallTimeout) as caught:
        await backend(protocol, client).complete(request)
    assert caught.value.phase == "total"
    assert "within 0.6 s" in str(caught.value)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_plain_answer_is_bound_by_the_total_limit_only(
    lp: LoopbackProvider, client: httpx.AsyncClient, protocol: str
) -> None:
    lp.script("model-x", [Hang(0.3), Hang(30)])
    # Slower than the first-byte limit, within the total: a plain answer arrives in one piece.
    request = protocol_request(lp, protocol, stream=False, first_byte_timeout_s=0.1, timeout_s=5)
    done = await backend(protocol, client).complete(request)
    assert done.text == "ok"
    request = protocol_request(lp, protocol, stream=False, first_byte_timeout_s=0.1, timeout_s=0.3)
    with pytest.raises(BackendCallTimeout) as caught:
        await backend(protocol, client).complete(request)
    assert caught.value.phase == "total"


@pytest.mark.parametrize("abort", [True, False])
@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_truncated_stream_is_a_retryable_bad_response_not_a_timeout(
    lp: LoopbackProvider, client: httpx.AsyncClient, protocol: str, abort: bool
) -> None:
    lp.script("model-x", [Truncate(after_chunks=2, abort=abort)])
    with pytest.raises(BackendBadResponse, match="truncated") as caught:
        await backend(protocol, client).complete(protocol_request(lp, protocol))
    assert caught.value.retryable


def test_call_timeout_is_a_retryable_timeout() -> None:
    error = BackendCallTimeout("x", phase="stall")
    assert isinstance(error, BackendTimeout)
    assert error.retryable and error.error_class == "timeout"


def test_call_limits_take_at_most_a_share_of_the_task_timeout() -> None:
    defaults = CallTimeouts()
    assert defaults.for_task(3600) == (defaults.first_byte_s, defaults.stall_s, defaults.total_s)
    assert CallTimeouts(first_byte_s=30, stall_s=30, total_s=150).for_task(20) == (10, 10, 10)


def test_call_limits_stay_within_the_time_left_and_the_stall_cap_but_never_under_half_a_second() -> None:
    limits = CallTimeouts(first_byte_s=30, stall_s=30, total_s=150)
    assert limits.for_task(600, time_left_s=12, stall_cap_s=8) == (8, 8, 12)
    assert limits.for_task(600, time_left_s=0.1) == (0.5, 0.5, 0.5)


def test_request_takes_all_three_limits_from_call_timeouts(lp: LoopbackProvider) -> None:
    request = protocol_request(lp, "openai").with_timeouts(CallTimeouts(first_byte_s=4, stall_s=5, total_s=6))
    assert (request.first_byte_timeout_s, request.stall_timeout_s, request.timeout_s) == (4, 5, 6)
