"""The sessions of read-only requests (GET, HEAD, OPTIONS) hold no transaction, on both databases.

Each statement is then its own transaction and reads the latest committed data, as every
statement does under PostgreSQL's READ COMMITTED, with no BEGIN and COMMIT around it
(core/connections.py). These tests use the real sessions, not the test transaction.
"""

from collections.abc import AsyncIterator
from typing import Any

import aiosqlite
import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, InvalidRequestError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.database import create_sessionmaker
from core.dependencies import SessionDep
from features.users.models import User
from main import create_app
from settings import Settings


def a_user() -> User:
    return User(email="reader@example.com", hashed_password="x")


async def count_users(engine: AsyncEngine) -> int:
    async with create_sessionmaker(engine, writes=False)() as session:
        return (await session.exec(select(func.count()).select_from(User))).one()


@pytest.fixture
async def scratch(engine: AsyncEngine) -> AsyncIterator[None]:
    async with engine.begin() as connection:
        await connection.exec_driver_sql("CREATE TABLE _test_reads (body VARCHAR(50))")
    try:
        yield
    finally:
        async with engine.begin() as connection:
            await connection.exec_driver_sql("DROP TABLE _test_reads")


async def test_each_statement_reads_what_was_committed_before_it(
    engine: AsyncEngine, scratch: None
) -> None:
    count = text("SELECT count(*) FROM _test_reads")
    reader = create_sessionmaker(engine, writes=False)()
    try:
        before = (await reader.exec(count)).one()  # type: ignore[call-overload]
        async with engine.begin() as writer:  # another connection commits meanwhile
            await writer.exec_driver_sql("INSERT INTO _test_reads (body) VALUES ('new')")
        after = (await reader.exec(count)).one()  # type: ignore[call-overload]
    finally:
        await reader.close()

    # In a transaction, SQLite would still read its first snapshot: (0,) both times.
    assert (before, after) == ((0,), (1,))


async def test_a_read_leaves_no_transaction_open_on_the_connection(engine: AsyncEngine) -> None:
    async with create_sessionmaker(engine, writes=False)() as session:
        await session.exec(select(User).limit(1))
        driver = await driver_of(session)
        sqlite = isinstance(driver, aiosqlite.Connection)
        in_transaction = driver.in_transaction if sqlite else driver.is_in_transaction()

    assert in_transaction is False


async def test_a_read_only_session_refuses_to_write(engine: AsyncEngine) -> None:
    async with create_sessionmaker(engine, writes=False)() as session:
        session.add(a_user())
        with pytest.raises(InvalidRequestError, match="only reads"):
            await session.flush()

    assert await count_users(engine) == 0


async def driver_of(session: AsyncSession) -> Any:
    """The aiosqlite or asyncpg connection the session is using."""
    return (await (await session.connection()).get_raw_connection()).driver_connection


async def kill(session: AsyncSession) -> None:
    """Close the session's connection under it, as a database restart would."""
    driver = await driver_of(session)
    if isinstance(driver, aiosqlite.Connection):
        await driver.close()
    else:
        driver.terminate()  # asyncpg's: closes the socket at once


async def test_a_read_whose_connection_died_runs_again_on_a_fresh_one(engine: AsyncEngine) -> None:
    session = create_sessionmaker(engine, writes=False)()
    try:
        await session.exec(select(User).limit(1))
        await kill(session)

        rows = (await session.exec(select(User).limit(1))).all()
    finally:
        await session.close()

    assert list(rows) == []


async def test_a_writing_session_does_not_run_a_statement_again(engine: AsyncEngine) -> None:
    # What the read-only session's retry saves it from: a write may have reached the database
    # before its connection died, so it is never repeated.
    session = create_sessionmaker(engine)()
    try:
        await session.exec(select(User).limit(1))
        await kill(session)

        with pytest.raises(DBAPIError) as raised:
            await session.exec(select(User).limit(1))
    finally:
        await session.close()

    assert raised.value.connection_invalidated


async def test_a_get_request_cannot_write(test_settings: Settings, engine: AsyncEngine) -> None:
    app = create_app(test_settings)

    @app.get("/_test-reads/write")
    async def write(session: SessionDep) -> None:
        session.add(a_user())
        await session.flush()

    transport = ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        AsyncClient(transport=transport, base_url="http://test") as client,
    ):
        response = await client.get("/_test-reads/write")

    assert response.status_code == 500
    assert await count_users(engine) == 0
