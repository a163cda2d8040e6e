"""The performance tools and resources through an in-process MCP client session."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from mcp import Client
from mcp.server.mcpserver import MCPServer

import tools.performance
from server.analysis.tokens import count_tokens
from server.catalog import Catalog
from server.settings import Settings, load_settings
from server.state import AppState, open_app_state
from server.store import Store
from tests.conftest import isolated_env
from tests.perf.catalog_fixture import write_catalog
from tests.perf.seed import SeedAttempt, seed, simulate
from tests.support.replies import reply_text


def _server(catalog: Catalog, settings: Settings, store: Store) -> MCPServer[AppState]:
    @asynccontextmanager
    async def lifespan(_: MCPServer[AppState]) -> AsyncIterator[AppState]:
        state = await open_app_state(settings, catalog)
        try:
            yield state
        finally:
            await state.aclose()

    mcp: MCPServer[AppState] = MCPServer(name="perf-tools-test", lifespan=lifespan)
    tools.performance.register(mcp)
    return mcp


async def test_cost_report_insights_reset_and_resources(tmp_path: Path, settings: Settings) -> None:
    catalog = write_catalog(tmp_path / "manifests")
    now = time.time()
    rows = [SeedAttempt("loop/flaky", now - 60 + i, task_type="crud", status="failed" if i % 2 else "succeeded",
                        error_class="unparseable" if i % 2 else None) for i in range(12)]
    rows += [SeedAttempt("loop/cheap", now - 30 + i, task_type="docs", agent="aria_docs") for i in range(5)]
    store = await Store.open(settings.db_path)
    try:
        await seed(store, catalog, rows)
        async with Client(_server(catalog, settings, store)) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            assert {"get_cost_report", "get_routing_insights", "reset_routing_insights"} <= names

            result = await client.call_tool("get_cost_report", {"days": 1, "group_by": "model"})
            assert not result.is_error
            report = result.structured_content
            assert report is not None and report["totals"]["calls"] == 17
            assert any(r["kind"] == "demoted" and "loop/flaky" in r["recommendation"] for r in report["recommendations"])

            bad = await client.call_tool("get_cost_report", {"days": 0})
            assert bad.is_error

            insights = (await client.call_tool("get_routing_insights", {})).structured_content
            assert insights is not None
            flaky = next(m for m in insights["models"] if m["model_id"] == "loop/flaky")
            assert flaky["state"] == "demoted"
            assert {c["model_id"] for c in insights["cells"]} == {"loop/flaky", "loop/cheap"}

            reset = (await client.call_tool("reset_routing_insights", {"model_id": "loop/flaky"})).structured_content
            assert reset is not None and reset["reset_cells"] == 1
            after = (await client.call_tool("get_routing_insights", {"model_id": "loop/flaky"})).structured_content
            assert after is not None and after["cells"] == [] and after["models"][0]["state"] == "healthy"
            unknown = await client.call_tool("reset_routing_insights", {"model_id": "nope/nope"})
            assert unknown.is_error and "model_id" in unknown.content[0].text  # type: ignore[union-attr]

            models = json.loads((await client.read_resource("pwm://models")).contents[0].text)  # type: ignore[union-attr]
            assert "loop/premium" in models["models"]
            budget = json.loads((await client.read_resource("pwm://budget")).contents[0].text)  # type: ignore[union-attr]
            assert [p["name"] for p in budget["periods"]] == ["daily", "weekly", "monthly"]
            group = json.loads((await client.read_resource("pwm://groups/seeded")).contents[0].text)  # type: ignore[union-attr]
            assert len(group["tasks"]) == 17 and len(group["attempts"]) == 17
    finally:
        await store.close()

    # The reset is remembered: a new tracker rebuilt from SQLite does not relearn it.
    store = await Store.open(settings.db_path)
    try:
        async with Client(_server(catalog, settings, store)) as client:
            again = (await client.call_tool("get_routing_insights", {"model_id": "loop/flaky"})).structured_content
            assert again is not None and again["cells"] == []
    finally:
        await store.close()


def _reply_tokens(result: Any) -> int:
    """cl100k tokens of the larger of what a client hands its model: the text, or the structured content."""
    text = "".join(getattr(c, "text", "") for c in result.content)
    return max(count_tokens(text), count_tokens(json.dumps(result.structured_content, separators=(",", ":"))))


async def _all_pages(client: Client, tool: str, arguments: dict[str, Any], lists: tuple[str, ...]) -> list[Any]:
    """Every page of a paged tool's reply, following next_offset; each reply under 10k tokens."""
    pages, offset = [], 0
    while offset is not None:
        result = await client.call_tool(tool, {**arguments, "offset": offset})
        assert not result.is_error and result.structured_content is not None
        assert _reply_tokens(result) < 10_000
        page = result.structured_content
        pages.append(page)
        assert set(page["list_totals"]) == set(lists)
        offset = page["next_offset"]
    return pages


