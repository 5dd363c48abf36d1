"""The field types of `make feature`: one table of what each type becomes.

For each type: the annotation it gets in the model's base class (shared by the table, the
create and the read schema), what its values may do (be unique, be filtered by equality or by
range, sorted, searched, have a default), and sample values for the generated tests.
"""

from dataclasses import dataclass

SAFE_STR = "from core.schemas import SafeStr"
UNKNOWN_ID = "'00000000-0000-4000-8000-000000000000'"  # a valid id no row has


@dataclass(frozen=True)
class FieldType:
    annotation: str  # in the base class; `Field(...)` adds the column's limits
    imports: tuple[str, ...]  # what the annotation needs, as `from x import y` lines
    samples: tuple[str, str, str]  # Python literals: two valid (first sorts first), one invalid
    unique: bool = True  # may be a unique column
    equal: bool = False  # `?name=value` on the list
    range: bool = False  # `?name__gte=...&name__lte=...` on the list
    sort: bool = True  # `order_by=name` on the list
    search: bool = False  # `q=` looks in it
    default: bool = True  # may have a `=default`


TYPES: dict[str, FieldType] = {
    # Samples marked "" depend on the spec's own arguments: see FieldSpec.samples.
    "str": FieldType("SafeStr", (SAFE_STR,), ("", "", ""), search=True),
    "text": FieldType(
        "SafeStr",
        (SAFE_STR,),
        ("'First % text'", "'Second _ text'", "123"),
        unique=False,
        sort=False,
        search=True,
    ),
    "int": FieldType("Int32", ("from core.schemas import Int32",), ("1", "2", "2**31"), range=True),
    # Finite: NaN and infinities are a 422 (SQLite cannot store NaN; PostgreSQL would).
    "float": FieldType(
        "FiniteFloat",
        ("from pydantic import FiniteFloat",),
        ("1.5", "2.5", "'nan'"),
        unique=False,
        range=True,
    ),
    "decimal": FieldType(
        "Decimal",
        (
            "from decimal import Decimal",
            "from typing import Annotated",
            "from core.schemas import scaled",
        ),
        ("", "", ""),
        range=True,
    ),
    "bool": FieldType("bool", (), ("False", "True", "'maybe'"), unique=False, equal=True),
    "date": FieldType(
        "date",
        ("from datetime import date",),
        ("'2026-01-15'", "'2026-02-20'", "'2026-13-45'"),
        equal=True,
        range=True,
    ),
    "datetime": FieldType(
        "TZDatetime",
        ("from core.schemas import TZDatetime",),
        # The invalid one has no UTC offset: the column is timezone-aware.
        ("'2026-01-15T10:30:00Z'", "'2026-02-20T08:00:00Z'", "'2026-01-15T10:30'"),
        range=True,
        default=False,
    ),
    "uuid": FieldType(
        "uuid.UUID",
        ("import uuid",),
        (
            "'0b0e3c6a-0000-4000-8000-000000000001'",
            "'0b0e3c6a-0000-4000-8000-000000000002'",
            "'not-a-uuid'",
        ),
        equal=True,
        sort=False,
        default=False,
    ),
    # A reference: its samples are filled in with real parents by the generated tests.
    "ref": FieldType(
        "uuid.UUID",
        ("import uuid",),
        ("None", "None", UNKNOWN_ID),
        equal=True,
        sort=False,
        default=False,
    ),
    "enum": FieldType("", (), ("", "", "'not-a-choice'"), unique=False, equal=True),
    "json": FieldType(
        "dict[str, Any]",
        ("from typing import Any",),
        ("{'n': 1}", "{'n': 2}", "'not-an-object'"),
        unique=False,
        sort=False,
        default=False,
    ),
    "email": FieldType(
        "Email",
        ("from core.schemas import Email",),
        ("'alpha@example.com'", "'beta@example.com'", "'not-an-email'"),
        equal=True,
        search=True,
        default=False,
    ),
    "url": FieldType(
        "URLStr",
        ("from core.schemas import URLStr",),
        ("'https://alpha.example.com/'", "'https://beta.example.com/'", "'not a url'"),
        sort=False,
        search=True,
        default=False,
    ),
}
MAX_LENGTHS = {"email": 320, "url": 2083}
TYPE_HELP = (
    "accepted: str[:LENGTH], text, int, float, decimal[:PRECISION,SCALE], bool, date, datetime, "
    "uuid, email, url, json, enum:A,B,C, ref:FEATURE[:cascade]; options :unique :index, "
    "=DEFAULT, ? for optional (e.g. code:str:12:unique qty:int=1 customer:ref:customers note:text?)"
)
