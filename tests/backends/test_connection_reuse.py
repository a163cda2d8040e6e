"""Every backend gives its connection back to httpx's pool: sequential calls share one TCP connection."""

from __future__ import annotations

import httpx
import pytest

from server.errors import BackendBadResponse, BackendRateLimited
from tests.backends.helpers import PROTOCOLS, backend, protocol_request
from tests.support import LoopbackProvider, Reply, Status

CALLS = 20


@pytest.mark.parametrize("stream", [True, False])
@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_sequential_calls_reuse_one_connection(
    lp: LoopbackProvider, client: httpx.AsyncClient, protocol: str, stream: bool
) -> None:
    lp.set_default(Reply("several words in a few chunks", chunks=4))
    speaker = backend(protocol, client)
    for _ in range(CALLS):
        done = await speaker.complete(protocol_request(lp, protocol, stream=stream))
        assert done.text == "several words in a few chunks"
    assert len(lp.requests) == CALLS
    assert lp.connections == 1


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_the_connection_count_sees_a_client_that_does_not_keep_connections(
    lp: LoopbackProvider, protocol: str
) -> None:
    async with httpx.AsyncClient(limits=httpx.Limits(max_keepalive_connections=0)) as no_pool:
        speaker = backend(protocol, no_pool)
        for _ in range(5):
            await speaker.complete(protocol_request(lp, protocol))
    assert lp.connections == 5


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_failed_answer_still_leaves_the_connection_reusable(
    lp: LoopbackProvider, client: httpx.AsyncClient, protocol: str
) -> None:
    lp.script("model-x", [Status(500), Status(429, retry_after=1)])
    speaker = backend(protocol, client)
    with pytest.raises(BackendBadResponse):
        await speaker.complete(protocol_request(lp, protocol))
    with pytest.raises(BackendRateLimited):
        await speaker.complete(protocol_request(lp, protocol))
    await speaker.complete(protocol_request(lp, protocol))
    assert lp.connections == 1
