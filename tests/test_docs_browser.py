"""Swagger UI and ReDoc work in a real browser with no outside network and the production headers.

Debian's Chromium (/usr/bin/chromium), driven by npm's playwright-core, refuses every request
to another origin; a page that still needed a CDN would stay blank and this would fail.
"""

import json
import os
import secrets
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest

from tests.baking import TEMPLATE_DIR, bake, run, serve
from tests.production import npm_modules

pytestmark = pytest.mark.slow
PLAYWRIGHT = "playwright-core@1.65.1"
CHROMIUM = Path("/usr/bin/chromium")


def api_path(base_url: str, suffix: str) -> str:
    """The path of the operation ending in `suffix`, wherever the API is mounted."""
    with urllib.request.urlopen(f"{base_url}/openapi.json", timeout=10) as response:
        [path] = [p for p in json.load(response)["paths"] if p.endswith(suffix)]
    return str(path)


def register(base_url: str, email: str, password: str) -> None:
    body = json.dumps({"email": email, "password": password}).encode()
    request = urllib.request.Request(
        base_url + api_path(base_url, "/auth/register"),
        data=body,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201


def test_swagger_logs_in_and_calls_the_api_offline(tmp_path: Path) -> None:
    assert CHROMIUM.exists(), "Chromium is required: apt-get install -y chromium (.ci/run does it)"
    node = shutil.which("node")
    assert node, "node is required: apt-get install -y nodejs (.ci/run does it)"
    modules = npm_modules(PLAYWRIGHT, "playwright-core/package.json")
    project = bake(tmp_path)
    env = {
        "ENVIRONMENT": "production",
        "API_DOCS": "true",  # off in production unless asked
        "SECRET_KEY": secrets.token_urlsafe(48),
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/docs.db",
    }
    run(["uv", "sync", "--locked"], project)
    run(["uv", "run", "alembic", "upgrade", "head"], project, env=env)
    email, password = "swagger@example.com", "a long browser password"

    with serve(project, env) as base_url:
        register(base_url, email, password)
        me = api_path(base_url, "/users/me")
        script = str(TEMPLATE_DIR / "tests" / "tools" / "docs_browser.cjs")
        result = subprocess.run(
            [node, script, base_url, email, password, me],
            capture_output=True,
            text=True,
            timeout=180,
            env={**os.environ, "NODE_PATH": str(modules)},
            check=False,
        )

    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    # ReDoc's bundle shows its vendor's logo from the vendor's CDN: the policy refuses it (the
    # page works without it). Anything else refused or failing is a fault.
    logo = [e for e in seen["errors"] if "cdn.redoc.ly/redoc/logo-mini.svg" in e]
    assert all("violates the following Content Security Policy" in e for e in logo)
    assert [e for e in seen["errors"] if e not in logo] == []
    assert seen["outside"] == []
    assert seen["status"] == "200"
    assert json.loads(seen["body"])["email"] == email
    assert seen["redocTitle"].startswith("My Service")
