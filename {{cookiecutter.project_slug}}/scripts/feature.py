"""`make feature NAME=orders FIELDS="total:decimal paid:bool"`: add a CRUD feature.

Renders `.feature-template/` into `features/<name>/` and adds the router to
`features/registry.py`. Everything is checked before anything is written; a refusal prints one
line, exits 2 and leaves every file as it was.
"""

import ast
import importlib.util
import keyword
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

PROJECT_DIR = Path(__file__).resolve().parent.parent
TEMPLATE_DIR = PROJECT_DIR / ".feature-template"
FEATURES_DIR = PROJECT_DIR / "features"
REGISTRY = FEATURES_DIR / "registry.py"
TEMPLATE_SUFFIX = ".py-tpl"

DEFAULT_FIELDS = "name:str description:text?"
MAX_NAME_LENGTH = 40  # PostgreSQL cuts identifiers (constraint names) at 63 bytes
DEFAULT_STR_LENGTH = 255
TEXT_MAX_LENGTH = 10_000
DEFAULT_DECIMAL = (12, 2)

# Top-level names of the project itself; a feature with one of these names would confuse them.
RESERVED_FEATURE_NAMES = frozenset(
    {"core", "features", "tests", "migrations", "scripts", "settings", "main", "conftest",
     "manage", "registry"}
)  # fmt: skip
# Columns every table has, and query parameters every list endpoint has.
RESERVED_FIELD_NAMES = frozenset(
    {"id", "created_at", "updated_at", "limit", "offset", "order_by", "q", "metadata",
     "registry", "schema", "json", "dict", "copy", "validate", "construct", "fields"}
)  # fmt: skip
# Local names in the generated code; the feature's singular is a variable beside them.
RESERVED_SINGULAR_NAMES = frozenset(
    {"session", "data", "query", "router", "services", "conditions", "total", "statement",
     "items", "name", "value", "exc", "column", "connection", "table", "client", "response",
     "field", "payload", "created", "changed", "before", "after", "found", "status", "page"}
)  # fmt: skip
# Names the generated modules import; a model class with one of them would shadow it.
RESERVED_CLASS_NAMES = frozenset(
    {"Page", "PageQuery", "ErrorDetail", "ErrorResponse", "TableBase", "SQLModel", "Field",
     "Decimal", "UUID", "APIRouter", "Annotated", "Depends", "Query", "BaseModel",
     "ConfigDict", "AsyncSession", "IntegrityError", "Literal", "Self", "Text", "Any"}
)  # fmt: skip

TYPE_HELP = (
    "accepted types: str[:LENGTH], text, int, float, decimal[:PRECISION,SCALE], bool, date, "
    "datetime, uuid; add ? for optional and :unique for a unique column "
    "(e.g. email:str:120:unique note:text?)"
)
FIELD_TYPES = frozenset(
    {"str", "text", "int", "float", "decimal", "bool", "date", "datetime", "uuid"}
)
UNIQUE_TYPES = frozenset({"str", "int", "decimal", "date", "datetime", "uuid"})
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")


