"""LiteLLM's Router against the loopback provider: per-request latencies, printed as JSON.

Run by `bench_vs_litellm.py` in LiteLLM's own virtual environment (never the project's), so
it imports only the standard library and litellm. One Router with one deployment pointing at
the loopback's OpenAI-compatible endpoint; each request is one streamed `acompletion` read to
its last chunk, as our engine streams by default. The answer on stdout's last line:
{"litellm": version, "latencies": {"<concurrency>": [seconds, ...]}}.

    <litellm venv>/bin/python bench/litellm_router_child.py URL --requests 200 --concurrencies 1,16
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import time
from importlib.metadata import version
from typing import Any

# Set before litellm is imported: use the cost map shipped in the package (no network), no telemetry.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_TELEMETRY", "False")

import litellm  # noqa: E402

litellm.telemetry = False
litellm.suppress_debug_info = True
logging.getLogger("LiteLLM").setLevel(logging.WARNING)
logging.getLogger("LiteLLM Router").setLevel(logging.WARNING)


async def one(router: Any, index: int) -> float:
    start = time.perf_counter()
    response = await router.acompletion(
        model="loop", stream=True, max_tokens=256,
        messages=[{"role": "user", "content": f"Write function f{index}"}],
    )
    async for _ in response:
        pass
    return time.perf_counter() - start


async def level(router: Any, requests: int, concurrency: int) -> list[float]:
    """`requests` calls, `concurrency` at a time (each worker sends its share one after another)."""
    latencies: list[float] = []
    counter = iter(range(requests))

    async def worker() -> None:
        for index in counter:
            latencies.append(await one(router, index))

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


async def main_async(url: str, requests: int, concurrencies: list[int], warmup: int) -> dict[str, list[float]]:
    router = litellm.Router(model_list=[{
        "model_name": "loop",
        "litellm_params": {"model": "openai/fast-a", "api_base": url + "/v1", "api_key": "test-key-a"},
    }])
    out: dict[str, list[float]] = {}
    for concurrency in concurrencies:
        await level(router, warmup, concurrency)
        out[str(concurrency)] = await level(router, requests, concurrency)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("url")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrencies", default="1,16")
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args()
    latencies = asyncio.run(main_async(args.url, args.requests, [int(c) for c in args.concurrencies.split(",")],
                                       args.warmup))
    print(json.dumps({"litellm": version("litellm"), "latencies": latencies}), flush=True)


if __name__ == "__main__":
    main()
