"""The distribution manifests agree with the package: the MCP bundle's manifest.json, the MCP
Registry's server.json and the project-scoped .mcp.json example."""

from __future__ import annotations

import json
import tomllib
from typing import Any

from server import __version__
from tests.conftest import REPO


def _json(name: str) -> dict[str, Any]:
    return json.loads((REPO / name).read_text(encoding="utf-8"))


def test_bundle_manifest_launches_the_console_script_with_uv_at_the_package_version() -> None:
    manifest = _json("manifest.json")
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert manifest["manifest_version"] == "0.4"
    assert manifest["version"] == project["version"] == __version__
    assert manifest["name"] == project["name"]
    server = manifest["server"]
    assert server["type"] == "uv" and (REPO / server["entry_point"]).is_file()
    config = server["mcp_config"]
    assert config["command"] == "uv"
    assert config["args"][-2:] == [project["name"], "serve"] and "parallel-work-manager" in project["scripts"]
    for value in config["env"].values():  # every ${user_config.x} names a declared field
        if value.startswith("${user_config."):
            assert value[len("${user_config."):-1] in manifest["user_config"]
    assert all(f["sensitive"] for k, f in manifest["user_config"].items() if k.endswith("_api_key"))


def test_registry_server_json_points_at_the_pypi_package_at_the_package_version() -> None:
    server = _json("server.json")
    assert server["$schema"].startswith("https://static.modelcontextprotocol.io/schemas/")
    assert server["version"] == __version__ and len(server["description"]) <= 100
    (package,) = server["packages"]
    assert package["registryType"] == "pypi" and package["identifier"] == "parallel-work-manager"
    assert package["version"] == __version__ and package["transport"] == {"type": "stdio"}
    assert all(v["isSecret"] for v in package["environmentVariables"] if v["name"].endswith("_API_KEY"))
    assert f"mcp-name: {server['name']}" in (REPO / "README.md").read_text()  # PyPI ownership marker


def test_project_mcp_json_reads_keys_from_the_environment_not_the_file() -> None:
    entry = _json("examples/project/.mcp.json")["mcpServers"]["parallel-work-manager"]
    assert entry["command"] == "parallel-work-manager" and entry["args"] == ["serve"]
    assert all(value.startswith("${") for value in entry["env"].values())
    readme = (REPO / "README.md").read_text()
    assert json.dumps(entry["env"], separators=(", ", ": ")).replace('{"', '{ "').replace('"}', '" }') in readme
