"""One settings object, built once in `main()` from the environment and the TOML config file.

Nothing reads the environment at import time. Tests build `Settings` with their own `env`
mapping and point the data and config directories at `tmp_path`.

Precedence, highest first: explicit environment variables (`PWM_*`, `<PROVIDER>_BASE_URL`),
the config file (`PWM_CONFIG`, else `$XDG_CONFIG_HOME/parallel-work-manager/config.toml`),
built-in defaults.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from server.catalog.schema import ProviderSpec
from server.errors import ConfigError

__all__ = ["APP_NAME", "BudgetSettings", "CustomProvider", "Settings", "load_settings"]

APP_NAME = "parallel-work-manager"


@dataclass(frozen=True)
class BudgetSettings:
    """Spending limits in USD; None means no limit for that period."""

    daily: float | None = None
    weekly: float | None = None
    monthly: float | None = None
    per_task: float | None = None
    warn_at: float = 0.8  # fraction of a budget at which status warns
    stop_at: float = 1.0  # fraction at which paid models are paused


@dataclass(frozen=True)
class CustomProvider:
    """A user-declared OpenAI-compatible endpoint (LM Studio, vLLM, llama.cpp, a proxy...)."""

    name: str
    base_url: str
    key_env: str | None = None
    local: bool = True
    max_concurrent: int | None = None


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    config_dir: Path
    db_path: Path
    config_path: Path | None
    manifests_overlay: Path | None = None
    allowed_roots: tuple[Path, ...] = ()
    default_strategy: str = "balanced"
    default_policy: str = "code"
    max_concurrent: int = 8
    max_tasks_per_group: int = 500
    max_result_chars: int = 4000
    allow_unknown_prices: bool = False
    local_only: bool = False
    perf_window_hours: float = 24 * 7
    budgets: BudgetSettings = field(default_factory=BudgetSettings)
    base_urls: Mapping[str, str] = field(default_factory=dict)
    custom_providers: tuple[CustomProvider, ...] = ()
    http_host: str = "127.0.0.1"
    http_port: int = 8765
    log_level: str = "INFO"
    # Workspace context (server/context): where repository indexes are cached, and extra glob
    # patterns of files never sent to a model (PWM_CONTEXT_EXCLUDE, `:`-separated, + config).
    cache_dir: Path = field(default_factory=lambda: Path.home() / ".cache" / APP_NAME)
    context_exclude: tuple[str, ...] = ()
    # The process environment, kept for API-key look-ups at call time; never printed.
    env: Mapping[str, str] = field(default_factory=dict, repr=False)

    def custom_provider_specs(self) -> list[ProviderSpec]:
        """The config file's custom endpoints as catalogue providers (OpenAI-compatible)."""
        return [
            ProviderSpec(
                name=p.name,
                protocol="openai",
                base_url=p.base_url,
                key_env=p.key_env,
                local=p.local,
                max_concurrent=p.max_concurrent,
            )
            for p in self.custom_providers
        ]

    def api_key(self, key_env: str | None) -> str | None:
        """The API key held in `key_env`, or None when the variable is unset or empty."""
        if not key_env:
            return None
        value = self.env.get(key_env, "").strip()
        return value or None

    def base_url_for(self, provider: str, default: str, base_url_env: str | None) -> str:
        """Resolve a provider's base URL: `<PROVIDER>_BASE_URL` env, then config, then the manifest."""
        env_name = base_url_env or f"{provider.upper().replace('-', '_')}_BASE_URL"
        from_env = self.env.get(env_name, "").strip()
        if from_env:
            return from_env
        return self.base_urls.get(provider, default)


def _xdg(env: Mapping[str, str], var: str, fallback: str) -> Path:
    value = env.get(var, "").strip()
    base = Path(value) if value else Path(env.get("HOME", str(Path.home()))) / fallback
    return base / APP_NAME


def _as_float(value: Any, key: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"config {key}: expected a number, got {value!r}")
    if value < 0:
        raise ConfigError(f"config {key}: must be >= 0, got {value}")
    return float(value)


