"""Fixtures for every test in the project, the features' own tests included.

`client` calls the API anonymously; `user_client` as `alice`, an ordinary user, and
`admin_client` as `admin`. Helpers to call directly (`make_account`, `bearer`, `login`) are in
`tests/accounts.py`.

The schema is built by running the migrations on a test database that is never the development
one: a fresh SQLite file per run, or the database `TEST_DATABASE_URL` names (PostgreSQL, say).
Under pytest-xdist (`make test` runs `pytest -n auto`) every worker has a database of its own: a
SQLite file in its own temporary directory, or `<name>_<worker>` on the same PostgreSQL server,
created for the run and dropped after it. Each test runs inside a transaction that is rolled
back, and the app's session dependency is overridden to use that same transaction, so tests see
each other's data never.
"""

import asyncio
import io
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from fastapi import FastAPI, Request
from httpx import ASGITransport, AsyncClient
from pydantic import SecretStr
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from core.database import create_engine
from core.dependencies import get_session, get_sessions, hold_session
from core.jobs import runtime as jobs_runtime
from core.logging import configure_logging
from features.users.permissions import Role
from main import create_app
from scripts.create_database import create_database, drop_database
from settings import Settings
from tests.accounts import Account, make_account

PROJECT_DIR = Path(__file__).resolve().parent
BASE_URL = "http://test"


@pytest.fixture(scope="session")
def test_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The database this test process migrates and tests on (see the module's docstring)."""
    url = os.environ.get("TEST_DATABASE_URL") or (
        f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    )
    if url == Settings(environment="development").database_url:
        pytest.exit(
            "TEST_DATABASE_URL is the development DATABASE_URL; tests would wipe it. "
            "Point it at a separate database.",
            returncode=2,
        )
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is None or url.startswith("sqlite"):  # tmp_path_factory is per worker already
        yield url
        return
    target = make_url(url)
    url = target.set(database=f"{target.database}_{worker}").render_as_string(hide_password=False)
    asyncio.run(create_database(url))
    try:
        yield url
    finally:
        asyncio.run(drop_database(url))


@pytest.fixture(scope="session")
def test_settings(test_database_url: str) -> Settings:
    return Settings(
        _env_file=None,
        environment="test",
        database_url=test_database_url,
        secret_key=SecretStr("test-secret-key-that-is-long-enough-to-pass"),
        password_hash_cost="fast",  # noqa: S106  (argon2 at its cheapest: tests hash a lot)
    )


def alembic_config(database_url: str) -> Config:
    config = Config(PROJECT_DIR / "alembic.ini")
    config.attributes["database_url"] = database_url
    config.attributes["configure_logger"] = False
    return config


@pytest.fixture(scope="session")
def migrated_database(test_settings: Settings) -> Iterator[str]:
    """Run every migration up, and every migration down again at the end."""
    config = alembic_config(test_settings.database_url)
    command.upgrade(config, "head")
    yield test_settings.database_url
    command.downgrade(config, "base")


@pytest.fixture(scope="session")
async def engine(test_settings: Settings, migrated_database: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(test_settings)
    yield engine
    await engine.dispose()


@pytest.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session whose commits are savepoints inside one transaction that is rolled back."""
    async with engine.connect() as connection:
        transaction = await connection.begin()
        session = AsyncSession(
            bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )
        try:
            yield session
        finally:
            await session.close()
            await transaction.rollback()


@pytest.fixture
def stream(test_settings: Settings) -> Iterator[io.StringIO]:
    """Where a test's `configure_logging(settings, stream=stream)` writes its log lines."""
    stream = io.StringIO()
    yield stream
    configure_logging(test_settings)  # back to stderr for the tests that follow


@pytest.fixture
def app(test_settings: Settings, session: AsyncSession) -> Iterator[FastAPI]:
    app = create_app(test_settings)

    async def session_in_test_transaction(request: Request) -> AsyncSession:
        # Committed or rolled back by the route as `get_session`'s is, on the test's
        # transaction (a savepoint), and left open for the test.
        return hold_session(request, session, close=False)

    app.dependency_overrides[get_session] = session_in_test_transaction
    # A WebSocket opens its own short sessions: here they are the test's too.
    app.dependency_overrides[get_sessions] = lambda: lambda: borrowed(session)
    app.state.jobs.session_factory = lambda: borrowed(session)  # jobs too (core/jobs)
    yield app
    jobs_runtime.stop(app.state.jobs)


@asynccontextmanager
async def borrowed(session: AsyncSession) -> AsyncIterator[AsyncSession]:
    """`session` as a job's session factory would give it, but left open for the test."""
    yield session


@pytest.fixture
def transport(app: FastAPI) -> ASGITransport:
    return ASGITransport(app=app, raise_app_exceptions=False)


@pytest.fixture
async def client(app: FastAPI, transport: ASGITransport) -> AsyncIterator[AsyncClient]:
    """The API, called anonymously."""
    # httpx does not run the lifespan; enter it so start-up and shut-down code is exercised.
    async with (
        app.router.lifespan_context(app),
        AsyncClient(transport=transport, base_url=BASE_URL) as client,
    ):
        yield client


@pytest.fixture
async def alice(session: AsyncSession, test_settings: Settings) -> Account:
    """An ordinary user: the `user` role's permissions and no more."""
    return await make_account(session, test_settings, "alice@example.com")


@pytest.fixture
async def admin(session: AsyncSession, test_settings: Settings) -> Account:
    return await make_account(session, test_settings, "admin@example.com", Role.ADMIN)


@pytest.fixture
async def user_client(
    client: AsyncClient, transport: ASGITransport, alice: Account
) -> AsyncIterator[AsyncClient]:
    """The API as `alice` (the app `client` started)."""
    async with AsyncClient(transport=transport, base_url=BASE_URL, headers=alice.headers) as api:
        yield api


@pytest.fixture
async def admin_client(
    client: AsyncClient, transport: ASGITransport, admin: Account
) -> AsyncIterator[AsyncClient]:
    """The API as `admin`, whose role has every permission."""
    async with AsyncClient(transport=transport, base_url=BASE_URL, headers=admin.headers) as api:
        yield api
