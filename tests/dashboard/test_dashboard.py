"""The `/dashboard` page: served over HTTP beside /mcp, and drawn in headless Chromium from a
seeded database (the SVG bars and labels carry the seeded models and totals)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import shutil
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from mcp.server.mcpserver import MCPServer

from server.catalog import Catalog
from server.dashboard import register_dashboard
from server.dashboard.data import axis_ticks
from server.settings import Settings
from server.state import AppState, open_app_state
from server.store import NewGroup, NewTask, Store
from tests.perf.catalog_fixture import write_catalog
from tests.perf.seed import SeedAttempt, seed

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _seed(catalog: Catalog, settings: Settings, now: float) -> None:
    rows = [SeedAttempt("loop/cheap", now - 2 * 86400 + i, latency_ms=800 + i) for i in range(6)]
    rows += [SeedAttempt("loop/premium", now - 86400 + i, variant="quality", latency_ms=3000 + 10 * i) for i in range(4)]
    rows += [SeedAttempt("loop/flaky", now - 3600 + i, status="failed" if i < 4 else "succeeded",
                         error_class="timeout" if i < 4 else None) for i in range(10)]
    store = await Store.open(settings.db_path)
    try:
        await seed(store, catalog, rows)
        tasks = [NewTask(key=f"r{i}", position=i, agent_type="aria_docs", agent="aria_docs", variant="speed",
                         agent_name="aria_docs_speed", description="x") for i in range(4)]
        group = await store.create_group(NewGroup("nightly-docs", "balanced", "code", 2), tasks)
        for task in (await store.list_tasks(group.id))[:3]:
            await store.update_task(task.id, status="succeeded")
        done = await store.create_group(NewGroup("finished-refactor", "balanced", "code", 2), tasks[:2])
        for task in await store.list_tasks(done.id):
            await store.update_task(task.id, status="succeeded")
        await store.finish_group(done.id, "succeeded")
    finally:
        await store.close()


@asynccontextmanager
async def _serve(catalog: Catalog, settings: Settings) -> AsyncIterator[str]:
    @asynccontextmanager
    async def lifespan(_: MCPServer[AppState]) -> AsyncIterator[AppState]:
        state = await open_app_state(settings, catalog)
        try:
            yield state
        finally:
            await state.aclose()

    mcp: MCPServer[AppState] = MCPServer(name="dash-test", lifespan=lifespan)
    register_dashboard(mcp)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(mcp.streamable_http_app(), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 20
    while not server.started:
        if task.done() or time.monotonic() > deadline:
            raise AssertionError("dashboard server did not start")
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 20)


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    return write_catalog(tmp_path / "manifests")


async def test_dashboard_data_matches_the_seeded_database(catalog: Catalog, settings: Settings) -> None:
    now = time.time()
    async with _serve(catalog, settings) as base, httpx.AsyncClient(timeout=10) as http:
        await _seed(catalog, settings, now)  # after start: the engine resumes none of these stand-in groups
        data = (await http.get(f"{base}/dashboard/data?days=7")).json()
        page = await http.get(f"{base}/dashboard")
        script = await http.get(f"{base}/dashboard/app.js")
        rebound = await http.get(f"{base}/dashboard/data", headers={"Host": "evil.example"})
        bad = await http.get(f"{base}/dashboard/data?days=abc")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert '<script src="/dashboard/app.js">' in page.text and "http" not in page.text.split("<body>")[1]
    assert script.status_code == 200 and "createElementNS" in script.text
    assert rebound.status_code == 421  # DNS rebinding: a foreign Host is not answered
    assert bad.status_code == 400 and "days" in bad.json()["error"]
    models = {m["model_id"]: m for m in data["models"]}
    assert set(models) == {"loop/cheap", "loop/premium", "loop/flaky"}
    assert models["loop/flaky"]["success_rate"] == pytest.approx(0.6)
    assert data["totals"]["calls"] == 20
    assert sum(d["calls"] for d in data["spend_per_day"]) == 20
    assert [g["name"] for g in data["running_groups"]] == ["nightly-docs"]
    assert data["running_groups"][0]["progress"] == pytest.approx(0.75)
    # Finished groups are listed too, newest first, with their state.
    groups = {g["name"]: g for g in data["groups"]}
    assert [g["name"] for g in data["groups"]][:2] == ["finished-refactor", "nightly-docs"]
    assert groups["finished-refactor"]["status"] == "succeeded" and groups["finished-refactor"]["progress"] == 1.0
    # Every calendar day of the period has a slot, so the time axis is even.
    days = [dt.date.fromisoformat(d["day"]) for d in data["spend_per_day"]]
    assert all(b - a == dt.timedelta(days=1) for a, b in zip(days, days[1:], strict=False))
    assert len(days) in (7, 8) and days[-1] == dt.date.fromtimestamp(now)
    # Value ticks: evenly spaced round amounts from 0 covering the busiest day.
    ticks = data["spend_axis"]
    steps = {round(b - a, 12) for a, b in zip(ticks, ticks[1:], strict=False)}
    assert ticks[0] == 0 and len(steps) == 1 and ticks[-1] >= max(d["spend_usd"] for d in data["spend_per_day"])
    (step,) = steps
    assert f"{step:.1e}"[0] in "125"  # 1, 2, 2.5 or 5 times a power of ten


@pytest.mark.parametrize(("top", "ticks"), [
    (0.0123, [0.0, 0.005, 0.01, 0.015, 0.02]),
    (7.3, [0.0, 2.0, 4.0, 6.0, 8.0]),
    (0.004, [0.0, 0.001, 0.002, 0.003, 0.004]),
    (1234.5, [0.0, 500.0, 1000.0, 1500.0, 2000.0]),
    (0.0, [0.0, 0.0025, 0.005, 0.0075, 0.01]),
])
def test_axis_ticks_are_round_and_evenly_spaced(top: float, ticks: list[float]) -> None:
    assert axis_ticks(top) == ticks


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install -y chromium)")
async def test_chromium_draws_the_seeded_data(catalog: Catalog, settings: Settings, tmp_path: Path) -> None:
    now = time.time()
    async with _serve(catalog, settings) as base:
        await _seed(catalog, settings, now)  # after start: the engine resumes none of these stand-in groups
        async with httpx.AsyncClient(timeout=10) as http:
            data = (await http.get(f"{base}/dashboard/data?days=30")).json()
        assert CHROMIUM is not None
        proc = await asyncio.create_subprocess_exec(
            CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={tmp_path / 'chromium'}", "--virtual-time-budget=5000", "--dump-dom",
            f"{base}/dashboard",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 90)
    dom = out.decode()
    assert 'data-ready="1"' in dom, err.decode()[-2000:]
    # Spend per model: one bar per seeded model, carrying its spend.
    bars = dict(re.findall(r'<rect class="bar "[^>]*data-model="([^"]+)" data-value="([^"]+)"', dom))
    spend = {m["model_id"]: m["spend_usd"] for m in data["models"]}
    assert set(spend) <= set(bars)
    # Success bars carry each model's rate; flaky is drawn as bad (under 80%).
    assert re.search(r'class="bar bad"[^>]*data-model="loop/flaky" data-value="0.6"', dom)
    # Latency: three percentile bars per model with a successful call.
    assert len(re.findall(r'data-percentile="p(50|95|99)"', dom)) == 3 * 3
    # Spend per day: bars for the seeded days, and the totals tile shows the seeded spend.
    day_bars = re.findall(r'data-day="([0-9-]+)" data-spend="([0-9.]+)"', dom)
    assert sum(float(s) for _, s in day_bars) == pytest.approx(data["totals"]["spend_usd"], abs=1e-5)
    assert 'data-tile="Calls"><div class="k">Calls</div><div class="v">20</div>' in dom
    # Recent groups with their state and progress, the finished one included.
    assert "nightly-docs" in dom and "running · 3/4" in dom
    assert "finished-refactor" in dom and "succeeded · 2/2" in dom
    # The value axis carries the server's even ticks; the day axis is labelled at even steps.
    drawn = [float(t) for t in re.findall(r'data-tick="([0-9.e-]+)"', dom)]
    assert drawn == data["spend_axis"]
    day_ticks = [dt.date.fromisoformat(d) for d in re.findall(r'data-day-tick="([0-9-]+)"', dom)]
    assert len({(b - a).days for a, b in zip(day_ticks, day_ticks[1:], strict=False)}) == 1
    assert json.dumps(data)  # the data endpoint is plain JSON
