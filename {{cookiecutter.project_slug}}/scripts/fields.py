"""Field specs of `make feature`: `name:type[:argument][:options][=default][?]`.

`FieldSpec` is one parsed entry, read by the templates; `parse_fields` parses them all and
refuses, with one line, what it cannot use. What each type becomes is in `field_types.py`.
"""

import keyword
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from scripts.field_types import MAX_LENGTHS, TYPE_HELP, TYPES, FieldType
from scripts.values import Default, parse_default

DEFAULT_FIELDS = "name:str description:text?"
DEFAULT_STR_LENGTH = 255
TEXT_MAX_LENGTH = 10_000
DEFAULT_DECIMAL = (12, 2)
IDENTIFIER = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")
# A field may end in "_", as `class_` does for the keyword: a column and JSON key as written.
FIELD_NAME = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*_?$")


class SpecError(Exception):
    """A refusal: its message is the one line the user sees."""


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str
    optional: bool = False
    unique: bool = False
    index: bool = False
    length: int = DEFAULT_STR_LENGTH
    precision: int = DEFAULT_DECIMAL[0]
    scale: int = DEFAULT_DECIMAL[1]
    target: str = ""  # ref: the referenced feature's table
    cascade: bool = False  # ref: delete with the parent
    choices: tuple[str, ...] = ()  # enum: its values
    enum_class: str = ""  # enum: the StrEnum's name
    default: Default | None = None
    kind: FieldType = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", TYPES[self.type])

    @property
    def column(self) -> str:
        """The column and API name: a reference `customer` is `customer_id`."""
        return f"{self.name}_id" if self.type == "ref" else self.name

    @property
    def value_annotation(self) -> str:
        """The type of a value, optional or not: the base class's, and the update schema's."""
        if self.type == "decimal":
            # Limits first, then the padding: a value with too many places is a 422, not rounded.
            limits = f"Field(max_digits={self.precision}, decimal_places={self.scale})"
            return f"Annotated[Decimal, {limits}, scaled({self.scale})]"
        return self.enum_class if self.type == "enum" else self.kind.annotation

    @property
    def annotation(self) -> str:
        return self.value_annotation + (" | None" if self.optional else "")

    @property
    def on_delete(self) -> str:
        if self.cascade:
            return "CASCADE"
        return "SET NULL" if self.optional else "RESTRICT"

    def limits(self) -> list[str]:
        """`Field(...)` arguments that bound a value, in the base class and the update schema."""
        if self.type == "str":
            return ["min_length=1", f"max_length={self.length}"]
        if self.type == "text":
            return [f"max_length={TEXT_MAX_LENGTH:_}"]
        if self.type in MAX_LENGTHS:
            return [f"max_length={MAX_LENGTHS[self.type]}"]
        return []

    def base_default(self, *, per_owner: bool = False) -> str:
        """What follows the annotation in the base class: ` = Field(...)` or nothing.

        `per_owner`: a unique value is unique among one owner's rows (the table's
        `UniqueConstraint("owner_id", ...)`), not across everyone's.
        """
        args = []
        if self.default is not None:
            args.append(f"default={self.default.python}")
        elif self.optional:
            args.append("default=None")
        args += self.limits()
        if self.type == "ref":
            args += [f'foreign_key="{self.target}.id"', f'ondelete="{self.on_delete}"']
        if self.unique and not per_owner:
            args.append("unique=True")
        elif (self.index or self.type == "ref") and not self.unique:
            args.append("index=True")
        if self.type == "text":
            args.append("sa_type=Text")
        elif self.type == "enum":
            args.append(f"sa_type=enum_column({self.enum_class})")
        elif self.type == "json":
            args.append("sa_type=JSON_OBJECT")
        if self.default is not None:
            # The migration's default too, so existing rows get it when the column is added.
            args.append("sa_column_kwargs=" + repr({"server_default": self.default.server}))
        return f" = Field({', '.join(args)})" if args else ""

    def update_default(self) -> str:
        """In the update schema every field is optional; the limits stay."""
        limits = self.limits()
        return f" = Field({', '.join(['default=None', *limits])})" if limits else " = None"

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
        if self.type == "enum":
            first, second = sorted(self.choices)[:2]
            return repr(first), repr(second), self.kind.samples[2]
        return self.kind.samples

    def fresh(self) -> str:
        """A Python expression for a value of a unique field that no other row has: for rows a
        test makes as another feature's parent, however many it makes."""
        random = "uuid.uuid4()"
        return {
            "str": f"{random}.hex[: {self.length}]",
            "int": f"{random}.int % 2**31",
            "decimal": f"str({random}.int % 10 ** {self.precision - self.scale})",
            "date": f"date.fromordinal(730_000 + {random}.int % 20_000).isoformat()",
            "datetime": f"datetime.fromtimestamp({random}.int % 2**31, UTC).isoformat()",
            "uuid": f"str({random})",
            # (Built by concatenation: two braces in a row would be template syntax.)
            "email": 'f"{' + random + '.hex}@example.com"',
            "url": 'f"https://{' + random + '.hex}.example.com/"',
        }[self.type]

    @property
    def wildcard_samples(self) -> bool:
        """Whether its samples hold `%` and `_`, so a search test can look for them."""
        return self.type == "text" or (self.type == "str" and self.length >= len("Alpha %"))

    @property
    def equal(self) -> bool:
        # Equality on free text is what `q` is for; a unique string identifies one row.
        return self.kind.equal or (self.unique and self.type in ("str", "url"))


