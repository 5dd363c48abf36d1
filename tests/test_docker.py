"""Build the baked project's image and run it, then its compose stack, on a real Docker engine.

`make test-docker` runs this (`.ci/run` too, after `make test`); plain `pytest` deselects it.
tests/docker/prepare.sh starts an engine if none is running and provides local stand-ins for
the base images, which no registry can supply here. The baked Dockerfile and compose file are
used exactly as a user gets them. What ran, with sizes and timings, is written to
build/docker-report.md.
"""

import json
import subprocess
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.baking import TEMPLATE_DIR, bake, free_port

pytestmark = pytest.mark.docker
DOCKER = "/usr/bin/docker"  # Debian's CLI, which BuildKit and the compose plugin work with
REPORT = TEMPLATE_DIR / "build" / "docker-report.md"
GRACEFUL_BOUND_S = 20  # SERVER_GRACEFUL_SHUTDOWN_TIMEOUT's default (core/server.py)
report: dict[str, str] = {}


def docker(
    *args: str, check: bool = True, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [DOCKER, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={"DOCKER_BUILDKIT": "1", "PATH": "/usr/bin:/bin:/usr/sbin:/sbin"},
    )
    if check and result.returncode != 0:
        pytest.fail(
            f"docker {' '.join(args)} failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
        )
    return result


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    project = bake(tmp_path_factory.mktemp("docker"))
    start = time.monotonic()
    prepared = subprocess.run(
        ["bash", str(TEMPLATE_DIR / "tests" / "docker" / "prepare.sh"), str(project)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if prepared.returncode != 0:
        pytest.fail(f"no Docker engine or base images:\n{prepared.stderr[-4000:]}", pytrace=False)
    report["engine and stand-in bases ready"] = f"{time.monotonic() - start:.1f} s"
    yield project
    REPORT.parent.mkdir(exist_ok=True)
    rows = "\n".join(f"| {key} | {value} |" for key, value in report.items())
    REPORT.write_text(f"# make test-docker\n\n| what | result |\n|---|---|\n{rows}\n")


@pytest.fixture(scope="module")
def image(project: Path) -> Iterator[str]:
    tag = f"paxx-test-{uuid.uuid4().hex[:8]}:latest"
    start = time.monotonic()
    docker("build", "--tag", tag, str(project))
    report["image build (reuses BuildKit layers of earlier runs)"] = (
        f"{time.monotonic() - start:.1f} s"
    )
    yield tag
    docker("rmi", "--force", tag, check=False)


def in_image(image: str, *command: str) -> str:
    return docker("run", "--rm", "--network", "none", image, *command).stdout.strip()


def test_the_image_runs_as_a_numeric_non_root_user(image: str) -> None:
    config = json.loads(docker("image", "inspect", image).stdout)[0]

    assert config["Config"]["User"] == "10001:10001"
    assert in_image(image, "id", "-u") == "10001"
    report["user"] = f"uid {in_image(image, 'id', '-u')}, gid {in_image(image, 'id', '-g')}"
    report["image size"] = f"{config['Size'] / 1e6:.0f} MB"


def test_the_image_has_no_tests_dev_tools_or_writable_code(image: str) -> None:
    found = in_image(
        image,
        "sh",
        "-c",
        "find /app -name tests -o -name conftest.py -o -name .feature-template"
        " -o -name scripts -o -name .env -o -name '*.db'; "
        "ls /app/.venv/bin; command -v uv || true; find /app -writable",
    ).split()
    dev_tools = ["pytest", "ruff", "mypy", "httpx", "uv"]
    importable = in_image(
        image,
        "python",
        "-c",
        f"import importlib.util as u; print([m for m in {dev_tools} if u.find_spec(m)])",
    )

    assert not [path for path in found if path.startswith("/app/") and "/.venv/" not in path]
    assert not set(found) & {"pytest", "ruff", "mypy", "uv", "/usr/local/bin/uv", "/bin/uv"}
    assert importable == "[]"


def wait_for(url: str, *, timeout: float, headers: dict[str, str] | None = None) -> float:
    start = time.monotonic()
    while True:
        try:
            with urllib.request.urlopen(
                urllib.request.Request(url, headers=headers or {}), timeout=3
            ) as r:
                if r.status == 200:
                    return time.monotonic() - start
        except OSError:
            pass
        if time.monotonic() - start > timeout:
            pytest.fail(f"{url} did not answer 200 within {timeout} s")
        time.sleep(0.3)


def test_it_serves_with_a_read_only_root_and_stops_on_sigterm(
    image: str, postgres_url: str
) -> None:
    secret = uuid.uuid4().hex * 2
    port = free_port()
    env = ["-e", f"SECRET_KEY={secret}", "-e", f"DATABASE_URL={postgres_url}"]
    run = ["run", "--network", "host", "--read-only", "--tmpfs", "/tmp", *env]
    docker(*run, "--rm", image, "alembic", "upgrade", "head")
    name = f"paxx-test-{uuid.uuid4().hex[:8]}"
    docker(*run, "--detach", "--name", name, "-e", f"PORT={port}", image)
    try:
        ready = wait_for(f"http://127.0.0.1:{port}/health/ready", timeout=60)
        report["container: start to /health/ready 200"] = f"{ready:.1f} s (host PostgreSQL)"
        code = docker("exec", name, "sh", "-c", "touch /app/x || touch /app/.venv/x", check=False)
        assert code.returncode != 0
        assert "Read-only file system" in code.stderr
        docker("exec", name, "touch", "/tmp/scratch")

        start = time.monotonic()
        docker("kill", "--signal", "TERM", name)
        exit_code = docker("wait", name, timeout=GRACEFUL_BOUND_S + 10).stdout.strip()
        stopped = time.monotonic() - start
    finally:
        output = docker("logs", name, check=False)
        logs = output.stdout + output.stderr
        docker("rm", "--force", name, check=False)

    assert exit_code == "0", logs
    assert stopped < GRACEFUL_BOUND_S
    assert "Application shutdown complete." in logs
    report["SIGTERM to exit"] = f"{stopped:.1f} s (bound {GRACEFUL_BOUND_S} s), exit code 0"


def compose_ps(compose: list[str]) -> dict[str, dict[str, Any]]:
    out = docker(*compose, "ps", "--all", "--format", "json").stdout.strip()
    rows = (
        json.loads(out) if out.startswith("[") else [json.loads(line) for line in out.splitlines()]
    )
    return {row["Service"]: row for row in rows}


def call(base: str, path: str, data: bytes | None = None, **headers: str) -> Any:
    request = urllib.request.Request(base + path, data=data, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def json_lines(text: str) -> list[dict[str, Any]]:
    lines = []
    for line in text.splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            continue
    return [line for line in lines if isinstance(line, dict)]


def wait_for_job(compose: list[str], job: str, *, timeout: float) -> list[dict[str, Any]]:
    """The worker's JSON log lines, once it logged `job` done; fails after `timeout` s."""
    start = time.monotonic()
    while True:
        logs = docker(*compose, "logs", "--no-log-prefix", "worker").stdout
        lines = json_lines(logs)
        if any(line.get("event") == "job done" and line.get("job") == job for line in lines):
            return lines
        if time.monotonic() - start > timeout:
            pytest.fail(f"the worker did not finish {job} within {timeout} s:\n{logs[-3000:]}")
        time.sleep(0.5)


def test_compose_brings_up_db_migrate_app_and_worker_then_cleans_up(project: Path) -> None:
    name = f"paxxtest{uuid.uuid4().hex[:8]}"
    port = free_port()
    compose = ["compose", "--project-directory", str(project), "--project-name", name]
    env_file = project / ".env"
    env_file.write_text(env_file.read_text() + f"\nAPP_PORT={port}\nAPP_IMAGE={name}:latest\n")
    start = time.monotonic()
    try:
        docker(*compose, "up", "--detach", "--build")
        while (services := compose_ps(compose))["app"].get("Health") != "healthy":
            assert services["app"]["State"] == "running", services["app"]
            assert time.monotonic() - start < 180, services
            time.sleep(1)
        report["compose up to app healthy"] = f"{time.monotonic() - start:.1f} s"
        assert services["db"]["Health"] == "healthy"
        assert (services["migrate"]["State"], services["migrate"]["ExitCode"]) == ("exited", 0)

        base = f"http://127.0.0.1:{port}"
        paths = call(base, "/openapi.json")["paths"]
        [register] = [p for p in paths if p.endswith("/auth/register")]
        [login] = [p for p in paths if p.endswith("/auth/login")]
        [me] = [p for p in paths if p.endswith("/users/me")]
        account = {"email": "compose@example.com", "password": "a long compose password"}
        call(base, register, json.dumps(account).encode(), **{"Content-Type": "application/json"})
        form = urllib.parse.urlencode(
            {"username": account["email"], "password": account["password"]}
        )
        tokens = call(base, login, form.encode())
        user = call(base, me, Authorization=f"Bearer {tokens['access_token']}")
        assert user["email"] == account["email"]
        report["through the app"] = "register, login, GET /users/me: 200 (PostgreSQL in compose)"

        # Registering emitted UserRegistered; its handler enqueued the welcome mail on Redis,
        # and the worker container ran it (the development sender logs instead of sending).
        start = time.monotonic()
        lines = wait_for_job(compose, "users.send_welcome_mail", timeout=60)
        mails = [line for line in lines if line.get("event", "").startswith("mail not sent")]
        assert [line["to"] for line in mails] == [account["email"]]
        report["register to welcome-mail job done in the worker"] = (
            f"{time.monotonic() - start:.1f} s after the 201 (Redis in compose)"
        )
        status = docker(*compose, "exec", "-T", "app", "python", "manage.py", "jobs", "status")
        assert "broker: redis, 1 live worker(s)" in status.stdout, status.stdout
        assert "last heartbeat" in status.stdout
        services = compose_ps(compose)
        assert services["worker"]["State"] == services["scheduler"]["State"] == "running"
        report["manage.py jobs status in the app"] = "1 live worker, heartbeat seen"

        start = time.monotonic()
        docker(*compose, "stop", "worker", "scheduler")
        stopped = time.monotonic() - start
        services = compose_ps(compose)
        # 137 would be the SIGKILL after stop_grace_period: SIGTERM never reached taskiq.
        for service in ("worker", "scheduler"):
            assert services[service]["ExitCode"] != 137, services[service]
        assert stopped < 30
        report["worker and scheduler: SIGTERM to exit"] = f"{stopped:.1f} s (no job running)"
    finally:
        output = docker(*compose, "logs", check=False)
        logs = output.stdout + output.stderr
        down = docker(*compose, "down", "--volumes", "--rmi", "local", check=False)
    left = docker("ps", "--all", "--quiet", "--filter", f"label=com.docker.compose.project={name}")
    volumes = docker(
        "volume", "ls", "--quiet", "--filter", f"label=com.docker.compose.project={name}"
    )
    docker("rmi", "--force", f"{name}:latest", check=False)

    assert down.returncode == 0, down.stderr + logs[-3000:]
    assert left.stdout.strip() == ""
    assert volumes.stdout.strip() == ""
    report["compose down -v"] = "no container or volume left"