class FeatureError(Exception):
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

    @property
    def python_type(self) -> str:
        return {
            "str": "str",
            "text": "str",
            "int": "int",
            "float": "float",
            "decimal": "Decimal",
            "bool": "bool",
            "date": "date",
            "datetime": "datetime",
            "uuid": "uuid.UUID",
        }[self.type]

    @property
    def input_type(self) -> str:
        # A naive datetime cannot be stored in a timezone-aware column: refuse it with a 422.
        return "AwareDatetime" if self.type == "datetime" else self.python_type

    @property
    def compare_as(self) -> str:
        """How tests compare a value sent with the JSON that comes back."""
        return {"decimal": "Decimal", "datetime": "datetime.fromisoformat"}.get(self.type, "")

    @property
    def searchable_with_wildcards(self) -> bool:
        """Whether its sample values hold `%` and `_`, so a search test can use them."""
        return self.type == "text" or (self.type == "str" and self.length >= len("Alpha %"))

    @property
    def is_text(self) -> bool:
        return self.type in {"str", "text"}

    @property
    def filterable(self) -> bool:
        return self.type != "text"

    @property
    def sortable(self) -> bool:
        return self.type != "text"

    def column_args(self) -> str:
        """Keyword arguments of the table column's `Field(...)`."""
        args = ["default=None"] if self.optional else []
        if self.type == "str":
            args.append(f"max_length={self.length}")
        elif self.type == "text":
            args.append("sa_type=Text")
        elif self.type == "decimal":
            args += [f"max_digits={self.precision}", f"decimal_places={self.scale}"]
        if self.unique:
            args.append("unique=True")
        return ", ".join(args)

    def schema_default(self, *, for_update: bool = False) -> str:
        """What follows the annotation in an API schema: ` = Field(...)`, ` = None` or nothing."""
        args = self.schema_args(for_update=for_update)
        if args == "default=None":
            return " = None"
        return f" = Field({args})" if args else ""

    def schema_args(self, *, for_update: bool = False) -> str:
        """Keyword arguments of the API schema's `Field(...)`: what makes a value valid."""
        args = ["default=None"] if (self.optional or for_update) else []
        if self.type == "str":
            args += ["min_length=1", f"max_length={self.length}"]
        elif self.type == "text":
            args.append(f"max_length={TEXT_MAX_LENGTH}")
        elif self.type == "decimal":
            args += [f"max_digits={self.precision}", f"decimal_places={self.scale}"]
        return ", ".join(args)

    def samples(self) -> tuple[str, str, str]:
        """Two valid values (the first sorts first) and an invalid one, as Python literals."""
        if self.type == "str":
            first, second = "Alpha %"[: self.length], "Beta _"[: self.length]
            return repr(first), repr(second), f'"x" * {self.length + 1}'
        integer_digits = self.precision - self.scale
        return {
            "text": ("'First % text'", "'Second _ text'", "123"),
            "int": ("1", "2", "'not-a-number'"),
            "float": ("1.5", "2.5", "'not-a-number'"),
            "decimal": (
                repr("1." + "5" * self.scale if self.scale else "1"),
                repr("2." + "5" * self.scale if self.scale else "2"),
                repr("9" * (integer_digits + 1)),
            ),
            "bool": ("False", "True", "'maybe'"),
            "date": ("'2026-01-15'", "'2026-02-20'", "'2026-13-45'"),
            "datetime": ("'2026-01-15T10:30:00Z'", "'2026-02-20T08:00:00Z'", "'2026-01-15T10:30'"),
            "uuid": (
                "'0b0e3c6a-0000-4000-8000-000000000001'",
                "'0b0e3c6a-0000-4000-8000-000000000002'",
                "'not-a-uuid'",
            ),
        }[self.type]


@dataclass(frozen=True)
class Feature:
    name: str
    fields: tuple[FieldSpec, ...]

    @property
    def singular(self) -> str:
        return singularize(self.name)

    @property
    def model(self) -> str:
        return "".join(part.capitalize() for part in self.singular.split("_"))

    @property
    def url(self) -> str:
        return "/" + self.name.replace("_", "-")

    @property
    def label(self) -> str:
        return self.singular.replace("_", " ")

    @property
    def a_label(self) -> str:
        """The label with its article ("an order", "a customer"), for docstrings and messages."""
        return f"{'an' if self.label[0] in 'aeiou' else 'a'} {self.label}"

    @property
    def search_fields(self) -> list[FieldSpec]:
        return [field for field in self.fields if field.is_text]

    @property
    def filter_fields(self) -> list[FieldSpec]:
        return [field for field in self.fields if field.filterable]

    @property
    def sort_keys(self) -> list[str]:
        columns = ["created_at", "updated_at"] + [f.name for f in self.fields if f.sortable]
        return [key for column in columns for key in (column, f"-{column}")]

    @property
    def wildcard_search_field(self) -> FieldSpec | None:
        return next((f for f in self.search_fields if f.searchable_with_wildcards), None)

    @property
    def unique_fields(self) -> list[FieldSpec]:
        return [field for field in self.fields if field.unique]

    @property
    def required_fields(self) -> list[FieldSpec]:
        return [field for field in self.fields if not field.optional]

    def uses(self, *types: str) -> bool:
        return any(field.type in types for field in self.fields)


