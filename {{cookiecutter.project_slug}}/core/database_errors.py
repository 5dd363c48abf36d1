"""What a database failure means for the client: away or overloaded (503), refused input (422),
or a bug (500).

A database that is down, frozen past a timeout, out of connections, or (SQLite) locked by another
writer past the busy timeout is not the client's fault and not a bug: it answers 503 with
`Retry-After`, and the request's access line names the cause, without a traceback, so an outage
does not flood the log. A value the database refuses (PostgreSQL's SQLSTATE class 22: out of
range, too long, NUL, ...) is the client's: 422. Anything else is a bug: a 500 whose traceback is
logged once.
"""

import errno
import sqlite3
from collections.abc import Iterator

import structlog
from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from core.exceptions import ServiceUnavailableError, error_response, unexpected_error
from core.schemas import ErrorDetail

# SQLSTATE classes and codes that mean "the server cannot serve you now": connection exceptions
# (08), insufficient resources such as too many connections (53), operator intervention such as
# a shutdown (57P), and a statement cancelled by statement_timeout (57014).
_UNAVAILABLE_SQLSTATE_PREFIXES = ("08", "53", "57P", "57014")
_SQLITE_UNAVAILABLE = ("database is locked", "database is busy", "unable to open database file")
_NETWORK_ERRNOS = {
    errno.ECONNREFUSED,
    errno.ECONNRESET,
    errno.EHOSTUNREACH,
    errno.ENETUNREACH,
    errno.ETIMEDOUT,
    errno.EPIPE,
}


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _sqlstate(exc: BaseException) -> str:
    code = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
    return code if isinstance(code, str) else ""


def unavailable_reason(exc: BaseException) -> str | None:
    """A short description if `exc` means the database is away or overloaded, else None."""
    for error in _chain(exc):
        if (
            isinstance(error, PoolTimeoutError | TimeoutError | ConnectionError)
            or (isinstance(error, OSError) and error.errno in _NETWORK_ERRNOS)
            or (isinstance(error, OSError) and "Connect call failed" in str(error))
            or (isinstance(error, DBAPIError) and error.connection_invalidated)
            or _sqlstate(error).startswith(_UNAVAILABLE_SQLSTATE_PREFIXES)
            or (
                isinstance(error, sqlite3.OperationalError)
                and str(error).startswith(_SQLITE_UNAVAILABLE)
            )
        ):
            message = str(error).splitlines()[0][:200] if str(error) else ""
            return f"{type(error).__name__}: {message}".rstrip(": ")
    return None


def refused_input(exc: BaseException) -> bool:
    """True if the database refused a value the client sent (a DataError, SQLSTATE 22xxx)."""
    return any(
        isinstance(error, DataError) or _sqlstate(error).startswith("22") for error in _chain(exc)
    )


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    if reason := unavailable_reason(exc):
        # On the request's one access line (core/middleware.py): no line or traceback of its own.
        structlog.contextvars.bind_contextvars(database_unavailable=reason)
        retry_after = request.app.state.settings.retry_after_seconds
        return error_response(
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            code=ServiceUnavailableError.code,
            message="The database is unavailable; try again shortly.",
            headers={"Retry-After": str(retry_after)},
        )
    if isinstance(exc, SQLAlchemyError) and refused_input(exc):
        structlog.contextvars.bind_contextvars(database_refused=type(exc.__cause__).__name__)
        return error_response(
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
            code="invalid_value",
            message="A value is out of the range or form the database accepts.",
            details=[ErrorDetail(loc=["body"], message="Refused by the database.", type="value")],
        )
    return await unexpected_error(request, exc)


def register_database_error_handlers(app: FastAPI) -> None:
    # OSError: asyncpg raises a refused or timed-out connect as is, not wrapped by SQLAlchemy.
    for exc_class in (SQLAlchemyError, OSError):
        app.add_exception_handler(exc_class, _database_error)
