"""The developer loop: bake, `make feature`, fresh to green, the suite's speed, cold start."""

import re
import shlex
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench import pg
from bench.config import (
    COOKIECUTTER,
    FEATURE_AUTH,
    FEATURE_FIELDS,
    FEATURE_NAME,
    SERVED_ENV,
    SUITE_FEATURES,
    TEMPLATE,
    UVICORN,
    Config,
)
from bench.proc import (
    BenchError,
    http_status,
    peak_rss_mib,
    run,
    say,
    serve,
    timed,
    tool_env,
)
from bench.profile import profile_command
from bench.stats import Sample

PROJECT = "my_service"
# Marker frames that say which part of a run a profiler sample belongs to.
BAKE_PHASES = {
    "importing modules": "_find_and_load (",
    "rendering files": "generate_files (",
    "running hooks": "run_script",
}
PYTEST_PHASES = {
    "start-up and conftest import": "_prepareconfig (",
    "collection (test modules imported)": "pytest_collection (",
    "running the tests": "pytest_runtestloop (",
}
PYTEST_SUMMARY = re.compile(r"(\d+) passed\b.* in ([\d.]+)s")


def bake(into: Path, *answers: str, template: Path = TEMPLATE) -> Path:
    """Bake with the defaults into `into` through the venv's cookiecutter; return the project."""
    into.mkdir(parents=True, exist_ok=True)
    run([str(COOKIECUTTER), str(template), "--no-input", "-o", str(into), *answers], into)
    return into / PROJECT


def copy_project(source: Path, into: Path) -> Path:
    """A copy of a synced project; its .venv is hard-linked (nothing here writes into it)."""
    target = into / source.name
    shutil.copytree(source, target, symlinks=True, ignore=shutil.ignore_patterns(".venv"))
    run(["cp", "-al", str(source / ".venv"), str(target / ".venv")], into)
    return target


def passed_rate(output: str) -> tuple[int, float]:
    """(tests passed, seconds) from pytest's last line, e.g. `84 passed in 8.69s`."""
    matches = PYTEST_SUMMARY.findall(output)
    if not matches:
        raise BenchError(f"no pytest summary in:\n{output[-2000:]}")
    count, seconds = matches[-1]
    return int(count), float(seconds)


@dataclass
class DevLoop:
    bake_s: Sample = field(default_factory=Sample)
    feature_s: Sample = field(default_factory=Sample)
    green_s: Sample = field(default_factory=Sample)
    green_phases: dict[str, Sample] = field(default_factory=dict)
    green_tests: int = 0
    suite_tests: dict[str, int] = field(default_factory=dict)
    suite_rate: dict[str, Sample] = field(default_factory=dict)
    cold_start_s: Sample = field(default_factory=Sample)
    cold_start_direct_s: Sample = field(default_factory=Sample)
    cold_rss_mib: Sample = field(default_factory=Sample)
    import_top: list[tuple[str, float]] = field(default_factory=list)
    profiles: dict[str, Path] = field(default_factory=dict)


def measure_bake(cfg: Config, work: Path, result: DevLoop) -> None:
    for i in range(cfg.bake_runs + 1):  # the first is the warm-up
        start = time.perf_counter()
        bake(work / f"bake-{i}")
        elapsed = time.perf_counter() - start
        if i:
            result.bake_s.add(elapsed)
        say(f"bake {i or 'warm-up'}: {elapsed:.3f} s")
    out = cfg.out_dir / "profile-bake.txt"
    into = work / "bake-profiled"
    into.mkdir()
    args = [str(COOKIECUTTER), str(TEMPLATE), "--no-input", "-o", str(into)]
    profile_command(args, into, tool_env(), out, phases=BAKE_PHASES)
    result.profiles["Bake"] = out


def measure_feature(cfg: Config, synced: Path, work: Path, result: DevLoop) -> None:
    for i in range(cfg.feature_runs + 1):
        project = copy_project(synced, work / f"feature-{i}")
        elapsed, _ = timed(
            [
                "make",
                "feature",
                f"NAME={FEATURE_NAME}",
                f"FIELDS={FEATURE_FIELDS}",
                f"AUTH={FEATURE_AUTH}",
            ],
            project,
        )
        if i:
            result.feature_s.add(elapsed)
        say(f"make feature {i or 'warm-up'}: {elapsed:.3f} s")
        shutil.rmtree(project.parent)


def measure_fresh_to_green(cfg: Config, work: Path, result: DevLoop) -> None:
    """bake → `uv sync --locked` → `make test`. Quick mode has no warm-up: setup warmed uv."""
    phases = {name: Sample() for name in ("bake", "uv sync --locked", "make test")}
    result.green_phases = phases
    first = 1 if cfg.quick else 0
    for i in range(first, cfg.green_runs + 1):
        times: list[float] = []
        start = time.perf_counter()
        project = bake(work / f"green-{i}")
        times.append(time.perf_counter() - start)
        times.append(timed(["uv", "sync", "--locked"], project)[0])
        elapsed, test = timed(["make", "test"], project)
        times.append(elapsed)
        total = time.perf_counter() - start
        result.green_tests = passed_rate(test.stdout)[0]
        if i:
            result.green_s.add(total)
            for sample, value in zip(phases.values(), times, strict=True):
                sample.add(value)
        say(f"fresh to green {i or 'warm-up'}: {total:.2f} s")
        shutil.rmtree(project.parent)


