"""`make feature NAME=orders FIELDS="total:decimal paid:bool" [AUTH=public] [OWNED=yes]`.

Renders `.feature-template/` into `features/<name>/`, adds the feature to the manifest
(`features/registry.py`) and its permissions to `features/users/permissions.py`. Everything is
checked before anything is written; a refusal prints one line, exits 2 and leaves every file
as it was.
"""

import ast
import keyword
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from scripts import manifest
from scripts.fields import IDENTIFIER, TYPES, FieldSpec, SpecError, parse_fields
from scripts.imports import import_block

PROJECT_DIR = Path(__file__).resolve().parent.parent
TEMPLATE_DIR = PROJECT_DIR / ".feature-template"
FEATURES_DIR = PROJECT_DIR / "features"
REGISTRY = FEATURES_DIR / "registry.py"
PERMISSIONS = FEATURES_DIR / "users" / "permissions.py"
TEMPLATE_SUFFIX = ".py-tpl"
MAX_NAME_LENGTH = 40  # PostgreSQL cuts identifiers (constraint names) at 63 bytes
OPTIONS = {"NAME": "", "FIELDS": "", "AUTH": "protected", "OWNED": "no"}

# The project's own top-level modules; a feature may not take their names.
PROJECT_MODULES = frozenset(
    {"core", "features", "tests", "migrations", "scripts", "settings", "main", "conftest",
     "manage", "registry"}
)  # fmt: skip
# Columns and list parameters every feature has, and the attributes of every SQLModel class.
SYSTEM_FIELDS = frozenset({"id", "created_at", "updated_at", "owner_id", "limit", "offset",
                           "order_by", "q"})  # fmt: skip


class FeatureError(Exception):
    """A refusal: its message is the one line the user sees."""


@dataclass(frozen=True)
class Feature:
    name: str
    fields: tuple[FieldSpec, ...]
    protected: bool = True
    owned: bool = False

    @property
    def public(self) -> bool:
        return not self.protected

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
    def title(self) -> str:
        return self.name.replace("_", " ").capitalize()

    @property
    def label(self) -> str:
        return self.singular.replace("_", " ")

    @property
    def a_label(self) -> str:
        """The label with its article ("an order", "a customer"), for docstrings."""
        return f"{'an' if self.label[0] in 'aeiou' else 'a'} {self.label}"

    def permission(self, action: str) -> str:
        """The `Permission` member for `action` on this feature, e.g. ORDERS_WRITE."""
        return f"{self.name}_{action}".upper()

    def permissions(self) -> dict[str, str]:
        actions = ["read", "write", "admin"] if self.owned else ["read", "write"]
        return {self.permission(action): f"{self.name}:{action}" for action in actions}

    def user_grants(self) -> list[str]:
        """What an ordinary user may do: read shared rows; read and write their own."""
        actions = ["read", "write"] if self.owned else ["read"]
        return [f"Permission.{self.permission(action)}" for action in actions]

    @property
    def unique_fields(self) -> list[FieldSpec]:
        return [f for f in self.fields if f.unique]

    @property
    def required_fields(self) -> list[FieldSpec]:
        return [f for f in self.fields if not f.optional]

    @property
    def filter_fields(self) -> list[FieldSpec]:
        return [f for f in self.fields if f.kind.filter]

    @property
    def sort_fields(self) -> list[FieldSpec]:
        return [f for f in self.fields if f.kind.sort]

    @property
    def search_fields(self) -> list[FieldSpec]:
        return [f for f in self.fields if f.kind.search]

    @property
    def wildcard_search_field(self) -> FieldSpec | None:
        return next((f for f in self.search_fields if f.wildcard_samples), None)

    @property
    def sort_keys(self) -> list[str]:
        columns = ["created_at", "updated_at"] + [f.name for f in self.sort_fields]
        return [key for column in columns for key in (column, f"-{column}")]

    def field_imports(self) -> list[str]:
        """What the fields' annotations need imported."""
        return [line for f in self.fields for line in f.kind.imports]

    def uses(self, type_: str) -> bool:
        return any(f.type == type_ for f in self.fields)

    @property
    def column_options(self) -> bool:
        """Whether the model needs `Field(...)`: limits, defaults or the owner's foreign key."""
        return self.owned or any(f.base_default() for f in self.fields)


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


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # noqa: S701 (renders Python source, not HTML)
    )
    env.globals["imports"] = lambda *groups: import_block(
        statement
        for group in groups
        for statement in ([group] if isinstance(group, str) else group)
    )
    return env


def render(feature: Feature, destination: Path) -> list[Path]:
    env = environment()
    written = []
    for template in sorted(TEMPLATE_DIR.rglob(f"*{TEMPLATE_SUFFIX}")):
        relative = template.relative_to(TEMPLATE_DIR)
        target = destination / relative.with_suffix(".py")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(env.get_template(relative.as_posix()).render(feature=feature))
        written.append(target)
    return written


