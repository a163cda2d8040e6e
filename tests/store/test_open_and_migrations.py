"""Opening the database: directories, pragmas, migrations recorded once, unwritable paths."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from server.errors import StoreError
from server.store import MIGRATIONS, Store


async def test_first_open_creates_parent_dirs_and_applies_every_migration_once(db_path: Path) -> None:
    store = await Store.open(db_path)
    await store.close()
    assert store.applied_migrations == [m.__name__ for m in MIGRATIONS]
    with sqlite3.connect(db_path) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM _migrations ORDER BY rowid")]
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    assert names == [m.__name__ for m in MIGRATIONS]
    assert mode == "wal"


async def test_reopening_applies_nothing_and_keeps_the_data(db_path: Path) -> None:
    from tests.store.helpers import new_group, new_tasks

    first = await Store.open(db_path)
    group = await first.create_group(new_group(), new_tasks(2))
    await first.close()
    second = await Store.open(db_path)
    try:
        assert second.applied_migrations == []
        assert (await second.get_group(group.id)).name == "g"
    finally:
        await second.close()
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT count(*) FROM _migrations").fetchone()[0] == len(MIGRATIONS)


async def test_two_stores_opening_a_new_file_at_once_migrate_it_once(db_path: Path) -> None:
    import asyncio

    a, b = await asyncio.gather(Store.open(db_path), Store.open(db_path))
    try:
        assert sorted([a.applied_migrations, b.applied_migrations], key=len) == [
            [], [m.__name__ for m in MIGRATIONS]
        ]
    finally:
        await a.close()
        await b.close()


async def test_a_path_under_a_regular_file_raises_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="not-a-dir"):
        await Store.open(blocker / "pwm.db")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores permissions")
async def test_a_read_only_directory_raises_store_error(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(StoreError):
            await Store.open(ro / "pwm.db")
    finally:
        ro.chmod(0o700)


async def test_a_closed_store_raises_store_error(db_path: Path) -> None:
    store = await Store.open(db_path)
    await store.close()
    await store.close()  # idempotent
    with pytest.raises(StoreError, match="closed"):
        await store.list_groups()
