"""The contract every feature's list and writes share, tested once on a scratch table.

`core/pagination.py` and `core/persistence.py` do this work for every feature, so a feature's
own tests cover only what is its own. The scratch table lives inside each test's transaction.
"""

import uuid
from decimal import Decimal
from typing import Annotated, Literal, Self

import pytest
from fastapi import APIRouter, FastAPI, Query
from httpx import AsyncClient
from pydantic import TypeAdapter, model_validator
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import Field, SQLModel, col
from sqlmodel.ext.asyncio.session import AsyncSession

from core import persistence
from core.database import TableBase
from core.exceptions import ConflictError, NotFoundError
from core.pagination import MAX_OFFSET, PageQuery, contains_text, equal_to, paginate
from core.schemas import SafeStr, reject_nulls, scaled


class WidgetBase(SQLModel):
    name: SafeStr = Field(max_length=50)
    code: SafeStr | None = Field(default=None, max_length=20, unique=True)
    size: int = 0


class Widget(WidgetBase, TableBase, table=True):
    __tablename__ = "_test_widgets"


# Not part of the app's schema: Alembic's comparison in test_migrations must not see it.
SQLModel.metadata.remove(Widget.__table__)  # type: ignore[attr-defined]


class WidgetUpdate(SQLModel):
    name: SafeStr | None = None
    code: SafeStr | None = None

    @model_validator(mode="after")
    def _refuse_nulls(self) -> Self:
        return reject_nulls(self, WidgetBase)


class WidgetQuery(PageQuery):
    order_by: Literal["name", "-name", "size", "-size"] = "name"
    name: str | None = None
    q: str | None = None


class WidgetNotFoundError(NotFoundError):
    message = "Widget not found."


router = APIRouter(prefix="/_test-widgets")


@router.get("")
async def list_widgets(query: Annotated[WidgetQuery, Query()]) -> int:
    return query.limit


@pytest.fixture
async def widgets(session: AsyncSession) -> AsyncSession:
    connection = await session.connection()
    await connection.run_sync(Widget.__table__.create)  # type: ignore[attr-defined]
    return session  # the test's transaction is rolled back, table and all


async def add(session: AsyncSession, *names: str, ids: list[int] | None = None) -> list[Widget]:
    """Insert widgets named `names`; with `ids`, their ids end in those numbers."""
    rows = []
    for index, name in enumerate(names):
        row = Widget(name=name, code=f"c-{name}-{index}")
        if ids is not None:
            row.id = uuid.UUID(int=ids[index])
        rows.append(row)
    session.add_all(rows)
    await session.flush()
    return rows


def query(**values: object) -> WidgetQuery:
    return WidgetQuery.model_validate(values)


async def test_the_total_counts_every_match_under_the_same_filters(widgets: AsyncSession) -> None:
    await add(widgets, "apple", "apple", "pear")
    filters = query(name="apple", limit=1)

    page = await paginate(
        widgets, Widget, filters, order_by="name", where=equal_to(Widget, filters, ("name",))
    )

    assert (page.total, len(page.items)) == (2, 1)
    assert {row.name for row in page.items} == {"apple"}


async def test_rows_that_sort_equal_are_ordered_by_id_so_pages_never_overlap(
    widgets: AsyncSession,
) -> None:
    # Inserted in the reverse of their id order: without the tie-break, a database returns
    # equal rows in whatever order it finds them (here, insertion order).
    rows = await add(widgets, *["same"] * 6, ids=[6, 5, 4, 3, 2, 1])

    seen = []
    for offset in range(0, 6, 2):
        page = await paginate(widgets, Widget, query(limit=2, offset=offset), order_by="name")
        seen += [row.id for row in page.items]

    assert seen == sorted(row.id for row in rows)


async def test_order_by_sorts_both_ways(widgets: AsyncSession) -> None:
    await add(widgets, "b", "a", "c")

    ascending = await paginate(widgets, Widget, query(), order_by="name")
    descending = await paginate(widgets, Widget, query(), order_by="-name")

    assert [row.name for row in ascending.items] == ["a", "b", "c"]
    assert [row.name for row in descending.items] == ["c", "b", "a"]


