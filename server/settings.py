"""One settings object, built once in `main()` from the environment and the TOML config file.

Nothing reads the environment at import time. Tests build `Settings` with their own `env`
mapping and point the data and config directories at `tmp_path`.

Precedence, highest first: explicit environment variables (`PWM_*`, `<PROVIDER>_BASE_URL`,
`OLLAMA_HOST`), the config file (`PWM_CONFIG`, else
`$XDG_CONFIG_HOME/parallel-work-manager/config.toml`), built-in defaults.

This builder is the only reader of the process environment in `server/` and `tools/`: every
variable the server honours becomes a field here. The environment itself is kept (`env`) only
to read API keys at call time and to hand child processes (validation runs) their environment.

The config file's provider entries (`[providers.<name>]` tables and `[[custom_providers]]`)
become `ProviderOverride`s; the catalogue loader merges them over the shipped providers, the
user's fields winning one by one (`server.catalog.loader.load_catalog`).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from server.errors import ConfigError

__all__ = ["APP_NAME", "BudgetSettings", "ProviderOverride", "Settings", "load_settings"]

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
class ProviderOverride:
    """The user's entry for one provider, exactly the fields they wrote.

    From `[providers.<name>]` (usually a `base_url`) or `[[custom_providers]]` (an
    OpenAI-compatible endpoint: LM Studio, vLLM, llama.cpp, a proxy...). Merged over the shipped
    provider of that name field by field; a new name starts from `NEW_PROVIDER_DEFAULTS`.
    """

    name: str
    fields: Mapping[str, Any]
    source: str  # where it was written, for error messages: "[providers.groq]"

    # What a provider the catalogue does not ship gets for the fields the user left out.
    NEW_PROVIDER_DEFAULTS: ClassVar[Mapping[str, Any]] = {"protocol": "openai", "local": True}


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    config_dir: Path
    db_path: Path  # the SQLite file (unused when db_url is a postgresql:// URL)
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
    provider_overrides: tuple[ProviderOverride, ...] = ()
    # Every `<NAME>_BASE_URL` variable that is set, by variable name (a manifest's base_url_env
    # may name any of them); they win over the catalogue's merged base_url.
    env_base_urls: Mapping[str, str] = field(default_factory=dict)
    ollama_host: str | None = None  # OLLAMA_HOST, read the way Ollama reads it
    stall_timeout_s: float = 60.0  # PWM_STALL_TIMEOUT_S: longest silence inside a stream
    # Which tools `tools/list` offers: "core" (the four core tools), "all", or tool names.
    tools: tuple[str, ...] = ("core",)
    # Longest a tool call may block (PWM_TOOL_TIME_LIMIT_S): clients cut calls at about 60 s.
    tool_time_limit_s: float = 45.0
    http_host: str = "127.0.0.1"
    http_port: int = 8765
    log_level: str = "INFO"
    # Workspace context (server/context): where repository indexes are cached, and extra glob
    # patterns of files never sent to a model (PWM_CONTEXT_EXCLUDE, `:`-separated, + config).
    cache_dir: Path = field(default_factory=lambda: Path.home() / ".cache" / APP_NAME)
    context_exclude: tuple[str, ...] = ()
    # Where the store lives: the SQLite path, or a postgresql:// URL (PWM_DB or [store] db).
    db_url: str = ""
    # Leases (server/store/leases.py): how long an instance's claim on its groups lasts
    # unrenewed, and how often every instance renews it and looks for groups to take over.
    lease_seconds: float = 30.0
    poll_seconds: float = 5.0
    # Who the stdio server acts for (PWM_USER; empty: the OS user): their groups and budgets.
    stdio_user: str = ""
    # The process environment, kept for API-key look-ups at call time and for child processes;
    # never printed.
    env: Mapping[str, str] = field(default_factory=dict, repr=False)

    def api_key(self, key_env: str | None) -> str | None:
        """The API key held in `key_env`, or None when the variable is unset or empty."""
        if not key_env:
            return None
        value = self.env.get(key_env, "").strip()
        return value or None

    def base_url_override(self, provider: str, base_url_env: str | None) -> str | None:
        """The provider's base URL from `<PROVIDER>_BASE_URL` (or its manifest's base_url_env)."""
        return self.env_base_urls.get(base_url_env or f"{provider.upper().replace('-', '_')}_BASE_URL")

    def base_url_for(self, provider: str, default: str, base_url_env: str | None) -> str:
        """A provider's base URL: the environment's override, else `default` (the catalogue's
        base_url, with the config file's entry already merged in)."""
        return self.base_url_override(provider, base_url_env) or default


def cache_dir_of(env: Mapping[str, str]) -> Path:
    """The server's cache folder for an environment (XDG_CACHE_HOME, else ~/.cache)."""
    return _xdg(env, "XDG_CACHE_HOME", ".cache")


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


def _database(env: Mapping[str, str], config: dict[str, Any], data_dir: Path) -> tuple[Path, str]:
    """(SQLite path, store URL) from PWM_DB or `[store] db`; an unsupported URL scheme is an error."""
    from server.errors import StoreError
    from server.store.target import parse_db_target

    raw = env.get("PWM_DB") or str(config.get("store", {}).get("db") or "")
    if not raw:
        return data_dir / "pwm.db", str(data_dir / "pwm.db")
    try:
        target = parse_db_target(raw)
    except StoreError as exc:
        raise ConfigError(str(exc)) from None
    if target.path is not None:
        return target.path.expanduser(), str(target.path.expanduser())
    return data_dir / "pwm.db", str(target.url)


def _seconds(value: Any, name: str, default: float) -> float:
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: expected a number of seconds, got {value!r}") from None
    if not seconds > 0:
        raise ConfigError(f"{name}: must be more than 0 seconds, got {value!r}")
    return max(0.1, seconds)


def _tool_choice(value: Any) -> tuple[str, ...]:
    """`PWM_TOOLS` / `[server] tools`: "core", "all", or names (comma-separated or a list)."""
    if value is None:
        return ("core",)
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise ConfigError(f"tools: expected 'core', 'all' or a list of tool names, got {value!r}")
    names = tuple(i.strip() for i in items if i.strip())
    return names or ("core",)


def _provider_overrides(config: Mapping[str, Any]) -> tuple[ProviderOverride, ...]:
    out: list[ProviderOverride] = []
    for name, section in config.get("providers", {}).items():
        if not isinstance(section, dict):
            raise ConfigError(f"config [providers.{name}]: expected a table of provider fields")
        out.append(ProviderOverride(name, {**section, "name": name}, f"[providers.{name}]"))
    for index, item in enumerate(config.get("custom_providers", [])):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
            raise ConfigError(f"config custom_providers[{index}]: needs a non-empty name")
        out.append(ProviderOverride(item["name"], dict(item), f"[[custom_providers]] {item['name']}"))
    return tuple(out)


def load_settings(
    env: Mapping[str, str] | None = None, *, env_updates: Mapping[str, str] | None = None, **overrides: Any
) -> Settings:
    """Build the settings from `env` (default: `os.environ`, with `env_updates` over it) and the
    config file; `overrides` replace built fields.

    Raises:
        ConfigError: the config file does not parse or holds a wrong value.
    """
    env = {**(os.environ if env is None else env), **(env_updates or {})}
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

    providers = _provider_overrides(config)
    roots_cfg = config.get("allowed_roots", [])
    if env.get("PWM_ALLOWED_ROOTS"):
        roots_cfg = env["PWM_ALLOWED_ROOTS"].split(os.pathsep)
    server_cfg = config.get("server", {})
    routing_cfg = config.get("routing", {})
    overlay = env.get("PWM_MANIFESTS") or config.get("manifests_dir")
    context_cfg = config.get("context", {})
    exclude = [str(p) for p in context_cfg.get("exclude", [])]
    exclude += [p for p in env.get("PWM_CONTEXT_EXCLUDE", "").split(os.pathsep) if p.strip()]

    db_path, db_url = _database(env, config, data_dir)
    store_cfg = config.get("store", {})
    lease_s = _seconds(env.get("PWM_LEASE_SECONDS") or store_cfg.get("lease_seconds"), "store.lease_seconds", 30.0)
    poll_s = _seconds(env.get("PWM_POLL_SECONDS") or store_cfg.get("poll_seconds"), "store.poll_seconds", 5.0)
    if poll_s >= lease_s:
        raise ConfigError(f"store.lease_seconds ({lease_s}) and store.poll_seconds ({poll_s}) must be"
                          " positive, the poll shorter than the lease (defaults 30 and 5)")
    values: dict[str, Any] = dict(
        data_dir=data_dir,
        config_dir=config_dir,
        db_path=db_path,
        db_url=db_url,
        lease_seconds=lease_s,
        poll_seconds=poll_s,
        stdio_user=str(env.get("PWM_USER") or ""),
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
        provider_overrides=providers,
        env_base_urls={k: v.strip() for k, v in env.items() if k.endswith("_BASE_URL") and v.strip()},
        ollama_host=env.get("OLLAMA_HOST", "").strip() or None,
        stall_timeout_s=_seconds(env.get("PWM_STALL_TIMEOUT_S") or server_cfg.get("stall_timeout_s"),
                                 "PWM_STALL_TIMEOUT_S", 60.0),
        tools=_tool_choice(env.get("PWM_TOOLS") or server_cfg.get("tools")),
        tool_time_limit_s=_seconds(env.get("PWM_TOOL_TIME_LIMIT_S") or server_cfg.get("tool_time_limit_s"),
                                   "PWM_TOOL_TIME_LIMIT_S", 45.0),
        http_host=str(server_cfg.get("host", "127.0.0.1")),
        http_port=int(server_cfg.get("port", 8765)),
        log_level=str(env.get("PWM_LOG_LEVEL") or server_cfg.get("log_level", "INFO")).upper(),
        cache_dir=cache_dir_of(env),
        context_exclude=tuple(exclude),
        env=env,
    )
    values.update(overrides)
    return Settings(**values)
