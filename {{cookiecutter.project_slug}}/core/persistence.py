"""Writing rows: the database's refusals become the feature's domain errors.

Services call `flush` after changing rows and `delete` to remove one; neither commits (the
request's session does, once). A feature passes its own error classes, so the client hears
"Order not found." or "code is already taken." in the error envelope, never a 500.
"""

import re
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, UniqueConstraint, inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import SQLModel, col, select
from sqlmodel import delete as sql_delete
from sqlmodel.ext.asyncio.session import AsyncSession

from core.cache import cache
from core.database import TableBase
from core.exceptions import AppError, ConflictError, StillReferencedError, UnknownReferenceError
from core.schemas import ErrorDetail

_DB_CHANGES = {"CASCADE", "SET NULL"}
_FOREIGN_KEY = re.compile(r"violates foreign key constraint|FOREIGN KEY constraint failed")


async def flush(
    session: AsyncSession,
    model: type[SQLModel],
    *,
    not_found: type[AppError],
    conflict: type[AppError] = ConflictError,
    references: Sequence[str] = (),
    owned_by: uuid.UUID | None = None,
) -> None:
    """Flush pending changes to `model`'s table, or raise the domain error that explains why not.

    A duplicate value of a unique column is `conflict`, naming the column; an update of a row
    deleted by someone else since it was read is `not_found` (it is never written back); a value
    of one of the `references` (foreign key columns a client sets) that names no row is an
    `UnknownReferenceError` naming the field. With `owned_by`, a referenced row that has an
    owner must be theirs: another user's row is as unknown as a missing one.
    """
    await _check_references(session, model, references, owned_by)
    try:
        await session.flush()
    except IntegrityError as exc:
        table = _table(model).name
        if column := unique_violation_column(exc, table):
            raise conflict(
                f"{column} is already taken.",
                details=[_detail(column, "Already taken.", "unique")],
            ) from exc
        if _FOREIGN_KEY.search(str(exc.orig)):
            # The referenced row went away between the check above and the write.
            named = [name for name in references if f'"fk_{table}_{name}_' in str(exc.orig)]
            raise _unknown(named or list(references)) from exc
        raise
    except StaleDataError as exc:
        raise not_found from exc


async def delete(session: AsyncSession, row: TableBase, *, not_found: type[AppError]) -> None:
    """Delete `row`; `not_found` if it is already gone, `StillReferencedError` if rows of
    another table still point at it (`ON DELETE RESTRICT`).

    A plain `session.delete()` of a row someone else deleted meanwhile only warns and succeeds,
    so a client would get a 204 for nothing; this counts the rows the DELETE matched.
    """
    model = type(row)
    try:
        result = await session.exec(sql_delete(model).where(col(model.id) == row.id))
    except IntegrityError as exc:
        if not _FOREIGN_KEY.search(str(exc.orig)):
            raise
        referrer = re.search(r'on table "(\w+)"\s*$', str(exc.orig).splitlines()[0])
        raise StillReferencedError(
            f"Rows of {referrer.group(1)} still reference it; delete or change them first."
            if referrer
            else "Other rows still reference it; delete or change them first."
        ) from exc
    if result.rowcount == 0:
        raise not_found
    session.expunge(row)
    for table in cascaded_tables(_table(model)):
        if table.name in cache.namespaces:
            cache.invalidate_namespace_on_commit(session, table.name)


def cascaded_tables(table: Table) -> list[Table]:
    """Tables whose rows a delete from `table` may remove or change in the database itself
    (`ON DELETE CASCADE` or `SET NULL`), transitively: their cached reads (a namespace named
    after the table) are dropped with the delete, since no service saw those rows change."""
    found: list[Table] = []
    pending = [table]
    while pending:
        parent = pending.pop()
        for child in parent.metadata.tables.values():
            if child in found:  # `table` itself too, when it references itself
                continue
            if any(
                key.column.table is parent and (key.ondelete or "").upper() in _DB_CHANGES
                for key in child.foreign_keys
            ):
                found.append(child)
                pending.append(child)
    return found


def unique_violation_column(exc: IntegrityError, table: str) -> str | None:
    """The column whose unique constraint `exc` reports, or None if it is another violation.

    PostgreSQL names the constraint (`uq_<table>_<column>`, from core/database.py's naming
    convention); SQLite names the columns (`UNIQUE constraint failed: <table>.<column>`). A
    value unique per owner (`owner_id`, then the column) names the column.
    """
    message = str(exc.orig)
    if match := re.search(rf'"uq_{table}_(\w+)"', message):
        return match.group(1).removeprefix("owner_id_")
    if match := re.search(rf"UNIQUE constraint failed: ((?:{table}\.\w+(?:, )?)+)", message):
        return match.group(1).split(".")[-1]
    return None


async def _check_references(
    session: AsyncSession,
    model: type[SQLModel],
    references: Sequence[str],
    owned_by: uuid.UUID | None,
) -> None:
    """One lookup per reference a pending row sets or changes: a clear 422 before the write.

    (SQLite's own refusal does not say which column; the database still has the last word.)
    """
    if not references:
        return
    table = _table(model)
    missing = []
    with session.no_autoflush:
        for row in [*session.new, *session.dirty]:
            if not isinstance(row, model):
                continue
            state = inspect(row)
            for name in references:
                value = getattr(row, name)
                changed = state.pending or state.attrs[name].history.has_changes()
                if value is None or not changed:
                    continue
                (foreign_key,) = table.c[name].foreign_keys
                exists = select(foreign_key.column).where(foreign_key.column == value)
                owner = foreign_key.column.table.c.get("owner_id")
                if owned_by is not None and owner is not None:
                    exists = exists.where(owner == owned_by)
                if (await session.exec(exists)).first() is None:
                    missing.append(name)
    if missing:
        raise _unknown(missing)


def unique_columns(model: type[SQLModel]) -> list[str]:
    """The columns whose values `model`'s unique constraints keep unique (per owner where the
    constraint is on `owner_id` and the column)."""
    return sorted(
        list(constraint.columns)[-1].name
        for constraint in _table(model).constraints
        if isinstance(constraint, UniqueConstraint)
    )


def _unknown(names: list[str]) -> UnknownReferenceError:
    return UnknownReferenceError(
        f"No row matches {', '.join(names)}.",
        details=[_detail(name, "No such row.", "unknown_reference") for name in names],
    )


def _detail(column: str, message: str, type_: str) -> ErrorDetail:
    return ErrorDetail(loc=["body", column], message=message, type=type_)


def _table(model: type[SQLModel]) -> Table:
    table: Any = getattr(model, "__table__")  # noqa: B009 (a table model's; typed as Any)
    assert isinstance(table, Table)
    return table