def parse_field(entry: str, reserved: frozenset[str], model: str) -> FieldSpec:
    def refuse(reason: str) -> SpecError:
        return SpecError(f"FIELDS entry {entry!r} {reason}; {TYPE_HELP}")

    optional = entry.endswith("?")
    body, has_default, default_text = entry.removesuffix("?").partition("=")
    parts = body.split(":")
    if len(parts) < 2 or not all(parts):
        raise refuse("is not NAME:TYPE")
    name, type_, *options = parts
    if not FIELD_NAME.match(name):
        raise refuse(f"has an invalid field name {name!r} (use lowercase snake_case)")
    if keyword.iskeyword(name):  # soft keywords (type, match, case) are fine as names
        raise refuse(f"has the field name {name!r}, a Python keyword; use {name}_ or another")
    if type_ not in TYPES:
        raise refuse(f"has an unknown type {type_!r}")
    column = f"{name}_id" if type_ == "ref" else name
    if column in reserved or name in reserved or name.startswith("model_"):
        raise refuse(f"uses the reserved field name {column!r}")

    spec: dict[str, object] = {"name": name, "type": type_, "optional": optional}
    if type_ == "ref":
        if name.endswith("_id"):
            raise refuse(f"names the column, not the reference: use {name.removesuffix('_id')}:ref")
        if not options or not IDENTIFIER.match(options[0]):
            raise refuse("needs the referenced feature, e.g. customer:ref:customers")
        spec["target"], options = options[0], options[1:]
    elif type_ == "enum":
        choices = options[0].split(",") if options else []
        if len(choices) < 2 or len(set(choices)) < len(choices):
            raise refuse("needs two or more different values, e.g. status:enum:open,closed")
        if bad := [c for c in choices if not IDENTIFIER.match(c)]:
            raise refuse(f"has an invalid enum value {bad[0]!r} (use lowercase snake_case)")
        spec["choices"], options = tuple(choices), options[1:]
        spec["enum_class"] = model + "".join(part.capitalize() for part in name.split("_"))
    _apply_options(spec, options, refuse)
    if has_default:
        if not TYPES[type_].default:
            raise refuse(f"gives a default to a {type_} field, which is not supported")
        try:
            spec["default"] = parse_default(spec, default_text)
        except ValueError as exc:
            raise refuse(f"has a bad default: {exc}") from None
    return FieldSpec(**spec)  # type: ignore[arg-type]


def _apply_options(
    spec: dict[str, object], options: list[str], refuse: Callable[[str], SpecError]
) -> None:
    type_ = spec["type"]
    if repeated := sorted({option for option in options if options.count(option) > 1}):
        raise refuse(f"gives the option {repeated[0]!r} more than once")
    for option in options:
        if option == "unique":
            if not TYPES[str(type_)].unique:
                raise refuse(f"marks a {type_} field unique, which is not supported")
            spec["unique"] = True
        elif option == "index" and type_ not in ("text", "json"):
            spec["index"] = True
        elif option == "cascade" and type_ == "ref":
            spec["cascade"] = True
        elif type_ == "str" and option.isdigit():
            if not 1 <= int(option) <= TEXT_MAX_LENGTH:
                raise refuse(f"has the length {option}, outside 1..{TEXT_MAX_LENGTH}")
            spec["length"] = int(option)
        elif type_ == "decimal" and re.fullmatch(r"\d{1,2},\d{1,2}", option):
            precision, scale = (int(n) for n in option.split(","))
            if not 0 <= scale < precision <= 38:
                raise refuse("needs 0 <= SCALE < PRECISION <= 38")
            spec["precision"], spec["scale"] = precision, scale
        else:
            raise refuse(f"has an unknown option {option!r}")


def parse_fields(text: str, reserved: frozenset[str], model: str) -> tuple[FieldSpec, ...]:
    entries = text.split() or DEFAULT_FIELDS.split()
    fields = tuple(parse_field(entry, reserved, model) for entry in entries)
    columns = [spec.column for spec in fields]
    if duplicates := sorted({name for name in columns if columns.count(name) > 1}):
        raise SpecError(f"FIELDS names {', '.join(duplicates)} more than once")
    return fields
