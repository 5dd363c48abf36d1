"""A baked project records where it came from and takes the template's later changes (cruft)."""

import json
import sys
import zipfile
from pathlib import Path

from tests.baking import GIT_IDENTITY, git, run, scratch_template

CRUFT = str(Path(sys.executable).parent / "cruft")
COOKIECUTTER = str(Path(sys.executable).parent / "cookiecutter")
TEMPLATE_VERSION = json.loads(
    (Path(__file__).resolve().parent.parent / "cookiecutter.json").read_text()
)["_template_version"]


def record(project: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((project / ".template.json").read_text())
    return data


def cruft_create(
    template: Path | str, out: Path, env: dict[str, str] | None = None, **answers: object
) -> Path:
    context = json.dumps({"project_name": "Billing", **answers})
    run([CRUFT, "create", str(template), "--no-input", "--output-dir", str(out),
         "--extra-context", context], out.parent, env=env)  # fmt: skip
    return out / "billing"


def test_cruft_create_from_a_git_url_records_the_template_and_ships_the_feature_template(
    tmp_path: Path,
) -> None:
    # A remote URL (git maps it to a local repository, offline): cruft's context then names no
    # local directory, so the hook must find cruft's temporary clone by itself.
    template = scratch_template(tmp_path / "template")
    url = "https://git.example.invalid/template"
    git_maps_the_url = {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": f"url.file://{template}.insteadOf",
        "GIT_CONFIG_VALUE_0": url,
    }

    project = cruft_create(url, tmp_path / "out", env=git_maps_the_url, init_git=False)

    cruft_state = json.loads((project / ".cruft.json").read_text())
    assert cruft_state["template"] == url
    assert record(project)["template"] == url
    assert cruft_state["context"]["cookiecutter"]["_template_version"] == TEMPLATE_VERSION
    assert record(project)["version"] == TEMPLATE_VERSION
    assert record(project)["answers"] == {
        "project_name": "Billing",
        "project_slug": "billing",
        "description": "A FastAPI service.",
        "author_name": "Your Name",
        "author_email": "you@example.com",
        "python_version": "3.13",
        "init_git": False,
    }
    assert (project / ".feature-template").is_dir()


def test_cruft_update_takes_a_template_change_and_leaves_per_bake_files(tmp_path: Path) -> None:
    template = scratch_template(tmp_path / "template")
    project = cruft_create(template, tmp_path / "out")  # init_git: yes, as cruft needs
    git(["add", "-A"], project)
    git(["commit", "--quiet", "-m", "bake"], project)
    env_before = (project / ".env").read_text()
    # The user's own work, in a file the template change does not touch.
    readme = project / "README.md"
    readme.write_text(readme.read_text() + "\nOur own notes.\n")
    git(["commit", "--quiet", "-am", "notes"], project)
    # A new template version: a change to a baked file and to the feature template.
    options = json.loads((template / "cookiecutter.json").read_text())
    options["_template_version"] = "99.0.0"
    (template / "cookiecutter.json").write_text(json.dumps(options, indent=2) + "\n")
    health = template / "{{cookiecutter.project_slug}}" / "core" / "health.py"
    health.write_text(health.read_text() + "\n# A change from the template.\n")
    feature_templates = sorted((template / "feature-template").rglob("*-tpl"))
    feature_templates[0].write_text(feature_templates[0].read_text() + "\n# From the template.\n")
    git(["commit", "--quiet", "-am", "template 99.0.0"], template)

    result = run([CRUFT, "update", "--skip-apply-ask"], project, env=GIT_IDENTITY)

    assert (project / "core" / "health.py").read_text().endswith("# A change from the template.\n")
    baked_copy = (
        project
        / ".feature-template"
        / feature_templates[0].relative_to(template / "feature-template")
    )
    assert baked_copy.read_text().endswith("# From the template.\n")
    assert record(project)["version"] == "99.0.0"
    assert (project / ".env").read_text() == env_before
    assert readme.read_text().endswith("\nOur own notes.\n")
    # Modified (staged or not), nothing else: no conflict, no new or deleted file.
    status = git(["status", "--porcelain"], project).splitlines()
    assert all("M" in line[:2] and "U" not in line[:2] for line in status), status
    assert sorted(line[3:] for line in status) == sorted(
        [".cruft.json", ".template.json", "core/health.py", str(baked_copy.relative_to(project))]
    ), result.stdout + result.stderr
    assert not list(project.rglob("*.rej"))


def test_cookiecutter_from_a_git_url_ships_the_feature_template(tmp_path: Path) -> None:
    template = scratch_template(tmp_path / "template.git")
    config = tmp_path / "config.yaml"
    config.write_text(f"cookiecutters_dir: {tmp_path / 'clones'}\nreplay_dir: {tmp_path}\n")

    run([COOKIECUTTER, f"file://{template}", "--no-input", "--config-file", str(config),
         "-o", str(tmp_path / "out"), "init_git=no"], tmp_path)  # fmt: skip

    project = tmp_path / "out" / "my_service"
    assert (project / ".feature-template").is_dir()
    assert record(project)["template"] == f"file://{template}"


def test_cookiecutter_from_a_zip_ships_the_feature_template(tmp_path: Path) -> None:
    template = scratch_template(tmp_path / "paxx-main")
    archive = tmp_path / "template.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.write(template, template.name)  # cookiecutter wants the top directory first
        for path in sorted(template.rglob("*")):
            if ".git" not in path.relative_to(template).parts:
                zipped.write(path, path.relative_to(tmp_path))
    config = tmp_path / "config.yaml"
    config.write_text(f"cookiecutters_dir: {tmp_path / 'clones'}\nreplay_dir: {tmp_path}\n")

    run([COOKIECUTTER, str(archive), "--no-input", "--config-file", str(config),
         "-o", str(tmp_path / "out"), "init_git=no"], tmp_path)  # fmt: skip

    assert (tmp_path / "out" / "my_service" / ".feature-template").is_dir()
