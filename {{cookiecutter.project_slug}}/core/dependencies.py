"""Dependencies every feature's routes use."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import HTTPConnection
from starlette.types import Scope

from core.connections import ReadOnlySession
from core.database import SessionFactory
from core.events import discard_pending, dispatch_committed
from settings import Settings

# HTTP's safe methods: their sessions only read.
READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


# Where a request's session waits for its route to end it (core/routing.py's `Route`).
_REQUEST_SESSION = "app.session"


async def get_session(request: Request) -> AsyncSession:
    """One session per request, committed once the endpoint has answered and rolled back if it
    raised: by the route (core/routing.py), before the response is sent.

    Services only `flush()`: the commit happens there, once, so a client that got a 201 can
    read the row back at once, and a failed commit becomes an error response instead of a lost
    write after a success. A request whose method may write gets a session whose transaction
    says so from its first statement, so that SQLite serialises concurrent writers instead of
    failing one of them (core/database.py).

    A plain dependency, not one with `yield`: FastAPI wraps each of those in a context manager,
    a cancel scope and an exit stack, as much CPU as the rest of a small GET's dependencies.
    """
    state = request.app.state
    sessionmaker = (
        state.sessionmaker if request.method in READ_ONLY_METHODS else state.write_sessionmaker
    )
    return hold_session(request, sessionmaker())


def hold_session(request: Request, session: AsyncSession, *, close: bool = True) -> AsyncSession:
    """Make `session` the request's, for its route to commit or roll back (and close, unless
    `close=False`: a test's session outlives the request)."""
    if not getattr(request.scope.get("route"), "ends_sessions", False):
        raise RuntimeError(
            f"{request.url.path}: a session needs a route of core.routing.Router, which commits "
            "it; declare the router as `Router(...)`, not `APIRouter(...)`."
        )
    request.scope[_REQUEST_SESSION] = (session, close)
    return session


async def end_session(scope: Scope, *, failed: bool) -> None:
    """Commit the request's session (or roll it back, if the endpoint `failed`) and close it."""
    held: tuple[AsyncSession, bool] | None = scope.pop(_REQUEST_SESSION, None)
    if held is None:
        return
    session, close = held
    try:
        if failed:
            await session.rollback()
            discard_pending(session)
        else:
            await commit(session)
    finally:
        if close:
            # Not `async with session`: its exit closes the session in a task of its own,
            # shielded from cancellation, a trip through the event loop for every request.
            # Here the commit or rollback is done, so closing has no transaction left to end.
            await session.close()


@asynccontextmanager
async def committed(session: AsyncSession) -> AsyncIterator[None]:
    """Commit when the block ends normally; roll back and re-raise when it raises.

    Events the block emitted (core/events.py) are published after the commit, never on rollback.
    """
    try:
        yield
    except Exception:
        await session.rollback()
        discard_pending(session)
        raise
    await commit(session)


async def commit(session: AsyncSession) -> None:
    """Commit, then publish the events the transaction emitted (core/events.py).

    A read-only session has nothing to commit (each of its statements committed on its own).
    """
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


SessionDep = Annotated[AsyncSession, Depends(get_session)]
SessionsDep = Annotated[SessionFactory, Depends(get_sessions)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
