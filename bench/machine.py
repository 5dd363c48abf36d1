"""What the numbers were measured on."""

import os
import platform
import subprocess
from pathlib import Path

from bench import pg
from bench.config import TEMPLATE
from bench.proc import run

PACKAGES = ("fastapi", "starlette", "sqlmodel", "sqlalchemy", "pydantic", "uvicorn", "uvloop",
            "httptools", "structlog", "aiosqlite", "asyncpg", "pytest")  # fmt: skip


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _memory_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 1024**2
    return float("nan")


def _os_name() -> str:
    for line in Path("/etc/os-release").read_text().splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip('"')
    return platform.system()


def _first_line(args: list[str]) -> str:
    result = subprocess.run(args, capture_output=True, text=True, check=False)
    return (
        (result.stdout or result.stderr).strip().splitlines()[0] if result.returncode < 2 else "?"
    )


def template_version() -> str:
    """The commit the bench baked, and whether the checkout differed from it (bench/results,
    which the bench itself rewrites, aside)."""
    git = ["git", "-C", str(TEMPLATE)]
    head = subprocess.run(
        [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    )
    if head.returncode != 0:
        return "not a git checkout"
    changed = subprocess.run(
        [*git, "status", "--porcelain", "--", ".", ":!bench/results"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return head.stdout.strip() + (" with uncommitted changes" if changed else "")


def describe(project: Path, baseline: Path | None = None) -> dict[str, str]:
    """Machine, OS, tools and the baked project's package versions (and the baseline's
    Python, which its own template chose)."""
    script = (
        "import importlib.metadata as m, platform\n"
        "print('python', platform.python_version())\n"
        f"for p in {PACKAGES!r}:\n"
        "    print(p, m.version(p))\n"
    )
    versions = run([".venv/bin/python", "-c", script], project).stdout
    info = {
        "Template commit": template_version(),
        "CPU": f"{_cpu_model()}, {os.cpu_count()} cores",
        "Memory": f"{_memory_gib():.1f} GiB",
        "OS": f"{_os_name()}, Linux {platform.release()}",
        "Load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "PostgreSQL": pg.server_version(),
        "wrk": _first_line(["wrk", "--version"]).split(" [")[0],
        "uv": run(["uv", "--version"], project).stdout.strip(),
        "PYTHONDONTWRITEBYTECODE": (
            "set here; dropped for every measured command (bytecode is cached, as on a "
            "developer's machine)"
            if os.environ.get("PYTHONDONTWRITEBYTECODE")
            else "not set"
        ),
    }
    for line in versions.splitlines():
        name, version = line.split(" ", 1)
        info["Python (baked project)" if name == "python" else name] = version
    if baseline is not None:
        python = run([".venv/bin/python", "--version"], baseline).stdout.split()[-1]
        info["Python (baseline project)"] = python
    return info
