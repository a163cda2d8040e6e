"""Schema migrations: an ordered list of small named functions and a table of the names applied.

Each migration runs in its own `BEGIN IMMEDIATE` transaction together with the row recording
its name, so two processes opening the same file at once apply it exactly once. A migration
that has shipped is never edited: change the schema by appending a new function.

Tables: `groups`, `tasks`, `attempts` (one row per model call: the ledger of reservations and
settled costs), `ledger_days` (settled spend per local calendar day, so a monthly budget check
reads at most 31 rows), `owners` (the Store instances that have the file open), `validations`
(the checks run on a model's patch), `model_costs` (each model's learned actual/estimate ratio),
`teams`, `users`, `tokens` (who calls over HTTP; tokens stored hashed), `thread_messages` /
`thread_context` (a finished task's follow-up turns and the context they sent). Each attempt
names the repository it worked in (`attempts.repo`, a key from `server.perf.repos`), so routing
learns per repository.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

__all__ = ["MIGRATIONS", "apply_migrations", "applied_migrations"]

Migration = Callable[[sqlite3.Connection], None]
MIGRATIONS: list[Migration] = []


def migration(fn: Migration) -> Migration:
    MIGRATIONS.append(fn)
    return fn


@migration
def m001_initial(conn: sqlite3.Connection) -> None:
    conn.execute(
        """CREATE TABLE groups (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            status TEXT NOT NULL,
            strategy TEXT NOT NULL,
            policy TEXT NOT NULL,
            budget_usd REAL,
            max_concurrent INTEGER NOT NULL,
            dry_run INTEGER NOT NULL,
            request_json TEXT NOT NULL,
            owner TEXT NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            finished_at REAL
        )"""
    )
    # One running group per name, enforced by SQLite itself (also across processes).
    conn.execute("CREATE UNIQUE INDEX groups_running_name ON groups(name) WHERE status = 'running'")
    conn.execute("CREATE INDEX groups_name_created ON groups(name, created_at)")
    conn.execute("CREATE INDEX groups_status_created ON groups(status, created_at)")
    conn.execute(
        """CREATE TABLE tasks (
            id TEXT PRIMARY KEY,
            group_id TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
            key TEXT NOT NULL,
            position INTEGER NOT NULL,
            agent_type TEXT NOT NULL,
            agent TEXT NOT NULL,
            variant TEXT NOT NULL,
            agent_name TEXT NOT NULL,
            description TEXT NOT NULL,
            priority INTEGER NOT NULL,
            timeout_s REAL NOT NULL,
            tags_json TEXT NOT NULL,
            depends_on_json TEXT NOT NULL,
            plan_json TEXT NOT NULL,
            context_json TEXT,
            validate_json TEXT,
            status TEXT NOT NULL,
            model_used TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            input_tokens INTEGER NOT NULL DEFAULT 0,
            output_tokens INTEGER NOT NULL DEFAULT 0,
            cached_tokens INTEGER NOT NULL DEFAULT 0,
            reasoning_tokens INTEGER NOT NULL DEFAULT 0,
            cost_usd REAL NOT NULL DEFAULT 0,
            result TEXT,
            result_chars INTEGER,
            error TEXT,
            error_class TEXT,
            created_at REAL NOT NULL,
            queued_at REAL,
            started_at REAL,
            finished_at REAL,
            updated_at REAL NOT NULL,
            UNIQUE (group_id, key)
        )"""
    )
    conn.execute("CREATE INDEX tasks_group_position ON tasks(group_id, position)")
    conn.execute(
        """CREATE TABLE attempts (
            id INTEGER PRIMARY KEY,
            task_id TEXT REFERENCES tasks(id) ON DELETE SET NULL,
            group_id TEXT REFERENCES groups(id) ON DELETE SET NULL,
            owner TEXT NOT NULL,
            model_id TEXT NOT NULL,
            provider TEXT NOT NULL,
            variant TEXT,
            paid INTEGER NOT NULL,
            status TEXT NOT NULL,
            reserved_usd REAL NOT NULL DEFAULT 0,
            cost_usd REAL,
            charged_usd REAL NOT NULL DEFAULT 0,
            cost_source TEXT,
            input_tokens INTEGER NOT NULL DEFAULT 0,
            output_tokens INTEGER NOT NULL DEFAULT 0,
            cached_tokens INTEGER NOT NULL DEFAULT 0,
            reasoning_tokens INTEGER NOT NULL DEFAULT 0,
            latency_ms REAL,
            first_token_ms REAL,
            error_class TEXT,
            error_message TEXT,
            generation_id TEXT,
            http_status INTEGER,
            day TEXT NOT NULL,
            started_at REAL NOT NULL,
            finished_at REAL
        )"""
    )
    conn.execute("CREATE INDEX attempts_started ON attempts(started_at)")
    conn.execute("CREATE INDEX attempts_model_started ON attempts(model_id, started_at)")
    conn.execute("CREATE INDEX attempts_group ON attempts(group_id)")
    conn.execute("CREATE INDEX attempts_task ON attempts(task_id)")
    # Only calls in flight: the reservations a budget check adds, and what recovery settles.
    conn.execute(
        "CREATE INDEX attempts_running ON attempts(owner, day, reserved_usd) WHERE status = 'running'"
    )
    conn.execute(
        """CREATE TABLE ledger_days (
            day TEXT PRIMARY KEY,
            settled_usd REAL NOT NULL DEFAULT 0,
            calls INTEGER NOT NULL DEFAULT 0
        ) WITHOUT ROWID"""
    )
    conn.execute(
        """CREATE TABLE owners (
            id TEXT PRIMARY KEY,
            pid INTEGER NOT NULL,
            host TEXT NOT NULL,
            started_at REAL NOT NULL
        )"""
    )


@migration
def m002_validations(conn: sqlite3.Connection) -> None:
    # One row per validated answer: the checks run on a model's patch in a temporary worktree.
    conn.execute(
        """CREATE TABLE validations (
            attempt_id INTEGER PRIMARY KEY REFERENCES attempts(id),
            task_id TEXT NOT NULL REFERENCES tasks(id),
            group_id TEXT NOT NULL,
            passed INTEGER NOT NULL,
            status TEXT NOT NULL,
            base_commit TEXT,
            report_json TEXT NOT NULL,
            created_at REAL NOT NULL
        )"""
    )
    conn.execute("CREATE INDEX validations_group ON validations (group_id)")


@migration
def m003_cost_learning(conn: sqlite3.Connection) -> None:
    # The raw estimate a reservation was made from, so a settlement can learn actual/estimate.
    conn.execute("ALTER TABLE attempts ADD COLUMN estimate_usd REAL")
    # Per model: the observed actual/estimate ratio and mean cost per call (see ledger.py).
    conn.execute(
        """CREATE TABLE model_costs (
            model_id TEXT PRIMARY KEY,
            provider TEXT NOT NULL,
            ratio REAL NOT NULL DEFAULT 1,
            ratio_samples INTEGER NOT NULL DEFAULT 0,
            mean_cost REAL NOT NULL DEFAULT 0,
            cost_samples INTEGER NOT NULL DEFAULT 0,
            updated_at REAL NOT NULL
        )"""
    )


@migration
def m004_owner_leases(conn: sqlite3.Connection) -> None:
    # Each owner renews its lease every poll interval; one whose lease ran out is taken as dead
    # even if its liveness lock is still held (a hung process), so its groups move on.
    conn.execute("ALTER TABLE owners ADD COLUMN lease_until REAL")
    conn.execute("ALTER TABLE owners ADD COLUMN lease_s REAL")


@migration
def m005_users_and_tokens(conn: sqlite3.Connection) -> None:
    # Who calls (server/store/tokens.py): teams, users, bearer tokens stored as their SHA-256.
    conn.execute(
        """CREATE TABLE teams (
            name TEXT PRIMARY KEY,
            budget_usd REAL,
            created_at REAL NOT NULL
        )"""
    )
    conn.execute(
        """CREATE TABLE users (
            name TEXT PRIMARY KEY,
            team TEXT REFERENCES teams(name),
            role TEXT NOT NULL DEFAULT 'user',
            budget_usd REAL,
            created_at REAL NOT NULL
        )"""
    )
    conn.execute(
        """CREATE TABLE tokens (
            id TEXT PRIMARY KEY,
            hash TEXT NOT NULL UNIQUE,
            user_name TEXT NOT NULL REFERENCES users(name),
            created_at REAL NOT NULL,
            revoked_at REAL
        )"""
    )
    # Whose group, and whose call: per-user and per-team budgets sum a user's calls of a day.
    conn.execute("ALTER TABLE groups ADD COLUMN user_name TEXT")
    conn.execute("ALTER TABLE attempts ADD COLUMN user_name TEXT")
    conn.execute("ALTER TABLE attempts ADD COLUMN team TEXT")
    conn.execute("CREATE INDEX attempts_user_day ON attempts(user_name, day)")
    conn.execute("CREATE INDEX attempts_team_day ON attempts(team, day)")


@migration
def m006_task_status_index(conn: sqlite3.Connection) -> None:
    # A group's status reads its counts and totals, and ranks a page of tasks by status, from
    # this index alone (no pass over 10,000 full task rows with their results).
    conn.execute(
        "CREATE INDEX tasks_group_status ON tasks"
        " (group_id, status, position, attempts, input_tokens, output_tokens, cost_usd)"
    )


@migration
def m007_task_threads(conn: sqlite3.Connection) -> None:
    # A finished task's follow-up conversation (continue_task): its turns, and which pieces of
    # workspace context were already sent in it (so a follow-up sends only what is new).
    conn.execute(
        """CREATE TABLE thread_messages (
            id INTEGER PRIMARY KEY,
            task_id TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
            turn INTEGER NOT NULL,
            role TEXT NOT NULL,
            content TEXT NOT NULL,
            model_id TEXT,
            context_tokens INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL
        )"""
    )
    conn.execute("CREATE INDEX thread_messages_task ON thread_messages (task_id, id)")
    conn.execute(
        """CREATE TABLE thread_context (
            task_id TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
            piece TEXT NOT NULL,
            tokens INTEGER NOT NULL,
            turn INTEGER NOT NULL,
            PRIMARY KEY (task_id, piece)
        ) WITHOUT ROWID"""
    )


@migration
def m008_attempt_repo(conn: sqlite3.Connection) -> None:
    # The repository an attempt worked in (`server.perf.repos.repo_key`: a normalised remote
    # without credentials, else the work tree's path); NULL for a task without a workspace.
    conn.execute("ALTER TABLE attempts ADD COLUMN repo TEXT")


@migration
def m009_lighter_attempt_indexes(conn: sqlite3.Connection) -> None:
    # Every call inserts an attempt row, so each index on `attempts` is paid on the latency path.
    # The per-user and per-team ones hold only calls made for a user (HTTP with tokens; none on
    # stdio): a budget check names the user or team, which implies the condition. The
    # (model, started) one served no query the started-at index does not (the ratio rise that
    # updates a model's calls in flight finds them among the running ones).
    conn.execute("DROP INDEX attempts_user_day")
    conn.execute("DROP INDEX attempts_team_day")
    conn.execute("DROP INDEX attempts_model_started")
    conn.execute("CREATE INDEX attempts_user_day ON attempts(user_name, day) WHERE user_name IS NOT NULL")
    conn.execute("CREATE INDEX attempts_team_day ON attempts(team, day) WHERE team IS NOT NULL")


def applied_migrations(conn: sqlite3.Connection) -> list[str]:
    """Names of the migrations recorded in the database, in the order they were applied."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)"
    )
    return [row[0] for row in conn.execute("SELECT name FROM _migrations ORDER BY rowid")]


def apply_migrations(conn: sqlite3.Connection) -> list[str]:
    """Apply every migration not yet recorded; return the names applied now.

    `conn` must be in autocommit mode (isolation_level=None); each migration gets its own
    write transaction.
    """
    done = set(applied_migrations(conn))
    applied: list[str] = []
    for fn in MIGRATIONS:
        name = fn.__name__
        if name in done:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have applied it between our read and our write lock.
            if conn.execute("SELECT 1 FROM _migrations WHERE name = ?", (name,)).fetchone() is None:
                fn(conn)
                conn.execute(
                    "INSERT INTO _migrations (name, applied_at) VALUES (?, ?)", (name, time.time())
                )
                applied.append(name)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    return applied
