"""Writing rows: the database's refusals become the feature's domain errors.

Services call `flush` after changing rows and `delete` to remove one; neither commits (the
request's session does, once). A feature passes its own error classes, so the client hears
"Order not found." or "code is already taken." in the error envelope, never a 500.
"""

import re

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import SQLModel, col
from sqlmodel import delete as sql_delete
from sqlmodel.ext.asyncio.session import AsyncSession

from core.database import TableBase
from core.exceptions import AppError, ConflictError
from core.schemas import ErrorDetail


async def flush(
    session: AsyncSession,
    model: type[SQLModel],
    *,
    not_found: type[AppError],
    conflict: type[AppError] = ConflictError,
) -> None:
    """Flush pending changes to `model`'s table, or raise the domain error that explains why not.

    A duplicate value of a unique column is `conflict`, naming the column; an update of a row
    deleted by someone else since it was read is `not_found` (it is never written back).
    """
    try:
        await session.flush()
    except IntegrityError as exc:
        column = unique_violation_column(exc, _table_name(model))
        if column is None:
            raise
        raise conflict(
            f"{column} is already taken.",
            details=[ErrorDetail(loc=["body", column], message="Already taken.", type="unique")],
        ) from exc
    except StaleDataError as exc:
        raise not_found from exc


async def delete(session: AsyncSession, row: TableBase, *, not_found: type[AppError]) -> None:
    """Delete `row`, or raise `not_found` if it is already gone.

    A plain `session.delete()` of a row someone else deleted meanwhile only warns and succeeds,
    so a client would get a 204 for nothing; this counts the rows the DELETE matched.
    """
    model = type(row)
    result = await session.exec(sql_delete(model).where(col(model.id) == row.id))
    if result.rowcount == 0:
        raise not_found
    session.expunge(row)


def unique_violation_column(exc: IntegrityError, table: str) -> str | None:
    """The column whose unique constraint `exc` reports, or None if it is another violation.

    PostgreSQL names the constraint (`uq_<table>_<column>`, from core/database.py's naming
    convention); SQLite names the column (`UNIQUE constraint failed: <table>.<column>`).
    """
    message = str(exc.orig)
    match = re.search(rf'"uq_{table}_(\w+)"', message) or re.search(
        rf"UNIQUE constraint failed: {table}\.(\w+)", message
    )
    return match.group(1) if match else None


def _table_name(model: type[SQLModel]) -> str:
    name: str = model.__tablename__  # type: ignore[assignment]
    return name
