"""What connection reuse saves per streamed call, per wire protocol, against the loopback provider.

    python bench/bench_connections.py [--calls 200] [--runs 5]

The loopback provider runs in its own process (no latency). For each protocol, `--calls`
sequential streamed calls go through the real backend twice per run: once with a pooled
`httpx.AsyncClient` (connections reused, what the server does) and once with a client that keeps
no connection (a new TCP connection per call: what a stream left unread used to cost). Reported:
per-call time (min and median over `--runs`), the saving per call, the ratio reused / new, and
the connections the provider accepted (reused: 1 per run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import urllib.request
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_makespan import external_loopback  # noqa: E402

from server.backends.registry import BACKENDS  # noqa: E402
from tests.backends.helpers import make_request  # noqa: E402

PROTOCOLS = ("openai", "anthropic", "ollama")


def _connections(url: str) -> int:
    with urllib.request.urlopen(url + "/_loopback/stats", timeout=5) as response:  # noqa: S310 - loopback
        return int(json.loads(response.read())["connections"])


async def _per_call_ms(url: str, protocol: str, calls: int, *, reuse: bool) -> float:
    limits = httpx.Limits() if reuse else httpx.Limits(max_keepalive_connections=0)
    base = url + "/v1" if protocol == "openai" else url
    api_key = None if protocol == "ollama" else "sk-bench"
    fields = {"tier": "local"} if protocol == "ollama" else None
    async with httpx.AsyncClient(limits=limits) as client:
        backend = BACKENDS[protocol](client)
        request = make_request(base, protocol=protocol, api_key=api_key, model_fields=fields)
        await backend.complete(request)  # warm-up (imports, first connection)
        start = time.perf_counter()
        for _ in range(calls):
            await backend.complete(request)
        return (time.perf_counter() - start) * 1000.0 / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with external_loopback("--text", "a few words of answer", "--chunks", "4") as url:
        for protocol in PROTOCOLS:
            reused: list[float] = []
            fresh: list[float] = []
            opened: list[int] = []
            for _ in range(args.runs):
                before = _connections(url)
                reused.append(asyncio.run(_per_call_ms(url, protocol, args.calls, reuse=True)))
                opened.append(_connections(url) - before - 1)  # the stats request has its own
                fresh.append(asyncio.run(_per_call_ms(url, protocol, args.calls, reuse=False)))
            saving = [f - r for f, r in zip(fresh, reused, strict=True)]
            ratio = [r / f for f, r in zip(fresh, reused, strict=True)]
            print(
                f"{protocol:9s} per streamed call, reused: min {min(reused):.3f} ms, median "
                f"{statistics.median(reused):.3f} ms | new connection each: min {min(fresh):.3f} ms, median "
                f"{statistics.median(fresh):.3f} ms | saved per call: min {min(saving):.3f} ms, median "
                f"{statistics.median(saving):.3f} ms | ratio reused/new: min {min(ratio):.2f}, median "
                f"{statistics.median(ratio):.2f} | connections per run (reused, {args.calls + 1} calls): "
                f"{max(opened)}"
            )


if __name__ == "__main__":
    main()
