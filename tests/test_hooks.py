"""The hooks' helpers, unit by unit. Baking through them is tested in test_bake.py."""

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import post_gen_project
import pre_gen_project
import pytest

from tests.baking import TEMPLATE_DIR

VALID_ANSWERS = {
    "project_name": "Order Service",
    "project_slug": "order_service",
    "description": "Takes orders.",
    "author_name": "Ada Lovelace",
    "author_email": "ada@example.com",
    "python_version": "3.12",
}


def test_valid_answers_pass() -> None:
    assert pre_gen_project.validate(VALID_ANSWERS) is None


@pytest.mark.parametrize(
    ("slug", "reason"),
    [
        ("Order", "is not a valid name"),
        ("1orders", "is not a valid name"),
        ("order-service", "is not a valid name"),
        ("_private", "is not a valid name"),
        ("", "is not a valid name"),
        ("class", "is a Python keyword"),
        ("match", "is a Python keyword"),
        ("fastapi", "would shadow the module"),
        ("sqlmodel", "would shadow the module"),
        ("alembic", "would shadow the module"),
        ("pydantic", "would shadow the module"),
        ("core", "would shadow the module"),
        ("features", "would shadow the module"),
        ("tests", "would shadow the module"),
        ("migrations", "would shadow the module"),
        ("settings", "would shadow the module"),
        ("main", "would shadow the module"),
        ("json", "would shadow the module"),
        ("typing", "would shadow the module"),
    ],
)
def test_bad_slugs_are_refused_with_a_reason(slug: str, reason: str) -> None:
    error = pre_gen_project.check_slug(slug)

    assert error is not None
    assert reason in error
    assert "\n" not in error


@pytest.mark.parametrize("email", ["ada", "ada@", "@example.com", "ada@example", "a da@x.com"])
def test_bad_emails_are_refused(email: str) -> None:
    error = pre_gen_project.check_email(email)

    assert error is not None
    assert "is not an e-mail address" in error


@pytest.mark.parametrize("version", ["3.11", "3.14", "3", "python3.12", ""])
def test_unsupported_python_versions_are_refused(version: str) -> None:
    error = pre_gen_project.check_python_version(version)

    assert error is not None
    assert "3.12, 3.13" in error
    assert "python_version=3.12" in error  # the fix, as an answer to give


@pytest.mark.parametrize("name", ['My "Service"', "back\\slash", "{{ evil }}", "   "])
def test_free_text_that_would_break_a_literal_is_refused(name: str) -> None:
    assert pre_gen_project.validate({**VALID_ANSWERS, "project_name": name}) is not None


def test_every_locked_dependency_is_a_refused_slug() -> None:
    lock = tomllib.loads((TEMPLATE_DIR / "{{cookiecutter.project_slug}}" / "uv.lock").read_text())
    locked = {
        package["name"].replace("-", "_")
        for package in lock["package"]
        if package.get("source", {}).get("virtual") != "."  # the project itself
    }

    assert locked - pre_gen_project.DEPENDENCY_NAMES == set()


def test_validate_reports_the_first_problem() -> None:
    answers = {**VALID_ANSWERS, "project_slug": "class", "author_email": "nope"}

    assert "keyword" in (pre_gen_project.validate(answers) or "")


def test_env_file_gets_a_fresh_secret(tmp_path: Path) -> None:
    (tmp_path / ".env.example").write_text("DEBUG=false\nSECRET_KEY=change-me\nOTHER=1\n")

    post_gen_project.write_env_file(tmp_path)

    env = (tmp_path / ".env").read_text()
    secret = re.search(r"^SECRET_KEY=(.*)$", env, re.MULTILINE)
    assert secret is not None
    assert secret.group(1) != "change-me"
    assert len(secret.group(1)) >= 48
    assert env.replace(secret.group(1), "change-me") == (tmp_path / ".env.example").read_text()


