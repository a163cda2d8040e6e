"""The loopback provider itself: scripting, enforced limits, recording, and running alone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from server.backends.base import Usage
from tests.support import LoopbackProvider, RecordedRequest, Reply, Respond, Status

REPO = Path(__file__).resolve().parents[2]
CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": False}


def test_usable_from_sync_code_and_records_requests() -> None:
    with LoopbackProvider() as lp, httpx.Client(base_url=lp.base_url) as http:
        answer = http.post("/v1/chat/completions", json=CHAT, headers={"x-test": "1"})
        assert answer.status_code == 200
        assert answer.json()["choices"][0]["message"]["content"] == "ok"
        assert lp.wait_for_requests(1, timeout=5)
        (seen,) = lp.requests
        assert (seen.path, seen.model, seen.status, seen.headers["x-test"]) == (
            "/v1/chat/completions",
            "m",
            200,
            "1",
        )


def test_enforced_rpm_answers_429_once_full_and_always_sends_limit_headers(lp: LoopbackProvider) -> None:
    lp.configure("m", rpm=3)
    with httpx.Client(base_url=lp.base_url) as http:
        answers = [http.post("/v1/chat/completions", json=CHAT) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["x-ratelimit-remaining-requests"] for a in answers] == ["2", "1", "0", "0"]
    assert all(a.headers["x-ratelimit-limit-requests"] == "3" for a in answers)
    refused = answers[-1]
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert 0 < int(refused.headers["retry-after-ms"]) <= 60_001
    assert lp.count_429 == 1


def test_scripted_queue_then_default(lp: LoopbackProvider) -> None:
    lp.script("m", [Status(500), Reply("second")], default=Reply("later"))
    with httpx.Client(base_url=lp.base_url) as http:
        codes = [http.post("/v1/chat/completions", json=CHAT) for _ in range(3)]
    assert [c.status_code for c in codes] == [500, 200, 200]
    assert [c.json().get("choices", [{}])[0].get("message", {}).get("content") for c in codes[1:]] == [
        "second",
        "later",
    ]


def test_callback_answers_from_the_prompt(lp: LoopbackProvider) -> None:
    def echo(request: RecordedRequest) -> Reply:
        return Reply(request.prompt.upper(), usage=Usage(input_tokens=1, output_tokens=1))

    lp.set_default(Respond(echo))
    with httpx.Client(base_url=lp.base_url) as http:
        answer = http.post("/v1/chat/completions", json=CHAT)
    assert answer.json()["choices"][0]["message"]["content"] == "HI"


def test_seeded_failure_probability_is_repeatable() -> None:
    def run() -> list[int]:
        with LoopbackProvider(fail_probability=0.5, seed=7) as lp, httpx.Client(base_url=lp.base_url) as http:
            return [http.post("/v1/chat/completions", json=CHAT).status_code for _ in range(12)]

    first = run()
    assert first == run()
    assert set(first) == {200, 500}


def test_required_key_is_checked_and_echoed_like_a_careless_provider(lp: LoopbackProvider) -> None:
    lp.api_key = "right-key"
    with httpx.Client(base_url=lp.base_url) as http:
        wrong = http.post("/v1/chat/completions", json=CHAT, headers={"authorization": "Bearer wrong-key"})
        right = http.post("/v1/chat/completions", json=CHAT, headers={"authorization": "Bearer right-key"})
    assert wrong.status_code == 401 and "wrong-key" in wrong.text
    assert right.status_code == 200


def test_models_and_tags_list_the_known_models(lp: LoopbackProvider) -> None:
    lp.script("alpha", [])
    with httpx.Client(base_url=lp.base_url) as http:
        assert http.get("/v1/models").json()["data"] == [{"id": "alpha", "object": "model"}]
        assert http.get("/api/tags").json()["models"] == [{"name": "alpha", "model": "alpha"}]


def test_runs_alone_in_another_process() -> None:
    command = [sys.executable, "-m", "tests.support.loopback_provider", "--latency", "0", "--rpm", "600"]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, text=True)  # noqa: S603
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("LOOPBACK_URL ")
        base_url = line.split()[1]
        with httpx.Client(base_url=base_url) as http:
            assert http.post("/v1/chat/completions", json=CHAT).status_code == 200
            stats = http.get("/_loopback/stats").json()
        assert stats["statuses"] == {"200": 1}
    finally:
        process.terminate()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()
