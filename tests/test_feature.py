"""`make feature` in a baked project: what it writes works; what it refuses leaves no trace."""

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest

from bench import pg
from tests.baking import FEATURES, TEST_REDIS_URL, assert_refused, run, snapshot

# The session's one project with features (conftest's `feature_project`), on one worker.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("feature")]
FILES = {
    "__init__.py", "models.py", "schemas.py", "services.py", "dependencies.py", "exceptions.py",
    "routes.py", "tests/__init__.py", "tests/factories.py", "tests/test_routes.py",
    "tests/test_services.py",
}  # fmt: skip
OPTIONAL_FILES = {
    "JOBS=yes": {"jobs.py", "tests/test_jobs.py"},
    "CACHE=yes": {"tests/test_cache.py"},
    "FEED=yes": {"events.py", "tests/test_feed.py"},
}


def manifest_list(project: Path, name: str) -> list[str]:
    tree = ast.parse((project / "features" / "registry.py").read_text())
    (value,) = [
        node.value
        for node in tree.body
        if isinstance(node, ast.AnnAssign) and ast.unparse(node.target) == name
    ]
    assert isinstance(value, ast.List | ast.Dict)
    elements = value.elts if isinstance(value, ast.List) else value.values
    return [ast.unparse(element) for element in elements]


def test_each_feature_has_every_layer_and_its_tests(project: Path) -> None:
    for name in FEATURES:
        folder = project / "features" / name
        options = set(FEATURES[name])
        extra = {
            path for option, paths in OPTIONAL_FILES.items() if option in options for path in paths
        }
        assert {p.relative_to(folder).as_posix() for p in folder.rglob("*.py")} == FILES | extra
        assert "fastapi" not in (folder / "services.py").read_text()


def test_the_manifest_lists_each_feature_once_and_keeps_the_existing_entries(
    project: Path,
) -> None:
    routers = ["users_auth_router", "users_router", *(f"{n}_router" for n in FEATURES)]
    models = ["jobs_models", "users_models", *(f"{n}_models" for n in FEATURES)]

    assert manifest_list(project, "ROUTERS") == routers
    assert manifest_list(project, "MODELS") == models
    assert manifest_list(project, "JOBS") == ["users_jobs", "testimonials_jobs"]


def test_permissions_are_added_with_grants_for_ordinary_users(project: Path) -> None:
    source = (project / "features" / "users" / "permissions.py").read_text()

    for name in ("testimonials", "orders", "order_items", "notes"):
        assert f'{name.upper()}_WRITE = "{name}:write"' in source
    assert 'NOTES_ADMIN = "notes:admin"' in source
    assert "TAGS_" not in source  # public: no permissions
    grants = source[source.index("USER_PERMISSIONS") : source.index("ROLE_PERMISSIONS")]
    assert "Permission.ORDERS_READ" in grants
    assert "Permission.ORDERS_WRITE" not in grants  # shared rows: admins write
    assert "Permission.NOTES_WRITE" in grants  # owned rows: everyone writes their own


def test_fields_are_declared_once_and_services_hold_only_their_queries(project: Path) -> None:
    orders = project / "features" / "orders"
    models, schemas = (orders / "models.py").read_text(), (orders / "schemas.py").read_text()
    services = (orders / "services.py").read_text()

    assert models.count("code: SafeStr") == 1
    assert "class OrderCreate(OrderBase):" in schemas
    assert "class OrderRead(OrderBase):" in schemas
    for generic in ("func.count", "order_by(", "IntegrityError", "StaleDataError", "limit("):
        assert generic not in services, generic


def test_the_migration_creates_every_table_with_explicit_lengths(project: Path) -> None:
    (migration,) = (project / "migrations" / "versions").glob("*_add_shop.py")
    source = migration.read_text()

    for table in FEATURES:
        assert f'op.create_table(\n        "{table}"' in source
    assert "AutoString(length=12)" in source
    assert "sa.Numeric(precision=10, scale=4)" in source
    assert 'name=op.f("uq_orders_code")' in source
    assert 'name=op.f("fk_notes_owner_id_users"), ondelete="CASCADE"' in source


def test_the_migration_indexes_each_lists_default_order(project: Path) -> None:
    (migration,) = (project / "migrations" / "versions").glob("*_add_shop.py")
    source = " ".join(migration.read_text().split()).replace("( ", "(")

    for table in FEATURES:
        # An owner's list is filtered by owner first: its index starts with owner_id.
        owner = "owner_id_" if table == "notes" else ""
        columns = '"owner_id", "created_at", "id"' if owner else '"created_at", "id"'
        assert f'create_index("ix_{table}_{owner}created_at_id", [{columns}]' in source


def test_static_checks_stay_clean(project: Path) -> None:
    run(["make", "lint"], project)
    run(["make", "typecheck"], project)


# make test runs the suite on pytest-xdist workers, whose quiet output names no file: -v does.
VERBOSE = "PYTEST_ARGS=-n auto -v"


