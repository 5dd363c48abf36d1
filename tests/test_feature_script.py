"""`make feature`'s pieces, tested directly and fast: field specs, names, the manifest edits,
import blocks, and every template rendered and checked for every field type and option."""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.baking import TEMPLATE_DIR

SCRIPTS = TEMPLATE_DIR / "{{cookiecutter.project_slug}}" / "scripts"


def load_scripts() -> ModuleType:
    """The baked project's `scripts` package, imported under its own name from the template."""
    spec = importlib.util.spec_from_file_location(
        "scripts", SCRIPTS / "__init__.py", submodule_search_locations=[str(SCRIPTS)]
    )
    assert spec is not None
    assert spec.loader is not None
    package = importlib.util.module_from_spec(spec)
    sys.modules["scripts"] = package
    spec.loader.exec_module(package)
    return package


load_scripts()
from scripts import (  # type: ignore[import-not-found]  # noqa: E402
    feature,
    field_types,
    fields,
    imports,
    manifest,
    names,
    remove_feature,
    render,
    spec,
)

# Render from the template repo's own feature-template/, as a bake copies it.
render.TEMPLATE_DIR = TEMPLATE_DIR / "feature-template"
# Every type a feature can have without another feature to reference (the probe has those).
ALL_TYPES = (
    " ".join(
        f"f_{name}:{name}{':unique' if kind.unique else ''}"
        for name, kind in field_types.TYPES.items()
        if name not in ("ref", "enum")
    )
    + " f_enum:enum:b,a=a maybe_str:str:20? maybe_text:text? maybe_int:int=3 flag:bool=true"
)


@pytest.mark.parametrize(
    "options",
    [
        {"AUTH": "protected", "OWNED": "no"},
        {"AUTH": "protected", "OWNED": "yes"},
        {"AUTH": "public", "OWNED": "no"},
        # The longest name allowed, with every option: no generated line grows past 100.
        {
            "NAME": "spare_parts_for_vintage_longcase_clocks",
            "JOBS": "yes",
            "CACHE": "yes",
            "FEED": "yes",
            "FIELDS": "title:str:unique body:text? due:date?",
        },
    ],
    ids=["protected", "owned", "public", "longest-name"],
)
def test_every_template_renders_lint_clean_python_for_every_field_type(
    tmp_path: Path, options: dict[str, str]
) -> None:
    options = {"NAME": "widget_parts", **options}
    widget = feature.feature_from({"FIELDS": ALL_TYPES, **options})
    package = tmp_path / "features" / options["NAME"]
    for first_party in ("core", "tests", "features/users"):  # as in a baked project
        (tmp_path / first_party).mkdir(parents=True)
        (tmp_path / first_party / "__init__.py").touch()
    (tmp_path / "settings.py").touch()

    written = render.render(widget, package)
    # The probe references another feature and itself: conftest.py and parent factories.
    probe = render.render(render.probe_feature(), tmp_path / "features" / "zzprobes")

    optional = {"jobs.py", "tests/test_jobs.py", "tests/test_cache.py", "events.py",
                "tests/test_feed.py"} if "JOBS" in options else set()  # fmt: skip
    assert {path.relative_to(package).as_posix() for path in written} == {
        "__init__.py", "dependencies.py", "exceptions.py", "models.py", "routes.py",
        "schemas.py", "services.py", "tests/__init__.py", "tests/factories.py",
        "tests/test_routes.py", "tests/test_services.py", *optional,
    }  # fmt: skip
    assert "tests/conftest.py" in {p.relative_to(tmp_path / "features/zzprobes").as_posix()
                                   for p in probe}  # fmt: skip
    for path in [*written, *probe]:
        compile(path.read_text(), str(path), "exec")
    ruff = [sys.executable, "-m", "ruff"]
    isolated = ["--isolated", "--target-version", "py312", "--line-length", "100"]
    isolated += ["--config", 'lint.isort.known-first-party=["core", "features", "tests"]']
    # Unused imports straight from the templates: no `ruff --fix` tidies them away.
    unused = [*ruff, "check", *isolated, "--select", "F", "."]
    result = subprocess.run(unused, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout
    # `make feature` runs the formatter (it wraps long lines); then sorting and style hold.
    subprocess.run([*ruff, "format", *isolated, "."], cwd=tmp_path, check=True, capture_output=True)
    style = [*ruff, "check", *isolated, "--select", "E,W,I,F", "."]
    result = subprocess.run(style, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout


def test_a_public_feature_asks_nothing_of_the_caller(tmp_path: Path) -> None:
    tags = feature.feature_from({"NAME": "tags", "FIELDS": "label:str", "AUTH": "public"})

    render.render(tags, tmp_path)

    for module in ("routes.py", "dependencies.py"):
        source = (tmp_path / module).read_text()
        assert "users" not in source
        assert "Permission" not in source


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "ROUTERS: list[APIRouter] = []\n",
            "ROUTERS: list[APIRouter] = [\n    orders_router,\n]\n",
        ),
        (
            "ROUTERS = [\n    a_router,  # first\n]\n",
            "ROUTERS = [\n    a_router,  # first\n    orders_router,\n]\n",
        ),
        (
            "X = 1\nROUTERS = [\n    a_router,\n]\nY = [\n]\n",
            "    a_router,\n    orders_router,\n]\nY",
        ),
    ],
)
def test_an_entry_is_added_as_a_line_keeping_the_users_lines(source: str, expected: str) -> None:
    result = manifest.add_entries(source, "ROUTERS", ["orders_router"], path="registry.py")

    assert expected in result
    assert manifest.add_entries(result, "ROUTERS", ["orders_router"], path="r") == result


