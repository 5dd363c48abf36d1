"""The list endpoint every feature has: filters, search, order, a page and its total.

A feature declares what it accepts (a `PageQuery` subclass, a tuple of filter names, a tuple of
search columns, a `Literal` of sort keys) and calls `paginate`; the rules below hold for all.
"""

from collections.abc import Iterable, Sequence
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy import ColumnElement, String, func, or_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import InstrumentedAttribute, Mapped
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.schemas import Page, SafeStr
from core.sqlite import UNICODE_LOWER

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
# Past this an offset scan costs more than any client should ask for; use filters instead.
MAX_OFFSET = 100_000
LIKE_ESCAPE = "\\"

# The `q` parameter of a list: what `contains_text` looks for.
SearchText = Annotated[
    SafeStr,
    StringConstraints(min_length=1, max_length=100),
    Field(description="Case-insensitive text to look for; `%` and `_` match themselves."),
]


class PageQuery(BaseModel):
    """`limit` and `offset` query parameters; a feature's list query subclasses this."""

    # Unknown query parameters (a typo such as `totl=10`) are a 422, not silently ignored.
    model_config = {"extra": "forbid"}

    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)


async def paginate[T: SQLModel](
    session: AsyncSession,
    model: type[T],
    query: PageQuery,
    *,
    order_by: str,
    where: Sequence[ColumnElement[bool]] = (),
) -> Page[T]:
    """One page of `model` rows matching `where`, and how many match in all.

    The total counts under the same conditions as the page. `id` breaks ties in the order, so
    rows that sort equal keep one order and pages never overlap or skip any of them.
    """
    total = (await session.exec(select(func.count()).select_from(model).where(*where))).one()
    statement = (
        select(model)
        .where(*where)
        .order_by(*ordering(model, order_by))
        .limit(query.limit)
        .offset(query.offset)
        # Rows this session already holds are read afresh: the database may have changed them
        # (ON DELETE SET NULL, another request) since.
        .execution_options(populate_existing=True)
    )
    items = (await session.exec(statement)).all()
    return Page(items=items, total=total, limit=query.limit, offset=query.offset)


def ordering(model: type[SQLModel], order_by: str) -> tuple[ColumnElement[Any], ColumnElement[Any]]:
    """`"name"` sorts by name ascending, `"-name"` descending; `id` breaks ties, the same way,
    so an index on the column and `id` (generated features have one on `created_at, id`, the
    default order) serves the whole order, read forwards or backwards.

    `order_by` must come from the feature's allowlist (a `Literal` in its schemas), so an
    unknown column is a 422 before it gets here.
    """
    column, tie_break = _column(model, order_by.removeprefix("-")), _column(model, "id")
    if order_by.startswith("-"):
        return column.desc(), tie_break.desc()
    return column.asc(), tie_break.asc()


def equal_to(
    model: type[SQLModel], query: BaseModel, names: Iterable[str]
) -> list[ColumnElement[bool]]:
    """`column == value` for each of `names` the query gives a value (None means "any"); a
    list of values (`?status=paid&status=shipped`) matches any of them."""
    conditions: list[ColumnElement[bool]] = []
    for name in names:
        value = getattr(query, name)
        if isinstance(value, list):
            conditions.append(_column(model, name).in_(value))
        elif value is not None:
            conditions.append(_column(model, name) == value)
    return conditions


def within(
    model: type[SQLModel], query: BaseModel, names: Iterable[str]
) -> list[ColumnElement[bool]]:
    """`<name>__gte` and `<name>__lte` bounds, inclusive, for each of `names` the query gives."""
    conditions: list[ColumnElement[bool]] = []
    for name in names:
        low, high = getattr(query, f"{name}__gte"), getattr(query, f"{name}__lte")
        if low is not None:
            conditions.append(_column(model, name) >= low)
        if high is not None:
            conditions.append(_column(model, name) <= high)
    return conditions


def contains_text(
    columns: Sequence[Mapped[str] | Mapped[str | None]], text: str | None
) -> list[ColumnElement[bool]]:
    """Case-insensitive "any of these columns contains `text`", `%` and `_` matching themselves.

    A list, empty when there is no text, so it joins the other conditions as it is.
    """
    if text is None:
        return []
    pattern = f"%{escape_like(text.lower())}%"
    return [or_(*(folded(column).like(pattern, escape=LIKE_ESCAPE) for column in columns))]


class folded(FunctionElement[str]):
    """The column lowercased in every script: `lower()` on PostgreSQL; on SQLite, whose lower()
    and LIKE fold only ASCII, the function core/sqlite.py registers on each connection."""

    type = String()
    inherit_cache = True


@compiles(folded)
def _lower(element: folded, compiler: SQLCompiler, **kw: Any) -> str:
    return f"lower({compiler.process(element.clauses, **kw)})"


@compiles(folded, "sqlite")
def _unicode_lower(element: folded, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{UNICODE_LOWER}({compiler.process(element.clauses, **kw)})"


def escape_like(text: str) -> str:
    """Make `%` and `_` in user input match themselves in a LIKE pattern."""
    return (
        text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2)
        .replace("%", LIKE_ESCAPE + "%")
        .replace("_", LIKE_ESCAPE + "_")
    )


def _column(model: type[SQLModel], name: str) -> InstrumentedAttribute[Any]:
    column: InstrumentedAttribute[Any] = getattr(model, name)
    return column
