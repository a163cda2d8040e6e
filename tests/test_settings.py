"""Every variable the server honours is read once, into `Settings`, with the config file beneath it."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.errors import ConfigError
from server.settings import load_settings
from server.state import engine_config
from tests.conftest import isolated_env


def test_environment_variables_become_settings_fields(tmp_path: Path) -> None:
    settings = load_settings(isolated_env(
        tmp_path, PWM_STALL_TIMEOUT_S="2.5", OLLAMA_HOST="gpu-box:11500", GROQ_BASE_URL=" http://127.0.0.1:9/v1 ",
        EMPTY_BASE_URL="", PWM_TOOLS="list_groups, get_task_result", PWM_TOOL_TIME_LIMIT_S="30",
    ))
    assert settings.stall_timeout_s == 2.5
    assert engine_config(settings).runner.stall_timeout_s == 2.5
    assert settings.ollama_host == "gpu-box:11500"
    assert settings.env_base_urls == {"GROQ_BASE_URL": "http://127.0.0.1:9/v1"}
    assert settings.base_url_for("groq", "https://api.groq.com/openai/v1", None) == "http://127.0.0.1:9/v1"
    assert settings.base_url_for("cerebras", "https://api.cerebras.ai/v1", None) == "https://api.cerebras.ai/v1"
    assert settings.tools == ("list_groups", "get_task_result")
    assert settings.tool_time_limit_s == 30.0


def test_the_config_file_sets_them_and_the_environment_wins(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[server]\nstall_timeout_s = 5\ntool_time_limit_s = 20\ntools = "all"\n', encoding="utf-8")
    from_file = load_settings(isolated_env(tmp_path, PWM_CONFIG=str(config)) | {"PWM_TOOLS": ""})
    assert (from_file.stall_timeout_s, from_file.tool_time_limit_s, from_file.tools) == (5.0, 20.0, ("all",))
    both = load_settings(isolated_env(tmp_path, PWM_CONFIG=str(config), PWM_TOOL_TIME_LIMIT_S="40"))
    assert both.tool_time_limit_s == 40.0 and both.tools == ("all",)
    defaults = load_settings(isolated_env(tmp_path) | {"PWM_TOOLS": ""})
    assert (defaults.stall_timeout_s, defaults.tool_time_limit_s, defaults.tools) == (60.0, 45.0, ("core",))


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PWM_STALL_TIMEOUT_S": "soon"}, "PWM_STALL_TIMEOUT_S: expected a number of seconds"),
        ({"PWM_TOOL_TIME_LIMIT_S": "-1"}, "PWM_TOOL_TIME_LIMIT_S: must be more than 0 seconds"),
    ],
)
def test_a_wrong_value_is_a_config_error_naming_the_variable(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(isolated_env(tmp_path, **env))