@pytest.mark.parametrize(
    "source",
    [
        "ROUTERS = make_routers()\n",
        "routers = []\n",
        "",
        "ROUTERS = [a_router]\n",
        # Collapsed onto one line, before another list: never an entry in the wrong list.
        "ROUTERS = [a_router, b_router]\nOPENAPI_TAGS = [\n    A_TAG,\n]\n",
        "ROUTERS = [\n    a_router]\nOPENAPI_TAGS = [\n    A_TAG,\n]\n",
    ],
)
def test_a_list_in_another_shape_is_refused(source: str) -> None:
    with pytest.raises(manifest.ManifestError, match="nothing was changed"):
        manifest.add_entries(source, "ROUTERS", ["orders_router"], path="registry.py")


def test_imports_join_the_features_imports_in_isort_order() -> None:
    source = (
        '"""Doc."""\n\nimport typer\n\n'
        "from features.users import models as users_models\n"
        "from features.users.routes import router as users_router\n\nROUTERS = []\n"
    )
    new = [
        "from features.orders import models as orders_models",
        "from features.zebras.routes import router as zebras_router",
    ]

    result = manifest.add_imports(source, new)

    assert result.splitlines()[4:8] == [
        "from features.orders import models as orders_models",
        "from features.users import models as users_models",
        "from features.users.routes import router as users_router",
        "from features.zebras.routes import router as zebras_router",
    ]
    assert manifest.add_imports(result, new) == result


def test_permissions_are_added_to_the_enum() -> None:
    source = 'class Permission(StrEnum):\n    A_READ = "a:read"\n\n\nX = 1\n'

    result = manifest.add_enum_members(
        source, "Permission", {"B_READ": "b:read", "A_READ": "a:read"}, path="p.py"
    )

    assert result == (
        'class Permission(StrEnum):\n    A_READ = "a:read"\n    B_READ = "b:read"\n\n\nX = 1\n'
    )


def test_an_import_block_is_grouped_merged_and_sorted() -> None:
    block = imports.import_block(
        [
            "from core.schemas import reject_nulls",
            "import uuid",
            "from sqlmodel import SQLModel",
            "from core.schemas import SafeStr",
            "from datetime import datetime",
            "",
            "from core.responses import PROTECTED",
            "from fastapi import status, APIRouter",
        ]
    )

    assert block == (
        "import uuid\nfrom datetime import datetime\n\n"
        "from fastapi import APIRouter, status\nfrom sqlmodel import SQLModel\n\n"
        "from core.responses import PROTECTED\nfrom core.schemas import SafeStr, reject_nulls"
    )


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("sessions", "makes a variable 'session'"),
        ("pages", "makes a model class 'Page'"),
        ("datas", "makes a variable 'data'"),
        ("queries", "makes a model class 'Query'"),
        ("routers", "makes a model class 'Router'"),
    ],
)
def test_a_name_the_templates_use_is_refused(name: str, message: str) -> None:
    with pytest.raises(names.FeatureError, match=message):
        names.check_name(name)


# "items": the bench's feature, and the first name many reach for.
@pytest.mark.parametrize(
    "name", ["calendar", "json", "profile", "typing", "orders", "order_items", "items", "rows"]
)
def test_standard_library_names_are_fine_features_are_namespaced(name: str) -> None:
    names.check_name(name)


