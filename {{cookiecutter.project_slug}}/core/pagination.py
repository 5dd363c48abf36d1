"""Paging, ordering and search helpers every feature's list endpoint uses."""

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, or_
from sqlalchemy.orm import InstrumentedAttribute, Mapped

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
LIKE_ESCAPE = "\\"


class PageQuery(BaseModel):
    """`limit` and `offset` query parameters; a feature's list query subclasses this."""

    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    offset: int = Field(default=0, ge=0)


def ordering(model: type[Any], order_by: str) -> ColumnElement[Any]:
    """`"name"` sorts by name ascending, `"-name"` descending.

    `order_by` must come from the feature's allowlist (a `Literal` in its schemas), so an
    unknown column is a 422 before it gets here.
    """
    column: InstrumentedAttribute[Any] = getattr(model, order_by.removeprefix("-"))
    return column.desc() if order_by.startswith("-") else column.asc()


def escape_like(text: str) -> str:
    """Make `%` and `_` in user input match themselves in a LIKE pattern."""
    return (
        text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2)
        .replace("%", LIKE_ESCAPE + "%")
        .replace("_", LIKE_ESCAPE + "_")
    )


def contains_text(
    columns: Sequence[Mapped[str] | Mapped[str | None]], text: str
) -> ColumnElement[bool]:
    """Case-insensitive "any of these columns contains `text`", with wildcards escaped."""
    pattern = f"%{escape_like(text)}%"
    return or_(*(column.ilike(pattern, escape=LIKE_ESCAPE) for column in columns))