def test_generated_suites_pass_on_sqlite_without_touching_the_dev_database(project: Path) -> None:
    # app.db and, in WAL mode, its -wal and -shm companions: as `make migrate` left them.
    dev_database = {path.name: path.read_bytes() for path in project.glob("app.db*")}

    result = run(["make", "test", VERBOSE], project)

    for name in FEATURES:
        assert f"features/{name}/tests/test_routes.py" in result.stdout
        assert f"features/{name}/tests/test_services.py" in result.stdout
    assert " failed" not in result.stdout
    assert {path.name: path.read_bytes() for path in project.glob("app.db*")} == dev_database


def test_make_test_postgres_creates_its_database_and_passes_on_redis_too(project: Path) -> None:
    # As the baked README says: one command, on a server where the database does not exist yet.
    # On Redis too: the jobs, cache and feed tests run once more on it (tests/backends.py).
    with pg.unborn_database() as url:
        result = run(
            ["make", "test-postgres", f"TEST_POSTGRES_URL={url}", VERBOSE],
            project,
            env={"TEST_REDIS_URL": TEST_REDIS_URL},
        )

    assert "Created the database" in result.stdout
    assert "features/orders/tests/test_routes.py" in result.stdout
    for test in ("test_a_second_read_does_not_touch_the_table[redis]",
                 "test_a_subscriber_hears_each_change_as_the_api_shows_it[redis]",
                 "test_processes_sharing_redis_load_a_hot_key_once"):  # fmt: skip
        assert test in result.stdout


def test_migrations_apply_and_leave_no_drift(project: Path) -> None:
    run(["make", "upgrade"], project)
    check = run(["uv", "run", "alembic", "check"], project)
    assert "No new upgrade operations detected" in check.stdout + check.stderr
    run(["make", "downgrade"], project)
    run(["make", "upgrade"], project)


def openapi(project: Path) -> dict[str, dict[str, dict[str, Any]]]:
    script = "import json, main; print(json.dumps(main.app.openapi()['paths']))"
    paths: dict[str, dict[str, dict[str, Any]]] = json.loads(
        run(["uv", "run", "python", "-c", script], project).stdout
    )
    return paths


def test_protected_operations_declare_their_security_and_public_ones_none(project: Path) -> None:
    paths = openapi(project)

    for url, singular in (("/orders", "order"), ("/notes", "note"), ("/order-items", "order_item")):
        for operations in (paths[url], paths[f"{url}/{{{singular}_id}}"]):
            for operation in operations.values():
                assert operation["security"] == [{"OAuth2PasswordBearer": []}]
                assert {"401", "403"} <= set(operation["responses"])
    for operation in [*paths["/tags"].values(), *paths["/tags/{tag_id}"].values()]:
        assert "security" not in operation
        assert "401" not in operation["responses"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["NAME="], "NAME is required"),
        (["NAME=Orders"], "is not a lowercase snake_case identifier"),
        (["NAME=order-lines"], "is not a lowercase snake_case identifier"),
        (["NAME=2fa"], "is not a lowercase snake_case identifier"),
        (["NAME=class"], "is a Python keyword"),
        (["NAME=core"], "is the name of a project module"),
        (["NAME=features"], "is the name of a project module"),
        (["NAME=tests"], "is the name of a project module"),
        (["NAME=migrations"], "is the name of a project module"),
        (["NAME=pages"], "makes a model class 'Page'"),
        (["NAME=sessions"], "makes a variable 'session'"),
        (["NAME=orders"], "features/orders already exists; nothing was changed"),
        (["NAME=testimonials", "FIELDS=email:str"], "features/testimonials already exists"),
        (["NAME=order"], "the model class Order already exists (features/orders/models.py"),
        (["NAME=gadgets", "MODEL=Note"], "the model class Note already exists"),
        (["NAME=metrics"], "would serve its routes at /metrics, a path the app already serves"),
        (["NAME=refresh_tokens"], "is a table that already exists (features/users/models.py)"),
        (["NAME=test_runs"], "makes TestRun and test_run_..., which pytest would collect"),
        (["NAME=invoices", "FIELDS=total:money"], "FIELDS entry 'total:money' has an unknown type"),
        (["NAME=invoices", "FIELDS=total"], "FIELDS entry 'total' is not NAME:TYPE"),
        (["NAME=invoices", "FIELDS=total:int:big"], "has an unknown option 'big'"),
        (["NAME=invoices", "FIELDS=id:int"], "uses the reserved field name 'id'"),
        (["NAME=invoices", "FIELDS=owner_id:uuid"], "uses the reserved field name 'owner_id'"),
        (["NAME=invoices", "FIELDS=model_config:str"], "uses the reserved field name"),
        (["NAME=invoices", "FIELDS=Total:int"], "has an invalid field name 'Total'"),
        (["NAME=invoices", "FIELDS=paid:bool:unique"], "marks a bool field unique"),
        (["NAME=invoices", "FIELDS=total:decimal:4,6"], "needs 0 <= SCALE < PRECISION"),
        (["NAME=invoices", "FIELDS=a:int a:str"], "FIELDS names a more than once"),
        (["NAME=invoices", "AUTH=private"], "AUTH='private' must be protected"),
        (["NAME=invoices", "OWNED=maybe"], "OWNED='maybe' must be yes or no"),
        (["NAME=invoices", "OWNED=yes", "AUTH=public"], "OWNED=yes needs a caller"),
        (["NAME=invoices", "FIELDS=note:ref:notes"], "whose rows are private to their owners"),
        (["NAME=invoices", "FIELDS=author:ref:users"], "references to users are not generated"),
        (["NAME=users_auth"], "makes the name users_auth_router, which features/registry.py"),
    ],
)
def test_a_refusal_is_one_line_and_changes_nothing(
    project: Path, args: list[str], message: str
) -> None:
    assert_refused(project, ["make", "feature", *args], message)