@pytest.mark.parametrize(
    ("plural", "singular"),
    [
        ("orders", "order"),
        ("order_items", "order_item"),
        ("categories", "category"),
        ("addresses", "address"),
        ("boxes", "box"),
        ("branches", "branch"),
        ("wishes", "wish"),
        ("status", "status"),
        ("analysis", "analysis"),
        ("inventory", "inventory"),
    ],
)
def test_singular_names(plural: str, singular: str) -> None:
    assert spec.singularize(plural) == singular


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("name:str", {"type": "str", "length": 255, "optional": False, "unique": False}),
        ("code:str:12:unique", {"type": "str", "length": 12, "unique": True}),
        ("note:str?", {"type": "str", "optional": True}),
        ("note:str:80?", {"type": "str", "length": 80, "optional": True}),
        ("ref:uuid:unique?", {"type": "uuid", "unique": True, "optional": True}),
        ("total:decimal:10,4", {"type": "decimal", "precision": 10, "scale": 4}),
        ("body:text?", {"type": "text", "optional": True}),
        ("customer:ref:customers", {"column": "customer_id", "on_delete": "RESTRICT"}),
        ("parent:ref:categories?", {"target": "categories", "on_delete": "SET NULL"}),
        ("order:ref:orders:cascade", {"on_delete": "CASCADE", "optional": False}),
        ("status:enum:paid,open", {"choices": ("paid", "open"), "enum_class": "OrderStatus"}),
        ("code:str:index", {"index": True, "unique": False}),
        ("type:str", {"name": "type", "column": "type"}),
        ("match:int?", {"name": "match", "optional": True}),
        ("class_:bool", {"name": "class_", "column": "class_"}),
    ],
)
def test_field_specs_parse(entry: str, expected: dict[str, object]) -> None:
    parsed = fields.parse_field(entry, frozenset(), "Order")

    for attribute, value in expected.items():
        assert getattr(parsed, attribute) == value


def test_no_fields_means_a_name_and_an_optional_description() -> None:
    specs = fields.parse_fields("", frozenset(), "Order")

    assert [(f.name, f.type, f.optional) for f in specs] == [
        ("name", "str", False),
        ("description", "text", True),
    ]


def test_the_reserved_field_names_include_every_sqlmodel_attribute() -> None:
    from sqlmodel import SQLModel  # the version the baked project locks (tested below)

    public = {name for name in dir(SQLModel) if not name.startswith("_")}
    reserved = feature.reserved_fields()

    assert public - feature.SQLMODEL_ATTRIBUTES == set(), "add them to SQLMODEL_ATTRIBUTES"
    assert {"id", "owner_id", "limit", "q", "metadata", "model_config", "model_dump"} <= reserved


def test_the_template_uses_the_sqlmodel_these_tests_import() -> None:
    from importlib.metadata import version

    lock = (TEMPLATE_DIR / "{{cookiecutter.project_slug}}" / "uv.lock").read_text()

    assert f'name = "sqlmodel"\nversion = "{version("sqlmodel")}"' in lock


