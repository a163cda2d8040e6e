"""`report`, `models list | test | sync` and `doctor`, run as the installed command would be."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from server.settings import load_settings
from server.store import Store
from tests.conftest import isolated_env
from tests.perf.catalog_fixture import write_catalog
from tests.perf.seed import seed, simulate
from tests.support.loopback_provider import LoopbackProvider, Reply

SECRET = "sk-test-never-printed-1234567890"


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own entry point, argument list, no shell
        [sys.executable, "-m", "server", *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_report_prints_the_same_totals_as_the_attempts_table(tmp_path: Path) -> None:
    env = isolated_env(tmp_path, PWM_MANIFESTS=str(tmp_path / "manifests"))
    catalog = write_catalog(tmp_path / "manifests")
    settings = load_settings(env)
    now = time.time()

    async def fill() -> None:
        store = await Store.open(settings.db_path)
        try:
            await seed(store, catalog, simulate(catalog, 200, end=now, days=10))
        finally:
            await store.close()

    asyncio.run(fill())
    done = _cli(env, "report", "--days", "7", "--group-by", "model", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    with sqlite3.connect(settings.db_path) as conn:
        calls, spend = conn.execute(
            "SELECT COUNT(*), SUM(charged_usd) FROM attempts WHERE started_at >= ?", (now - 7 * 86400,)
        ).fetchone()
    # The CLI ran a moment after `now`: nothing new was recorded in between.
    assert report["totals"]["calls"] == calls
    assert report["totals"]["spend_usd"] == pytest.approx(spend, abs=1e-6)

    text = _cli(env, "report", "7")  # the seed's own spelling
    assert text.returncode == 0, text.stderr
    assert "Cost and performance, last 7 days (by model)" in text.stdout
    assert "saving vs the quality model" in text.stdout and "Recommendations" in text.stdout
    assert "loop/flaky" in text.stdout

    bad = _cli(env, "report", "--days", "0")
    assert bad.returncode == 1 and "days" in bad.stderr


def test_models_list_filters_by_tier_provider_capability_and_price(tmp_path: Path) -> None:
    env = isolated_env(tmp_path, PWM_MANIFESTS=str(tmp_path / "manifests"))
    write_catalog(tmp_path / "manifests")
    done = _cli(env, "models", "list", "--provider", "loopback", "--max-price", "4", "--capability", "code",
                "--min-score", "6", "--json")
    assert done.returncode == 0, done.stderr
    ids = [m["id"] for m in json.loads(done.stdout)]
    assert ids == ["loop/mid", "loop/flaky", "loop/cheap"]  # best code score first; premium over price
    local = json.loads(_cli(env, "models", "list", "--tier", "local", "--provider", "loopback", "--json").stdout)
    assert [m["id"] for m in local] == ["loop/local"]
    unknown = _cli(env, "models", "list", "--provider", "nowhere")
    assert unknown.returncode == 1 and "--provider" in unknown.stderr


def test_models_test_makes_one_real_call_and_prints_latency_and_cost(tmp_path: Path) -> None:
    write_catalog(tmp_path / "manifests")
    with LoopbackProvider(latency=0.05) as lp:
        lp.set_default(Reply(text="ready"))
        env = isolated_env(tmp_path, PWM_MANIFESTS=str(tmp_path / "manifests"), LOOPBACK_BASE_URL=lp.openai_url,
                           LOOPBACK_API_KEY=SECRET)
        done = _cli(env, "models", "test", "loop/mid", "--json")
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)
        assert result["ok"] and result["reply"] == "ready"
        assert result["latency_s"] >= 0.05 and result["cost_source"] == "catalog" and result["cost_usd"] > 0
        assert len(lp.requests_for("mid")) == 1
        text = _cli(env, "models", "test", "mid")
        assert "loop/mid: ok in" in text.stdout and "cost $" in text.stdout
    assert SECRET not in done.stdout + done.stderr + text.stdout + text.stderr
    missing = _cli(isolated_env(tmp_path, PWM_MANIFESTS=str(tmp_path / "manifests")), "models", "test", "loop/mid")
    assert missing.returncode == 1 and "LOOPBACK_API_KEY" in missing.stdout


OPENROUTER_MODELS = {
    "data": [
        {"id": "openai/gpt-4o-mini", "context_length": 256000,
         "pricing": {"prompt": "0.0000002", "completion": "0.0000008", "input_cache_read": "0.0000001"},
         "top_provider": {"context_length": 256000, "max_completion_tokens": 32000}},
        {"id": "openrouter/auto", "context_length": 2000000, "pricing": {"prompt": "-1", "completion": "-1"}},
    ]
}


@contextmanager
def _openrouter_list() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            body = json.dumps(OPENROUTER_MODELS).encode() if self.path == "/api/v1/models" else b"{}"
            self.send_response(200 if self.path == "/api/v1/models" else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/v1"
    finally:
        server.shutdown()
        server.server_close()


def test_models_sync_caches_openrouter_prices_over_the_shipped_manifest(tmp_path: Path) -> None:
    with _openrouter_list() as base:
        env = isolated_env(tmp_path, OPENROUTER_BASE_URL=base)
        done = _cli(env, "models", "sync", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["listed"] == 2  # openrouter/auto kept, its variable price left out
    change = next(c for c in result["changes"] if c["model_id"] == "openrouter/openai/gpt-4o-mini")
    assert change["input_per_mtok"]["to"] == pytest.approx(0.2)
    assert change["context_window"] == {"from": 128000, "to": 256000}
    assert Path(result["cache"]).is_file() and Path(result["cache"]).parent == Path(env["XDG_DATA_HOME"]) / "parallel-work-manager"
    listed = json.loads(_cli(env, "models", "list", "--provider", "openrouter", "--json").stdout)
    mini = next(m for m in listed if m["id"] == "openrouter/openai/gpt-4o-mini")
    assert (mini["input_per_mtok"], mini["output_per_mtok"], mini["context_window"]) == (0.2, 0.8, 256000)
    assert "synced" in mini["price_source"]
    # Without the cache the shipped manifest is the offline default.
    Path(result["cache"]).unlink()
    listed = json.loads(_cli(env, "models", "list", "--provider", "openrouter", "--json").stdout)
    assert next(m for m in listed if m["id"] == "openrouter/openai/gpt-4o-mini")["input_per_mtok"] == 0.15


def test_doctor_names_keys_without_values_and_checks_providers_and_database(tmp_path: Path) -> None:
    write_catalog(tmp_path / "manifests")
    with LoopbackProvider() as lp:
        env = isolated_env(tmp_path, PWM_MANIFESTS=str(tmp_path / "manifests"), LOOPBACK_BASE_URL=lp.openai_url,
                           LOOPBACK_API_KEY=SECRET, OLLAMA_HOST=lp.base_url)
        settings = load_settings(env)
        asyncio.run(_open_and_close(settings.db_path))
        done = _cli(env, "doctor", "--json", "--timeout", "1")
    assert SECRET not in done.stdout + done.stderr
    checks = {(c["area"], c["name"]): c for c in json.loads(done.stdout)["checks"]}
    assert checks[("keys", "loopback")]["detail"] == "LOOPBACK_API_KEY is set"
    assert checks[("keys", "openai")]["status"] == "warn" and "OPENAI_API_KEY is not set" in checks[("keys", "openai")]["detail"]
    assert checks[("providers", "loopback")]["status"] == "ok"
    assert checks[("providers", "ollama")]["status"] == "ok"
    # A missing key is said once, under keys: the provider is not listed again under providers.
    assert ("providers", "openai") not in checks
    assert sum(1 for area, name in checks if name == "openai") == 1
    assert checks[("database", str(settings.db_path))]["status"] == "ok"
    assert "healthy" in checks[("database", str(settings.db_path))]["detail"]
    assert checks[("tokenizer", "tiktoken")]["status"] in ("ok", "warn")
    assert done.returncode == 0
    text = _cli({**env, "LOOPBACK_BASE_URL": "http://127.0.0.1:9/v1"}, "doctor", "--timeout", "1")
    assert "[warn] loopback: not reachable" in text.stdout and SECRET not in text.stdout


async def _open_and_close(path: Path) -> None:
    store = await Store.open(path)
    await store.close()


def test_doctor_fails_on_a_corrupt_database(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    Path(env["PWM_DB"]).write_bytes(b"this is not a database" * 100)
    done = _cli(env, "doctor", "--offline")
    assert done.returncode == 1 and "FAIL" in done.stdout


def test_models_list_prints_whole_ids_however_long(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    done = _cli(env, "models", "list")
    assert done.returncode == 0, done.stderr
    listed = json.loads(_cli(env, "models", "list", "--json").stdout)
    longest = max((m["id"] for m in listed), key=len)
    assert len(longest) > 48  # the shipped catalogue has ids longer than the old column
    rows = done.stdout.splitlines()
    assert any(line.split()[0] == longest for line in rows[1:])
    assert rows[-1] == f"{len(listed)} models"


def test_report_and_doctor_count_one_call_in_the_singular(tmp_path: Path) -> None:
    env = isolated_env(tmp_path, PWM_MANIFESTS=str(tmp_path / "manifests"))
    catalog = write_catalog(tmp_path / "manifests")
    settings = load_settings(env)

    async def fill() -> None:
        store = await Store.open(settings.db_path)
        try:
            await seed(store, catalog, simulate(catalog, 1, end=time.time(), days=1))
        finally:
            await store.close()

    asyncio.run(fill())
    doctor = _cli(env, "doctor", "--offline")
    assert "1 call recorded" in doctor.stdout, doctor.stdout
    assert "1 calls" not in doctor.stdout