async def test_search_is_case_insensitive_and_wildcards_match_themselves(
    widgets: AsyncSession,
) -> None:
    await add(widgets, "50% off", "5000 off", "a_b", "axb", "Back\\slash", "École", "ΣΟΦΙΑ")

    async def names(text: str) -> list[str]:
        where = contains_text([col(Widget.name)], text)
        return [row.name for row in (await paginate(widgets, Widget, query(), order_by="name",
                                                     where=where)).items]  # fmt: skip

    assert await names("50%") == ["50% off"]
    assert await names("a_b") == ["a_b"]
    assert await names("BACK\\") == ["Back\\slash"]
    # Every script's case, on SQLite too (whose own lower() and LIKE fold only ASCII).
    assert await names("éCOLE") == ["École"]
    assert await names("σοφ") == ["ΣΟΦΙΑ"]
    assert contains_text([col(Widget.name)], None) == []


async def test_a_taken_unique_value_is_a_conflict_naming_the_column(widgets: AsyncSession) -> None:
    widgets.add(Widget(name="one", code="taken"))
    await widgets.flush()
    widgets.add(Widget(name="two", code="taken"))

    with pytest.raises(ConflictError) as raised:
        await persistence.flush(widgets, Widget, not_found=WidgetNotFoundError)

    assert raised.value.detail == "code is already taken."
    assert raised.value.details[0].loc == ["body", "code"]


async def test_updating_a_row_deleted_meanwhile_is_not_found(widgets: AsyncSession) -> None:
    (row,) = await add(widgets, "gone")
    await _delete_behind_the_sessions_back(widgets, row)
    row.name = "changed"

    with pytest.raises(WidgetNotFoundError):
        await persistence.flush(widgets, Widget, not_found=WidgetNotFoundError)


async def test_deleting_a_row_deleted_meanwhile_is_not_found(widgets: AsyncSession) -> None:
    (row,) = await add(widgets, "gone")
    await _delete_behind_the_sessions_back(widgets, row)

    with pytest.raises(WidgetNotFoundError):
        await persistence.delete(widgets, row, not_found=WidgetNotFoundError)


async def test_delete_removes_the_row(widgets: AsyncSession) -> None:
    (row,) = await add(widgets, "doomed")

    await persistence.delete(widgets, row, not_found=WidgetNotFoundError)

    assert await widgets.get(Widget, row.id) is None


async def _delete_behind_the_sessions_back(session: AsyncSession, row: Widget) -> None:
    table = Widget.__table__  # type: ignore[attr-defined]
    connection = await session.connection()
    await connection.execute(table.delete().where(table.c.id == row.id))


def test_patch_may_clear_a_nullable_field_but_not_a_required_one() -> None:
    assert WidgetUpdate.model_validate({"code": None}).code is None
    with pytest.raises(ValueError, match="name cannot be null"):
        WidgetUpdate.model_validate({"name": None})


def test_a_nul_character_is_refused_before_it_reaches_the_database() -> None:
    with pytest.raises(ValueError, match="NUL"):
        WidgetUpdate.model_validate({"name": "a\x00b"})


@pytest.mark.parametrize(
    ("sent", "stored"),
    [("1.5", "1.50"), ("-1.5", "-1.50"), ("-0", "0.00"), ("-0.00", "0.00"), ("-0.001", "0.00")],
)
def test_a_decimal_is_answered_as_the_column_stores_it(sent: str, stored: str) -> None:
    # The create's answer is what every later read returns: no "-0.00" that reads back "0.00".
    price: TypeAdapter[Decimal] = TypeAdapter(Annotated[Decimal, scaled(2)])

    assert str(price.validate_python(sent)) == stored


@pytest.fixture
def app(app: FastAPI) -> FastAPI:
    app.include_router(router)
    return app


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"offset": -1}, "offset"),
        ({"offset": MAX_OFFSET + 1}, "offset"),
        ({"offset": 2**63}, "offset"),
        ({"order_by": "id; DROP TABLE x"}, "order_by"),
        ({"nmae": "typo"}, "nmae"),  # an unknown parameter, not silently ignored
    ],
)
async def test_list_parameters_out_of_bounds_are_a_422_naming_them(
    client: AsyncClient, params: dict[str, int | str], field: str
) -> None:
    response = await client.get("/_test-widgets", params=params)

    assert response.status_code == 422, response.text
    assert ["query", field] in [detail["loc"] for detail in response.json()["error"]["details"]]


async def test_a_page_costs_two_statements_however_many_rows_it_holds(
    widgets: AsyncSession, engine: AsyncEngine
) -> None:
    await add(widgets, *[f"w{n}" for n in range(12)])
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        page = await paginate(widgets, Widget, query(limit=10), order_by="name")
        names = [row.name for row in page.items]  # no lazy load: every column came with the row
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)

    assert len(names) == 10
    assert len(statements) == 2, statements  # the count and the page: no query per row