@pytest.mark.parametrize(
    ("entry", "python", "server"),
    [
        ("qty:int=1", "1", "1"),
        ("paid:bool=false", "False", "0"),
        ("total:decimal:6,2=1.5", 'Decimal("1.5")', "1.5"),
        ("status:enum:pending,paid=pending", "OrderStatus.PENDING", "pending"),
        ("on:date=2026-01-31", "date(2026, 1, 31)", "2026-01-31"),
        ("label:str:10=draft", "'draft'", "draft"),
    ],
)
def test_a_default_is_written_for_the_model_and_the_migration(
    entry: str, python: str, server: str
) -> None:
    parsed = fields.parse_field(entry, frozenset(), "Order")

    assert parsed.default is not None
    assert (parsed.default.python, parsed.default.server) == (python, server)
    assert f"default={python}" in parsed.base_default()
    assert repr({"server_default": server}) in parsed.base_default()


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ("qty:int=many", "'many' is not a 32-bit integer"),
        ("qty:int=2147483648", "is not a 32-bit integer"),
        ("paid:bool=yes", "'yes' is not true or false"),
        ("total:decimal:4,2=123.4", "does not fit NUMERIC(4, 2)"),
        ("status:enum:a,b=c", "'c' is not one of a, b"),
        ("on:date=2026-02-30", "is not a YYYY-MM-DD date"),
        ("at:datetime=now", "gives a default to a datetime field"),
        ("status:enum:a", "needs two or more different values"),
        ("status:enum:a,a", "needs two or more different values"),
        ("status:enum:a,B", "has an invalid enum value 'B'"),
        ("customer:ref", "needs the referenced feature"),
        ("customer_id:ref:customers", "names the column, not the reference"),
        ("owner:ref:users", "uses the reserved field name 'owner_id'"),
        ("meta:json:unique", "marks a json field unique"),
        ("class:str", "has the field name 'class', a Python keyword; use class_ or another"),
        ("code__:str", "has an invalid field name 'code__'"),
        ("code:str:0", "has the length 0, outside 1..10000"),
        ("code:str:10001", "has the length 10001, outside 1..10000"),
        ("code:str:unique:unique", "gives the option 'unique' more than once"),
    ],
)
def test_a_bad_spec_is_refused_naming_what_is_wrong(entry: str, reason: str) -> None:
    with pytest.raises(fields.SpecError, match=re.escape(reason)):
        fields.parse_field(entry, feature.reserved_fields(), "Order")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"FIELDS": "date:date"}, "uses the reserved field name 'date'"),
        ({"FIELDS": "uuid:uuid"}, "uses the reserved field name 'uuid'"),
        ({"FIELDS": "datetime:datetime"}, "uses the reserved field name 'datetime'"),
        ({"FIELDS": "read:enum:a,b"}, "makes the class WidgetRead, which the generated"),
        ({"FIELDS": "author:ref:users"}, "references to users are not generated"),
        ({"FIELDS": "w:float=nan"}, "'nan' is not a finite number"),
        ({"FIELDS": f"{'x' * 60}:str:index"}, "longer than PostgreSQL's 63 characters"),
        ({"NAME": "w" * 38, "OWNED": "yes"}, "makes the index name 'ix_wwwwwwwwwwwww"),
        ({"FIELDS": "parent:ref:widgets"}, "the self-reference 'parent' must be optional"),
        # What the project already has: its tables, table classes and paths.
        ({"NAME": "auth"}, "would serve its routes at /auth, a path the app already serves"),
        ({"NAME": "docs_assets"}, "would serve its routes at /docs-assets"),
        ({"NAME": "metrics"}, "would serve its routes at /metrics"),
        ({"NAME": "health"}, "would serve its routes at /health"),
        ({"NAME": "refresh_tokens"}, "is a table that already exists (features/users/models.py)"),
        ({"NAME": "dead_jobs", "MODEL": "Corpse"}, "already exists (core/jobs/models.py)"),
        ({"NAME": "alembic_version"}, "is a table that already exists (Alembic)"),
        ({"NAME": "tokens", "MODEL": "RefreshToken"}, "the model class RefreshToken already"),
        ({"NAME": "test_runs"}, "makes TestRun and test_run_..., which pytest would collect"),
        ({"NAME": "trials", "MODEL": "Test2"}, "makes Test2 and test2_..., which pytest would"),
    ],
)
def test_what_the_code_could_not_hold_or_the_project_has_is_refused(
    options: dict[str, str], message: str
) -> None:
    with pytest.raises(feature.FeatureError, match=re.escape(message)):
        feature.feature_from({"NAME": "widgets", **options})


@pytest.mark.parametrize("name", ["testimonials", "tests_run", "latest", "docs_drafts"])
def test_names_that_only_look_like_taken_ones_are_fine(name: str) -> None:
    feature.feature_from({"NAME": name})


REGISTRY = """from features.orders import models as orders_models
from features.orders.routes import TAG as ORDERS_TAG
from features.orders.routes import router as orders_router
from features.orders_archive import models as orders_archive_models
from features.orders_archive.routes import router as orders_archive_router

ROUTERS = [
    orders_router,
    orders_archive_router,
]
OPENAPI_TAGS = [
    ORDERS_TAG,
]
MODELS = [
    orders_models,  # mine
    orders_archive_models,
]
"""


def test_removal_takes_exactly_the_features_own_lines() -> None:
    result = remove_feature.without_registry_lines("orders", REGISTRY)

    assert "orders_router" not in result.replace("orders_archive_router", "")
    assert "orders_models" not in result.replace("orders_archive_models", "")
    assert "ORDERS_TAG" not in result
    assert result.count("orders_archive") == 6  # its two imports and two entries stay
    compile(result, "registry.py", "exec")


def test_a_hand_made_line_that_still_names_the_feature_is_reported() -> None:
    edited = REGISTRY.replace("    orders_router,\n    orders_archive_router,\n",
                              "    orders_archive_router, orders_router,\n")  # fmt: skip
    path = remove_feature.REGISTRY

    left = remove_feature.leftovers(
        "orders", {path: remove_feature.without_registry_lines("orders", edited)}
    )

    assert left == ["features/registry.py:5"]
