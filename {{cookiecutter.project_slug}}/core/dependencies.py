"""Dependencies every feature's routes use."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel.ext.asyncio.session import AsyncSession

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
    async with sessionmaker() as session, committed(session):
        yield session


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
    await session.commit()
    await dispatch_committed(session)


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
