"""API shapes shared by every feature: the error envelope, the page of results, and the input
types that keep client values inside what the database can store."""

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Annotated, get_args

from pydantic import AfterValidator, AwareDatetime, BaseModel, EmailStr, Field, HttpUrl, TypeAdapter
from pydantic.fields import FieldInfo


def _refuse_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL, and neither database (nor a JSON response) can encode a
    # lone surrogate ("\ud800", valid JSON): refused here as a 422, not later as a 500.
    if "\x00" in value:
        raise ValueError("must not contain NUL (\\u0000) characters")
    if not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError:
            raise ValueError("must not contain lone surrogates (\\ud800-\\udfff)") from None
    return value


# Every client-sent string: one rule for both databases. (With StringConstraints, write
# `Annotated[str, StringConstraints(...), REFUSE_UNSTORABLE]`: constraints on top of SafeStr
# check the length before stripping, so " " would pass min_length=1.)
REFUSE_UNSTORABLE = AfterValidator(_refuse_nul)
SafeStr = Annotated[str, REFUSE_UNSTORABLE]
# A datetime with its UTC offset: the columns are timezone-aware, a naive value is a 422.
TZDatetime = Annotated[datetime, AwareDatetime]
# Normalised (NFC, the domain's IDNA form made readable, everything lowercase), so a unique
# constraint on it is case-insensitive and a login matches however the address was typed.
Email = Annotated[EmailStr, AfterValidator(str.lower)]
_EMAIL: TypeAdapter[str] = TypeAdapter(Email)


def normalise_email(value: str) -> str | None:
    """`value` as `Email` stores it, or None if it is not an address (so matches no account)."""
    try:
        return _EMAIL.validate_python(value.strip())
    except ValueError:
        return None


_HTTP_URL = TypeAdapter(HttpUrl)
# An http(s) URL, checked and normalised (`https://Example.com` → `https://example.com/`).
URLStr = Annotated[SafeStr, AfterValidator(lambda value: str(_HTTP_URL.validate_python(value)))]
# What an INTEGER column holds on PostgreSQL (SQLite's is wider; the API promises the smaller).
Int32 = Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]


def scaled(places: int) -> AfterValidator:
    """Decimals padded to the column's scale (`1.5` → `1.50`), as the database returns them, so
    the answer to a create is what every later read returns (`-0` too: it is read as `0.00`)."""
    exponent = Decimal(1).scaleb(-places)

    def scale(value: Decimal) -> Decimal:
        quantized = value.quantize(exponent)
        return quantized.copy_abs() if quantized.is_zero() else quantized

    return AfterValidator(scale)


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


def reject_nulls[M: BaseModel](data: M, declared: type[BaseModel]) -> M:
    """The PATCH rule: a field sent as null must be nullable where it is `declared`.

    Update schemas make every field optional so a client can leave it out; leaving it out is
    not the same as sending `null` for a column that cannot be empty. Call it from the update
    schema's `model_validator(mode="after")` with the base class that declares the fields.
    """
    for name in data.model_fields_set:
        field = declared.model_fields.get(name)
        if field is not None and getattr(data, name) is None and not _nullable(field):
            raise ValueError(f"{name} cannot be null")
    return data


def _nullable(field: FieldInfo) -> bool:
    return type(None) in get_args(field.annotation) or field.annotation is type(None)
