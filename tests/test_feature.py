"""`make feature` in a baked project: what it writes works; what it refuses leaves no trace."""

import ast
import hashlib
import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.baking import bake, get_status, run, serve

# One worker bakes the project once; its tests then run in order on it.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("feature")]

# Every supported type and modifier, across three features added one after another.
FEATURES = {
    "customers": "",  # the default fields: name:str description:text?
    "orders": (
        "code:str:12:unique title:str:3 note:text? quantity:int:unique? ratio:float? "
        "total:decimal:10,4 paid:bool due:date? placed_at:datetime ref:uuid:unique? "
        "ship_on:date:unique"
    ),
    "order_items": "label:str? weight:float amount:decimal placed_at:datetime:unique",
}


def snapshot(project: Path) -> dict[str, str]:
    """Every file the user owns, by content: the measure of "nothing changed"."""
    skipped = {".venv", ".git", ".mypy_cache", ".ruff_cache", ".pytest_cache", "__pycache__"}
    return {
        str(path.relative_to(project)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(project.rglob("*"))
        if path.is_file() and not skipped & set(path.relative_to(project).parts)
    }


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = bake(tmp_path_factory.mktemp("feature"))
    run(["uv", "sync", "--locked", "--compile-bytecode"], project)
    for name, fields in FEATURES.items():
        result = run(["make", "feature", f"NAME={name}", f"FIELDS={fields}"], project)
        assert f"Created features/{name}/" in result.stdout
    run(["make", "migrate", "MSG=add shop"], project)
    return project


def test_each_feature_has_every_layer_and_its_tests(project: Path) -> None:
    for name in FEATURES:
        files = {p.relative_to(project / "features" / name).as_posix() for p in
                 (project / "features" / name).rglob("*.py")}  # fmt: skip
        assert files == {
            "__init__.py",
            "models.py",
            "schemas.py",
            "services.py",
            "dependencies.py",
            "exceptions.py",
            "routes.py",
            "tests/__init__.py",
            "tests/factories.py",
            "tests/test_routes.py",
            "tests/test_services.py",
        }
        assert "fastapi" not in (project / "features" / name / "services.py").read_text()


def test_every_router_is_registered_once_and_the_existing_ones_stay(project: Path) -> None:
    registry = (project / "features" / "registry.py").read_text()
    (routers,) = [
        node.value
        for node in ast.parse(registry).body
        if isinstance(node, ast.AnnAssign) and ast.unparse(node.target) == "ROUTERS"
    ]
    assert isinstance(routers, ast.List)
    entries = [ast.unparse(element) for element in routers.elts]

    assert entries == ["users_auth_router", "users_router", *(f"{n}_router" for n in FEATURES)]
    for name in FEATURES:
        assert registry.count(f"from features.{name}.routes import router as {name}_router") == 1


def test_the_migration_creates_every_table_with_explicit_lengths(project: Path) -> None:
    (migration,) = (project / "migrations" / "versions").glob("*_add_shop.py")
    source = migration.read_text()

    for table in FEATURES:
        assert f'op.create_table(\n        "{table}"' in source
    assert "AutoString(length=12)" in source
    assert "sa.Numeric(precision=10, scale=4)" in source
    assert 'name=op.f("uq_orders_code")' in source


def test_static_checks_stay_clean(project: Path) -> None:
    run(["make", "lint"], project)
    run(["make", "typecheck"], project)


def test_generated_suites_pass_on_sqlite(project: Path) -> None:
    result = run(["make", "test"], project)

    for name in FEATURES:
        assert f"features/{name}/tests/test_routes.py" in result.stdout
        assert f"features/{name}/tests/test_services.py" in result.stdout
    assert " failed" not in result.stdout


def test_generated_suites_pass_on_postgresql(project: Path, postgres_url: str) -> None:
    result = run(["make", "test"], project, env={"TEST_DATABASE_URL": postgres_url})

    assert "features/orders/tests/test_routes.py" in result.stdout


def test_migrations_apply_and_leave_no_drift(project: Path) -> None:
    run(["make", "upgrade"], project)
    check = run(["uv", "run", "alembic", "check"], project)
    assert "No new upgrade operations detected" in check.stdout + check.stderr
    run(["make", "downgrade"], project)
    run(["make", "upgrade"], project)


def test_every_feature_is_in_the_openapi_document(project: Path) -> None:
    script = "import json, main; print(json.dumps(sorted(main.app.openapi()['paths'])))"
    paths = json.loads(run(["uv", "run", "python", "-c", script], project).stdout)

    for url in ("/customers", "/orders", "/order-items"):
        assert url in paths
        assert f"{url}/{{{url.strip('/').replace('-', '_').removesuffix('s')}_id}}" in paths


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["NAME="], "NAME is required"),
        (["NAME=Orders"], "is not a lowercase snake_case identifier"),
        (["NAME=order-lines"], "is not a lowercase snake_case identifier"),
        (["NAME=2fa"], "is not a lowercase snake_case identifier"),
        (["NAME=class"], "is a Python keyword"),
        (["NAME=json"], "would shadow the installed module 'json'"),
        (["NAME=typing"], "would shadow the installed module 'typing'"),
        (["NAME=fastapi"], "would shadow the installed module 'fastapi'"),
        (["NAME=sqlmodel"], "would shadow the installed module 'sqlmodel'"),
        (["NAME=core"], "is the name of a project module"),
        (["NAME=features"], "is the name of a project module"),
        (["NAME=tests"], "is the name of a project module"),
        (["NAME=migrations"], "is the name of a project module"),
        (["NAME=pages"], "makes a model class 'Page'"),
        (["NAME=sessions"], "makes a variable 'session'"),
        (["NAME=orders"], "features/orders already exists; nothing was changed"),
        (["NAME=customers", "FIELDS=email:str"], "features/customers already exists"),
        (["NAME=invoices", "FIELDS=total:money"], "FIELDS entry 'total:money' has an unknown type"),
        (["NAME=invoices", "FIELDS=total"], "FIELDS entry 'total' is not NAME:TYPE"),
        (["NAME=invoices", "FIELDS=total:int:big"], "has an unknown option 'big'"),
        (["NAME=invoices", "FIELDS=id:int"], "uses the reserved field name 'id'"),
        (["NAME=invoices", "FIELDS=Total:int"], "has an invalid field name 'Total'"),
        (["NAME=invoices", "FIELDS=paid:bool:unique"], "marks a bool field unique"),
        (["NAME=invoices", "FIELDS=total:decimal:4,6"], "needs 0 <= SCALE < PRECISION"),
        (["NAME=invoices", "FIELDS=a:int a:str"], "FIELDS names a more than once"),
    ],
)
def test_a_refusal_is_one_line_and_changes_nothing(
    project: Path, args: list[str], message: str
) -> None:
    before = snapshot(project)

    result = run(["make", "feature", *args], project, check=False)

    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    assert message in errors[0]
    assert snapshot(project) == before


