"""Finish a freshly baked project. Runs inside it; works offline."""

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

PLACEHOLDER_SECRET_LINE = re.compile(r"^SECRET_KEY=.*$", re.MULTILINE)
FEATURE_TEMPLATE_DIR = "feature-template"
# Where `make feature` finds its templates: hidden, so linters, mypy and pytest skip it.
BAKED_FEATURE_TEMPLATE_DIR = ".feature-template"


def write_env_file(project: Path) -> None:
    """Copy `.env.example` to `.env` with a fresh secret (never overwrite an existing `.env`)."""
    env_file = project / ".env"
    if env_file.exists():
        return
    example = (project / ".env.example").read_text()
    secret = secrets.token_urlsafe(48)
    env_file.write_text(PLACEHOLDER_SECRET_LINE.sub(f"SECRET_KEY={secret}", example, count=1))


def find_template_repo(repo_dir: str, output_dir: str) -> Path:
    """The template's own directory, which cookiecutter names relative to where it was started.

    A local template given as a relative path (`cookiecutter .`) is relative to the user's
    working directory, which this hook (running inside the new project) no longer has.
    """
    candidates = [Path(repo_dir)]
    if not Path(repo_dir).is_absolute():
        candidates = [Path(base) / repo_dir for base in (os.environ.get("PWD", ""), output_dir)]
    for candidate in candidates:
        if (candidate / FEATURE_TEMPLATE_DIR).is_dir():
            return candidate.resolve()
    raise SystemExit(
        f"error: cannot find {FEATURE_TEMPLATE_DIR}/ of the template {repo_dir!r}; "
        "give the template as an absolute path."
    )


def copy_feature_template(template_repo: Path, project: Path) -> None:
    """Ship the feature template inside the project, so `make feature` works on its own."""
    shutil.copytree(template_repo / FEATURE_TEMPLATE_DIR, project / BAKED_FEATURE_TEMPLATE_DIR)


def init_git(project: Path) -> None:
    if shutil.which("git") is None:
        print("note: git is not installed; skipped `git init`.", file=sys.stderr)
        return
    subprocess.run(
        ["git", "init", "--quiet", "--initial-branch=main", str(project)],
        check=True,
    )


def next_steps(project: Path) -> str:
    return (
        f"\nCreated {project.name}. Next:\n"
        f"  cd {project.name}\n"
        "  make install   # uv sync: the app and its dev tools\n"
        "  make dev       # http://127.0.0.1:8000/docs on the embedded SQLite\n"
        "  make feature NAME=orders   # add a CRUD feature\n"
        "  make help      # every command\n"
    )


def main() -> int:
    answers = json.loads(r"""{{ cookiecutter | tojson }}""")
    project = Path.cwd()
    write_env_file(project)
    template_repo = find_template_repo(answers["_repo_dir"], answers["_output_dir"])
    copy_feature_template(template_repo, project)
    if answers["init_git"] is True:
        init_git(project)
    print(next_steps(project))
    return 0


if __name__ == "__main__":
    sys.exit(main())
