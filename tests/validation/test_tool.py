"""The validate_workspace tool through an in-process MCP client."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from mcp import Client, types
from mcp.server.mcpserver import MCPServer

from server.app import TOOL_MODULES, build_server
from server.settings import Settings, load_settings
from server.state import AppState, open_app_state
from tests.conftest import isolated_env
from tests.validation.helpers import PY_PROJECT, make_repo
from tools.validate_workspace import register


def _server(settings: Settings) -> MCPServer[AppState]:
    if "tools.validate_workspace" in TOOL_MODULES:
        return build_server(settings)

    @asynccontextmanager
    async def lifespan(_: MCPServer[AppState]) -> AsyncIterator[AppState]:
        state = await open_app_state(settings)
        try:
            yield state
        finally:
            await state.aclose()

    mcp: MCPServer[AppState] = MCPServer(name="parallel-work-manager", lifespan=lifespan)
    register(mcp)
    return mcp


def _settings(tmp_path: Path, *roots: Path, time_limit_s: float = 45.0) -> Settings:
    return load_settings(
        isolated_env(tmp_path), allowed_roots=tuple(r.resolve() for r in roots), tool_time_limit_s=time_limit_s
    )


def _roots_callback(*roots: Path) -> Any:
    async def list_roots(_: Any) -> types.ListRootsResult:
        return types.ListRootsResult(roots=[types.Root(uri=r.resolve().as_uri()) for r in roots])

    return list_roots


def _text(result: types.CallToolResult) -> str:
    return " ".join(c.text for c in result.content if isinstance(c, types.TextContent))


async def test_tool_is_listed_read_only_with_bounded_inputs(tmp_path: Path) -> None:
    async with Client(_server(_settings(tmp_path, tmp_path))) as client:
        listed = {t.name: t for t in (await client.list_tools()).tools}
    tool = listed["validate_workspace"]
    assert tool.annotations is not None
    assert tool.annotations.read_only_hint is True and tool.annotations.destructive_hint is False
    assert tool.annotations.open_world_hint is False
    props = tool.input_schema["properties"]
    assert props["timeout_s"]["minimum"] == 1.0 and props["timeout_s"]["maximum"] == 1800.0
    assert props["checks"]["items"]["enum"] == ["syntax", "build", "lint", "test"]
    assert props["lint_scope"]["enum"] == ["all", "new"]
    assert tool.input_schema["required"] == ["path"]
    assert props["wait_seconds"]["minimum"] == 0 and "validation_id" in props
    assert tool.output_schema is not None and "checks" in tool.output_schema["properties"]
    assert "running" in tool.output_schema["properties"]["status"]["enum"]


async def test_tool_validates_inside_the_clients_roots_and_refuses_outside(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", PY_PROJECT)
    other = tmp_path / "other"
    other.mkdir()
    # The configured roots would allow `other`; the client's roots take precedence.
    server = _server(_settings(tmp_path, tmp_path))
    async with Client(server, mode="legacy", list_roots_callback=_roots_callback(repo)) as client:
        result = await client.call_tool("validate_workspace", {"path": str(repo), "checks": ["syntax", "test"]})
        refused = await client.call_tool("validate_workspace", {"path": str(other)})
        escape = await client.call_tool("validate_workspace", {"path": str(repo / ".." / "other")})

    assert not result.is_error, _text(result)
    out = result.structured_content
    assert out is not None and out["passed"] is False and out["status"] == "failed"
    checks = {c["name"]: c for c in out["checks"]}
    assert checks["python-syntax"]["diagnostics"][0]["file"] == "demo/broken.py"
    assert checks["pytest"]["status"] == "failed"
    assert out["git"]["branch"] == "main"

    for bad in (refused, escape):
        assert bad.is_error
        assert "path:" in _text(bad) and "outside the allowed roots" in _text(bad) and str(repo) in _text(bad)


async def test_without_client_roots_the_configured_roots_apply_and_results_are_cached(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "allowed" / "repo", {"ok.py": "x = 1\n"})
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    async with Client(_server(_settings(tmp_path, tmp_path / "allowed"))) as client:
        first = await client.call_tool("validate_workspace", {"path": "repo", "checks": ["syntax", "lint"]})
        second = await client.call_tool("validate_workspace", {"path": str(repo), "checks": ["syntax", "lint"]})
        refused = await client.call_tool("validate_workspace", {"path": str(outside)})
        bad_checks = await client.call_tool("validate_workspace", {"path": str(repo), "checks": []})
        bad_timeout = await client.call_tool("validate_workspace", {"path": str(repo), "timeout_s": 0})

    assert first.structured_content is not None and first.structured_content["passed"] is True
    assert [c["cached"] for c in first.structured_content["checks"]] == [False, False]
    assert second.structured_content is not None
    assert [c["cached"] for c in second.structured_content["checks"]] == [True, True]
    assert refused.is_error and "outside the allowed roots" in _text(refused)
    assert bad_checks.is_error and "checks" in _text(bad_checks)
    assert bad_timeout.is_error and "timeout_s" in _text(bad_timeout)
    json.dumps(first.structured_content)  # plain JSON all the way down


# A project whose test suite runs until the test releases it (a file appears): a validation
# that outlasts the tool's time limit for as long as the test wants, without sleeping.
def _slow_project(release: Path) -> dict[str, str]:
    return {
        "pyproject.toml": '[project]\nname = "slow"\nversion = "0"\n',
        "slow.py": "VALUE = 1\n",
        "tests/test_slow.py": (
            "import pathlib, time\n\n\ndef test_waits_for_release():\n"
            f"    release = pathlib.Path({str(release)!r})\n"
            "    deadline = time.monotonic() + 60\n"
            "    while not release.exists() and time.monotonic() < deadline:\n"
            "        time.sleep(0.05)\n"
            "    assert release.exists()\n"
        ),
    }


async def test_a_validation_longer_than_the_time_limit_answers_early_and_is_waited_on_by_id(tmp_path: Path) -> None:
    release = tmp_path / "release"
    repo = make_repo(tmp_path / "repo", _slow_project(release))
    notes: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        notes.append((progress, total, message))

    async with Client(_server(_settings(tmp_path, tmp_path, time_limit_s=2.0))) as client:
        started = time.monotonic()
        first = await client.call_tool(
            "validate_workspace", {"path": str(repo), "checks": ["syntax", "test"]}, progress_callback=on_progress
        )
        first_took = time.monotonic() - started
        assert not first.is_error, _text(first)
        early = first.structured_content or {}
        assert early["finished"] is False and early["status"] == "running" and early["passed"] is False
        assert {c["name"]: c["status"] for c in early["checks"]} == {"python-syntax": "passed"}
        assert early["pending"] == ["pytest (.)"]
        # Nothing ends it meanwhile: waiting again is bounded by the limit too, whatever was asked.
        again = await client.call_tool(
            "validate_workspace", {"path": str(repo), "validation_id": early["validation_id"], "wait_seconds": 600},
        )
        assert (again.structured_content or {})["finished"] is False
        release.touch()
        async with asyncio.timeout(60):
            while True:
                result = await client.call_tool(
                    "validate_workspace",
                    {"path": str(repo), "validation_id": early["validation_id"], "wait_seconds": 30},
                    progress_callback=on_progress,
                )
                done = result.structured_content or {}
                if done["finished"]:
                    break
        unknown = await client.call_tool("validate_workspace", {"path": str(repo), "validation_id": "val_nope"})

    assert first_took < 10, first_took
    assert done["validation_id"] == early["validation_id"] and done["pending"] == []
    assert done["passed"] is True and done["status"] == "passed"
    assert {c["name"]: c["status"] for c in done["checks"]} == {"python-syntax": "passed", "pytest": "passed"}
    assert done["git"]["branch"] == "main"
    assert notes and notes[0][1] == 2.0 and notes[-1][0] == 2.0  # 1 of 2, then 2 of 2
    assert unknown.is_error and "validation_id" in _text(unknown)
