"""The baked project's Dockerfile, compose file, CI workflow and hook configs, read as data.

What can be checked without building; `tests/test_production_lint.py` runs the linters on the
same files, and `make test-docker` builds and runs them.
"""

import re
from pathlib import Path
from typing import Any

import pytest

from tests.baking import bake, leftover_jinja
from tests.production import dockerfile_instructions, load_yaml, make_recipe, settings_fields


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bake(tmp_path_factory.mktemp("prod"), python_version="3.13")


def test_the_dockerfile_builds_in_two_stages_and_runs_unprivileged(project: Path) -> None:
    text = (project / "Dockerfile").read_text()
    instructions = dockerfile_instructions(project)
    stages = [args for op, args in instructions if op == "FROM"]
    runs = " ".join(args for op, args in instructions if op == "RUN")

    # A `# syntax=` line would make every build fetch a frontend image from a registry.
    assert not re.search(r"^#\s*syntax=", text, re.M | re.I)
    assert stages == ["python:3.13-slim AS build", "python:3.13-slim AS runtime"]
    assert re.search(r"COPY --from=ghcr.io/astral-sh/uv:\d+\.\d+\.\d+ /uv ", text)
    assert "uv sync --locked --no-dev" in runs
    final_stage = instructions[[op for op, _ in instructions].index("FROM", 1) :]
    # Numeric, so Kubernetes' runAsNonRoot can verify it; not root.
    [user] = [args for op, args in final_stage if op == "USER"]
    uid, _, gid = user.partition(":")
    assert re.fullmatch(r"[1-9]\d*", uid), user
    assert re.fullmatch(r"[1-9]\d*", gid), user
    assert f"--uid {uid}" in " ".join(args for op, args in final_stage if op == "RUN")
    # The code and the venv stay root's: the runtime user cannot rewrite them.
    copies = [args for op, args in final_stage if op == "COPY"]
    assert copies == ["--from=build /app /app"]
    [healthcheck] = [args for op, args in final_stage if op == "HEALTHCHECK"]
    assert "/health/live" in healthcheck
    assert "os.environ['PORT']" in healthcheck
    assert "curl" not in healthcheck
    [env] = [args for op, args in final_stage if op == "ENV"]
    assert "PORT=8000" in env.split()
    [cmd] = [args for op, args in final_stage if op == "CMD"]
    # Exec form: the server is PID 1 and gets SIGTERM. core/server.py reads PORT, checks the
    # settings once, then runs uvicorn with bounded headers and waits (baked tests cover it).
    assert cmd == '["python", "-m", "core.server", "--host", "0.0.0.0"]'
    # uv builds the image but does not ship in it.
    assert not any(op == "COPY" and "astral-sh/uv" in args for op, args in final_stage)
    assert any(op == "COPY" and "astral-sh/uv" in args for op, args in instructions)


