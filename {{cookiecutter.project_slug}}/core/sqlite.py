"""The app's SQLite connections: aiosqlite's, with fewer trips to the connection's thread.

aiosqlite runs every call on a thread of its own, and each call is a trip there and back: the
event loop is woken and the request's whole stack of coroutines resumed. SQLAlchemy made five
for a SELECT (make a cursor, execute, fetch the rows, close the cursor, and a COMMIT with no
transaction behind it); these connections make one. SQLAlchemy reads every row at once anyway.
"""

import sqlite3
from collections.abc import Awaitable, Callable, Iterable
from functools import partial
from typing import Any

import aiosqlite

type Rows = list[Any]


class SQLiteConnection(aiosqlite.Connection):
    """aiosqlite's connection, whose cursors take one trip per statement, and whose COMMIT or
    ROLLBACK with no transaction open (a read-only session's) takes none: sqlite3 would do
    nothing then."""

    # SQLAlchemy calls `cursor()` and awaits `__aenter__` on what it returns.
    def cursor(self) -> "OneTripCursor":  # type: ignore[override]
        return OneTripCursor(self)

    async def commit(self) -> None:
        if self.in_transaction:
            await super().commit()

    async def rollback(self) -> None:
        if self.in_transaction:
            await super().rollback()

    async def run(self, method: str, sql: str, parameters: Any) -> tuple[Any, ...]:
        """Run `sql` on a new sqlite3 cursor in the connection's thread, read all its rows and
        close it there; return the rows and what the cursor knew."""
        # aiosqlite's own way to run a function on the connection's thread (its cursors use it).
        in_thread: Callable[..., Awaitable[tuple[Any, ...]]] = self._execute
        return await in_thread(_run, self._conn, method, sql, parameters)


def _run(connection: sqlite3.Connection, method: str, sql: str, parameters: Any) -> tuple[Any, ...]:
    cursor = connection.cursor()
    try:
        getattr(cursor, method)(sql, parameters)
        rows = cursor.fetchall() if cursor.description else []
        return rows, cursor.description, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class OneTripCursor:
    """What SQLAlchemy uses of an aiosqlite cursor, whose statement runs, returns its rows and
    closes in one trip (see above). It holds no sqlite3 cursor: each statement has its own."""

    def __init__(self, connection: SQLiteConnection) -> None:
        self._connection = connection
        self._rows: Rows = []
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None
        self._arraysize = 1

    async def execute(self, sql: str, parameters: Iterable[Any] | None = None) -> "OneTripCursor":
        return await self._run("execute", sql, () if parameters is None else parameters)

    async def executemany(self, sql: str, parameters: Iterable[Iterable[Any]]) -> "OneTripCursor":
        return await self._run("executemany", sql, parameters)

    async def _run(self, method: str, sql: str, parameters: Any) -> "OneTripCursor":
        self._rows, self._description, self._rowcount, self._lastrowid = await self._connection.run(
            method, sql, parameters
        )
        return self

    async def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    async def fetchmany(self, size: int | None = None) -> Rows:
        count = self._arraysize if size is None else size
        rows, self._rows = self._rows[:count], self._rows[count:]
        return rows

    async def fetchall(self) -> Rows:
        rows, self._rows = self._rows, []
        return rows

    async def close(self) -> None:
        self._rows = []  # its sqlite3 cursor was closed in the thread

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._lastrowid

    @property
    def description(self) -> Any:
        return self._description

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    async def __aenter__(self) -> "OneTripCursor":
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()


# SQLite's lower() folds only ASCII letters; this one, registered on every connection, folds
# every script's as PostgreSQL's lower() does (core/pagination.py's search reads it).
UNICODE_LOWER = "unicode_lower"


def _unicode_lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


async def connect_sqlite(path: str, *, busy_timeout: float) -> aiosqlite.Connection:
    """A `SQLiteConnection` to `path` that leaves BEGIN to SQLAlchemy (isolation_level=None)."""
    connection = SQLiteConnection(
        partial(sqlite3.connect, path, timeout=busy_timeout, isolation_level=None),
        iter_chunk_size=64,
    )
    # As SQLAlchemy does for the connections it makes itself: a connection nobody closed must
    # not keep the interpreter from exiting.
    connection._thread.daemon = True
    await connection
    await connection.create_function(UNICODE_LOWER, 1, _unicode_lower, deterministic=True)
    return connection
