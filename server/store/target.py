"""Where the store lives: `PWM_DB` (or `[store] db` in the config file) read as a path or a URL.

    /home/me/pwm.db, ./pwm.db, ~/pwm.db     SQLite file (the default kind)
    sqlite:///home/me/pwm.db                SQLite file, absolute path (sqlite:///./pwm.db relative)
    postgresql://user:pw@host:5432/db       PostgreSQL (also postgres://, with ?options etc.)

Any other `scheme://` is a clear error naming the schemes we support; it is never taken as a
file name (which once made a SQLite file appear under `./postgresql:/`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from server.errors import StoreError

__all__ = ["DbTarget", "parse_db_target", "redact_url"]

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+)://")


@dataclass(frozen=True)
class DbTarget:
    kind: str  # "sqlite" | "postgresql"
    path: Path | None = None  # sqlite
    url: str | None = None  # postgresql

    def describe(self) -> str:
        return str(self.path) if self.path is not None else redact_url(self.url or "")


def redact_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def parse_db_target(value: str | Path) -> DbTarget:
    """Read a database setting.

    Raises:
        StoreError: a URL with a scheme we do not support, or an empty value.
    """
    if isinstance(value, Path):
        return DbTarget("sqlite", path=value)
    text = value.strip()
    if not text:
        raise StoreError("PWM_DB is empty: give a SQLite file path or a postgresql:// URL")
    match = _SCHEME.match(text)
    if match is None:
        return DbTarget("sqlite", path=Path(text))
    scheme = match.group(1).lower()
    if scheme in ("postgresql", "postgres"):
        return DbTarget("postgresql", url="postgresql://" + text[match.end():])
    if scheme == "sqlite":
        rest = text[match.end():]
        if not rest.startswith("/") or rest == "/":
            raise StoreError(f"database URL {text!r}: write sqlite:///absolute/path.db (three slashes)")
        return DbTarget("sqlite", path=Path(rest[1:] if rest.startswith("/./") else rest))
    raise StoreError(
        f"database URL scheme {scheme!r} is not supported (PWM_DB={redact_url(text)!r}): use a SQLite"
        " file path, sqlite:///path.db, or postgresql://user@host:port/dbname"
    )
