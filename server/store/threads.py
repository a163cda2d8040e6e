"""Follow-up threads of finished tasks: their turns and the workspace context already sent.

A turn is stored whole (the user's message with the context sent, the model's answer, and the
pieces of context it sent) in one transaction, so a restart finds the thread as it was.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from server.store.base import StoreBase

__all__ = ["Thread", "ThreadMessage", "ThreadsMixin"]


@dataclass(frozen=True)
class ThreadMessage:
    turn: int
    role: str  # user | assistant
    content: str
    model_id: str | None = None
    context_tokens: int = 0  # tokens of workspace context this message carried


@dataclass(frozen=True)
class Thread:
    task_id: str
    messages: tuple[ThreadMessage, ...] = ()
    sent: dict[str, int] = field(default_factory=dict)  # context piece -> its tokens, sent so far

    @property
    def turns(self) -> int:
        return max((m.turn for m in self.messages), default=0)


def _read(conn: sqlite3.Connection, task_id: str) -> Thread:
    rows = conn.execute(
        "SELECT turn, role, content, model_id, context_tokens FROM thread_messages WHERE task_id = ? ORDER BY id",
        (task_id,),
    ).fetchall()
    sent = dict(conn.execute("SELECT piece, tokens FROM thread_context WHERE task_id = ?", (task_id,)).fetchall())
    return Thread(task_id, tuple(ThreadMessage(int(r[0]), str(r[1]), str(r[2]), r[3], int(r[4])) for r in rows),
                  {str(k): int(v) for k, v in sent.items()})


def _append(conn: sqlite3.Connection, task_id: str, messages: Sequence[ThreadMessage],
            pieces: Sequence[tuple[str, int, int]], now: float) -> None:
    conn.executemany(
        "INSERT INTO thread_messages (task_id, turn, role, content, model_id, context_tokens, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(task_id, m.turn, m.role, m.content, m.model_id, m.context_tokens, now) for m in messages],
    )
    conn.executemany(
        "INSERT INTO thread_context (task_id, piece, tokens, turn) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (task_id, piece) DO NOTHING",
        [(task_id, piece, tokens, turn) for piece, tokens, turn in pieces],
    )


def _turns(conn: sqlite3.Connection, task_ids: list[str]) -> dict[str, int]:
    marks = ", ".join("?" * len(task_ids))
    rows = conn.execute(
        f"SELECT task_id, max(turn) FROM thread_messages WHERE task_id IN ({marks}) GROUP BY task_id", task_ids,
    ).fetchall()
    return {str(r[0]): int(r[1]) for r in rows}


def _statuses(conn: sqlite3.Connection, group_id: str, keys: list[str]) -> dict[str, str]:
    marks = ", ".join("?" * len(keys))
    rows = conn.execute(f"SELECT key, status FROM tasks WHERE group_id = ? AND key IN ({marks})",
                        (group_id, *keys)).fetchall()
    return {str(r[0]): str(r[1]) for r in rows}


class ThreadsMixin(StoreBase):
    async def thread(self, task_id: str) -> Thread:
        """The task's follow-up thread (empty before its first follow-up)."""
        return await self._read(_read, task_id)

    async def append_thread(
        self, task_id: str, messages: Sequence[ThreadMessage], pieces: Sequence[tuple[str, int, int]] = ()
    ) -> None:
        """Add messages and the context pieces (piece, tokens, turn) they sent, in one transaction."""
        await self._write(_append, task_id, list(messages), list(pieces), time.time())

    async def task_statuses(self, group_id: str, keys: Sequence[str]) -> dict[str, str]:
        """The status of the named tasks of a group (a page's dependencies: its blockers)."""
        return await self._run(_statuses, group_id, list(keys)[:900]) if keys else {}

    async def thread_turns(self, task_ids: Sequence[str]) -> dict[str, int]:
        """Follow-up turns so far of each of these tasks that has a thread (a status page's)."""
        return await self._run(_turns, list(task_ids)[:900]) if task_ids else {}
