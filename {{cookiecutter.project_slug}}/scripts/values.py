"""Defaults in field specs (`qty:int=1`, `paid:bool=false`, `status:enum:a,b=a`), checked
against their type and written twice: as Python for the model, as SQL for the migration."""

import datetime
import decimal
import math
import re
from dataclasses import dataclass

INT32 = (-(2**31), 2**31 - 1)


@dataclass(frozen=True)
class Default:
    python: str  # the `Field(default=...)` literal
    server: str  # the column's server default, as the text the database stores


def parse_default(spec: dict[str, object], text: str) -> Default:
    """The default `text` means for the field `spec`, or ValueError saying what is wrong."""
    type_ = spec["type"]
    if not text:
        raise ValueError("it is empty")
    if type_ == "int":
        if not re.fullmatch(r"-?\d+", text) or not INT32[0] <= int(text) <= INT32[1]:
            raise ValueError(f"{text!r} is not a 32-bit integer")
        return Default(str(int(text)), str(int(text)))
    if type_ == "float":
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a number") from None
        if not math.isfinite(value):
            raise ValueError(f"{text!r} is not a finite number")
        return Default(repr(value), repr(value))
    if type_ == "decimal":
        return _decimal(text, int(str(spec.get("precision", 12))), int(str(spec.get("scale", 2))))
    if type_ == "bool":
        if text not in ("true", "false"):
            raise ValueError(f"{text!r} is not true or false")
        # '1'/'0': what both SQLite (numeric affinity) and PostgreSQL (boolean) read back.
        return Default(str(text == "true"), "1" if text == "true" else "0")
    if type_ == "date":
        try:
            day = datetime.date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a YYYY-MM-DD date") from None
        return Default(f"date({day.year}, {day.month}, {day.day})", day.isoformat())
    if type_ == "enum":
        choices = tuple(str(choice) for choice in spec["choices"])  # type: ignore[attr-defined]
        if text not in choices:
            raise ValueError(f"{text!r} is not one of {', '.join(choices)}")
        return Default(f"{spec['enum_class']}.{text.upper()}", text)
    # str and text
    if "\x00" in text or len(text) > int(str(spec.get("length", 255))):
        raise ValueError(f"{text!r} does not fit the column")
    return Default(repr(text), text)


def _decimal(text: str, precision: int, scale: int) -> Default:
    try:
        value = decimal.Decimal(text)
    except decimal.InvalidOperation:
        raise ValueError(f"{text!r} is not a decimal number") from None
    if not value.is_finite():
        raise ValueError(f"{text!r} is not a decimal number")
    places = -int(value.as_tuple().exponent)
    digits = len(value.as_tuple().digits)
    if places > scale or digits - places > precision - scale:
        raise ValueError(f"{text!r} does not fit NUMERIC({precision}, {scale})")
    return Default(f'Decimal("{text}")', text)
