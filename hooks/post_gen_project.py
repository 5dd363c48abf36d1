"""Finish a freshly baked project. Runs inside it; works offline."""

import contextlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

PLACEHOLDER_SECRET_LINE = re.compile(r"^SECRET_KEY=.*$", re.MULTILINE)
FEATURE_TEMPLATE_DIR = "feature-template"
# Where `make feature` finds its templates: hidden, so linters, mypy and pytest skip it.
BAKED_FEATURE_TEMPLATE_DIR = ".feature-template"
# The template, its version and the answers; see write_template_record().
TEMPLATE_RECORD = ".template.json"


def write_env_file(project: Path) -> None:
    """Copy `.env.example` to `.env` with a fresh secret (never overwrite an existing `.env`)."""
    env_file = project / ".env"
    if env_file.exists():
        return
    example = (project / ".env.example").read_text()
    secret = secrets.token_urlsafe(48)
    env_file.write_text(PLACEHOLDER_SECRET_LINE.sub(f"SECRET_KEY={secret}", example, count=1))


def parent_working_directory() -> Path | None:
    """The directory the process that runs this hook stands in, if the system says.

    cookiecutter and cruft both run hooks from inside the template's directory (for a git URL
    or a zip: the temporary clone or extraction), while the hook itself runs in the new project.
    cruft's context does not name that directory; this is how to find it there.
    """
    parent = os.getppid()
    with contextlib.suppress(OSError):
        return Path(os.readlink(f"/proc/{parent}/cwd"))  # Linux
    with contextlib.suppress(OSError, subprocess.SubprocessError):  # macOS and other BSDs
        listing = subprocess.run(
            ["lsof", "-a", "-p", str(parent), "-d", "cwd", "-Fn"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
        for line in listing.splitlines():
            if line.startswith("n/"):
                return Path(line[1:])
    return None


def template_candidates(answers: Mapping[str, Any], parent_cwd: Path | None) -> list[Path]:
    """Where the template may be, most reliable first.

    cookiecutter names its copy in `_repo_dir`; cruft does not (it has only `_template`, the
    URL or path it was given). A relative path is relative to the user's working directory,
    which this hook (running inside the new project) no longer has, but a shell's PWD remembers.
    """
    candidates = [parent_cwd] if parent_cwd else []
    for given in (answers.get("_repo_dir"), answers.get("_template")):
        if not isinstance(given, str) or not given:
            continue
        path = Path(given).expanduser()
        if path.is_absolute():
            candidates.append(path)
        else:
            bases = (os.environ.get("PWD", ""), str(answers.get("_output_dir", "")))
            candidates += [Path(base) / path for base in bases if base]
    return candidates


def find_template_repo(candidates: list[Path]) -> Path:
    for candidate in candidates:
        if (candidate / FEATURE_TEMPLATE_DIR).is_dir() and (
            candidate / "cookiecutter.json"
        ).is_file():
            return candidate.resolve()
    tried = ", ".join(str(c) for c in candidates) or "nothing"
    raise SystemExit(
        f"error: cannot find {FEATURE_TEMPLATE_DIR}/ of the template (tried {tried}); "
        "give the template as an absolute path."
    )


def write_template_record(project: Path, answers: Mapping[str, Any]) -> None:
    """Record what the project was baked from: the template, its version and the answers.

    The same answers give the same file, so a `cruft update` changes only the version line.
    """
    record = {
        "template": answers.get("_template"),
        "version": answers["_template_version"],
        "answers": {key: value for key, value in answers.items() if not key.startswith("_")},
    }
    (project / TEMPLATE_RECORD).write_text(json.dumps(record, indent=2) + "\n")


def copy_feature_template(template_repo: Path, project: Path) -> None:
    """Ship the feature template inside the project, so `make feature` works on its own."""
    shutil.copytree(
        template_repo / FEATURE_TEMPLATE_DIR,
        project / BAKED_FEATURE_TEMPLATE_DIR,
        ignore=shutil.ignore_patterns("__pycache__"),
    )


def remove_bytecode(project: Path) -> None:
    """Drop the `__pycache__` directories cookiecutter copied from a template checkout whose
    code ran (its tests import the project's scripts): another checkout's bytecode, which git
    ignores there and would not ignore in an archive or image built from the project."""
    for cache in sorted(project.rglob("__pycache__"), reverse=True):
        shutil.rmtree(cache)


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
    remove_bytecode(project)
    write_env_file(project)
    write_template_record(project, answers)
    template_repo = find_template_repo(template_candidates(answers, parent_working_directory()))
    copy_feature_template(template_repo, project)
    if answers["init_git"] is True:
        init_git(project)
    print(next_steps(project))
    return 0


if __name__ == "__main__":
    sys.exit(main())