def singularize(plural: str) -> str:
    head, _, last = plural.rpartition("_")
    for suffix, replacement in (("ies", "y"), ("sses", "ss"), ("xes", "x"), ("ches", "ch"),
                                ("shes", "sh")):  # fmt: skip
        if last.endswith(suffix):
            last = last.removesuffix(suffix) + replacement
            break
    else:
        if last.endswith("s") and not last.endswith(("ss", "us", "is")):
            last = last[:-1]
    return f"{head}_{last}" if head else last


def check_name(name: str) -> None:
    if not name:
        raise FeatureError('NAME is required, e.g. make feature NAME=orders FIELDS="total:decimal"')
    if not _IDENTIFIER.match(name):
        raise FeatureError(
            f"NAME {name!r} is not a lowercase snake_case identifier (e.g. orders, order_items)"
        )
    if len(name) > MAX_NAME_LENGTH:
        raise FeatureError(f"NAME {name!r} is longer than {MAX_NAME_LENGTH} characters")
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        raise FeatureError(f"NAME {name!r} is a Python keyword; choose another name")
    if name in RESERVED_FEATURE_NAMES:
        raise FeatureError(f"NAME {name!r} is the name of a project module; choose another name")
    if name in sys.stdlib_module_names or importlib.util.find_spec(name) is not None:
        raise FeatureError(
            f"NAME {name!r} would shadow the installed module {name!r}; choose another name"
        )
    feature = Feature(name, ())
    if feature.model in RESERVED_CLASS_NAMES:
        raise FeatureError(
            f"NAME {name!r} makes a model class {feature.model!r}, a name the generated code "
            "imports; choose another name"
        )
    if feature.singular in RESERVED_SINGULAR_NAMES:
        raise FeatureError(
            f"NAME {name!r} makes a variable {feature.singular!r} that the generated code already "
            "uses; choose another name"
        )


def parse_field(entry: str) -> FieldSpec:
    def refuse(reason: str) -> FeatureError:
        return FeatureError(f"FIELDS entry {entry!r} {reason}; {TYPE_HELP}")

    parts = entry.split(":")
    if len(parts) < 2 or not all(parts):
        raise refuse("is not NAME:TYPE")
    name, type_, *options = parts
    if not _IDENTIFIER.match(name) or keyword.iskeyword(name) or keyword.issoftkeyword(name):
        raise refuse(f"has an invalid field name {name!r} (use lowercase snake_case)")
    if name in RESERVED_FIELD_NAMES or name.startswith("model_"):
        raise refuse(f"uses the reserved field name {name!r}")
    optional = type_.endswith("?") or (bool(options) and options[-1].endswith("?"))
    type_ = type_.removesuffix("?")
    options = [option.removesuffix("?") for option in options]
    if type_ not in FIELD_TYPES:
        raise refuse(f"has an unknown type {type_!r}")

    spec: dict[str, object] = {}
    for option in options:
        if option == "unique":
            if type_ not in UNIQUE_TYPES:
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


def parse_fields(text: str) -> tuple[FieldSpec, ...]:
    fields = tuple(parse_field(entry) for entry in (text.split() or DEFAULT_FIELDS.split()))
    names = [field.name for field in fields]
    if duplicates := sorted({name for name in names if names.count(name) > 1}):
        raise FeatureError(f"FIELDS names {', '.join(duplicates)} more than once")
    return fields