def test_an_unknown_argument_is_refused(project: Path) -> None:
    result = run(
        ["uv", "run", "python", "-m", "scripts.feature", "NAME=invoices", "OWNER=yes"],
        project,
        check=False,
    )

    assert result.returncode == 2
    assert result.stderr == (
        "error: unknown argument 'OWNER=yes'; expected NAME, FIELDS, AUTH, OWNED, MODEL, JOBS, "
        "CACHE, FEED\n"
    )


def test_a_refused_field_spec_names_the_accepted_types(project: Path) -> None:
    result = run(["make", "feature", "NAME=invoices", "FIELDS=total:money"], project, check=False)

    for type_name in ("str", "text", "int", "float", "decimal", "bool", "date", "datetime", "uuid"):
        assert type_name in result.stderr


@pytest.mark.parametrize(
    ("path", "text", "message"),
    [
        ("features/registry.py", "# I moved the routers elsewhere\n", "has no `ROUTERS = ...`"),
        ("features/users/permissions.py", "ROLES = {}\n", "has no `class Permission`"),
    ],
)
def test_a_manifest_in_another_shape_is_refused_untouched(
    project: Path, path: str, text: str, message: str
) -> None:
    edited = project / path
    original = edited.read_text()
    edited.write_text(text)
    try:
        before = snapshot(project)

        result = run(["make", "feature", "NAME=invoices"], project, check=False)

        assert result.returncode != 0
        assert message in result.stderr
        assert snapshot(project) == before
    finally:
        edited.write_text(original)


# Each breaks one rule of core's shared helpers; the project's own tests must notice.
MUTATIONS = {
    "filter-blind total": (
        "core/pagination.py",
        "select(func.count()).select_from(model).where(*where)",
        "select(func.count()).select_from(model)",
        "test_the_total_counts_every_match_under_the_same_filters",
    ),
    "no id tie-break": (
        "core/pagination.py",
        ".order_by(*ordering(model, order_by))",
        ".order_by(ordering(model, order_by)[0])",
        "test_rows_that_sort_equal_are_ordered_by_id_so_pages_never_overlap",
    ),
    "a deleted-meanwhile delete succeeds": (
        "core/persistence.py",
        "    if result.rowcount == 0:\n        raise not_found\n",
        "",
        "test_deleting_a_row_deleted_meanwhile_is_not_found",
    ),
}


@pytest.mark.parametrize("mutation", MUTATIONS)
def test_breaking_a_shared_rule_fails_the_projects_tests(project: Path, mutation: str) -> None:
    path, original, broken, failing = MUTATIONS[mutation]
    module = project / path
    source = module.read_text()
    assert source.count(original) == 1
    module.write_text(source.replace(original, broken))
    try:
        # The test written for that rule, in every feature that has it: the rest of the suite
        # costs a minute per mutation and proves nothing more about this rule.
        result = run(["uv", "run", "pytest", "-q", "-k", failing], project, check=False)
    finally:
        module.write_text(source)

    assert result.returncode == 1
    failed = re.findall(r"^FAILED \S+::(\w+)", result.stdout, re.MULTILINE)
    assert failing in failed, result.stdout[-3000:]


def test_a_feature_left_out_of_the_manifest_is_invisible_everywhere(project: Path) -> None:
    run(["make", "upgrade"], project)  # so that `alembic check` compares, whatever ran before
    registry = project / "features" / "registry.py"
    original = registry.read_text()
    registry.write_text(
        "".join(
            line
            for line in original.splitlines(keepends=True)
            if "orders" not in line.lower() and '"users": users_commands' not in line
        )
    )
    try:
        paths = openapi(project)
        shell = run(
            ["uv", "run", "python", "manage.py", "shell", "--plain", "-c", "print(sorted(dir()))"],
            project,
        )
        cli = run(["uv", "run", "python", "manage.py", "users", "--help"], project, check=False)
        check = run(["uv", "run", "alembic", "check"], project, check=False)
    finally:
        registry.write_text(original)

    assert "/orders" not in paths
    assert "/testimonials" in paths
    assert "'Order'" not in shell.stdout
    assert "'Testimonial'" in shell.stdout
    assert cli.returncode != 0
    assert "No such command 'users'" in cli.stdout + cli.stderr
    assert check.returncode != 0
    assert "remove_table" in check.stdout + check.stderr
    assert "'orders'" in check.stdout + check.stderr


@pytest.fixture
def project(feature_project: Path) -> Path:
    return feature_project
