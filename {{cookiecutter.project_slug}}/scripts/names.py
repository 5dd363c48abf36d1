"""The names a new feature takes, checked before anything is written: its NAME and MODEL as
Python and PostgreSQL see them, and against what the project already has (its modules, tables,
table classes, the app's own paths, the manifest's names) and what pytest collects."""

import ast
import keyword
import re

from scripts.fields import IDENTIFIER
from scripts.paths import FEATURES_DIR, PROJECT_DIR, REGISTRY
from scripts.render import template_names
from scripts.spec import Feature, snake_case

MAX_NAME_LENGTH = 40  # PostgreSQL cuts identifiers (constraint names) at 63 bytes
POSTGRES_MAX_IDENTIFIER = 63
# The project's own top-level modules; a feature may not take their names.
PROJECT_MODULES = frozenset(
    {"core", "features", "tests", "migrations", "scripts", "settings", "main", "conftest",
     "manage", "registry"}
)  # fmt: skip
# The first segment of every path the app serves besides the features' own (core/docs.py,
# core/health.py, core/metrics.py, the users feature); a test of the app keeps it complete.
APP_PATHS = frozenset({"auth", "docs", "docs-assets", "health", "metrics", "openapi.json",
                       "redoc", "users"})  # fmt: skip
# Tables that no models.py declares: Alembic's own.
OTHER_TABLES = frozenset({"alembic_version"})
# Classes every feature's modules define, by suffix of the model's name.
GENERATED_CLASSES = ("Base", "Create", "Update", "Read", "Query", "SortKey", "NotFoundError",
                     "ConflictError")  # fmt: skip


class FeatureError(Exception):
    """A refusal: its message is the one line the user sees."""


def check_name(name: str, model: str = "") -> None:
    if not name:
        raise FeatureError('NAME is required, e.g. make feature NAME=orders FIELDS="total:decimal"')
    if not IDENTIFIER.match(name):
        raise FeatureError(
            f"NAME {name!r} is not a lowercase snake_case identifier (e.g. orders, order_items)"
        )
    if len(name) > MAX_NAME_LENGTH:
        raise FeatureError(f"NAME {name!r} is longer than {MAX_NAME_LENGTH} characters")
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        raise FeatureError(f"NAME {name!r} is a Python keyword; choose another name")
    if name in PROJECT_MODULES:
        raise FeatureError(f"NAME {name!r} is the name of a project module; choose another name")
    if model and not re.fullmatch(r"[A-Z][a-z0-9]*(?:[A-Z][a-z0-9]*)*", model):
        raise FeatureError(f"MODEL {model!r} is not a CamelCase class name (e.g. Status)")
    feature = Feature(name, (), model_name=model)
    # pyproject.toml collects test_* functions and Test* classes followed by no lowercase
    # letter, so that "testimonials" is fine; these would still be collected.
    if re.fullmatch(r"test(?:[0-9_].*)?", feature.singular):
        raise FeatureError(
            f"{'MODEL' if model else 'NAME'} {model or name!r} makes {feature.model} and "
            f"{feature.singular}_..., which pytest would collect as tests; choose another"
        )
    names = template_names()
    for kind, value, taken in (
        ("model class", feature.model, names.module),
        ("variable", feature.singular, names.local),
    ):
        if value in taken or keyword.iskeyword(value):
            raise FeatureError(
                f"{'MODEL' if model else 'NAME'} {model or name!r} makes a {kind} {value!r}, "
                "a name the generated code already uses; choose another (MODEL=... sets it)"
            )


def table_classes() -> dict[str, tuple[str, str]]:
    """Every table the project's models declare: its name -> (its class, the file)."""
    tables: dict[str, tuple[str, str]] = {}
    models = [*FEATURES_DIR.glob("*/models.py"), *PROJECT_DIR.glob("core/**/models.py")]
    for path in sorted(models):
        classes = [
            node for node in ast.parse(path.read_text()).body if isinstance(node, ast.ClassDef)
        ]
        for node in classes:
            for statement in node.body:
                if (
                    isinstance(statement, ast.Assign)
                    and [ast.unparse(target) for target in statement.targets] == ["__tablename__"]
                    and isinstance(statement.value, ast.Constant)
                ):
                    where = str(path.relative_to(PROJECT_DIR))
                    tables[str(statement.value.value)] = (node.name, where)
    return tables


def check_project_names(feature: Feature) -> None:
    """Refuse a feature whose table, table class or path the project already has."""
    if feature.url.lstrip("/") in APP_PATHS:
        raise FeatureError(
            f"NAME {feature.name!r} would serve its routes at {feature.url}, a path the app "
            "already serves; choose another name"
        )
    tables = table_classes()
    if feature.name in OTHER_TABLES or feature.name in tables:
        where = tables.get(feature.name, ("", "Alembic"))[1]
        raise FeatureError(
            f"NAME {feature.name!r} is a table that already exists ({where}); choose another name"
        )
    for table, (model, where) in tables.items():
        if model == feature.model:
            raise FeatureError(
                f"the model class {model} already exists ({where}, table {table!r}); the shell "
                "and the migrations need one class per name: set another with MODEL=..."
            )


def check_generated_names(feature: Feature) -> None:
    """Refuse names that would collide in the generated code or be cut by PostgreSQL."""
    classes = {feature.model + suffix for suffix in GENERATED_CLASSES}
    for spec in feature.enums:
        if spec.enum_class in classes:
            raise FeatureError(
                f"the enum field {spec.name!r} makes the class {spec.enum_class}, which the "
                "generated schemas already define; choose another field name"
            )
    table = feature.name
    if len(feature.sort_index) > POSTGRES_MAX_IDENTIFIER:
        raise FeatureError(
            f"NAME makes the index name {feature.sort_index!r}, longer than PostgreSQL's "
            f"{POSTGRES_MAX_IDENTIFIER} characters; shorten it"
        )
    for spec in feature.fields:
        unique = (
            f"uq_{table}_owner_id_{spec.column}" if feature.owned else f"uq_{table}_{spec.column}"
        )
        names = [f"ix_{table}_{spec.column}", unique]
        if spec.type == "ref":
            names.append(f"fk_{table}_{spec.column}_{spec.target}")
        if spec.type == "enum":
            names.append(f"ck_{table}_{snake_case(spec.enum_class)}")
        longest = max(names, key=len)
        if len(longest) > POSTGRES_MAX_IDENTIFIER:
            raise FeatureError(
                f"NAME and the field {spec.name!r} make the constraint name {longest!r}, longer "
                f"than PostgreSQL's {POSTGRES_MAX_IDENTIFIER} characters; shorten one of them"
            )
    registry = REGISTRY.read_text() if REGISTRY.is_file() else ""
    for alias in (f"{table}_router", f"{table}_models", f"{table.upper()}_TAG"):
        if re.search(rf"\b{alias}\b", registry):
            raise FeatureError(
                f"NAME {table!r} makes the name {alias}, which features/registry.py already "
                "uses; choose another name"
            )
