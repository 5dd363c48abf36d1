"""SQLite connections (core/sqlite.py) take one trip to aiosqlite's thread per statement.

On a SQLite file of the test's own, whichever database the suite runs on.
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import text

from core.database import create_engine, create_sessionmaker
from settings import Settings


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The functions aiosqlite runs on its connections' threads, one per trip, by name."""
    made: list[str] = []
    execute = aiosqlite.Connection._execute

    async def counted(
        self: aiosqlite.Connection, fn: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> Any:
        made.append(getattr(fn, "__name__", repr(fn)))
        return await execute(self, fn, *args, **kwargs)  # type: ignore[no-untyped-call]

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return made


async def test_a_read_takes_one_trip_and_a_write_one_per_statement(
    test_settings: Settings, tmp_path: Path, trips: list[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'trips.sqlite3'}"
    engine = create_engine(test_settings.model_copy(update={"database_url": url}))
    try:
        async with engine.begin() as connection:  # connects: its PRAGMAs are trips too
            await connection.exec_driver_sql("CREATE TABLE notes (body TEXT)")
        trips.clear()

        async with create_sessionmaker(engine, writes=False)() as reader:
            rows = (await reader.exec(text("SELECT count(*) FROM notes"))).all()  # type: ignore[call-overload]
        read = list(trips)
        trips.clear()
        async with create_sessionmaker(engine)() as writer:
            await writer.exec(text("INSERT INTO notes (body) VALUES ('x')"))  # type: ignore[call-overload]
            await writer.commit()
        written = list(trips)
    finally:
        await engine.dispose()

    assert rows == [(0,)]
    assert read == ["_run"]  # no BEGIN, no cursor of its own, no COMMIT
    assert written == ["_run", "_run", "commit"]  # BEGIN IMMEDIATE, the INSERT, COMMIT