def test_a_refused_field_spec_names_the_accepted_types(project: Path) -> None:
    result = run(["make", "feature", "NAME=invoices", "FIELDS=total:money"], project, check=False)

    for type_name in ("str", "text", "int", "float", "decimal", "bool", "date", "datetime", "uuid"):
        assert type_name in result.stderr


def test_a_registry_without_a_routers_list_is_refused_untouched(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    project = bake(tmp_path_factory.mktemp("registry"))
    run(["uv", "sync", "--locked", "--compile-bytecode"], project)
    registry = project / "features" / "registry.py"
    registry.write_text("# I moved the routers elsewhere\n")
    before = snapshot(project)

    result = run(["make", "feature", "NAME=invoices"], project, check=False)

    assert result.returncode != 0
    assert "has no `ROUTERS = [...]` list" in result.stderr
    assert snapshot(project) == before


def test_racing_duplicates_over_a_real_server_are_one_201_and_409s(
    project: Path, postgres_url: str
) -> None:
    """Concurrent clients on PostgreSQL: the unique index decides, and no one sees a 500.

    Also: every 201 can be read back by the client's very next request.
    """
    env = {"DATABASE_URL": postgres_url, "ENVIRONMENT": "development"}
    run(["uv", "run", "alembic", "upgrade", "head"], project, env=env)
    body = json.dumps(
        {"code": "RACE-1", "title": "abc", "quantity": 7, "total": "1.5", "paid": True,
         "placed_at": "2026-01-15T10:30:00Z", "ship_on": "2026-03-01"}
    ).encode()  # fmt: skip

    with serve(project, env) as base_url:

        def post(_: int) -> tuple[int, str]:
            request = urllib.request.Request(
                f"{base_url}/orders", data=body, headers={"Content-Type": "application/json"}
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    return response.status, response.read().decode()
            except urllib.error.HTTPError as exc:
                return exc.code, exc.read().decode()

        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(post, range(8)))

        statuses = sorted(status for status, _ in results)
        assert statuses == [201] + [409] * 7, results
        created = json.loads(next(text for status, text in results if status == 201))
        assert get_status(f"{base_url}/orders/{created['id']}") == 200
