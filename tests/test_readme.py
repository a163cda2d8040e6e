"""The README's two set-up commands are the ones CI runs."""

from __future__ import annotations

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