async def test_the_report_and_the_insights_are_paged_so_each_reply_stays_small(tmp_path: Path, settings: Settings) -> None:
    catalog = write_catalog(tmp_path / "manifests")
    now = time.time()
    store = await Store.open(settings.db_path)
    try:
        await seed(store, catalog, simulate(catalog, 1220, end=now, days=6, per_group=20))  # 61 groups
        async with Client(_server(catalog, settings, store)) as client:
            first = await client.call_tool("get_cost_report", {"days": 7, "group_by": "group"})
            data = first.structured_content
            assert data is not None and len(data["rows"]) == 10 and data["next_offset"] == 10
            assert data["list_totals"]["rows"] == 61
            assert "Rows 1-10 of 61" in reply_text(first) and "next_offset 10" in reply_text(first)
            pages = await _all_pages(client, "get_cost_report", {"days": 7, "group_by": "group"},
                                     ("rows", "recommendations"))
            keys = [row["key"] for page in pages for row in page["rows"]]
            assert len(pages) == 7 and len(keys) == len(set(keys)) == 61
            assert sum(len(p["recommendations"]) for p in pages) == data["list_totals"]["recommendations"]

            lists = ("models", "cells", "task_types", "repos")
            pages = await _all_pages(client, "get_routing_insights", {}, lists)
            whole = (await client.call_tool("get_routing_insights", {"limit": 50})).structured_content
            assert whole is not None and whole["next_offset"] is None
            for name in ("models", "cells", "repos"):
                assert [item for page in pages for item in page[name]] == whole[name]
            assert {k: v for page in pages for k, v in page["task_types"].items()} == whole["task_types"]
            assert whole["list_totals"]["cells"] > 10  # several pages were needed
    finally:
        await store.close()


def _repo_with_remote(path: Path, remote: str) -> Path:
    path.mkdir()
    for args in (["init", "-q"], ["remote", "add", "origin", remote]):
        subprocess.run(["git", *args], cwd=path, check=True, capture_output=True)
    return path


async def test_insights_per_repository_and_a_reset_named_by_workspace_path(tmp_path: Path) -> None:
    workspace = _repo_with_remote(tmp_path / "api", "git@example.com:acme/api.git")
    settings = load_settings(isolated_env(tmp_path, PWM_ALLOWED_ROOTS=str(tmp_path)))
    catalog = write_catalog(tmp_path / "manifests")
    now = time.time()
    rows = [SeedAttempt("loop/cheap", now - 60 + i, task_type="crud", repo="example.com/acme/api",
                        status="failed" if i % 2 else "succeeded", error_class="unparseable" if i % 2 else None)
            for i in range(4)]
    rows += [SeedAttempt("loop/cheap", now - 30 + i, task_type="crud", repo="example.com/acme/web") for i in range(3)]
    store = await Store.open(settings.db_path)
    try:
        await seed(store, catalog, rows)
        async with Client(_server(catalog, settings, store)) as client:
            insights = (await client.call_tool("get_routing_insights", {"task_type": "crud"})).structured_content
            assert insights is not None
            repos = {row["repo"]: row for row in insights["repos"]}
            assert set(repos) == {"example.com/acme/api", "example.com/acme/web"}
            assert repos["example.com/acme/api"]["variants"]["speed"]["repo_decayed_failures"] > 1.9
            assert repos["example.com/acme/web"]["repo_evidence"] > 2.9

            both = await client.call_tool("reset_routing_insights", {"repo": str(workspace), "model_id": "loop/cheap"})
            assert both.is_error and "repo" in both.content[0].text  # type: ignore[union-attr]
            outside = await client.call_tool("reset_routing_insights", {"repo": "/etc"})
            assert outside.is_error
            reset = (await client.call_tool("reset_routing_insights", {"repo": str(workspace)})).structured_content
            assert reset is not None and reset["repo"] == "example.com/acme/api"
            after = (await client.call_tool("get_routing_insights", {"task_type": "crud"})).structured_content
            assert after is not None and [row["repo"] for row in after["repos"]] == ["example.com/acme/web"]
            # The kind-wide record still holds what every repository taught.
            assert after["task_types"]["crud"]["variants"]["speed"]["evidence"] > 6.5
    finally:
        await store.close()


def test_cost_report_group_by_choices_are_the_reports_groupings() -> None:
    from typing import get_args

    from server.perf.report import GROUP_BY_CHOICES

    assert set(get_args(tools.performance.GroupBy)) == set(GROUP_BY_CHOICES)
