"""A value the database refuses is the client's 422; any other database error is a bug's 500,
logged once with its traceback and without the statement's parameters (an email, a hash)."""

import uuid

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.exc import DataError

from core.dependencies import SessionDep, SettingsDep
from core.security import hash_password
from features.users.models import User
from settings import Settings


@pytest.fixture
def routes(app: FastAPI) -> FastAPI:
    @app.get("/_test/refused")
    async def refused(session: SessionDep) -> None:
        # What PostgreSQL says of '99999999999'::integer (22003); SQLite would store it.
        raise DataError("SELECT ...", None, Exception("integer out of range"))

    @app.get("/_test/bug")
    async def bug(session: SessionDep) -> None:
        await session.exec(text("SELECT * FROM no_such_table"))  # type: ignore[call-overload]

    @app.post("/_test/user-twice")
    async def user_twice(session: SessionDep, settings: SettingsDep) -> None:
        hashed = await hash_password("a secret password", settings=settings)
        user_id = uuid.uuid4()
        session.add(User(id=user_id, email="twice@example.com", hashed_password=hashed))
        await session.flush()
        session.expunge_all()
        session.add(User(id=user_id, email="other@example.com", hashed_password=hashed))
        await session.flush()  # the same primary key: a bug, not a client's mistake

    return app


async def test_a_value_the_database_refuses_is_a_422(
    routes: FastAPI, client: AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    response = await client.get("/_test/refused")

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_value"
    assert "Traceback" not in capsys.readouterr().err


async def test_a_real_out_of_range_value_is_a_422_on_postgresql(
    routes: FastAPI, client: AsyncClient, test_settings: Settings
) -> None:
    @routes.get("/_test/overflow")
    async def overflow(session: SessionDep) -> None:
        await session.exec(text("SELECT CAST('99999999999' AS integer)"))  # type: ignore[call-overload]
        if test_settings.is_sqlite:  # SQLite stores any integer: refuse it as PostgreSQL would
            raise DataError("SELECT ...", None, Exception("integer out of range"))

    response = await client.get("/_test/overflow")

    assert response.status_code == 422


async def test_another_database_error_is_a_500_with_one_traceback(
    routes: FastAPI, client: AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    response = await client.get("/_test/bug")

    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    log = capsys.readouterr().err
    assert log.count("unhandled_exception") == 1
    assert "Traceback" in log


async def test_a_failed_user_write_logs_no_hash_and_no_email(
    routes: FastAPI, client: AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    response = await client.post("/_test/user-twice")

    assert response.status_code == 500
    log = capsys.readouterr().err
    assert "Traceback" in log  # the bug is logged...
    assert "$argon2" not in log  # ...without the statement's parameters
    assert "other@example.com" not in log
    assert "hide_parameters=True" in log
