"""Who is calling: users, teams and the bearer tokens the HTTP transport checks.

An operator issues a token (`parallel-work-manager tokens create --user NAME`); it is shown
once and stored only as its SHA-256 (a token is 256 random bits, so a plain fast hash is the
right tool: there is nothing to brute-force, unlike a password). A user belongs to at most one
team and has a role, `user` or `admin` (an admin sees every group). Users and teams may carry a
budget in USD, checked on top of the global ones.

Once any token exists, every HTTP request needs one (see `server/auth.py`).
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from contextvars import ContextVar
from dataclasses import dataclass

from server.errors import InputError
from server.store.base import StoreBase, now_ts

__all__ = ["CALLER", "Caller", "IssuedToken", "TokensMixin", "current_caller", "hash_token", "restricted_to",
           "set_process_caller"]

TOKEN_PREFIX = "pwm_"
ROLES = ("user", "admin")


@dataclass(frozen=True)
class Caller:
    """The user a request is made for."""

    user: str
    team: str | None = None
    role: str = "user"
    budget_usd: float | None = None
    team_budget_usd: float | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


# Who the current request acts for: set per request by the HTTP edge (server/http_auth.py);
# else the process's caller (on stdio: PWM_USER, else the OS user); None: unrestricted.
CALLER: ContextVar[Caller | None] = ContextVar("pwm_caller", default=None)
_process_caller: list[Caller | None] = [None]


def set_process_caller(caller: Caller | None) -> None:
    """The caller of everything this process does outside an authenticated request (stdio)."""
    _process_caller[0] = caller


def current_caller() -> Caller | None:
    return CALLER.get() or _process_caller[0]


def restricted_to() -> str | None:
    """The user whose groups alone the current caller may see; None when they may see all."""
    caller = current_caller()
    return None if caller is None or caller.is_admin else caller.user


@dataclass(frozen=True)
class IssuedToken:
    token: str  # shown once, never stored
    user: str
    token_id: str


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _create(conn: sqlite3.Connection, user: str, team: str | None, role: str, budget: float | None,
            team_budget: float | None, token_id: str, digest: str, now: float) -> None:
    if team is not None:
        conn.execute(
            "INSERT INTO teams (name, budget_usd, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE"
            " SET budget_usd = coalesce(excluded.budget_usd, teams.budget_usd)",
            (team, team_budget, now),
        )
    conn.execute(
        "INSERT INTO users (name, team, role, budget_usd, created_at) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (name) DO UPDATE SET team = coalesce(excluded.team, users.team), role = excluded.role,"
        " budget_usd = coalesce(excluded.budget_usd, users.budget_usd)",
        (user, team, role, budget, now),
    )
    conn.execute("INSERT INTO tokens (id, hash, user_name, created_at) VALUES (?, ?, ?, ?)",
                 (token_id, digest, user, now))


def _verify(conn: sqlite3.Connection, digest: str, now: float) -> Caller | None:
    row = conn.execute(
        "SELECT u.name, u.team, u.role, u.budget_usd, t.budget_usd FROM tokens k JOIN users u ON u.name = k.user_name"
        " LEFT JOIN teams t ON t.name = u.team WHERE k.hash = ? AND k.revoked_at IS NULL",
        (digest,),
    ).fetchone()
    if row is None:
        return None
    return Caller(*row)


def _count(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM tokens WHERE revoked_at IS NULL").fetchone()[0])


def _revoke(conn: sqlite3.Connection, token_id: str, now: float) -> bool:
    cursor = conn.execute("UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (now, token_id))
    return bool(cursor.rowcount)


def _assign(conn: sqlite3.Connection, group_id: str, user: str) -> bool:
    return bool(conn.execute("UPDATE groups SET user_name = ? WHERE id = ?", (user, group_id)).rowcount)


def _group_user(conn: sqlite3.Connection, group_id: str) -> str | None:
    row = conn.execute("SELECT user_name FROM groups WHERE id = ?", (group_id,)).fetchone()
    return None if row is None else row[0]


class TokensMixin(StoreBase):
    async def assign_group_user(self, group_id: str, user: str) -> bool:
        """Record whose group it is (its budgets and who may see it); False for an unknown group."""
        return await self._write(_assign, group_id, user)

    async def group_user(self, group_id: str) -> str | None:
        """The user a group runs for (None: unknown group, or made before users existed)."""
        return await self._run(_group_user, group_id)

    @staticmethod
    def may_see(group_user: str | None, caller: Caller | None) -> bool:
        """Whether `caller` may see and cancel a group of `group_user` (no caller: stdio, unrestricted)."""
        if caller is None or caller.is_admin or group_user is None:
            return True
        return group_user == caller.user

    async def create_token(self, user: str, *, team: str | None = None, role: str = "user",
                           budget_usd: float | None = None, team_budget_usd: float | None = None) -> IssuedToken:
        """Issue a bearer token for `user` (created, or updated with the team/role/budget given)."""
        user = user.strip()
        if not user or len(user) > 100:
            raise InputError("--user", "a user name of 1 to 100 characters is needed")
        if role not in ROLES:
            raise InputError("--role", f"unknown role {role!r}", ", ".join(ROLES))
        for field, value in (("--budget", budget_usd), ("--team-budget", team_budget_usd)):
            if value is not None and not value >= 0:
                raise InputError(field, f"must be a non-negative amount in USD, got {value}")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token_id = secrets.token_hex(6)
        await self._write(_create, user, team, role, budget_usd, team_budget_usd, token_id, hash_token(token),
                          now_ts())
        return IssuedToken(token, user, token_id)

    async def verify_token(self, token: str) -> Caller | None:
        """The caller a token was issued to; None for an unknown or revoked token."""
        if not token.startswith(TOKEN_PREFIX):
            return None
        return await self._run(_verify, hash_token(token), now_ts())

    async def token_count(self) -> int:
        """How many live tokens exist (0: the HTTP transport is open to loopback only)."""
        return await self._run(_count)

    async def revoke_token(self, token_id: str) -> bool:
        return await self._write(_revoke, token_id, now_ts())
