"""A freshly baked project, untouched, passes its own checks on both supported Pythons (its
suites on the default one run in test_feature.py, with features added)."""

import shlex
from pathlib import Path

import pytest

from tests.baking import bake, get_status, run, serve

pytestmark = pytest.mark.slow

MAKE_TARGETS = [
    "help",
    "install",
    "dev",
    "start",
    "migrate",
    "upgrade",
    "downgrade",
    "db-status",
    "shell",
    "feature",
    "test",
    "test-postgres",
    "lint",
    "format",
    "typecheck",
    "check",
    "template-update",
]


@pytest.fixture(
    scope="module",
    # One xdist worker per Python: the project is baked and synced once, its checks run in turn.
    params=[
        pytest.param("3.12", marks=pytest.mark.xdist_group("baked-3.12")),
        pytest.param("3.13", marks=pytest.mark.xdist_group("baked-3.13")),
    ],
)
def project(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = bake(tmp_path_factory.mktemp("bake"), python_version=request.param)
    run(["uv", "sync", "--locked", "--compile-bytecode"], project)
    version = run(["uv", "run", "python", "--version"], project).stdout
    assert version.startswith(f"Python {request.param}.")
    return project


# On the default Python, test_feature.py runs these, and `make test-postgres`, on a project
# with features (this one's code and more).
ONLY_ON_312 = pytest.mark.parametrize(
    "project", [pytest.param("3.12", marks=pytest.mark.xdist_group("baked-3.12"))], indirect=True
)


def test_the_lock_file_matches_pyproject(project: Path) -> None:
    run(["uv", "lock", "--check"], project)


@ONLY_ON_312
def test_lint_and_format_are_clean(project: Path) -> None:
    run(["make", "lint"], project)


@ONLY_ON_312
def test_mypy_strict_is_clean(project: Path) -> None:
    run(["make", "typecheck"], project)


@ONLY_ON_312
def test_the_suite_passes_on_sqlite_without_touching_the_dev_database(project: Path) -> None:
    # app.db and, in WAL mode, its app.db-wal and app.db-shm companions.
    assert not list(project.glob("app.db*"))

    result = run(["make", "test"], project)

    assert " passed" in result.stdout
    assert " failed" not in result.stdout
    assert not list(project.glob("app.db*"))


def test_migrations_round_trip_and_match_the_models(project: Path) -> None:
    run(["make", "upgrade"], project)
    run(["make", "downgrade"], project)
    run(["make", "upgrade"], project)
    check = run(["uv", "run", "alembic", "check"], project)
    assert "No new upgrade operations detected" in check.stdout + check.stderr
    status = run(["make", "db-status"], project).stdout
    assert status.count("(head)") == 2


def test_migrate_refuses_an_empty_message(project: Path) -> None:
    versions = sorted((project / "migrations" / "versions").iterdir())

    result = run(["make", "migrate"], project, check=False)

    assert result.returncode != 0
    assert "MSG is required" in result.stderr
    assert sorted((project / "migrations" / "versions").iterdir()) == versions


@ONLY_ON_312
def test_make_passes_what_was_typed_as_text_never_to_a_shell(project: Path) -> None:
    # Quotes, $VARIABLES, `...`, $(...) and make's own $(shell ...): text, whatever they hold.
    hostile = 'it\'s "$HOME" `touch pwned` $(touch pwned) $(shell touch pwned)'
    versions = sorted((project / "migrations" / "versions").iterdir())

    planned = run(["make", "-n", "migrate", f"MSG={hostile}"], project).stdout
    migrated = run(["make", "migrate", f"MSG={hostile}"], project)  # no model changed: no file
    refused = run(["make", "feature", "NAME=widgets", f"FIELDS={hostile}"], project, check=False)

    (revision,) = [line for line in planned.splitlines() if "alembic revision" in line]
    assert shlex.split(revision)[-1] == hostile  # what the shell will pass alembic
    assert "no migration written" in migrated.stdout + migrated.stderr
    assert refused.returncode == 2
    assert refused.stderr.startswith('error: FIELDS entry "it\'s" is not NAME:TYPE')
    assert not (project / "pwned").exists()
    assert not (project / "features" / "widgets").exists()
    assert sorted((project / "migrations" / "versions").iterdir()) == versions


def test_help_is_the_default_and_describes_every_target(project: Path) -> None:
    output = run(["make"], project).stdout

    for target in MAKE_TARGETS:
        assert f" {target} " in output, target


def test_make_dev_serves_the_api_and_its_docs(project: Path) -> None:
    with serve(project, command=["make", "dev"]) as base_url:
        assert get_status(f"{base_url}/health/ready") == 200
        assert get_status(f"{base_url}/docs") == 200
        assert get_status(f"{base_url}/openapi.json") == 200
