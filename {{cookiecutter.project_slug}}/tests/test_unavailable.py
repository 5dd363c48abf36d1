"""The database away, frozen or locked: a 503 with Retry-After and one log line, within a bound.

Each test points an app at a database in that state (a closed port, a listener that never
answers, a SQLite file another connection holds the write lock on), whichever database the
suite runs on, so both drivers' failures are covered by every run.
"""

import asyncio
import io
import json
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient, Response
from sqlalchemy import text

from core.dependencies import SessionDep
from core.logging import configure_logging
from main import create_app
from settings import Settings


def log_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def served(settings: Settings, stream: io.StringIO) -> FastAPI:
    app = create_app(settings.model_copy(update={"log_json": True}))
    configure_logging(app.state.settings, stream=stream)

    @app.post("/_test/write")
    async def write(session: SessionDep) -> dict[str, str]:
        await session.exec(text("INSERT INTO scratch (value) VALUES ('x')"))  # type: ignore[call-overload]
        return {"status": "written"}

    @app.get("/_test/slow")
    async def slow(session: SessionDep) -> dict[str, str]:
        await session.exec(text("SELECT pg_sleep(5)"))  # type: ignore[call-overload]
        return {"status": "slept"}

    return app


async def call(app: FastAPI, method: str, path: str, **kwargs: Any) -> Response:
    transport = ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        AsyncClient(transport=transport, base_url="http://test") as client,
    ):
        return await client.request(method, path, **kwargs)


def assert_unavailable(response: Response, stream: io.StringIO) -> None:
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "service_unavailable"
    assert response.headers["Retry-After"] == "5"
    lines = log_lines(stream)
    # One line for the request (the access line, naming the cause), and no traceback anywhere.
    # (httpx, the test's client, runs in the app's context: its own line is not the app's.)
    request_id = response.headers["X-Request-ID"]
    (line,) = [
        entry
        for entry in lines
        if entry.get("request_id") == request_id and entry["logger"] != "httpx"
    ]
    assert line["status"] == 503
    assert line["database_unavailable"]
    assert "exception" not in line
    assert "Traceback" not in stream.getvalue()


@pytest.fixture
async def frozen_database() -> AsyncIterator[str]:
    """A PostgreSQL URL whose server accepts connections and never answers (a partition)."""
    held: list[asyncio.StreamWriter] = []

    async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"postgresql+asyncpg://nobody@127.0.0.1:{port}/frozen"
    for writer in held:
        writer.close()
    server.close()


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+asyncpg://nobody@127.0.0.1:1/none",  # nothing listens on port 1
        "sqlite+aiosqlite:////nonexistent-dir/db.sqlite3",
    ],
    ids=["postgresql", "sqlite"],
)
async def test_an_outage_is_503_with_retry_after_and_one_line_per_request(
    test_settings: Settings, stream: io.StringIO, url: str
) -> None:
    app = served(test_settings.model_copy(update={"database_url": url}), stream)

    response = await call(
        app, "POST", "/auth/register", json={"email": "a@example.com", "password": "x" * 12}
    )

    assert_unavailable(response, stream)


async def test_a_frozen_database_fails_readiness_within_its_bound(
    test_settings: Settings, stream: io.StringIO, frozen_database: str
) -> None:
    settings = test_settings.model_copy(
        update={
            "database_url": frozen_database,
            "health_check_timeout": 0.2,
            "database_connect_timeout": 60,  # readiness has its own, shorter bound
        }
    )
    started = time.monotonic()

    response = await call(served(settings, stream), "GET", "/health/ready")

    assert time.monotonic() - started < 2
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"


async def test_a_frozen_database_fails_a_request_within_the_connect_timeout(
    test_settings: Settings, stream: io.StringIO, frozen_database: str
) -> None:
    settings = test_settings.model_copy(
        update={"database_url": frozen_database, "database_connect_timeout": 0.2}
    )
    started = time.monotonic()

    response = await call(served(settings, stream), "POST", "/_test/write")

    assert time.monotonic() - started < 2
    assert_unavailable(response, stream)


def scratch_database(path: Path) -> str:
    with closing(sqlite3.connect(path)) as connection, connection:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("CREATE TABLE scratch (value TEXT)")
    return f"sqlite+aiosqlite:///{path}"


async def test_a_sqlite_write_locked_past_the_busy_timeout_is_503(
    test_settings: Settings, stream: io.StringIO, tmp_path: Path
) -> None:
    url = scratch_database(tmp_path / "locked.sqlite3")
    app = served(
        test_settings.model_copy(update={"database_url": url, "sqlite_busy_timeout": 0.2}), stream
    )
    other_writer = sqlite3.connect(tmp_path / "locked.sqlite3", isolation_level=None)
    other_writer.execute("BEGIN IMMEDIATE")
    try:
        response = await call(app, "POST", "/_test/write")
    finally:
        other_writer.execute("ROLLBACK")
        other_writer.close()

    assert_unavailable(response, stream)
    assert (await call(app, "POST", "/_test/write")).status_code == 200


async def test_a_statement_past_the_statement_timeout_is_503(
    test_settings: Settings, stream: io.StringIO, tmp_path: Path
) -> None:
    if test_settings.is_sqlite:
        # SQLite has no statement timeout; its slow wait is the lock, tested above.
        url = scratch_database(tmp_path / "slow.sqlite3")
        settings = test_settings.model_copy(update={"database_url": url})
        response = await call(served(settings, stream), "GET", "/_test/slow")
        assert response.status_code == 500  # pg_sleep does not exist: a bug, not an outage
        return
    settings = test_settings.model_copy(update={"database_statement_timeout": 0.3})
    started = time.monotonic()

    response = await call(served(settings, stream), "GET", "/_test/slow")

    assert time.monotonic() - started < 4
    assert_unavailable(response, stream)
