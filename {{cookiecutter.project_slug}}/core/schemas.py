"""API shapes shared by every feature: the error envelope and the page of results."""

from collections.abc import Sequence

from pydantic import BaseModel


class ErrorDetail(BaseModel):
    """One problem with the request, e.g. one invalid field."""

    loc: list[str | int] = []
    message: str
    type: str


class ErrorBody(BaseModel):
    code: str
    message: str
    details: list[ErrorDetail] = []
    request_id: str | None = None


class ErrorResponse(BaseModel):
    """The one shape every error response has, whatever raised it."""

    error: ErrorBody


class Page[T](BaseModel):
    items: Sequence[T]
    total: int
    limit: int
    offset: int