def measure_suite(cfg: Config, project: Path, result: DevLoop) -> None:
    """The generated suite (with three features) on SQLite and on a fresh PostgreSQL database,
    as `make test` runs it (pytest-xdist, a process per core)."""
    if not cfg.quick:  # pytest's assertion rewriting caches its compiled test modules
        run(["make", "test"], project)
    for backend in ("SQLite", "PostgreSQL"):
        sample = result.suite_rate.setdefault(backend, Sample())
        for _ in range(cfg.suite_runs):
            if backend == "SQLite":
                output = run(["make", "test"], project).stdout
            else:
                with pg.throwaway_database() as url:
                    output = run(["make", "test"], project, env={"TEST_DATABASE_URL": url}).stdout
            count, seconds = passed_rate(output)
            result.suite_tests[backend] = count
            sample.add(count / seconds)
            say(f"suite on {backend}: {count} passed in {seconds:.2f} s")
    if not cfg.quick:  # ten seconds more; the bake's profile keeps the quick mode honest
        out = cfg.out_dir / "profile-suite-sqlite.txt"
        args = [".venv/bin/python", "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        profile_command(args, project, tool_env(), out, phases=PYTEST_PHASES)
        result.profiles["Suite on SQLite"] = out


def measure_cold_start(cfg: Config, project: Path, work: Path, result: DevLoop) -> None:
    """Spawn to the first 200 from /health/live; then the worker's peak RSS after 200 requests."""
    for i in range(cfg.cold_runs + 1):
        with serve([*UVICORN, "main:app"], project, env=SERVED_ENV, log=work / "cold.log") as srv:
            for _ in range(100):
                srv_status = (
                    http_status(srv.port, "/health/live"),
                    http_status(srv.port, f"/{FEATURE_NAME}"),
                )
                if srv_status != (200, 200):
                    raise BenchError(f"cold-start server answered {srv_status}")
            rss = peak_rss_mib(srv.pid)
        if i:
            result.cold_start_s.add(srv.started_in)
            result.cold_rss_mib.add(rss)
        say(f"cold start {i or 'warm-up'}: {srv.started_in:.3f} s, {rss:.0f} MiB")
    # The same without `uv run` in front, to show what uv's own start-up adds.
    direct = [".venv/bin/uvicorn", *UVICORN[3:], "main:app"]
    for i in range(cfg.cold_runs + 1):
        with serve(direct, project, env=SERVED_ENV, log=work / "cold.log") as srv:
            pass
        if i:
            result.cold_start_direct_s.add(srv.started_in)
    say(f"cold start without uv run: {result.cold_start_direct_s.median:.3f} s")
    result.import_top = import_times(project)


def import_times(project: Path) -> list[tuple[str, float]]:
    """What `main` imports directly, slowest first (cumulative ms, `python -X importtime`)."""
    output = run([".venv/bin/python", "-X", "importtime", "-c", "import main"], project).stderr
    top: dict[str, float] = {}
    for line in output.splitlines():
        parts = line.split("|")
        if len(parts) != 3 or not parts[0].startswith("import time:") or "self" in parts[0]:
            continue
        name = parts[2].rstrip()
        # One space, then two per level, children before their parent: three spaces under
        # `main` is a direct import of it. Start-up imports (encodings, site) come first, at
        # the same depths under their own top-level lines, so each top-level line that is not
        # `main` discards what was gathered before it.
        if name.startswith("   ") and not name.startswith("    "):
            top[name.strip()] = int(parts[1]) / 1000
        elif not name.startswith("  "):
            if name.strip() == "main":
                top["main (in all)"] = int(parts[1]) / 1000
                break
            top.clear()
    return sorted(top.items(), key=lambda kv: kv[1], reverse=True)[:12]


def prepare_projects(work: Path) -> tuple[Path, Path, Path]:
    """A baked, synced project; a copy with the items feature, migrated on SQLite; and a copy of
    that with SUITE_FEATURES too, for the suite's speed."""
    synced = bake(work / "synced", "init_git=no")
    # As `make install` does; the copies share these .pyc files, so no run compiles jinja2.
    run(["uv", "sync", "--locked", "--compile-bytecode"], synced)
    featured = copy_project(synced, work / "featured")
    add_items(featured)
    suite = copy_project(synced, work / "suite")
    add_items(suite)
    for name, args in SUITE_FEATURES.items():
        run(["make", "feature", f"NAME={name}", *args], suite)
    run(["make", "migrate", "MSG=add the suite's features"], suite)
    return synced, featured, suite


def add_items(project: Path) -> None:
    """The items feature the load runs on, migrated (on the project's SQLite file)."""
    feature = ["make", "feature", f"NAME={FEATURE_NAME}", f"FIELDS={FEATURE_FIELDS}"]
    run([*feature, f"AUTH={FEATURE_AUTH}"], project)
    run(["make", "migrate", f"MSG=add {FEATURE_NAME}"], project)
    run(["make", "upgrade"], project)


def prepare_baseline(work: Path, commit: str) -> Path:
    """The template as it was at `commit`, baked (its own defaults), synced, with the items
    feature: the app BENCH_BASELINE compares with. (A template that had no AUTH option ignores
    it: its routes were public.)"""
    template = work / "baseline-template"
    template.mkdir()
    export = f"git -C {shlex.quote(str(TEMPLATE))} archive {shlex.quote(commit)}"
    run(["bash", "-c", f"set -o pipefail; {export} | tar -x -C {shlex.quote(str(template))}"], work)
    project = bake(work / "baseline", "init_git=no", template=template)
    run(["uv", "sync", "--locked", "--compile-bytecode"], project)
    add_items(project)
    return project


def scratch_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="paxx-bench-"))
