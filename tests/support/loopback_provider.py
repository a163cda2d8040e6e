"""A real HTTP model provider on 127.0.0.1, scriptable per model, for tests and benchmarks.

One uvicorn server (raw ASGI app, no per-request threads) runs in a background thread and speaks:

    POST /v1/chat/completions, /api/v1/chat/completions   OpenAI-compatible (JSON and SSE)
    POST /v1/messages                                     Anthropic Messages (JSON and SSE)
    POST /api/chat                                        Ollama native (JSON and NDJSON)
    GET  /api/v1/generation?id=                           OpenRouter's generation cost
    GET  /v1/models, /api/tags, /api/version              model lists (OpenAI, Ollama)
    GET  /_loopback/stats                                 counters, for multi-process benchmarks

    with LoopbackProvider(latency=0.01) as lp:
        lp.script("model-x", [Status(429, retry_after=1), Reply("hello")])
        ... point a provider at lp.openai_url / lp.base_url ...
        assert lp.count_429 == 1

Each model has a queue of behaviours, then a default (`Reply()` unless set). Optional per model
or server-wide: a fixed latency, a seeded failure probability (or, server-wide, a `fault_mix` of
(probability, behaviour) pairs), and an enforced requests-per-minute limit (a sliding window:
429 with Retry-After once full; x-ratelimit-* headers on every answer).
Every request is recorded (path, headers, JSON body, time, status, peer address) for assertions;
`connections` counts the TCP connections the server has accepted (one per distinct peer).

Run alone for multi-process benchmarks:
    python -m tests.support.loopback_provider --port 8931 --latency 0.05 --rpm 600
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import math
import random
import socket
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import uvicorn

from tests.support.loopback_wire import (
    Behaviour,
    Hang,
    Malformed,
    Protocol,
    RecordedRequest,
    Reply,
    Respond,
    Status,
    StreamError,
    Truncate,
    raw_headers,
    render,
    render_status,
)

__all__ = [
    "Behaviour",
    "Hang",
    "LoopbackProvider",
    "Malformed",
    "RecordedRequest",
    "Reply",
    "Respond",
    "STORM",
    "Status",
    "StreamError",
    "Truncate",
]

# The misbehaviour of real providers under load, as a `fault_mix`.
STORM: tuple[tuple[float, Behaviour], ...] = (
    (0.10, Status(503)), (0.05, Hang(3600)), (0.05, Truncate(after_chunks=1)), (0.05, Malformed()),
)

Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]


class _Window:
    """A sliding-window request limiter (what a provider's RPM limit looks like from outside)."""

    def __init__(self, rpm: float, window_s: float) -> None:
        self.limit = max(1, int(rpm * window_s / 60.0))
        self.window_s = window_s
        self.times: deque[float] = deque()

    def admit(self, now: float) -> float | None:
        """None if admitted (and counted), else seconds until a slot frees."""
        while self.times and self.times[0] <= now - self.window_s:
            self.times.popleft()
        if len(self.times) >= self.limit:
            return self.times[0] + self.window_s - now
        self.times.append(now)
        return None

    def headers(self, now: float, anthropic: bool) -> dict[str, str]:
        remaining = max(0, self.limit - len(self.times))
        reset = max(0.0, self.times[0] + self.window_s - now) if self.times else 0.0
        if anthropic:
            at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=reset)
            return {
                "anthropic-ratelimit-requests-limit": str(self.limit),
                "anthropic-ratelimit-requests-remaining": str(remaining),
                "anthropic-ratelimit-requests-reset": at.isoformat().replace("+00:00", "Z"),
            }
        minutes, seconds = divmod(reset, 60.0)
        text = f"{int(minutes)}m{seconds:.3f}s" if minutes else f"{seconds:.3f}s"
        return {
            "x-ratelimit-limit-requests": str(self.limit),
            "x-ratelimit-remaining-requests": str(remaining),
            "x-ratelimit-reset-requests": text,
        }


@dataclass
class _Model:
    queue: deque[Behaviour] = field(default_factory=deque)
    default: Behaviour | None = None
    latency: float | None = None
    fail_probability: float = 0.0
    fail_with: Behaviour = field(default_factory=lambda: Status(500))
    window: _Window | None = None