def dockerignore_regex(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern as Docker reads it: `**` crosses folders, `*` does not."""
    parts = re.split(r"(\*\*/?|\*|\?)", pattern.strip("/"))
    translated = {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}
    return re.compile("".join(translated.get(part, re.escape(part)) for part in parts))


def build_context(project: Path) -> set[str]:
    """The files `docker build .` sends: the last matching pattern wins; a folder's, its files."""
    rules = [
        (line.startswith("!"), dockerignore_regex(line.lstrip("!")))
        for line in (project / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    sent = set()
    for path in project.rglob("*"):
        if not path.is_file():
            continue
        relative = path.relative_to(project).as_posix()
        prefixes = ["/".join(relative.split("/")[:i]) for i in range(1, relative.count("/") + 2)]
        included = True
        for negated, regex in rules:
            if any(regex.fullmatch(prefix) for prefix in prefixes):
                included = negated
        if included:
            sent.add(relative)
    return sent


def test_the_image_gets_what_runs_and_no_tests_secrets_or_dev_tools(project: Path) -> None:
    (project / ".venv" / "bin").mkdir(parents=True)
    (project / ".venv" / "bin" / "python").write_text("")
    (project / "core" / "__pycache__").mkdir()
    (project / "core" / "__pycache__" / "x.pyc").write_text("")
    (project / "app.db").write_text("")
    context = build_context(project)

    for needed in ("main.py", "settings.py", "manage.py", "worker.py", "alembic.ini", "uv.lock"):
        assert needed in context
    assert {"core/database.py", "features/registry.py", "migrations/env.py"} <= context
    # What the worker and scheduler containers import.
    assert {"core/events.py", "core/mail.py", "features/users/jobs.py"} <= context
    jobs_package = {p.relative_to(project).as_posix() for p in (project / "core/jobs").glob("*.py")}
    assert jobs_package
    assert jobs_package <= context
    assert any(path.startswith("migrations/versions/") for path in context)
    for kept_out in (".env", ".git", ".venv/", "app.db", "__pycache__", "tests/", "conftest.py"):
        assert not [path for path in context if kept_out in path], kept_out
    for prefix in (".feature-template/", "scripts/", ".github/", "Dockerfile", "Makefile"):
        assert not [path for path in context if path.startswith(prefix)], prefix


def test_compose_runs_migrations_before_the_app(project: Path) -> None:
    services = load_yaml(project / "docker-compose.yml")["services"]

    assert set(services) == {"app", "db", "redis", "migrate", "worker", "scheduler"}
    assert "pg_isready" in " ".join(services["db"]["healthcheck"]["test"])
    assert "ping" in services["redis"]["healthcheck"]["test"]
    assert services["migrate"]["command"] == ["alembic", "upgrade", "head"]
    assert services["migrate"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    app_depends = services["app"]["depends_on"]
    assert app_depends["migrate"] == {"condition": "service_completed_successfully"}
    assert app_depends["db"] == {"condition": "service_healthy"}


def test_compose_builds_one_image_and_leaves_port_8000_to_make_dev(project: Path) -> None:
    services = load_yaml(project / "docker-compose.yml")["services"]
    app, migrate = services["app"], services["migrate"]

    assert app["build"] == "."
    assert "build" not in migrate
    assert migrate["image"] == app["image"] == "${APP_IMAGE:-my_service:latest}"
    assert migrate["pull_policy"] == "never"
    [port] = app["ports"]
    host, _, container = port.rpartition(":")
    assert container == "8000"
    assert host == "${APP_PORT:-8080}"
    for service in (app, migrate):
        assert service["read_only"] is True
        assert service["tmpfs"] == ["/tmp"]


def env_names_set_by_compose(project: Path) -> set[str]:
    services = load_yaml(project / "docker-compose.yml")["services"]
    names: set[str] = set()
    for service in ("app", "migrate", "worker", "scheduler"):
        names |= set(services[service]["environment"])
    return names


@pytest.mark.parametrize("service", ["worker", "scheduler"])
def test_compose_runs_the_jobs_processes_as_make_does_on_the_apps_image(
    project: Path, service: str
) -> None:
    services = load_yaml(project / "docker-compose.yml")["services"]
    app, runner = services["app"], services[service]
    command, defaults = make_recipe(project, service)

    # The same image, not a second build; taskiq itself, so SIGTERM reaches it (not make's).
    assert "build" not in runner
    assert runner["image"] == app["image"]
    assert runner["pull_policy"] == "never"
    assert runner["command"] == command
    assert command[0] == "taskiq"
    assert runner["environment"] == app["environment"]
    assert {"REDIS_URL", "DATABASE_URL"} <= set(runner["environment"])
    assert runner["depends_on"] == {
        "migrate": {"condition": "service_completed_successfully"},
        "redis": {"condition": "service_healthy"},
    }
    assert runner["read_only"] is True
    assert runner["tmpfs"] == ["/tmp"]
    assert "ports" not in runner
    # The image's healthcheck asks an HTTP port these processes do not serve.
    assert runner["healthcheck"] == {"disable": True}
    if service == "worker":
        grace = int(command[command.index("--wait-tasks-timeout") + 1])
        assert grace == int(defaults["JOB_GRACE_SECONDS"])
        assert int(runner["stop_grace_period"].removesuffix("s")) > grace
        assert command[command.index("--workers") + 1] == "1"
    else:
        assert "--skip-first-run" in command
        # It handles no SIGTERM itself: as PID 1 it would ignore one until the SIGKILL.
        assert runner["init"] is True
        assert "deploy" not in runner  # one scheduler: no replicas


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


def test_ci_builds_the_image_and_runs_it(project: Path) -> None:
    docker = ci_workflow(project)["jobs"]["docker"]
    script = "\n".join(step.get("run", "") for step in docker["steps"])

    assert "docker build --tag app:ci ." in script
    assert "--read-only" in script
    assert "app:ci alembic upgrade head" in script
    assert "http://127.0.0.1:8000/health/ready" in script
    assert "docker stop --time 30 app" in script
    assert "postgres" in docker["services"]


def test_ci_pins_every_action_to_a_commit_and_keeps_no_credentials(project: Path) -> None:
    text = (project / ".github" / "workflows" / "ci.yml").read_text()
    steps = [step for job in ci_workflow(project)["jobs"].values() for step in job["steps"]]
    uses = [step["uses"] for step in steps if "uses" in step]

    assert uses
    for action in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", action), action
        # The release the SHA stands for, for readers and for Dependabot.
        assert re.search(re.escape(action) + r" # v\d+\.\d+\.\d+$", text, re.M), action
    checkouts = [step for step in steps if step.get("uses", "").startswith("actions/checkout@")]
    assert checkouts
    assert all(step["with"]["persist-credentials"] is False for step in checkouts)


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
