"""Events are published after the transaction commits, and never when it rolls back."""

from collections.abc import Iterator

import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from core.dependencies import committed
from core.events import Event, bus, emit


class Happened(Event):
    what: str


class Other(Event):
    pass


heard: list[str] = []


async def remember(event: Happened) -> None:
    heard.append(event.what)


async def explode(event: Happened) -> None:
    raise RuntimeError("a broken handler")


@pytest.fixture
def listening() -> Iterator[list[str]]:
    heard.clear()
    bus.use([(Happened, explode), (Happened, remember)])
    yield heard
    bus.use([])


async def test_handlers_run_after_the_commit(session: AsyncSession, listening: list[str]) -> None:
    async with committed(session):
        emit(session, Happened(what="first"))
        emit(session, Other())
        assert listening == []  # not before the commit
    # The broken handler is logged; the others still hear the event.
    assert listening == ["first"]


async def test_a_rolled_back_transaction_emits_nothing(
    session: AsyncSession, listening: list[str]
) -> None:
    async def failing_request() -> None:
        async with committed(session):
            emit(session, Happened(what="lost"))
            raise LookupError("the request failed")

    with pytest.raises(LookupError):
        await failing_request()
    async with committed(session):
        pass  # a later commit on the same session does not resurrect it
    assert listening == []


def test_events_are_immutable() -> None:
    with pytest.raises(ValueError, match="frozen"):
        Happened(what="x").what = "y"  # type: ignore[misc]
