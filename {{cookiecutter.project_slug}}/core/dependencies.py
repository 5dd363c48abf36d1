"""Dependencies every feature's routes use."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import HTTPConnection

from core.connections import ReadOnlySession
from core.database import SessionFactory
from core.events import discard_pending, dispatch_committed
from settings import Settings

# HTTP's safe methods: their sessions only read.
READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request, committed when the endpoint returns and rolled back if it raises.

    Services only `flush()`: the commit happens here, once. Used with `scope="function"` so the
    commit runs before the response is sent; a client that got a 201 can read the row back at once,
    and a failed commit becomes an error response instead of a lost write after a success.
    A request whose method may write gets a session whose transaction says so from its first
    statement, so that SQLite serialises concurrent writers instead of failing one of them
    (core/database.py).
    """
    state = request.app.state
    sessionmaker = (
        state.sessionmaker if request.method in READ_ONLY_METHODS else state.write_sessionmaker
    )
    session = sessionmaker()
    try:
        async with committed(session):
            yield session
    finally:
        # Not `async with session`: its exit closes the session in a task of its own, shielded
        # from cancellation, a trip through the event loop for every request. Here the commit or
        # rollback is done, so closing has no transaction left to end and does not wait.
        await session.close()


@asynccontextmanager
async def committed(session: AsyncSession) -> AsyncIterator[None]:
    """Commit when the block ends normally; roll back and re-raise when it raises.

    Events the block emitted (core/events.py) are published after the commit, never on rollback.
    A read-only session has nothing to commit (each of its statements committed on its own).
    """
    try:
        yield
    except Exception:
        await session.rollback()
        discard_pending(session)
        raise
    if not isinstance(session.sync_session, ReadOnlySession):
        await session.commit()
    await dispatch_committed(session)


# `async`, though they await nothing: FastAPI runs a plain `def` dependency in its thread pool.
async def get_sessions(connection: HTTPConnection) -> SessionFactory:
    """Read-only sessions, for a WebSocket: it lives longer than a transaction should, so it
    opens one for each check it makes (tests override this, as they do `get_session`)."""
    sessions: SessionFactory = connection.app.state.sessionmaker
    return sessions


async def get_app_settings(connection: HTTPConnection) -> Settings:
    settings: Settings = connection.app.state.settings
    return settings


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
SessionsDep = Annotated[SessionFactory, Depends(get_sessions)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
