"""The `parallel-work-manager` command: `serve` (stdio or streamable HTTP) and operator commands.

Settings are built here, once, from the environment and the config file; logs go to stderr
because on stdio the process's stdout belongs to the MCP protocol.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import importlib.util
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from server import __version__
from server.errors import PWMError
from server.settings import Settings, load_settings

if TYPE_CHECKING:
    from server.catalog import Catalog

__all__ = ["main"]

log = logging.getLogger("parallel_work_manager")

# Operator commands live in their own modules: each exposes `add_arguments(parser)` and
# `async run(args, settings) -> int`. A module that is not installed is simply not offered.
OPS_COMMANDS: dict[str, tuple[str, str]] = {
    "report": ("server.ops.report", "spend, calls, success and latency over recent days"),
    "models": ("server.ops.models_cmd", "list, test and sync the model catalogue"),
    "doctor": ("server.ops.doctor", "check keys, providers, database and tokenizer"),
    "validate": ("server.ops.validate_cmd", "run validate_workspace's checks on a path"),
    "tokens": ("server.ops.tokens_cmd", "issue or revoke bearer tokens for the HTTP transport"),
    "migrate": ("server.ops.migrate_cmd", "move a store's history into another (e.g. SQLite to PostgreSQL)"),
}

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def _configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level if level in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL") else "INFO")
    # httpx logs every request URL at INFO; keep it quiet unless debugging.
    logging.getLogger("httpx").setLevel(logging.WARNING)


def _parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="parallel-work-manager",
        description="MCP server that routes coding tasks to the right model and runs them in parallel.",
    )
    parser.add_argument("--version", action="version", version=f"parallel-work-manager {__version__}")
    parser.add_argument("--config", type=Path, help="config file (default: $XDG_CONFIG_HOME/parallel-work-manager/config.toml)")
    parser.add_argument("--db", help="the store: SQLite path or postgresql:// URL (default: $PWM_DB, else the XDG data dir)")
    parser.add_argument("--manifests", type=Path, help="overlay manifests directory (overrides/adds entries)")
    parser.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="stderr log level")
    # With no command the server runs on stdio, as MCP clients launch it.
    parser.set_defaults(command="serve", http=False, host=None, port=None, allowed_host=[], allowed_origin=[])
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the MCP server (stdio by default)")
    serve.add_argument("--http", action="store_true", help="serve streamable HTTP instead of stdio")
    serve.add_argument("--host", help="HTTP bind address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="HTTP port (default 8765)")
    serve.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        help="extra Host header value accepted over HTTP (DNS-rebinding protection), e.g. myhost:8765",
    )
    serve.add_argument(
        "--allowed-origin", action="append", default=[], help="extra Origin accepted over HTTP"
    )

    chosen = _first_command(argv)
    for name, (module_name, help_text) in OPS_COMMANDS.items():
        if not _module_exists(module_name):
            continue
        sub = commands.add_parser(name, help=help_text)
        if name == chosen:  # import an operator command only when it runs: keeps `serve` start fast
            module = importlib.import_module(module_name)
            module.add_arguments(sub)
            sub.set_defaults(_ops_module=module)
    return parser


def _module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def _first_command(argv: Sequence[str]) -> str | None:
    takes_value = {"--config", "--db", "--manifests", "--log-level"}
    skip = False
    for token in argv:
        if skip:
            skip = False
        elif token in takes_value:
            skip = True
        elif not token.startswith("-"):
            return token
    return None


def _settings_from(args: argparse.Namespace) -> Settings:
    env: dict[str, str] = {}  # command-line options, applied over the process environment
    if args.config:
        env["PWM_CONFIG"] = str(args.config)
    if args.db:
        env["PWM_DB"] = str(args.db)
    if args.manifests:
        env["PWM_MANIFESTS"] = str(args.manifests)
    if args.log_level:
        env["PWM_LOG_LEVEL"] = args.log_level
    overrides: dict[str, Any] = {}
    if getattr(args, "host", None):
        overrides["http_host"] = args.host
    if getattr(args, "port", None):
        overrides["http_port"] = args.port
    return load_settings(env_updates=env, **overrides)


def _transport_security(settings: Settings, args: argparse.Namespace) -> Any:
    from mcp.server.transport_security import TransportSecuritySettings

    host = settings.http_host
    port = settings.http_port
    hosts = ["127.0.0.1:*", "localhost:*", "[::1]:*", *args.allowed_host]
    origins = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*", *args.allowed_origin]
    if host not in LOOPBACK_HOSTS and host not in ("0.0.0.0", "::"):
        hosts.append(f"{host}:{port}")
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
    )


def _user_catalog(settings: Settings) -> Catalog | None:
    """The catalogue, loaded now when the user's own manifests or providers are merged into it (so
    a mistake there stops the server at start, as a wrong setting does), else None: the shipped
    catalogue alone loads with the state, in the background, and start-up stays fast.

    Raises:
        ManifestError: an overlay folder that does not exist, a file that does not parse or validate.
        ConfigError: the price cache cannot be read.
    """
    if settings.manifests_overlay is None and not settings.provider_overrides:
        return None
    from server.perf.price_sync import load_catalog_with_cache

    return load_catalog_with_cache(settings)


def _serve(settings: Settings, args: argparse.Namespace, catalog: Catalog | None) -> int:
    from server.app import build_server

    if args.http:  # tokens decide: required once one exists, else loopback only (server/http_auth.py)
        import dataclasses

        from server.http_auth import auth_for

        access = auth_for(settings, LOOPBACK_HOSTS)
        (log.warning if access.host != settings.http_host else log.info)("%s", access.reason)
        settings = dataclasses.replace(settings, http_host=access.host)
        mcp = build_server(settings, http=True, token_verifier=access.verifier, auth=access.auth, catalog=catalog)
    else:  # on stdio the caller is PWM_USER, else the OS user (their groups and budgets)
        import getpass

        from server.store.tokens import Caller, set_process_caller

        set_process_caller(Caller(user=settings.stdio_user or getpass.getuser()))
        mcp = build_server(settings, http=False, catalog=catalog)
    _server_built()
    if not args.http:
        log.info("serving MCP on stdio (database %s)", settings.db_path)
        mcp.run("stdio")
        return 0
    if settings.http_host not in LOOPBACK_HOSTS:
        log.warning("binding to %s: the server is reachable beyond this machine", settings.http_host)
    log.info(
        "serving MCP over streamable HTTP at http://%s:%d/mcp (database %s)",
        settings.http_host,
        settings.http_port,
        settings.db_path,
    )
    mcp.run(
        "streamable-http",
        host=settings.http_host,
        port=settings.http_port,
        transport_security=_transport_security(settings, args),
    )
    return 0


def _server_built() -> None:
    """The server is built: collect cycles again, leaving out the objects made so far.

    Start-up makes ~100k objects that live as long as the process (mostly the SDK's ~550
    pydantic models, then ours); the cyclic collector would walk them again and again while
    they are made (~0.1 s of a ~1 s start), and each full collection after that once more.
    `gc.freeze` moves them out of its sight for good.
    """
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def main(argv: Sequence[str] | None = None) -> int:
    gc.disable()  # until the server is built (`_server_built`) or an operator command runs
    try:
        return _main(argv)
    finally:
        gc.enable()


def _main(argv: Sequence[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser(argv)
    args = parser.parse_args(argv)
    try:
        settings = _settings_from(args)
        catalog = _user_catalog(settings) if args.command == "serve" else None
    except PWMError as exc:
        print(f"parallel-work-manager: {exc}", file=sys.stderr)
        return 2
    _configure_logging(settings.log_level)
    try:
        if args.command == "serve":
            return _serve(settings, args, catalog)
        gc.enable()
        module = args._ops_module
        return int(asyncio.run(module.run(args, settings)))
    except PWMError as exc:
        print(f"parallel-work-manager: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
