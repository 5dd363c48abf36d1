"""Sessions outside requests (commands, the shell, jobs) write safely by default on SQLite.

Two transactions that each read, then write, deadlock on SQLite unless each takes the write lock
first (BEGIN IMMEDIATE): the second writer fails at once with "database is locked", whatever the
busy timeout. `create_sessionmaker` asks for the lock unless told the session only reads (and
then it has no transaction at all: tests/test_read_sessions.py).
"""

import asyncio
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from core.database import create_engine, create_sessionmaker
from settings import Settings


async def read_then_write(settings: Settings, *, default: bool, writers: int = 4) -> None:
    engine = create_engine(settings)
    # Not the default: SQLAlchemy's own sessions, whose transactions start with a plain BEGIN.
    sessions = (
        create_sessionmaker(engine)
        if default
        else async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
    )

    async def one() -> None:
        async with sessions() as session:
            await session.exec(text("SELECT count(*) FROM scratch"))  # type: ignore[call-overload]
            await asyncio.sleep(0.05)  # the others read meanwhile
            await session.exec(text("INSERT INTO scratch (value) VALUES ('x')"))  # type: ignore[call-overload]
            await session.commit()

    try:
        # Every writer finishes (and closes its connection) before the first failure is raised.
        results = await asyncio.gather(*(one() for _ in range(writers)), return_exceptions=True)
    finally:
        await engine.dispose()
    for result in results:
        if isinstance(result, BaseException):
            raise result


def scratch(path: Path, test_settings: Settings) -> Settings:
    with closing(sqlite3.connect(path)) as connection, connection:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("CREATE TABLE scratch (value TEXT)")
    url = f"sqlite+aiosqlite:///{path}"
    return test_settings.model_copy(update={"database_url": url, "sqlite_busy_timeout": 2})


async def test_a_default_session_takes_the_write_lock_first(
    test_settings: Settings, tmp_path: Path
) -> None:
    settings = scratch(tmp_path / "writes.sqlite3", test_settings)

    await read_then_write(settings, default=True)

    with closing(sqlite3.connect(tmp_path / "writes.sqlite3")) as connection:
        assert connection.execute("SELECT count(*) FROM scratch").fetchone() == (4,)


async def test_without_it_concurrent_read_then_write_fails(
    test_settings: Settings, tmp_path: Path
) -> None:
    # The failure the default prevents, so the test above cannot pass by accident.
    settings = scratch(tmp_path / "reads.sqlite3", test_settings)

    with pytest.raises(OperationalError, match="database is locked"):
        await read_then_write(settings, default=False)
