"""What connection reuse, one write per request and asyncio's transports save per streamed call, per wire protocol.

    python bench/bench_connections.py [--calls 200] [--runs 5] [--latency 0]

The loopback provider runs in its own process (no latency unless `--latency`). For each protocol and run, `--calls`
sequential streamed calls go through the real backend with each of four clients, in interleaved
blocks of 20 calls (so the machine's drift falls on all of them alike):
- the server's client (`provider_http_client`: pooled, a request's head and body in one write, on
  asyncio's own transports: `server.backends.network`);
- the same on httpx's own network backend (anyio's streams): what the server used before;
- a pooled plain `httpx.AsyncClient` (connections reused, head and body written apart);
- a client that keeps no connection (a new TCP connection per call: what a stream left unread
  used to cost).
Reported: per-call time and this process's CPU per call (min and median over `--runs`; CPU
moves less with the machine's load than time), the saving per call of reuse (plain pooled
against new connections), of the single write (the anyio client against plain pooled) and of
asyncio's transports (the server's client against the anyio one), and the connections the
provider accepted for the server's client's calls (1: reused).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import time
import urllib.request
from pathlib import Path

import httpcore
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_makespan import external_loopback  # noqa: E402

from server.backends.http_client import CoalescingBackend, provider_http_client  # noqa: E402
from server.backends.registry import BACKENDS  # noqa: E402
from tests.backends.helpers import make_request  # noqa: E402

PROTOCOLS = ("openai", "anthropic", "ollama")
KINDS = ("server", "anyio", "plain", "fresh")


def _connections(url: str) -> int:
    with urllib.request.urlopen(url + "/_loopback/stats", timeout=5) as response:  # noqa: S310 - loopback
        return int(json.loads(response.read())["connections"])


def _client(kind: str) -> httpx.AsyncClient:
    if kind in ("server", "anyio"):
        client = provider_http_client(100, 20)  # httpx's default limits
        if kind == "anyio":  # the server's client before asyncio's transports: httpx's own backend
            client._transport._pool._network_backend = CoalescingBackend(httpcore.AnyIOBackend())  # type: ignore[attr-defined]
        return client
    return httpx.AsyncClient(limits=httpx.Limits() if kind == "plain" else httpx.Limits(max_keepalive_connections=0))


async def _one_run(url: str, protocol: str, calls: int, block: int = 20) -> tuple[dict[str, float], dict[str, float]]:
    """Mean ms per call of each client over `calls` calls, and this process's CPU ms per call, in
    interleaved blocks of `block` (the machine's drift falls on all of them alike)."""
    base = url + "/v1" if protocol == "openai" else url
    api_key = None if protocol == "ollama" else "sk-bench"
    fields = {"tier": "local"} if protocol == "ollama" else None
    request = make_request(base, protocol=protocol, api_key=api_key, model_fields=fields)
    spent = dict.fromkeys(KINDS, 0.0)
    cpu = dict.fromkeys(KINDS, 0.0)
    async with contextlib.AsyncExitStack() as stack:
        backends = {kind: BACKENDS[protocol](await stack.enter_async_context(_client(kind))) for kind in KINDS}
        for backend in backends.values():
            await backend.complete(request)  # warm-up (imports, first connection)
        for done in range(0, calls, block):
            for kind, backend in backends.items():
                start, start_cpu = time.perf_counter(), time.process_time()
                for _ in range(min(block, calls - done)):
                    await backend.complete(request)
                spent[kind] += time.perf_counter() - start
                cpu[kind] += time.process_time() - start_cpu
    return ({kind: seconds * 1000.0 / calls for kind, seconds in spent.items()},
            {kind: seconds * 1000.0 / calls for kind, seconds in cpu.items()})


async def _server_connections(url: str, protocol: str, calls: int) -> int:
    """TCP connections the provider accepted for `calls` sequential calls of the server's client."""
    base = url + "/v1" if protocol == "openai" else url
    api_key = None if protocol == "ollama" else "sk-bench"
    fields = {"tier": "local"} if protocol == "ollama" else None
    request = make_request(base, protocol=protocol, api_key=api_key, model_fields=fields)
    before = await asyncio.to_thread(_connections, url)
    async with _client("server") as client:
        backend = BACKENDS[protocol](client)
        for _ in range(calls):
            await backend.complete(request)
    return await asyncio.to_thread(_connections, url) - before - 1  # the stats request has its own


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--latency", type=float, default=0.0, help="the provider's latency, seconds")
    args = parser.parse_args()
    with external_loopback("--text", "a few words of answer", "--chunks", "4", "--latency", str(args.latency)) as url:
        for protocol in PROTOCOLS:
            opened = asyncio.run(_server_connections(url, protocol, args.calls))
            runs = [asyncio.run(_one_run(url, protocol, args.calls)) for _ in range(args.runs)]
            server, anyio, reused, fresh = ([r[0][kind] for r in runs] for kind in KINDS)
            cpu = {kind: [r[1][kind] for r in runs] for kind in KINDS}
            print(
                f"{protocol:9s} per streamed call, min/median ms: server's client {_mm(server)} | on anyio "
                f"{_mm(anyio)} | plain httpx pooled {_mm(reused)} | new connection each {_mm(fresh)}\n"
                f"          CPU per call, ms: server's client {_mm(cpu['server'])} | on anyio {_mm(cpu['anyio'])} | "
                f"plain httpx pooled {_mm(cpu['plain'])}\n"
                f"          reuse saves {_mm(_minus(fresh, reused))} ms per call "
                f"(pooled/new {_mm(_ratio(reused, fresh), 2)}); one write saves {_mm(_minus(reused, anyio))} ms "
                f"(anyio/plain {_mm(_ratio(anyio, reused), 2)}); asyncio's transports save "
                f"{_mm(_minus(anyio, server))} ms, CPU {_mm(_minus(cpu['anyio'], cpu['server']))} ms "
                f"(server/anyio {_mm(_ratio(server, anyio), 2)}, CPU {_mm(_ratio(cpu['server'], cpu['anyio']), 2)}); "
                f"connections the server's client opened for {args.calls} calls: {opened}"
            )


def _minus(a: list[float], b: list[float]) -> list[float]:
    return [x - y for x, y in zip(a, b, strict=True)]


def _ratio(a: list[float], b: list[float]) -> list[float]:
    return [x / y for x, y in zip(a, b, strict=True)]


def _mm(values: list[float], digits: int = 3) -> str:
    return f"{min(values):.{digits}f}/{statistics.median(values):.{digits}f}"


if __name__ == "__main__":
    main()