class _AbortFilter(logging.Filter):
    """Hide uvicorn's complaint about the connections we drop on purpose (Truncate)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "returned without completing response" not in record.getMessage()


_COMPLETION_PATHS: dict[str, Protocol] = {
    "/v1/chat/completions": "openai",
    "/api/v1/chat/completions": "openai",
    "/chat/completions": "openai",
    "/v1/messages": "anthropic",
    "/api/chat": "ollama",
}


class LoopbackProvider:
    """The server; use as a context manager, or `start()` / `stop()`."""

    def __init__(
        self,
        *,
        latency: float = 0.0,
        rpm: float | None = None,
        rpm_window_s: float = 60.0,
        fail_probability: float = 0.0,
        fail_with: Behaviour | None = None,
        fault_mix: Iterable[tuple[float, Behaviour]] = (),
        seed: int = 0,
        api_key: str | None = None,
        models: Iterable[str] = (),
        host: str = "127.0.0.1",
        port: int = 0,
        record: bool = True,
    ) -> None:
        self.host, self._port = host, port
        self.latency = latency
        self.fail_probability = fail_probability
        self.fail_with: Behaviour = fail_with or Status(500)
        # (probability, behaviour) pairs drawn once per request after the rate limit: a fault mix.
        self.fault_mix: list[tuple[float, Behaviour]] = list(fault_mix)
        self.api_key = api_key  # when set, requests without it get 401 (echoing what was sent)
        self.record = record
        self._rpm_window_s = rpm_window_s
        self._window = _Window(rpm, rpm_window_s) if rpm else None
        self._models: dict[str, _Model] = {name: _Model() for name in models}
        self._default: Behaviour = Reply()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._arrived = threading.Condition(self._lock)
        self._generations: dict[str, dict[str, Any]] = {}
        self._statuses: dict[int, int] = {}
        self._peers: set[tuple[str, int]] = set()
        self._counter = 0
        self._total = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._filter = _AbortFilter()

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> LoopbackProvider:
        # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets whose proto
        # says TCP, and without it every keep-alive answer waits ~40 ms for a delayed ACK.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((self.host, self._port))
        self._port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            interface="asgi3",
            proxy_headers=False,
            timeout_graceful_shutdown=1,
            log_config=None,
            backlog=2048,
        )
        self._server = uvicorn.Server(config)
        logging.getLogger("uvicorn.error").addFilter(self._filter)
        started = threading.Event()

        def run() -> None:
            async def serve() -> None:
                self._loop = asyncio.get_running_loop()
                self._stopping = asyncio.Event()
                started.set()
                assert self._server is not None
                await self._server.serve(sockets=[sock])

            asyncio.run(serve())

        self._thread = threading.Thread(target=run, name=f"loopback-provider-{self._port}", daemon=True)
        self._thread.start()
        started.wait(10)
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("loopback provider did not start")
            time.sleep(0.002)
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
        logging.getLogger("uvicorn.error").removeFilter(self._filter)
        self._server = None

    def __enter__(self) -> LoopbackProvider:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def base_url(self) -> str:
        """Server root: Anthropic and Ollama base URL."""
        return f"http://{self.host}:{self._port}"

    @property
    def openai_url(self) -> str:
        return self.base_url + "/v1"

    @property
    def openrouter_url(self) -> str:
        return self.base_url + "/api/v1"

    # -- scripting -------------------------------------------------------------------------

    def _model(self, name: str) -> _Model:
        return self._models.setdefault(name, _Model())

    def script(self, model: str, behaviours: Iterable[Behaviour], default: Behaviour | None = None) -> None:
        """Queue behaviours for `model` (served in order), then `default` (if given) forever."""
        with self._lock:
            entry = self._model(model)
            entry.queue.extend(behaviours)
            if default is not None:
                entry.default = default

    def set_default(self, behaviour: Behaviour, model: str | None = None) -> None:
        """The behaviour once a model's queue is empty (for every model when `model` is None)."""
        with self._lock:
            if model is None:
                self._default = behaviour
            else:
                self._model(model).default = behaviour

    def configure(
        self,
        model: str,
        *,
        latency: float | None = None,
        fail_probability: float | None = None,
        fail_with: Behaviour | None = None,
        rpm: float | None = None,
    ) -> None:
        with self._lock:
            entry = self._model(model)
            if latency is not None:
                entry.latency = latency
            if fail_probability is not None:
                entry.fail_probability = fail_probability
            if fail_with is not None:
                entry.fail_with = fail_with
            if rpm is not None:
                entry.window = _Window(rpm, self._rpm_window_s)

    def set_generation_cost(self, generation_id: str, cost: float) -> None:
        with self._lock:
            self._generations[generation_id] = {"id": generation_id, "total_cost": cost}

    def reset(self) -> None:
        """Forget scripts, limits, records and counters (the server keeps running)."""
        with self._lock:
            self._models.clear()
            self._default = Reply()
            self._requests.clear()
            self._total = 0
            self._generations.clear()
            self._statuses.clear()
            self._peers.clear()
            self.latency, self.fail_probability, self.api_key = 0.0, 0.0, None
            self._window = None

    # -- observing -------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def requests_for(self, model: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.model == model]

    @property
    def count_429(self) -> int:
        with self._lock:
            return self._statuses.get(429, 0)

    @property
    def connections(self) -> int:
        """TCP connections accepted since the start (or the last `reset`): a client that reuses
        its connections keeps this at its pool size."""
        with self._lock:
            return len(self._peers)

    def status_counts(self) -> dict[int, int]:
        with self._lock:
            return dict(self._statuses)

    def wait_for_requests(self, count: int, timeout: float = 10.0) -> bool:
        """Block until `count` requests have arrived (True) or `timeout` passes (False)."""
        with self._arrived:
            return self._arrived.wait_for(lambda: len(self._requests) >= count, timeout)

    # -- the ASGI app ----------------------------------------------------------------------

    async def _app(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        raw = b"".join(chunks)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        path, method = scope["path"], scope["method"]
        recorded = RecordedRequest(
            method,
            path,
            scope.get("query_string", b"").decode(),
            headers,
            body,
            time.time(),
            time.monotonic(),
        )
        protocol = _COMPLETION_PATHS.get(path) if method == "POST" else None
        recorded.protocol = protocol
        client = scope.get("client")
        recorded.client = (str(client[0]), int(client[1])) if client else None
        with self._arrived:
            self._total += 1
            if recorded.client is not None:
                self._peers.add(recorded.client)
            if self.record:
                self._requests.append(recorded)
            self._arrived.notify_all()
        if protocol is not None:
            await self._completion(protocol, recorded, receive, send)
        else:
            await self._other(recorded, send)

    async def _other(self, req: RecordedRequest, send: Send) -> None:
        if req.path in ("/api/v1/generation", "/v1/generation", "/generation"):
            gen_id = parse_qs(req.query).get("id", [""])[0]
            with self._lock:
                data = self._generations.get(gen_id)
            if data is None:
                await self._json(send, req, 404, {"error": {"message": "Generation not found", "code": 404}})
            else:
                await self._json(send, req, 200, {"data": data})
        elif req.path in ("/v1/models", "/api/v1/models", "/models"):
            names = sorted(self._models)
            await self._json(
                send, req, 200, {"object": "list", "data": [{"id": n, "object": "model"} for n in names]}
            )
        elif req.path == "/api/tags":
            names = sorted(self._models)
            await self._json(send, req, 200, {"models": [{"name": n, "model": n} for n in names]})
        elif req.path == "/api/version":
            await self._json(send, req, 200, {"version": "0.0.0-loopback"})
        elif req.path == "/_loopback/stats":
            with self._lock:
                stats = {
                    "requests": self._total,
                    "statuses": {str(k): v for k, v in self._statuses.items()},
                    "connections": len(self._peers),
                }
            await self._json(send, req, 200, stats)
        else:
            await self._json(send, req, 404, {"error": {"message": f"no route {req.path}"}})

    def _choose(self, req: RecordedRequest) -> tuple[Behaviour, float, dict[str, str]]:
        """Under the lock: the behaviour, the latency, and the rate-limit headers."""
        anthropic = req.protocol == "anthropic"
        model = req.model or ""
        now = time.monotonic()
        with self._lock:
            entry = self._model(model)
            window = entry.window or self._window
            if self.api_key is not None:
                given = req.headers.get("x-api-key") or req.headers.get("authorization", "").removeprefix(
                    "Bearer "
                )
                if given != self.api_key:
                    return Status(401, message=f"Incorrect API key provided: {given}"), 0.0, {}
            if window is not None:
                wait = window.admit(now)
                limit_headers = window.headers(now, anthropic)
                if wait is not None:
                    limit_headers["retry-after"] = str(max(1, math.ceil(wait)))
                    limit_headers["retry-after-ms"] = str(int(wait * 1000) + 1)
                    return Status(429, message="Rate limit reached for requests"), 0.0, limit_headers
            else:
                limit_headers = {}
            behaviour: Behaviour = entry.queue.popleft() if entry.queue else (entry.default or self._default)
            probability = entry.fail_probability or self.fail_probability
            if probability and self._rng.random() < probability:
                behaviour = entry.fail_with if entry.fail_probability else self.fail_with
            elif self.fault_mix:
                draw = self._rng.random()
                for chance, fault in self.fault_mix:
                    if draw < chance:
                        behaviour = fault
                        break
                    draw -= chance
            latency = entry.latency if entry.latency is not None else self.latency
        for _ in range(8):
            if not isinstance(behaviour, Respond):
                break
            behaviour = behaviour.fn(req)
        return behaviour, latency, limit_headers

    async def _completion(
        self, protocol: Protocol, req: RecordedRequest, receive: Receive, send: Send
    ) -> None:
        behaviour, latency, limit_headers = self._choose(req)
        if latency > 0 and not isinstance(behaviour, Status):
            await asyncio.sleep(latency)
        if isinstance(behaviour, Hang) and behaviour.after_chunks is None:
            if not await self._pause(behaviour.seconds, receive):
                return
            behaviour = behaviour.then
        stream = isinstance(req.json, dict) and bool(req.json.get("stream", protocol == "ollama"))
        if isinstance(behaviour, Status):
            await self._status(protocol, req, behaviour, limit_headers, send)
            return
        if isinstance(behaviour, StreamError) and not stream:
            status = Status(behaviour.code, message=behaviour.message, error_type=behaviour.error_type)
            await self._status(protocol, req, status, limit_headers, send)
            return
        events, content_type, gen_id = render(protocol, behaviour, req, self._next_id(), stream)
        if isinstance(behaviour, Reply) and behaviour.cost is not None:
            with self._lock:
                self._generations.setdefault(gen_id, {"id": gen_id, "total_cost": behaviour.cost})
        headers = {"content-type": content_type, **limit_headers}
        if isinstance(behaviour, Reply):
            headers.update(behaviour.headers)
        self._note_status(req, 200)
        await send({"type": "http.response.start", "status": 200, "headers": raw_headers(headers)})
        stop_after = behaviour.after_chunks if isinstance(behaviour, Truncate) else None
        delay = behaviour.chunk_delay if isinstance(behaviour, Reply) else 0.0
        for index, event in enumerate(events):
            if isinstance(behaviour, Hang) and index == behaviour.after_chunks:
                if not await self._pause(behaviour.seconds, receive):
                    return
            if index == stop_after:
                if isinstance(behaviour, Truncate) and behaviour.abort:
                    return  # uvicorn drops the connection mid-body
                break
            if delay and index:
                await asyncio.sleep(delay)
            await send({"type": "http.response.body", "body": event, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    def _next_id(self) -> int:
        with self._lock:
            self._counter += 1
            return self._counter

    async def _pause(self, seconds: float, receive: Receive) -> bool:
        """Wait `seconds`; False if the client went away (or the server is stopping) first."""
        assert self._stopping is not None

        async def gone() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass

        waiters = [asyncio.ensure_future(gone()), asyncio.ensure_future(self._stopping.wait())]
        done, pending = await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        return not done

    async def _status(
        self, protocol: Protocol, req: RecordedRequest, status: Status, extra: dict[str, str], send: Send
    ) -> None:
        body = render_status(protocol, status)
        headers = {"content-type": "application/json", **extra, **status.headers}
        if status.retry_after is not None:
            headers["retry-after"] = str(status.retry_after)
        if status.retry_after_ms is not None:
            headers["retry-after-ms"] = str(status.retry_after_ms)
        self._note_status(req, status.code)
        await send({"type": "http.response.start", "status": status.code, "headers": raw_headers(headers)})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    async def _json(self, send: Send, req: RecordedRequest, code: int, data: Any) -> None:
        self._note_status(req, code)
        body = json.dumps(data).encode()
        await send(
            {
                "type": "http.response.start",
                "status": code,
                "headers": raw_headers({"content-type": "application/json"}),
            }
        )
        await send({"type": "http.response.body", "body": body, "more_body": False})

    def _note_status(self, req: RecordedRequest, code: int) -> None:
        with self._lock:
            req.status = code
            self._statuses[code] = self._statuses.get(code, 0) + 1


def main(argv: list[str] | None = None) -> None:
    """Serve until interrupted, for benchmarks run in other processes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--rpm", type=float, default=None, help="enforced requests per minute")
    parser.add_argument("--rpm-window", type=float, default=60.0, help="sliding window in seconds")
    parser.add_argument("--fail-probability", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--text", default="ok")
    parser.add_argument("--chunks", type=int, default=3)
    parser.add_argument("--models", default="", help="comma-separated model names for --model-rpm")
    parser.add_argument("--model-rpm", type=float, default=None, help="enforced requests per minute per model")
    parser.add_argument("--storm", action="store_true",
                        help="fault mix: 10%% 503, 5%% hangs, 5%% cut streams, 5%% garbage bodies")
    args = parser.parse_args(argv)
    provider = LoopbackProvider(
        latency=args.latency,
        rpm=args.rpm,
        rpm_window_s=args.rpm_window,
        fail_probability=args.fail_probability,
        fault_mix=STORM if args.storm else (),
        seed=args.seed,
        host=args.host,
        port=args.port,
        record=False,
    )
    provider.set_default(Reply(args.text, chunks=args.chunks))
    for name in filter(None, args.models.split(",")):
        provider.configure(name, rpm=args.model_rpm)
    with provider:
        print(f"LOOPBACK_URL {provider.base_url}", flush=True)
        stop = threading.Event()
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
