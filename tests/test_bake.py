"""Baking: every option value, the files it yields, and every refusal leaving nothing behind."""

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from cookiecutter.main import cookiecutter

from tests.baking import TEMPLATE_DIR, bake, bake_cli, leftover_jinja, scratch_template

OPTIONS = json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text())
# Any Jinja at all: a variable, a tag or a comment.
JINJA = re.compile(r"\{\{|\{%|\{#")


def test_every_option_is_baked_by_this_suite() -> None:
    # Fails when an option is added to cookiecutter.json until a test here bakes its values.
    assert set(OPTIONS) == {
        "project_name",
        "project_slug",
        "description",
        "author_name",
        "author_email",
        "python_version",  # 3.12 and 3.13: test_python_version_is_pinned_for_uv
        "init_git",  # both values: test_init_git_*
        "_template_version",  # test_every_bake_records_the_template_version
        "_copy_without_render",  # test_files_copied_without_rendering_hold_no_jinja
        "__prompts__",
    }
    # A choice; the first is the default (3.13: its served GET by id takes 10-13 % less CPU).
    assert OPTIONS["python_version"] == ["3.13", "3.12"]
    assert OPTIONS["init_git"] is True


@pytest.mark.parametrize("python_version", ["3.12", "3.13"])
def test_python_version_is_pinned_for_uv(tmp_path: Path, python_version: str) -> None:
    project = bake(tmp_path, python_version=python_version)

    assert (project / ".python-version").read_text().strip() == python_version
    assert leftover_jinja(project) == []


def test_default_bake_has_the_designed_layout(tmp_path: Path) -> None:
    project = bake(tmp_path, project_name="Order Service")

    assert project.name == "order_service"
    for path in (
        "main.py",
        "settings.py",
        "conftest.py",
        "core/database.py",
        "core/exceptions.py",
        "core/dependencies.py",
        "core/schemas.py",
        "core/middleware.py",
        "core/health.py",
        "features/__init__.py",
        "features/registry.py",
        "migrations/env.py",
        "migrations/script.py.mako",
        "alembic.ini",
        "tests/test_health.py",
        "Makefile",
        "pyproject.toml",
        "uv.lock",
        ".env.example",
        ".env",
        ".gitignore",
        ".python-version",
        "README.md",
        ".feature-template",
    ):
        assert (project / path).exists(), path
    assert leftover_jinja(project) == []


def test_names_are_rendered_where_they_belong(tmp_path: Path) -> None:
    project = bake(tmp_path, project_name="Order Service", author_email="ada@example.com")

    assert 'name = "order_service"' in (project / "pyproject.toml").read_text()
    assert 'name = "order-service"' in (project / "uv.lock").read_text()
    assert '"Order Service"' in (project / "settings.py").read_text()
    assert "ada@example.com" in (project / "pyproject.toml").read_text()


def test_env_file_has_a_real_secret_and_is_ignored_by_git(tmp_path: Path) -> None:
    project = bake(tmp_path)

    env = (project / ".env").read_text()
    secret = re.search(r"^SECRET_KEY=(.+)$", env, re.MULTILINE)
    assert secret is not None
    assert secret.group(1) != "change-me"
    assert len(secret.group(1)) >= 48
    assert ".env" in (project / ".gitignore").read_text().splitlines()


def test_init_git_yes_makes_a_repository_that_ignores_the_env_file(tmp_path: Path) -> None:
    project = bake(tmp_path, init_git=True)

    assert (project / ".git").is_dir()
    ignored = subprocess.run(
        ["git", "check-ignore", ".env"], cwd=project, capture_output=True, check=False
    )
    assert ignored.returncode == 0


def test_init_git_no_leaves_git_alone(tmp_path: Path) -> None:
    project = bake(tmp_path, init_git=False)

    assert not (project / ".git").exists()


def test_every_bake_records_the_template_version(tmp_path: Path) -> None:
    version = tomllib.loads((TEMPLATE_DIR / "pyproject.toml").read_text())["project"]["version"]
    changelog = (TEMPLATE_DIR / "CHANGELOG.md").read_text()

    project = bake(tmp_path)

    assert OPTIONS["_template_version"] == version  # one number, in the two places tools read
    assert re.search(rf"^## {re.escape(version)} ", changelog, re.MULTILINE), "no CHANGELOG entry"
    record = json.loads((project / ".template.json").read_text())
    assert record["version"] == version
    assert record["template"] == str(TEMPLATE_DIR)
    assert record["answers"]["project_slug"] == "my_service"


def test_no_baked_file_mentions_paxx(tmp_path: Path) -> None:
    project = bake(tmp_path)

    for path in project.rglob("*"):
        if path.name == ".template.json":
            continue  # names the template, wherever it came from
        if path.is_file() and ".git" not in path.parts:
            assert "paxx" not in path.read_text(errors="ignore").lower(), path


