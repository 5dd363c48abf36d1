"""An in-process event bus: features tell each other what happened, after it is committed.

A service calls `emit(session, SomethingHappened(...))`; the event waits in `session.info` and
the handlers run only once that session's transaction has committed (`core.dependencies.committed`
calls `dispatch_committed`). A rolled-back request or job emits nothing. Handlers are listed in
`features/registry.py` (`EVENT_HANDLERS`) and run in the process that committed, one after the
other; a handler with slow or fallible work enqueues a job instead of doing it inline.

`on_commit(session, callback)` is the same contract for plain callbacks (the cache's
invalidations, core/cache): they run after the commit, before the events are published, so a
handler (or a client a feed told) that reads what changed does not read a stale cache entry.
"""

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import structlog
from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession as SAAsyncSession

log = structlog.get_logger(__name__)

PENDING_EVENTS = "pending_events"
AFTER_COMMIT = "after_commit"


class Event(BaseModel):
    """Base of every event: immutable, typed fields, nothing else."""

    model_config = ConfigDict(frozen=True)


type Handler = Callable[[Any], Awaitable[None]]


class EventBus:
    """Which handlers each event type has. Built once from the manifest (`use`)."""

    def __init__(self) -> None:
        self._handlers: dict[type[Event], list[Handler]] = {}

    def use(self, handlers: Iterable[tuple[type[Event], Handler]]) -> None:
        """Replace every subscription with `handlers` (the app and the worker call this)."""
        self._handlers = {}
        for event_type, handler in handlers:
            self._handlers.setdefault(event_type, []).append(handler)

    def handlers_for(self, event: Event) -> list[Handler]:
        return [
            handler
            for event_type, handlers in self._handlers.items()
            if isinstance(event, event_type)
            for handler in handlers
        ]

    async def publish(self, event: Event) -> None:
        """Run every handler of `event`; one failing handler is logged and the others still run."""
        for handler in self.handlers_for(event):
            try:
                await handler(event)
            except Exception:
                # The transaction is already committed: there is nothing to undo, only to report.
                log.exception(
                    "event handler failed",
                    event_type=type(event).__name__,
                    handler=handler.__qualname__,
                )


bus = EventBus()


def emit(session: SAAsyncSession, event: Event) -> None:
    """Queue `event` on `session`; it is published after the session's next commit."""
    session.info.setdefault(PENDING_EVENTS, []).append(event)


def on_commit(session: SAAsyncSession, callback: Callable[[], Awaitable[None]]) -> None:
    """Run `callback` after the session's next commit; never if it rolls back."""
    session.info.setdefault(AFTER_COMMIT, []).append(callback)


def discard_pending(session: SAAsyncSession) -> None:
    session.info.pop(AFTER_COMMIT, None)
    session.info.pop(PENDING_EVENTS, None)


async def dispatch_committed(session: SAAsyncSession) -> None:
    """Run `session`'s after-commit callbacks, then publish what it emitted, now that its
    transaction has committed. A failing callback is logged; the others still run."""
    callbacks: list[Callable[[], Awaitable[None]]] = session.info.pop(AFTER_COMMIT, [])
    for callback in callbacks:
        try:
            await callback()
        except Exception:
            log.exception("after-commit callback failed", callback=callback.__qualname__)
    events: list[Event] = session.info.pop(PENDING_EVENTS, [])
    for event in events:
        await bus.publish(event)
