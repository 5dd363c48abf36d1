"""The baked project's Dockerfile, compose file, CI workflow and hook configs, read as data.

No Docker engine runs these tests: they check what can be checked without building.
"""

import ast
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.baking import bake, leftover_jinja


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bake(tmp_path_factory.mktemp("prod"), python_version="3.13")


def load_yaml(path: Path) -> dict[Any, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict), path
    return data


def settings_fields(project: Path) -> dict[str, bool]:
    """Each `Settings` field's environment variable name, and whether it has a default."""
    tree = ast.parse((project / "settings.py").read_text())
    [cls] = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Settings"]
    return {
        node.target.id.upper(): node.value is not None
        for node in cls.body
        if isinstance(node, ast.AnnAssign)
        and isinstance(node.target, ast.Name)
        and node.target.id != "model_config"
    }


def dockerfile_instructions(project: Path) -> list[tuple[str, str]]:
    text = (project / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(maxsplit=1)[0].upper(), line.split(maxsplit=1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def test_the_dockerfile_builds_in_two_stages_and_runs_unprivileged(project: Path) -> None:
    instructions = dockerfile_instructions(project)
    stages = [args for op, args in instructions if op == "FROM"]
    runs = " ".join(args for op, args in instructions if op == "RUN")

    assert stages == ["python:3.13-slim AS build", "python:3.13-slim AS runtime"]
    assert re.search(
        r"COPY --from=ghcr.io/astral-sh/uv:\d+\.\d+\.\d+ /uv ", (project / "Dockerfile").read_text()
    )
    assert "uv sync --locked --no-dev" in runs
    final_stage = instructions[[op for op, _ in instructions].index("FROM", 1) :]
    [user] = [args for op, args in final_stage if op == "USER"]
    assert user not in {"root", "0"}
    [healthcheck] = [args for op, args in final_stage if op == "HEALTHCHECK"]
    assert "/health/live" in healthcheck
    assert "curl" not in healthcheck
    [cmd] = [args for op, args in final_stage if op == "CMD"]
    assert "--no-access-log" in cmd
    # uv builds the image but does not ship in it.
    assert not any(op == "COPY" and "astral-sh/uv" in args for op, args in final_stage)
    assert any(op == "COPY" and "astral-sh/uv" in args for op, args in instructions)


def test_dockerignore_keeps_secrets_and_local_state_out(project: Path) -> None:
    ignored = (project / ".dockerignore").read_text().split()

    for entry in (".env", ".venv/", ".git/", "*.db"):
        assert entry in ignored


def test_compose_runs_migrations_before_the_app(project: Path) -> None:
    services = load_yaml(project / "docker-compose.yml")["services"]

    assert set(services) == {"app", "db", "redis", "migrate"}
    assert "pg_isready" in " ".join(services["db"]["healthcheck"]["test"])
    assert "ping" in services["redis"]["healthcheck"]["test"]
    assert services["migrate"]["command"] == ["alembic", "upgrade", "head"]
    assert services["migrate"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    app_depends = services["app"]["depends_on"]
    assert app_depends["migrate"] == {"condition": "service_completed_successfully"}
    assert app_depends["db"] == {"condition": "service_healthy"}


def env_names_set_by_compose(project: Path) -> set[str]:
    services = load_yaml(project / "docker-compose.yml")["services"]
    names: set[str] = set()
    for service in ("app", "migrate"):
        names |= set(services[service]["environment"])
    return names


def test_compose_sets_only_settings_and_every_required_one(project: Path) -> None:
    fields = settings_fields(project)
    compose = env_names_set_by_compose(project)

    assert compose <= set(fields)
    assert {name for name, has_default in fields.items() if not has_default} <= compose
    # Production refuses the placeholder secret, so compose must pass a real one.
    assert {"ENVIRONMENT", "DATABASE_URL", "SECRET_KEY"} <= compose


def test_env_example_names_only_settings(project: Path) -> None:
    names = re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", (project / ".env.example").read_text(), re.M)

    assert names
    assert set(names) <= set(settings_fields(project))


def ci_workflow(project: Path) -> dict[Any, Any]:
    return load_yaml(project / ".github" / "workflows" / "ci.yml")


def test_ci_runs_every_check_and_keeps_its_expressions(project: Path) -> None:
    text = (project / ".github" / "workflows" / "ci.yml").read_text()
    workflow = ci_workflow(project)
    jobs = workflow["jobs"]
    steps = [step for job in jobs.values() for step in job["steps"]]
    commands = "\n".join(step.get("run", "") for step in steps)

    assert "${{ github.workflow }}" in text
    assert leftover_jinja(project) == []
    for command in (
        "uv sync --locked",
        "uv run ruff check .",
        "uv run ruff format --check .",
        "uv run mypy .",
        "uv run pytest",
        "uv run alembic upgrade head",
        "uv run alembic check",
    ):
        assert command in commands, command
    [postgres_tests] = [s for s in steps if s.get("env", {}).get("TEST_DATABASE_URL")]
    assert postgres_tests["run"] == "uv run pytest"
    assert "postgres" in jobs["checks"]["services"]
    assert any(s.get("uses", "").startswith("docker/build-push-action") for s in steps)


def test_ci_sets_only_settings_or_test_variables(project: Path) -> None:
    steps = [step for job in ci_workflow(project)["jobs"].values() for step in job["steps"]]
    names = {name for step in steps for name in step.get("env", {})}

    assert names <= set(settings_fields(project)) | {"TEST_DATABASE_URL"}


def test_pre_commit_runs_ruff_and_the_projects_mypy(project: Path) -> None:
    repos = load_yaml(project / ".pre-commit-config.yaml")["repos"]
    hooks = {hook["id"]: hook for repo in repos for hook in repo["hooks"]}

    assert {"ruff-check", "ruff-format", "mypy", "end-of-file-fixer"} <= set(hooks)
    assert hooks["mypy"]["entry"] == "uv run mypy ."
    assert hooks["mypy"]["language"] == "system"


def test_dependabot_watches_uv_actions_and_docker(project: Path) -> None:
    updates = load_yaml(project / ".github" / "dependabot.yml")["updates"]

    assert {update["package-ecosystem"] for update in updates} == {
        "uv",
        "github-actions",
        "docker",
    }
