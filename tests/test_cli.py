"""The command line: --version, --help, and config errors reported on stderr, not stdout."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from server import __version__
from tests.conftest import isolated_env


def _run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server", *args],
        env=isolated_env(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_version_prints_the_package_version(tmp_path: Path) -> None:
    result = _run(tmp_path, "--version")
    assert result.returncode == 0
    assert __version__ in result.stdout


def test_help_lists_serve_and_its_http_options(tmp_path: Path) -> None:
    assert "serve" in _run(tmp_path, "--help").stdout
    serve_help = _run(tmp_path, "serve", "--help").stdout
    assert "--http" in serve_help and "--port" in serve_help and "--host" in serve_help


def test_a_broken_config_file_is_reported_on_stderr_with_its_path(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("budgets = [unclosed\n")
    result = _run(tmp_path, "serve", PWM_CONFIG=str(config))
    assert result.returncode == 2
    assert result.stdout == ""
    assert str(config) in result.stderr


def test_a_manifests_folder_that_does_not_exist_stops_the_server_at_start(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-manifests"
    result = subprocess.run(
        [sys.executable, "-m", "server", "serve"], env=isolated_env(tmp_path, PWM_MANIFESTS=str(missing)),
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2 and result.stdout == ""
    assert f"{missing}: manifests overlay directory does not exist" in result.stderr


def test_an_invalid_overlay_file_stops_the_server_at_start_naming_the_file(tmp_path: Path) -> None:
    overlay = tmp_path / "manifests"
    overlay.mkdir()
    (overlay / "models_lmstudio.toml").write_text(
        '[[models]]\nid = "lmstudio/qwen"\nprovider = "lmstudio"\nmodel_name = "qwen"\ntier = "local"\n', encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "server", "--manifests", str(overlay), "serve"], env=isolated_env(tmp_path),
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2 and result.stdout == ""
    assert "models_lmstudio.toml" in result.stderr and "lmstudio/qwen" in result.stderr


def test_a_valid_overlay_is_checked_at_start_and_the_server_serves(tmp_path: Path) -> None:
    overlay = tmp_path / "manifests"
    overlay.mkdir()
    (overlay / "policies.toml").write_text('[[policies]]\nname = "code"\nmax_cost_per_task = 0.5\n', encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "server", "serve"], env=isolated_env(tmp_path, PWM_MANIFESTS=str(overlay)),
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr  # stdin ended: the server started and stopped
