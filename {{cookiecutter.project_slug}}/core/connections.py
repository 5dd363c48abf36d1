"""What `core/database.py` changes in how PostgreSQL's connections and read-only sessions behave
(SQLite's connections are core/sqlite.py's).

- PostgreSQL: a pooled connection the server closed (a restart, a failover, a terminated
  backend) is replaced when it is checked out, found by a look at its socket, not a round trip.
- Read-only sessions (`READ_ONLY`, HTTP's safe methods) refuse to write, and a SELECT that fails
  because its connection dropped runs again, once, on a fresh one.
"""

from typing import Any

from sqlalchemy import Engine, Result, event
from sqlalchemy.exc import DBAPIError, InvalidatePoolError, InvalidRequestError
from sqlalchemy.orm import ORMExecuteState
from sqlalchemy.pool import PoolProxiedConnection
from sqlmodel.orm.session import Session


def replace_closed_postgres_connections(engine: Engine) -> None:
    """Check a pooled connection's socket at checkout, instead of a `pool_pre_ping` round trip.

    A restarted server closes every connection; asyncpg sees the socket close as soon as the
    event loop runs, so `is_closed()` is true at the next checkout, and the `InvalidatePoolError`
    makes the pool connect afresh and retire the connections made before it too. A connection
    that dies unseen (a dropped network path) is caught by `pool_recycle`, and a read on it by
    `ReadOnlySession`'s retry; a write on it fails with a 503.
    """

    @event.listens_for(engine, "checkout")
    def _check(_dbapi_connection: Any, _record: Any, proxy: PoolProxiedConnection) -> None:
        connection: Any = proxy.driver_connection  # asyncpg's
        if connection.is_closed():
            raise InvalidatePoolError("the server closed this connection")


class ReadOnlySession(Session):
    """The session of a request that only reads (GET, HEAD, OPTIONS): no transaction.

    On PostgreSQL it runs in autocommit and on SQLite it never BEGINs, so each statement reads
    the latest committed data, as PostgreSQL's READ COMMITTED gives each statement its own
    snapshot anyway, with no BEGIN and COMMIT round trips around it. Writing would commit each
    statement on its own, so a flush is refused.
    """


@event.listens_for(ReadOnlySession, "before_flush")
def _refuse_writes(session: Session, _context: Any, _instances: Any) -> None:
    if session.new or session.dirty or session.deleted:
        raise InvalidRequestError(
            "This session only reads (a GET, HEAD or OPTIONS request): write in a POST, PUT, "
            "PATCH or DELETE, or open a session with core.database.create_sessionmaker()."
        )


@event.listens_for(ReadOnlySession, "do_orm_execute")
def _retry_once_on_a_dropped_connection(state: ORMExecuteState) -> Result[Any] | None:
    """Run a SELECT again, once, if its connection turned out to be dead.

    Safe only here: outside a transaction the retry reads what a first try on a live connection
    would have read. SQLAlchemy has already retired that connection (and the pool's older ones).
    """
    if not state.is_select:
        return None
    try:
        return state.invoke_statement()
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
    state.session.rollback()  # let go of the dead connection; the retry checks out a new one
    return state.invoke_statement()
