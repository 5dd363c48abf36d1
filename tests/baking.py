"""Helpers the template tests share: bake the template, drive the baked project as a user would.

A plain module, imported by name; conftest.py keeps only fixtures.
"""

import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import uv
from cookiecutter.main import cookiecutter

TEMPLATE_DIR = Path(__file__).resolve().parent.parent
# The Redis the tests use (a real one, like PostgreSQL): baked suites get it as TEST_REDIS_URL.
TEST_REDIS_URL = os.environ.get("PAXX_TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
LEFTOVER_JINJA = re.compile(r"\{\{\s*cookiecutter\.|\{%|\{\{-?\s*cookiecutter")


def tool_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a baked project's commands run in: our uv first on PATH, no outer venv."""
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH"}}
    env["PATH"] = f"{uv_bin_dir()}{os.pathsep}{env.get('PATH', '')}"
    env["UV_NO_PROGRESS"] = "1"
    env.pop("TEST_DATABASE_URL", None)
    env.pop("DATABASE_URL", None)
    # A pyenv shim that started us pins its own Python; a bake's .python-version must decide.
    env.pop("PYENV_VERSION", None)
    env.update(extra or {})
    return env


def uv_bin_dir() -> Path:
    # A directory holding only `uv`, so a pyenv shim or the outer venv cannot get in the way.
    link_dir = TEMPLATE_DIR / "build" / "uv-bin"
    link = link_dir / "uv"
    if not link.exists():
        link_dir.mkdir(parents=True, exist_ok=True)
        link.symlink_to(uv.find_uv_bin())
    return link_dir


def run(
    args: list[str],
    cwd: Path,
    *,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        args,
        cwd=cwd,
        env=tool_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and result.returncode != 0:
        pytest.fail(
            f"`{' '.join(args)}` exited {result.returncode} in {cwd}\n"
            f"--- stdout ---\n{result.stdout[-6000:]}\n--- stderr ---\n{result.stderr[-6000:]}",
            pytrace=False,
        )
    return result


def bake(output_dir: Path, **context: Any) -> Path:
    """Bake with the defaults plus `context`; return the project directory."""
    context.setdefault("init_git", False)
    project = cookiecutter(
        str(TEMPLATE_DIR), no_input=True, output_dir=str(output_dir), extra_context=context
    )
    return Path(project)


def bake_with_features(output_dir: Path, features: Mapping[str, list[str]], message: str) -> Path:
    """Bake, sync, `make feature` each of `features` (name: its arguments), `make migrate`."""
    project = bake(output_dir)
    run(["uv", "sync", "--locked", "--compile-bytecode"], project)
    for name, args in features.items():
        result = run(["make", "feature", f"NAME={name}", *args], project)
        assert f"Created features/{name}/" in result.stdout
    run(["make", "migrate", f"MSG={message}"], project)
    return project


def bake_cli(output_dir: Path, *answers: str) -> subprocess.CompletedProcess[str]:
    """Bake through the real `cookiecutter` command, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "cookiecutter", str(TEMPLATE_DIR), "--no-input", *answers],
        cwd=output_dir,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def leftover_jinja(project: Path) -> list[str]:
    found = []
    for path in project.rglob("*"):
        if not path.is_file() or ".venv" in path.parts or ".git" in path.parts:
            continue
        if path.is_relative_to(project / ".feature-template"):
            continue  # rendered later, by `make feature`
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        if LEFTOVER_JINJA.search(text):
            found.append(str(path.relative_to(project)))
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def get_status(url: str) -> int:
    with urllib.request.urlopen(url, timeout=10) as response:
        status: int = response.status
        return status


@contextlib.contextmanager
def serve(
    project: Path, env: Mapping[str, str] | None = None, command: list[str] | None = None
) -> Iterator[str]:
    """Run the baked app on a free loopback port until the block ends; yield its base URL."""
    port = free_port()
    args = (command or ["uv", "run", "uvicorn", "main:app"]) + (
        [f"PORT={port}"] if command else ["--port", str(port)]
    )
    # A file, not a pipe: a chatty server would block on a full pipe nobody reads.
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen(
            args,
            cwd=project,
            env=tool_env(env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # so the whole group (make, uv, uvicorn, reloader) stops
        )
        base_url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    get_status(f"{base_url}/health/live")
                    break
                except (urllib.error.URLError, ConnectionError):
                    if server.poll() is not None or time.monotonic() > deadline:
                        log.seek(0)
                        output = log.read().decode(errors="replace")
                        pytest.fail(f"the app did not start: {' '.join(args)}\n{output[-4000:]}")
                    time.sleep(0.2)
            yield base_url
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)


GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}
_NOT_TEMPLATE = shutil.ignore_patterns(
    ".git", ".venv", "build", "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache"
)


def git(args: list[str], cwd: Path) -> str:
    return run(["git", *args], cwd, env=GIT_IDENTITY).stdout


def scratch_template(dest: Path) -> Path:
    """A git repository holding this checkout's template as it is now, committed once."""
    shutil.copytree(TEMPLATE_DIR, dest, ignore=_NOT_TEMPLATE)
    git(["init", "--quiet", "--initial-branch=main"], dest)
    git(["add", "-A"], dest)
    git(["commit", "--quiet", "-m", "template"], dest)
    return dest


# Every supported field type and modifier, and every option, across five features: the project
# conftest's `feature_project` adds them to one bake.
FEATURES: dict[str, list[str]] = {
    # The default fields (name:str description:text?), protected; named so that pytest's
    # "test" prefixes would collect its classes and helpers unless the project narrows them.
    "testimonials": ["JOBS=yes"],
    "orders": [
        "CACHE=yes",  # every field type through the cache's JSON and back
        "FIELDS=code:str:12:unique title:str:3 note:text? quantity:int:unique? ratio:float? "
        "total:decimal:10,4 paid:bool due:date? placed_at:datetime ref:uuid:unique? "
        "ship_on:date:unique",
    ],
    # `type` and `match` are soft keywords, `class_` a keyword's usual spelling: valid names.
    "order_items": [
        "FIELDS=label:str? weight:float amount:decimal placed_at:datetime:unique type:str:20? "
        "match:int? class_:bool=false"
    ],
    "notes": ["OWNED=yes", "CACHE=yes", "FEED=yes", "FIELDS=title:str:unique body:text?"],
    "tags": ["AUTH=public", "CACHE=yes", "FEED=yes", "FIELDS=label:str:40:unique"],
}


def snapshot(project: Path) -> dict[str, str]:
    """Every file the user owns, by content: the measure of "nothing changed"."""
    skipped = {".venv", ".git", ".mypy_cache", ".ruff_cache", ".pytest_cache", "__pycache__"}
    return {
        str(path.relative_to(project)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(project.rglob("*"))
        if path.is_file() and not skipped & set(path.relative_to(project).parts)
    }


def assert_refused(project: Path, command: list[str], message: str) -> None:
    """`command` fails with one `error:` line holding `message`, and changes no file."""
    before = snapshot(project)

    result = run(command, project, check=False)

    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    assert message in errors[0]
    assert snapshot(project) == before


def http_json(
    method: str, url: str, body: object = None, *, token: str | None = None
) -> tuple[int, Any]:
    """Call a served app as a client does: (status, the JSON body or None)."""
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read().decode()
            return response.status, json.loads(text) if text else None
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read().decode())
