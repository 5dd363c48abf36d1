"""Reading a baked project's production files as data: shared by the tests that check them."""

import ast
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

# npm packages the tests run, installed once each into this cache folder.
TOOLS_DIR = Path(os.environ.get("PAXX_TOOLS_DIR", Path.home() / ".cache" / "paxx-tools"))


def npm_modules(package: str, marker: str) -> Path:
    """node_modules holding `package` (name@version), installed by npm unless `marker` is there."""
    prefix = TOOLS_DIR / package.replace("@", "-").lstrip("-")
    if not (prefix / "node_modules" / marker).exists():
        npm = shutil.which("npm")
        assert npm, f"npm is required for {package} (apt-get install -y npm; .ci/run does it)"
        subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--prefix", str(prefix), package],
            check=True,
            capture_output=True,
            timeout=300,
        )
    return prefix / "node_modules"


def load_yaml(path: Path) -> dict[Any, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict), path
    return data


def settings_fields(project: Path) -> dict[str, bool]:
    """Each `Settings` field's environment variable name, and whether it has a default."""
    tree = ast.parse((project / "settings.py").read_text())
    [cls] = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Settings"]
    return {
        node.target.id.upper(): node.value is not None
        for node in cls.body
        if isinstance(node, ast.AnnAssign)
        and isinstance(node.target, ast.Name)
        and node.target.id != "model_config"
    }


def dockerfile_instructions(project: Path) -> list[tuple[str, str]]:
    text = (project / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(maxsplit=1)[0].upper(), line.split(maxsplit=1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def make_recipe(project: Path, target: str) -> tuple[list[str], dict[str, str]]:
    """The last command of a baked Makefile target, as words, and the Makefile's `X ?= v`."""
    text = (project / "Makefile").read_text().replace("\\\n", " ")
    defaults = dict(re.findall(r"^([A-Z_]+) \?= (\S+)$", text, re.M))
    recipe = text.split(f"\n{target}:", 1)[1].split("\n\n", 1)[0]
    last = [line.strip() for line in recipe.splitlines()[1:] if line.startswith("\t")][-1]
    words = last.removeprefix("$(RUN) ").split()
    return [re.sub(r"\$\((\w+)\)", lambda m: defaults[m[1]], w) for w in words], defaults