def test_baking_through_the_cli_prints_next_steps(tmp_path: Path) -> None:
    result = bake_cli(tmp_path, "project_name=Billing", "init_git=no")

    assert result.returncode == 0, result.stderr
    assert "cd billing" in result.stdout
    assert "make dev" in result.stdout


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        (["project_slug=Bad-Slug"], "project_slug 'Bad-Slug' is not a valid name"),
        (["project_slug=class"], "project_slug 'class' is a Python keyword"),
        (["project_slug=fastapi"], "project_slug 'fastapi' would shadow the module"),
        (["project_slug=core"], "project_slug 'core' would shadow the module"),
        (["project_slug=json"], "project_slug 'json' would shadow the module"),
        (["author_email=not-an-email"], "author_email 'not-an-email' is not an e-mail address"),
        (['project_name=Say "hi"'], "project_name 'Say \"hi\"' contains"),
    ],
)
def test_bad_input_fails_with_one_clear_line_and_leaves_nothing(
    tmp_path: Path, answers: list[str], message: str
) -> None:
    result = bake_cli(tmp_path, *answers)

    assert result.returncode != 0
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(error_lines) == 1, result.stderr
    assert message in error_lines[0]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ("python_version=3.11", "python_version, but the choices are ['3.13', '3.12']"),
        ("init_git=maybe", "maybe provided for variable init_git could not be converted"),
    ],
)
def test_a_bad_choice_is_refused_before_anything_is_written(
    tmp_path: Path, answer: str, message: str
) -> None:
    # cookiecutter itself refuses these, before any hook runs, with a traceback that we cannot
    # suppress; its last line names the question and the values it takes.
    result = bake_cli(tmp_path, answer)

    assert result.returncode != 0
    assert message in result.stderr.strip().splitlines()[-1]
    assert list(tmp_path.iterdir()) == []


def test_an_existing_directory_is_not_overwritten(tmp_path: Path) -> None:
    first = bake_cli(tmp_path, "project_name=Billing", "init_git=no")
    assert first.returncode == 0
    (tmp_path / "billing" / "main.py").write_text("# mine\n")

    second = bake_cli(tmp_path, "project_name=Billing", "init_git=no")

    assert second.returncode != 0
    assert "already exists" in second.stdout + second.stderr
    assert (tmp_path / "billing" / "main.py").read_text() == "# mine\n"


def test_every_python_file_in_the_repo_is_valid_python_before_rendering() -> None:
    sources = [
        p
        for p in TEMPLATE_DIR.rglob("*.py")
        if not {".venv", "build"} & set(p.relative_to(TEMPLATE_DIR).parts)
    ]
    assert len(sources) > 20
    for path in sources:
        compile(path.read_text(), str(path), "exec")


def test_files_copied_without_rendering_hold_no_jinja() -> None:
    # Copying the files no Jinja touches makes the bake a quarter faster; a file that gains
    # Jinja must leave the list, or its tags would reach the baked project as they are.
    project_template = TEMPLATE_DIR / "{{cookiecutter.project_slug}}"
    copied: list[Path] = []
    for pattern in OPTIONS["_copy_without_render"]:
        path = project_template / pattern
        assert path.exists(), f"{pattern} in _copy_without_render names nothing"
        files = path.rglob("*") if path.is_dir() else [path]
        # Bytecode a test run left in this checkout is no template file (the bake drops it).
        copied += [p for p in files if p.is_file() and "__pycache__" not in p.parts]
    assert len(copied) > 100
    holding_jinja = [
        str(p.relative_to(project_template))
        for p in copied
        if JINJA.search(p.read_text(errors="replace"))
    ]
    assert holding_jinja == []


def test_a_template_given_as_a_relative_path_bakes_from_anywhere(tmp_path: Path) -> None:
    parent = TEMPLATE_DIR.parent
    args = [TEMPLATE_DIR.name, "--no-input", "init_git=no", "-o", str(tmp_path)]
    result = subprocess.run(
        [sys.executable, "-m", "cookiecutter", *args],
        cwd=parent,
        env={**os.environ, "PWD": str(parent)},  # as a shell sets it
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert (tmp_path / "my_service" / ".feature-template").is_dir()


def test_a_bake_from_a_checkout_whose_code_ran_ships_no_bytecode(tmp_path: Path) -> None:
    template = scratch_template(tmp_path / "template")
    for cache in ("{{cookiecutter.project_slug}}/scripts", "feature-template"):
        (template / cache / "__pycache__").mkdir()
        (template / cache / "__pycache__" / "spec.cpython-313.pyc").write_bytes(b"\x00{{")

    options = {"no_input": True, "extra_context": {"init_git": False}}
    project = Path(cookiecutter(str(template), output_dir=str(tmp_path), **options))

    assert (project / "scripts" / "spec.py").is_file()
    assert list(project.rglob("__pycache__")) == []
