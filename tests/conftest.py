"""Shared fixtures: isolated settings (data and config dirs in tmp_path), never the user's home."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from server.settings import Settings, load_settings

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


def isolated_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """An environment for a server under test: no real keys, XDG dirs and database in tmp_path."""
    env = {
        "HOME": str(tmp_path / "home"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "PWM_DB": str(tmp_path / "pwm.db"),
        "PWM_TOOLS": "all",  # every tool, not only the four core ones offered by default
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    env.update(extra)
    return env


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(isolated_env(tmp_path))
