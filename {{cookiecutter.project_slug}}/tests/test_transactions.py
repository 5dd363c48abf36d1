"""The request's session commits before the response is sent, or the client hears about it.

These tests use the real `get_session` (no test override) against the test database, with a
scratch table they create and drop themselves.
"""

import asyncio
from collections.abc import AsyncIterator

import pytest
from fastapi import APIRouter, status
from httpx import ASGITransport, AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from core.dependencies import SessionDep
from core.routing import Router
from main import create_app
from settings import Settings

router = Router(prefix="/_test-notes")
# FastAPI's own router: its routes do not end sessions (core/routing.py).
plain_router = APIRouter(prefix="/_test-plain-notes")


async def insert_note(session: AsyncSession, *, body: str, parent: str | None = None) -> None:
    connection = await session.connection()
    await connection.execute(
        text("INSERT INTO _test_notes (body, parent) VALUES (:body, :parent)"),
        {"body": body, "parent": parent},
    )


@router.post("/{body}", status_code=status.HTTP_201_CREATED)
async def create_note(body: str, session: SessionDep) -> dict[str, str]:
    await insert_note(session, body=body)
    return {"body": body}


@router.post("/{body}/then-fail")
async def create_note_then_fail(body: str, session: SessionDep) -> None:
    await insert_note(session, body=body)
    raise RuntimeError("after the insert")


@router.post("/{body}/dangling")
async def create_dangling_note(body: str, session: SessionDep) -> dict[str, str]:
    # The deferred foreign key is only checked at COMMIT, after the endpoint returned.
    await insert_note(session, body=body, parent="no-such-note")
    return {"body": body}


@router.post("/{body}/hit")
async def hit_note(body: str, session: SessionDep) -> None:
    # Read, then write: the shape of every update (load the row, then change it).
    connection = await session.connection()
    params = {"body": body}
    await connection.execute(text("SELECT hits FROM _test_notes WHERE body = :body"), params)
    await connection.execute(
        text("UPDATE _test_notes SET hits = hits + 1 WHERE body = :body"), params
    )


@plain_router.post("/{body}", status_code=status.HTTP_201_CREATED)
async def create_plain_note(body: str, session: SessionDep) -> dict[str, str]:
    await insert_note(session, body=body)
    return {"body": body}


@pytest.fixture
async def notes_client(test_settings: Settings, engine: AsyncEngine) -> AsyncIterator[AsyncClient]:
    async with engine.begin() as connection:
        await connection.exec_driver_sql(
            "CREATE TABLE _test_notes (body VARCHAR(50) PRIMARY KEY, hits INTEGER DEFAULT 0, "
            "parent VARCHAR(50) REFERENCES _test_notes (body) DEFERRABLE INITIALLY DEFERRED)"
        )
    app = create_app(test_settings)
    app.include_router(router)
    app.include_router(plain_router)
    transport = ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with (
            app.router.lifespan_context(app),
            AsyncClient(transport=transport, base_url="http://test") as client,
        ):
            yield client
    finally:
        async with engine.begin() as connection:
            await connection.exec_driver_sql("DROP TABLE _test_notes")


async def stored_bodies(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as connection:
        result = await connection.exec_driver_sql("SELECT body FROM _test_notes ORDER BY body")
        return [row[0] for row in result]


async def test_a_created_row_is_committed_when_the_client_gets_its_201(
    notes_client: AsyncClient, engine: AsyncEngine
) -> None:
    response = await notes_client.post("/_test-notes/first")

    assert response.status_code == 201
    assert await stored_bodies(engine) == ["first"]


async def test_a_failing_request_leaves_nothing_behind(
    notes_client: AsyncClient, engine: AsyncEngine
) -> None:
    response = await notes_client.post("/_test-notes/doomed/then-fail")

    assert response.status_code == 500
    assert await stored_bodies(engine) == []


async def test_a_failed_commit_is_an_error_response_not_a_success(
    notes_client: AsyncClient, engine: AsyncEngine
) -> None:
    response = await notes_client.post("/_test-notes/orphan/dangling")

    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert await stored_bodies(engine) == []


async def test_concurrent_requests_that_read_then_write_all_succeed(
    notes_client: AsyncClient, engine: AsyncEngine
) -> None:
    # On SQLite, a transaction that read before writing fails with "database is locked" when
    # another one writes at the same time, unless writers take the lock first.
    await notes_client.post("/_test-notes/busy")

    responses = await asyncio.gather(
        *(notes_client.post("/_test-notes/busy/hit") for _ in range(12))
    )

    assert [response.status_code for response in responses] == [200] * 12
    async with engine.connect() as connection:
        hits = await connection.exec_driver_sql("SELECT hits FROM _test_notes")
        assert hits.scalar_one() == 12


async def test_a_session_on_a_route_that_would_not_commit_it_is_refused(
    notes_client: AsyncClient, engine: AsyncEngine
) -> None:
    # Nothing would commit it: the 201 would be a lost write.
    response = await notes_client.post("/_test-plain-notes/lost")

    assert response.status_code == 500
    assert await stored_bodies(engine) == []
