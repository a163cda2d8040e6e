"""Start-up: a server lists its tools before it opens its state, and says why a state cannot open."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from server.app import build_server
from server.settings import load_settings
from tests.conftest import REPO, isolated_env
from tests.test_server_stdio import EXPECTED_TOOLS

# What running groups needs, and nothing answering `initialize` / `tools/list` does.
ENGINE_MODULES = ("server.scheduler.engine", "server.store.store", "server.backends.registry",
                  "server.validation.engine", "server.context.service", "server.perf.report", "httpx",
                  "aiosqlite", "tiktoken", "git")

_LIST_TOOLS = f"""
import sys
from server.app import build_server
from server.settings import load_settings
build_server(load_settings())
loaded = [m for m in {ENGINE_MODULES!r} if m in sys.modules]
print(",".join(loaded))
"""


def test_building_the_stdio_server_loads_none_of_the_engine(tmp_path: Path) -> None:
    out = subprocess.run(  # noqa: S603 - this interpreter, a fixed script, no shell
        [sys.executable, "-c", _LIST_TOOLS], cwd=REPO, env=isolated_env(tmp_path), capture_output=True,
        text=True, check=True, timeout=60,
    )
    assert out.stdout.strip() == ""


async def test_a_state_that_cannot_open_still_lists_tools_and_each_call_says_why(tmp_path: Path) -> None:
    overlay = tmp_path / "manifests"
    overlay.mkdir()
    (overlay / "broken.toml").write_text('[[models]]\nid = "x"\nprice = \n', encoding="utf-8")
    settings = load_settings(isolated_env(tmp_path, PWM_MANIFESTS=str(overlay)))
    async with Client(build_server(settings)) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert EXPECTED_TOOLS <= names
        with pytest.raises(MCPError, match="could not start: .*broken.toml"):
            await client.call_tool("route_task", {"task_description": "Fix a typo in the README"})


_SERVE_THEN_REPORT_GC = """
import gc
from server.cli import main
code = main(["serve"])  # stdin is empty: the server starts, reads end of input, and returns
print(code, gc.isenabled(), gc.get_freeze_count() > 0)
"""


def test_a_stdio_server_collects_garbage_again_once_built_with_its_start_up_objects_frozen(tmp_path: Path) -> None:
    out = subprocess.run(  # noqa: S603 - this interpreter, a fixed script, no shell
        [sys.executable, "-c", _SERVE_THEN_REPORT_GC], cwd=REPO, env=isolated_env(tmp_path),
        stdin=subprocess.DEVNULL, capture_output=True, text=True, check=True, timeout=60,
    )
    assert out.stdout.split() == ["0", "True", "True"]


def test_the_command_line_turns_garbage_collection_back_on_when_it_fails_early(tmp_path: Path) -> None:
    import gc

    from server.cli import main

    config = tmp_path / "bad.toml"
    config.write_text("budgets = [unclosed\n")
    assert main(["--config", str(config), "serve"]) == 2
    assert gc.isenabled()