def load_settings(env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build the settings from `env` (default: `os.environ`) and the config file.

    Raises:
        ConfigError: the config file does not parse or holds a wrong value.
    """
    env = dict(os.environ if env is None else env)
    data_dir = _xdg(env, "XDG_DATA_HOME", ".local/share")
    config_dir = _xdg(env, "XDG_CONFIG_HOME", ".config")
    config_path = Path(env["PWM_CONFIG"]) if env.get("PWM_CONFIG") else config_dir / "config.toml"
    config: dict[str, Any] = {}
    if config_path.is_file():
        try:
            config = tomllib.loads(config_path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{config_path}: not valid TOML: {exc}") from None
    elif env.get("PWM_CONFIG"):
        raise ConfigError(f"PWM_CONFIG points at {config_path}, which does not exist")

    budgets_cfg = config.get("budgets", {})
    budgets = BudgetSettings(
        daily=_as_float(budgets_cfg.get("daily"), "budgets.daily"),
        weekly=_as_float(budgets_cfg.get("weekly"), "budgets.weekly"),
        monthly=_as_float(budgets_cfg.get("monthly"), "budgets.monthly"),
        per_task=_as_float(budgets_cfg.get("per_task"), "budgets.per_task"),
        warn_at=_as_float(budgets_cfg.get("warn_at", 0.8), "budgets.warn_at") or 0.8,
        stop_at=_as_float(budgets_cfg.get("stop_at", 1.0), "budgets.stop_at") or 1.0,
    )
    for var, attr in (("PWM_DAILY_BUDGET", "daily"), ("PWM_MONTHLY_BUDGET", "monthly")):
        if env.get(var):
            try:
                budgets = BudgetSettings(**{**budgets.__dict__, attr: float(env[var])})
            except ValueError:
                raise ConfigError(f"{var}: expected a number of USD, got {env[var]!r}") from None

    providers_cfg = config.get("providers", {})
    base_urls = {
        name: str(section["base_url"])
        for name, section in providers_cfg.items()
        if isinstance(section, dict) and "base_url" in section and name != "custom"
    }
    custom = tuple(
        CustomProvider(
            name=str(item["name"]),
            base_url=str(item["base_url"]),
            key_env=item.get("key_env"),
            local=bool(item.get("local", True)),
            max_concurrent=item.get("max_concurrent"),
        )
        for item in config.get("custom_providers", [])
    )
    roots_cfg = config.get("allowed_roots", [])
    if env.get("PWM_ALLOWED_ROOTS"):
        roots_cfg = env["PWM_ALLOWED_ROOTS"].split(os.pathsep)
    server_cfg = config.get("server", {})
    routing_cfg = config.get("routing", {})
    overlay = env.get("PWM_MANIFESTS") or config.get("manifests_dir")
    context_cfg = config.get("context", {})
    exclude = [str(p) for p in context_cfg.get("exclude", [])]
    exclude += [p for p in env.get("PWM_CONTEXT_EXCLUDE", "").split(os.pathsep) if p.strip()]

    values: dict[str, Any] = dict(
        data_dir=data_dir,
        config_dir=config_dir,
        db_path=Path(env["PWM_DB"]) if env.get("PWM_DB") else data_dir / "pwm.db",
        config_path=config_path if config_path.is_file() else None,
        manifests_overlay=Path(overlay).expanduser() if overlay else None,
        allowed_roots=tuple(Path(r).expanduser().resolve() for r in roots_cfg if r),
        default_strategy=str(routing_cfg.get("default_strategy", "balanced")),
        default_policy=str(routing_cfg.get("default_policy", "code")),
        max_concurrent=int(server_cfg.get("max_concurrent", 8)),
        max_tasks_per_group=int(server_cfg.get("max_tasks_per_group", 500)),
        max_result_chars=int(server_cfg.get("max_result_chars", 4000)),
        allow_unknown_prices=bool(routing_cfg.get("allow_unknown_prices", False)),
        local_only=bool(routing_cfg.get("local_only", False)) or env.get("PWM_LOCAL_ONLY") == "1",
        perf_window_hours=float(routing_cfg.get("perf_window_hours", 24 * 7)),
        budgets=budgets,
        base_urls=base_urls,
        custom_providers=custom,
        http_host=str(server_cfg.get("host", "127.0.0.1")),
        http_port=int(server_cfg.get("port", 8765)),
        log_level=str(env.get("PWM_LOG_LEVEL") or server_cfg.get("log_level", "INFO")).upper(),
        cache_dir=_xdg(env, "XDG_CACHE_HOME", ".cache"),
        context_exclude=tuple(exclude),
        env=env,
    )
    values.update(overrides)
    return Settings(**values)
