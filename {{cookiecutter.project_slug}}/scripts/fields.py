"""Field specs of `make feature`: `name:type[:options][?]`, and what each type becomes.

`TYPES` is the one table: the annotation a type gets in the model's base class (shared by the
table, the create and the read schema), what its values may do (be unique, be filtered on,
sorted by, searched), and sample values for the generated tests.
"""

import keyword
import re
from dataclasses import dataclass, field

DEFAULT_FIELDS = "name:str description:text?"
DEFAULT_STR_LENGTH = 255
TEXT_MAX_LENGTH = 10_000
DEFAULT_DECIMAL = (12, 2)
IDENTIFIER = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")


@dataclass(frozen=True)
class FieldType:
    annotation: str  # in the base class; `Field(...)` adds the column's limits
    imports: tuple[str, ...]  # what the annotation needs, as `from x import y` lines
    samples: tuple[str, str, str]  # Python literals: two valid (first sorts first), one invalid
    unique: bool = True  # may be a unique column
    filter: bool = True  # `?name=value` on the list
    sort: bool = True  # `order_by=name` on the list
    search: bool = False  # `q=` looks in it


SAFE_STR = "from core.schemas import SafeStr"
TYPES: dict[str, FieldType] = {
    # str's samples depend on its length: see FieldSpec.samples.
    "str": FieldType("SafeStr", (SAFE_STR,), ("", "", ""), search=True),
    "text": FieldType(
        "SafeStr",
        (SAFE_STR,),
        ("'First % text'", "'Second _ text'", "123"),
        unique=False,
        filter=False,
        sort=False,
        search=True,
    ),
    "int": FieldType("Int32", ("from core.schemas import Int32",), ("1", "2", "2**31")),
    "float": FieldType("float", (), ("1.5", "2.5", "'not-a-number'"), unique=False),
    # decimal's annotation and samples depend on its scale: see FieldSpec.
    "decimal": FieldType(
        "Decimal",
        (
            "from decimal import Decimal",
            "from typing import Annotated",
            "from core.schemas import scaled",
        ),
        ("", "", ""),
    ),
    "bool": FieldType("bool", (), ("False", "True", "'maybe'"), unique=False),
    "date": FieldType(
        "date", ("from datetime import date",), ("'2026-01-15'", "'2026-02-20'", "'2026-13-45'")
    ),
    "datetime": FieldType(
        "TZDatetime",
        ("from core.schemas import TZDatetime",),
        # The invalid one has no UTC offset: the column is timezone-aware.
        ("'2026-01-15T10:30:00Z'", "'2026-02-20T08:00:00Z'", "'2026-01-15T10:30'"),
    ),
    "uuid": FieldType(
        "uuid.UUID",
        ("import uuid",),
        (
            "'0b0e3c6a-0000-4000-8000-000000000001'",
            "'0b0e3c6a-0000-4000-8000-000000000002'",
            "'not-a-uuid'",
        ),
    ),
}
TYPE_HELP = (
    "accepted types: str[:LENGTH], text, int, float, decimal[:PRECISION,SCALE], bool, date, "
    "datetime, uuid; add ? for optional and :unique for a unique column "
    "(e.g. email:str:120:unique note:text?)"
)