@cache
def template_names() -> frozenset[str]:
    """Every name the templates use on their own (imports, locals, parameters, helpers).

    Read off a rendering of a probe feature, so the check below cannot drift from the
    templates: a feature whose model or variable would take one of these names is refused.
    """
    probe = Feature(
        "zzprobes",
        tuple(FieldSpec(f"zzprobe_{name}", name, unique=TYPES[name].unique) for name in TYPES),
        owned=True,
    )
    with tempfile.TemporaryDirectory() as scratch:
        sources = [path.read_text() for path in render(probe, Path(scratch))]
    names = set()
    for node in (n for source in sources for n in ast.walk(ast.parse(source))):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.alias):
            names.add(node.asname or node.name.split(".")[0])
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
    return frozenset(name for name in names if "zzprobe" not in name.lower())


def check_name(name: str) -> None:
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
    feature = Feature(name, ())
    for kind, value in (("model class", feature.model), ("variable", feature.singular)):
        if value in template_names() or keyword.iskeyword(value):
            raise FeatureError(
                f"NAME {name!r} makes a {kind} {value!r}, a name the generated code already "
                "uses; choose another name"
            )


def reserved_fields() -> frozenset[str]:
    from sqlmodel import SQLModel  # only refusals need it

    return SYSTEM_FIELDS | {name for name in dir(SQLModel) if not name.startswith("_")}


def parse_options(argv: list[str]) -> dict[str, str]:
    options = dict(OPTIONS)
    for argument in argv:
        key, sep, value = argument.partition("=")
        if not sep or key not in OPTIONS:
            raise FeatureError(f"unknown argument {argument!r}; expected {', '.join(OPTIONS)}")
        options[key] = value.strip() or OPTIONS[key]
    return options


def feature_from(given: dict[str, str]) -> Feature:
    options = {**OPTIONS, **given}
    check_name(options["NAME"])
    if options["AUTH"] not in ("protected", "public"):
        raise FeatureError(f"AUTH={options['AUTH']!r} must be protected (the default) or public")
    if options["OWNED"] not in ("yes", "no"):
        raise FeatureError(f"OWNED={options['OWNED']!r} must be yes or no")
    protected, owned = options["AUTH"] == "protected", options["OWNED"] == "yes"
    if owned and not protected:
        raise FeatureError("OWNED=yes needs a caller to own the rows; drop AUTH=public")
    try:
        fields = parse_fields(options["FIELDS"], reserved_fields())
    except SpecError as exc:
        raise FeatureError(str(exc)) from None
    return Feature(options["NAME"], fields, protected=protected, owned=owned)


def edited_files(feature: Feature) -> dict[Path, str]:
    """The new text of every existing file the feature adds lines to."""
    try:
        registry = manifest.add_imports(
            REGISTRY.read_text(),
            [
                f"from features.{feature.name} import models as {feature.name}_models",
                f"from features.{feature.name}.routes import router as {feature.name}_router",
            ],
        )
        registry = manifest.add_entries(registry, "ROUTERS", [f"{feature.name}_router"],
                                        path="features/registry.py")  # fmt: skip
        registry = manifest.add_entries(registry, "MODELS", [f"{feature.name}_models"],
                                        path="features/registry.py")  # fmt: skip
        edits = {REGISTRY: registry}
        if feature.protected:
            path = "features/users/permissions.py"
            permissions = manifest.add_enum_members(
                PERMISSIONS.read_text(), "Permission", feature.permissions(), path=path
            )
            edits[PERMISSIONS] = manifest.add_entries(
                permissions, "USER_PERMISSIONS", feature.user_grants(), path=path
            )
    except manifest.ManifestError as exc:
        raise FeatureError(str(exc)) from None
    return edits


def format_python(paths: list[Path]) -> None:
    """Wrap long lines as ruff format does; the templates already import only what they use."""
    subprocess.run(  # noqa: S603 (our own interpreter, our own files)
        [sys.executable, "-m", "ruff", "format", "--quiet", *map(str, paths)],
        cwd=PROJECT_DIR,
        check=True,
        capture_output=True,
    )


def add_feature(options: dict[str, str]) -> Feature:
    """Check everything, then write the feature and the edited files, or nothing at all."""
    feature = feature_from(options)
    target = FEATURES_DIR / feature.name
    if target.exists():
        raise FeatureError(f"features/{feature.name} already exists; nothing was changed")
    if not TEMPLATE_DIR.is_dir():
        raise FeatureError(f"{TEMPLATE_DIR.name}/ is missing; it holds the feature templates")
    edits = edited_files(feature)

    staging = Path(tempfile.mkdtemp(prefix=f".new-{feature.name}-", dir=FEATURES_DIR))
    try:
        written = render(feature, staging / "feature")
        staged_edits = {path: staging / path.name for path in edits}
        for path, text in edits.items():
            staged_edits[path].write_text(text)
        format_python([*written, *staged_edits.values()])
        (staging / "feature").rename(target)
        for path, staged in staged_edits.items():
            os.replace(staged, path)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return feature


def main(argv: list[str]) -> int:
    try:
        feature = add_feature(parse_options(argv))
    except FeatureError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    access = (
        "public" if feature.public else f"needs {feature.name}:read / {feature.name}:write"
    ) + (", rows owned by their creator" if feature.owned else "")
    print(
        f"Created features/{feature.name}/ (model {feature.model}, routes at {feature.url}, "
        f"{access}) and added it to features/registry.py.\n"
        f'Next: make migrate MSG="add {feature.name}" && make upgrade && make test'
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
