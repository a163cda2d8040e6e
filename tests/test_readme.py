"""The README says what holds: its set-up commands are the ones CI runs, its commands print what it says,
its figures are the measured ones."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from server.errors import ManifestError
from tests.conftest import REPO

TEST_COMMAND = 'python3 -m venv .venv && .venv/bin/pip install -q -e ".[test]" && .venv/bin/python -m pytest -q'
SERVE_COMMAND = "python3 -m venv .venv && .venv/bin/pip install -q -e . && .venv/bin/parallel-work-manager serve"


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    assert TEST_COMMAND in (REPO / "README.md").read_text()
    assert TEST_COMMAND in (REPO / ".ci" / "run").read_text()


def test_readme_gives_the_serve_command_and_registration() -> None:
    readme = (REPO / "README.md").read_text()
    assert SERVE_COMMAND in readme
    assert "claude mcp add" in readme


def test_claude_code_registration_puts_the_server_name_before_the_variadic_env() -> None:
    readme = (REPO / "README.md").read_text()
    line = next(line for line in readme.splitlines() if line.startswith("claude mcp add parallel-work-manager"))
    assert "--transport stdio" in line and "--scope user" in line
    block = readme[readme.index("<!-- ci: claude-code-registration -->"):]
    block = block[: block.index("```", block.index("```bash") + 7)]
    assert block.index("parallel-work-manager") < block.index("--env") < block.index(" -- ")


def test_readme_names_every_install_form_and_claude_codes_limits() -> None:
    readme = (REPO / "README.md").read_text()
    for text in ("pipx install .", "uvx --from . parallel-work-manager serve", ".mcp.json", "manifest.json",
                 "server.json", "mcpb validate manifest.json", "MCP_TOOL_TIMEOUT", "MAX_MCP_OUTPUT_TOKENS"):
        assert text in readme, text


def test_ci_runs_the_clients_script() -> None:
    run = (REPO / ".ci" / "run").read_text()
    assert ".ci/clients.sh" in run
    script = (REPO / ".ci" / "clients.sh").read_text()
    for text in ("mcp-inspector --cli", "mcpb validate manifest.json", "claude mcp list", "--transport http"):
        assert text in script, text


def test_the_command_printing_the_venvs_server_path_prints_a_path_that_exists() -> None:
    readme = (REPO / "README.md").read_text()
    (code,) = re.findall(r'`\.venv/bin/python -c "(import os, sysconfig;[^"]+)"`', readme)
    printed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,  # noqa: S603
                             timeout=30).stdout.strip()
    assert Path(printed).name == "parallel-work-manager" and Path(printed).is_file(), printed


async def test_the_tool_count_and_tools_list_sizes_are_the_measured_ones(tmp_path: Path) -> None:
    from server.settings import load_settings
    from tests.conftest import isolated_env
    from tests.test_tool_surface import tools_list_tokens

    readme = " ".join((REPO / "README.md").read_text().split())
    (core_wire, core_spaced, count, all_wire, all_spaced) = re.findall(
        r"the four core tools are offered, about ([\d.]+)k tokens .*? \(([\d.]+)k if the JSON is spaced out\); "
        r"`PWM_TOOLS=all` offers all (\d+), about ([\d.]+)k \(([\d.]+)k\)", readme)[0]
    env = isolated_env(tmp_path)
    names, wire, spaced = await tools_list_tokens(load_settings(env))
    assert int(count) == len(names)
    del env["PWM_TOOLS"]
    core = await tools_list_tokens(load_settings(env))
    # "about": each figure within 3% of the measured count (the README rounds to 0.1k).
    for said, measured in ((core_wire, core[1]), (core_spaced, core[2]), (all_wire, wire), (all_spaced, spaced)):
        assert abs(float(said) * 1000 - measured) <= 0.03 * measured, (said, measured)


def test_the_readmes_overlay_model_loads_as_written(tmp_path: Path) -> None:
    from server.catalog.loader import load_catalog

    readme = (REPO / "README.md").read_text()
    block = readme[readme.index("<!-- ci: overlay-model -->"):]
    toml = block[block.index("```toml") + 7: block.index("```", block.index("```toml") + 7)]
    (tmp_path / "models_mine.toml").write_text(toml, encoding="utf-8")
    model = load_catalog(tmp_path).models["ollama/qwen2.5-coder:3b"]
    assert model.family == "qwen2.5-coder"
    (tmp_path / "models_mine.toml").write_text(toml.replace('family = "qwen2.5-coder"\n', ""), encoding="utf-8")
    with pytest.raises(ManifestError, match="family"):  # the field the README says a new model needs
        load_catalog(tmp_path)