class SpecError(Exception):
    """A refusal: its message is the one line the user sees."""


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str
    optional: bool = False
    unique: bool = False
    length: int = DEFAULT_STR_LENGTH
    precision: int = DEFAULT_DECIMAL[0]
    scale: int = DEFAULT_DECIMAL[1]
    kind: FieldType = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", TYPES[self.type])

    @property
    def value_annotation(self) -> str:
        """The type of a value, optional or not: the base class's, and the update schema's."""
        if self.type == "decimal":
            return f"Annotated[Decimal, scaled({self.scale})]"
        return self.kind.annotation

    @property
    def annotation(self) -> str:
        return self.value_annotation + (" | None" if self.optional else "")

    def limits(self) -> list[str]:
        """`Field(...)` arguments that bound a value, in the base class and the update schema."""
        if self.type == "str":
            return ["min_length=1", f"max_length={self.length}"]
        if self.type == "text":
            return [f"max_length={TEXT_MAX_LENGTH:_}"]
        if self.type == "decimal":
            return [f"max_digits={self.precision}", f"decimal_places={self.scale}"]
        return []

    def base_default(self) -> str:
        """What follows the annotation in the base class: ` = Field(...)` or nothing."""
        args = (["default=None"] if self.optional else []) + self.limits()
        if self.unique:
            args.append("unique=True")
        if self.type == "text":
            args.append("sa_type=Text")
        return f" = Field({', '.join(args)})" if args else ""

    def update_default(self) -> str:
        """In the update schema every field is optional; the limits stay."""
        return f" = Field({', '.join(['default=None', *self.limits()])})"

    def samples(self) -> tuple[str, str, str]:
        if self.type == "str":
            first, second = "Alpha %"[: self.length], "Beta _"[: self.length]
            return repr(first), repr(second), f'"x" * {self.length + 1}'
        if self.type == "decimal":
            # Fewer places than the scale: the answer must come back padded, as reads do.
            return (
                repr("1.5" if self.scale else "1"),
                repr("2.5" if self.scale else "2"),
                repr("9" * (self.precision - self.scale + 1)),  # one digit too many
            )
        return self.kind.samples

    @property
    def wildcard_samples(self) -> bool:
        """Whether its samples hold `%` and `_`, so a search test can look for them."""
        return self.type == "text" or (self.type == "str" and self.length >= len("Alpha %"))


def parse_field(entry: str, reserved: frozenset[str]) -> FieldSpec:
    def refuse(reason: str) -> SpecError:
        return SpecError(f"FIELDS entry {entry!r} {reason}; {TYPE_HELP}")

    parts = entry.split(":")
    if len(parts) < 2 or not all(parts):
        raise refuse("is not NAME:TYPE")
    name, type_, *options = parts
    if not IDENTIFIER.match(name) or keyword.iskeyword(name) or keyword.issoftkeyword(name):
        raise refuse(f"has an invalid field name {name!r} (use lowercase snake_case)")
    if name in reserved or name.startswith("model_"):
        raise refuse(f"uses the reserved field name {name!r}")
    optional = type_.endswith("?") or (bool(options) and options[-1].endswith("?"))
    type_ = type_.removesuffix("?")
    options = [option.removesuffix("?") for option in options]
    if type_ not in TYPES:
        raise refuse(f"has an unknown type {type_!r}")

    spec: dict[str, object] = {}
    for option in options:
        if option == "unique":
            if not TYPES[type_].unique:
                raise refuse(f"marks a {type_} field unique, which is not supported")
            spec["unique"] = True
        elif type_ == "str" and option.isdigit() and 1 <= int(option) <= TEXT_MAX_LENGTH:
            spec["length"] = int(option)
        elif type_ == "decimal" and re.fullmatch(r"\d{1,2},\d{1,2}", option):
            precision, scale = (int(n) for n in option.split(","))
            if not 0 <= scale < precision <= 38:
                raise refuse("needs 0 <= SCALE < PRECISION <= 38")
            spec["precision"], spec["scale"] = precision, scale
        else:
            raise refuse(f"has an unknown option {option!r}")
    return FieldSpec(name=name, type=type_, optional=optional, **spec)  # type: ignore[arg-type]


def parse_fields(text: str, reserved: frozenset[str]) -> tuple[FieldSpec, ...]:
    entries = text.split() or DEFAULT_FIELDS.split()
    fields = tuple(parse_field(entry, reserved) for entry in entries)
    names = [spec.name for spec in fields]
    if duplicates := sorted({name for name in names if names.count(name) > 1}):
        raise SpecError(f"FIELDS names {', '.join(duplicates)} more than once")
    return fields