def test_two_projects_never_share_a_secret(tmp_path: Path) -> None:
    secrets = set()
    for name in ("a", "b"):
        project = tmp_path / name
        project.mkdir()
        (project / ".env.example").write_text("SECRET_KEY=change-me\n")
        post_gen_project.write_env_file(project)
        secrets.add((project / ".env").read_text())

    assert len(secrets) == 2


def test_an_existing_env_file_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / ".env.example").write_text("SECRET_KEY=change-me\n")
    (tmp_path / ".env").write_text("SECRET_KEY=mine\n")

    post_gen_project.write_env_file(tmp_path)

    assert (tmp_path / ".env").read_text() == "SECRET_KEY=mine\n"


def test_the_feature_template_is_copied_into_the_project(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "feature-template" / "tests").mkdir(parents=True)
    (repo / "feature-template" / "tests" / "test_routes.py-tpl").write_text("x")
    project = tmp_path / "project"
    project.mkdir()

    post_gen_project.copy_feature_template(repo, project)

    assert (project / ".feature-template" / "tests" / "test_routes.py-tpl").read_text() == "x"


def test_git_init_makes_a_repository(tmp_path: Path) -> None:
    post_gen_project.init_git(tmp_path)

    assert (tmp_path / ".git").is_dir()


def test_next_steps_name_the_project_and_the_commands(tmp_path: Path) -> None:
    text = post_gen_project.next_steps(tmp_path / "order_service")

    assert "cd order_service" in text
    for command in ("make install", "make dev", "make feature"):
        assert command in text


def test_a_relative_template_path_is_found_from_the_users_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "paxx" / "feature-template").mkdir(parents=True)
    (tmp_path / "paxx" / "cookiecutter.json").write_text("{}")
    monkeypatch.setenv("PWD", str(tmp_path))
    monkeypatch.chdir(tmp_path / "paxx")  # hooks run elsewhere; only PWD remembers the start
    answers = {"_repo_dir": "paxx", "_output_dir": "/elsewhere"}

    found = post_gen_project.find_template_repo(
        post_gen_project.template_candidates(answers, parent_cwd=None)
    )

    assert found == (tmp_path / "paxx").resolve()


def test_the_directory_the_hook_runs_from_comes_first(tmp_path: Path) -> None:
    # cruft names no directory, and its `_template` (a URL, or a path whose working copy is at
    # another commit) is not the copy being baked; the runner's own directory is.
    answers = {"_template": str(tmp_path / "checkout"), "_repo_dir": str(tmp_path / "copy")}

    candidates = post_gen_project.template_candidates(answers, parent_cwd=tmp_path / "clone")

    assert candidates == [tmp_path / "clone", tmp_path / "copy", tmp_path / "checkout"]


def test_the_parent_process_directory_is_read_from_the_system(tmp_path: Path) -> None:
    child = "import post_gen_project; print(post_gen_project.parent_working_directory())"
    parent = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {child!r}])"
    result = subprocess.run(
        [sys.executable, "-c", parent],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(TEMPLATE_DIR / "hooks")},
        capture_output=True,
        text=True,
        check=True,
    )

    assert result.stdout.strip() == str(tmp_path.resolve())


def test_an_unfindable_template_stops_with_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="cannot find feature-template/"):
        post_gen_project.find_template_repo([tmp_path / "missing"])


def test_the_record_holds_the_template_its_version_and_the_public_answers(
    tmp_path: Path,
) -> None:
    answers = {
        **VALID_ANSWERS,
        "init_git": True,
        "_template": "gh:org/template",
        "_template_version": "1.2.3",
        "_output_dir": "/home/someone",  # differs machine to machine: not recorded
    }

    post_gen_project.write_template_record(tmp_path, answers)

    record = json.loads((tmp_path / ".template.json").read_text())
    assert record == {
        "template": "gh:org/template",
        "version": "1.2.3",
        "answers": {**VALID_ANSWERS, "init_git": True},
    }