def registry_with(feature: Feature, source: str) -> str:
    """`features/registry.py` with the feature's router imported and appended to ROUTERS.

    Inserts text rather than rewriting the file, so the user's own lines and comments stay.
    """
    tree = ast.parse(source)
    routers: ast.expr | None = None
    for node in tree.body:
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        if any(isinstance(t, ast.Name) and t.id == "ROUTERS" for t in targets):
            routers = getattr(node, "value", None)
    if not isinstance(routers, ast.List) or routers.end_lineno is None:
        raise FeatureError("features/registry.py has no `ROUTERS = [...]` list to add to")
    import_line = f"from features.{feature.name}.routes import router as {feature.name}_router\n"
    if import_line in source:
        return source  # already registered

    encoded = source.encode()
    line_starts = [0]
    for line in encoded.splitlines(keepends=True):
        line_starts.append(line_starts[-1] + len(line))

    def offset(lineno: int | None, col: int | None) -> int:
        # ast positions count UTF-8 bytes from the start of their line.
        return line_starts[(lineno or 1) - 1] + (col or 0)

    closing = offset(routers.end_lineno, routers.end_col_offset) - 1  # the `]`
    entry = f"{feature.name}_router,".encode()
    if not routers.elts:
        at, insertion = closing, b"\n    " + entry + b"\n"
    else:
        last = routers.elts[-1]
        after_last = offset(last.end_lineno, last.end_col_offset)
        gap = encoded[after_last:closing]
        if gap.lstrip().startswith(b","):
            comma = after_last + gap.index(b",")
            newline = encoded.find(b"\n", comma, closing)
            # After the trailing comma's line (and its comment), or after the comma itself.
            at, insertion = (
                (newline, b"\n    " + entry) if newline != -1 else (comma + 1, b" " + entry)
            )
        else:
            # A trailing comma makes ruff format put one router per line from now on.
            at, insertion = after_last, b", " + entry
    with_entry = (encoded[:at] + insertion + encoded[at:]).decode()

    imports = [node for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)]
    last_import = max((node.end_lineno or 0 for node in imports), default=0)
    result = with_entry.splitlines(keepends=True)
    result.insert(last_import, import_line)
    return "".join(result)


def render(feature: Feature, destination: Path) -> list[Path]:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # noqa: S701 (renders Python source, not HTML)
    )
    written = []
    for template in sorted(TEMPLATE_DIR.rglob(f"*{TEMPLATE_SUFFIX}")):
        relative = template.relative_to(TEMPLATE_DIR)
        target = destination / relative.with_suffix(".py")
        target.parent.mkdir(parents=True, exist_ok=True)
        source = environment.get_template(relative.as_posix()).render(feature=feature)
        target.write_text(source)
        written.append(target)
    return written


def tidy(paths: list[Path]) -> None:
    """Sort imports, drop unused ones and format, so the feature starts lint-clean."""
    for args in (["check", "--fix-only", "--quiet"], ["format", "--quiet"]):
        subprocess.run(  # noqa: S603 (our own interpreter, our own files)
            [sys.executable, "-m", "ruff", *args, *map(str, paths)],
            cwd=PROJECT_DIR,
            check=True,
            capture_output=True,
        )


def add_feature(name: str, fields_text: str) -> Feature:
    """Check everything, then write the feature and the registry, or nothing at all."""
    check_name(name)
    feature = Feature(name, parse_fields(fields_text))
    target = FEATURES_DIR / name
    if target.exists():
        raise FeatureError(f"features/{name} already exists; nothing was changed")
    if not TEMPLATE_DIR.is_dir():
        raise FeatureError(f"{TEMPLATE_DIR.name}/ is missing; it holds the feature templates")
    registry_source = REGISTRY.read_text()
    new_registry = registry_with(feature, registry_source)

    staging = Path(tempfile.mkdtemp(prefix=f".new-{name}-", dir=FEATURES_DIR))
    try:
        written = render(feature, staging)
        tidy(written)
        staged_registry = staging / "registry.py"
        staged_registry.write_text(new_registry)
        tidy([staged_registry])
        new_registry = staged_registry.read_text()
        staged_registry.unlink()
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    try:
        temporary = REGISTRY.with_suffix(".py.new")
        temporary.write_text(new_registry)
        os.replace(temporary, REGISTRY)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    return feature


def main(argv: list[str]) -> int:
    name, fields_text = [*argv, "", ""][:2]
    try:
        feature = add_feature(name.strip(), fields_text)
    except FeatureError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"Created features/{feature.name}/ (model {feature.model}, routes at {feature.url}) "
        f"and registered its router in features/registry.py.\n"
        f'Next: make migrate MSG="add {feature.name}" && make upgrade && make test'
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
