"""Throughput and latency under wrk: the generated app against the raw Starlette limit."""

import json
import shutil
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from bench.config import CONNECTIONS, FEATURE_NAME, SERVED_ENV, UVICORN, WRK_THREADS, Config
from bench.proc import BenchError, Server, cpu_seconds, peak_rss_mib, run, say, serve
from bench.profile import profile_under_load
from bench.stats import Sample

BENCH_DIR = Path(__file__).resolve().parent
LUA_DIR = BENCH_DIR / "lua"
OPERATIONS = {
    # No database: the floor the framework and middleware set for every request.
    "GET /health/live": "health.lua",
    "GET /items/{id}": "get_id.lua",
    "GET /items?limit=20": "list.lua",
    "POST /items": "post.lua",
    "PATCH /items/{id}": "patch.lua",
}
APPS = ("generated", "raw")
# BENCH_BASELINE's app: the template at another commit, on its own copy of the rows.
BASELINE = "baseline"
# Marker frames in the generated app's stacks: how much of a GET by id each part takes.
LOAD_PHASES = {
    "ORM load: Session.get (the SELECT, rows to objects; a read sends no BEGIN)": (
        "Session.get (sqlalchemy/orm/session.py"
    ),
    "connection checkout": "SessionTransaction._connection_for_bind (",
    "pool pre-ping (PostgreSQL)": "ping (sqlalchemy/dialects",
    "commit: Session.commit": "Session.commit (sqlalchemy/orm/session.py",
    "FastAPI dependencies (session, path id; hold the ORM load's async side)": (
        "solve_dependencies ("
    ),
    "response model: validate and serialize": "serialize_response (",
    "access log line (core.logging.log_access)": "log_access (",
    "HTTP parsing (uvicorn, httptools)": "HttpToolsProtocol.data_received (",
}


@dataclass
class Cell:
    """One operation of one app on one database, over the measured runs."""

    rps: Sample = field(default_factory=Sample)
    p50_ms: Sample = field(default_factory=Sample)
    p99_ms: Sample = field(default_factory=Sample)
    # The server's CPU time per request: separates CPU-bound from waiting (handoffs, round trips).
    cpu_ms: Sample = field(default_factory=Sample)
    busy: Sample = field(default_factory=Sample)  # CPU seconds per wall second, one core = 1
    requests: int = 0
    non2xx: int = 0
    socket_errors: int = 0


@dataclass
class LoadResults:
    # cells[database][operation][app]
    cells: dict[str, dict[str, dict[str, Cell]]] = field(default_factory=dict)
    seeded: dict[str, int] = field(default_factory=dict)
    worker_rss_mib: dict[str, float] = field(default_factory=dict)
    profiles: dict[str, Path] = field(default_factory=dict)
    error_lines: dict[str, int] = field(default_factory=dict)
    # layers[database][layer]: CPU microseconds per GET by id, one value per round (layers.py)
    layers: dict[str, dict[str, Sample]] = field(default_factory=dict)
    # The same for BENCH_BASELINE's app, when the run has one (what each layer gained since)
    baseline_layers: dict[str, dict[str, Sample]] = field(default_factory=dict)


def ensure_wrk() -> str:
    """wrk must be installed beforehand: the bench never installs system packages."""
    found = shutil.which("wrk")
    if not found:
        raise BenchError("wrk is missing: install it first (apt-get install wrk; .ci/run does)")
    return found


def seed(server: Server, rows: int) -> list[str]:
    """Create `rows` items through the generated app's own POST; return their ids."""

    def create(i: int) -> str:
        body = json.dumps({"name": f"seed-{i}", "price": f"{i % 500}.50", "qty": i % 40})
        request = urllib.request.Request(
            server.url(f"/{FEATURE_NAME}"),
            data=body.encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            if response.status != 201:
                raise BenchError(f"seeding answered {response.status}")
            item_id: str = json.load(response)["id"]
            return item_id

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(create, range(rows)))


def keep_error_lines(servers: dict[str, Server], out: Path) -> int:
    """Copy what the servers logged about failed requests (4xx/5xx access lines, errors,
    tracebacks) next to the report, so a non-2xx count comes with its reason."""
    marks = ('"status": 4', '"status": 5', '"level": "error"', "Traceback", "Error")
    kept: list[str] = []
    for app, server in servers.items():
        lines = server.log.read_text(errors="replace").splitlines()
        kept += [f"[{app}] {line}" for line in lines if any(m in line for m in marks)]
    if kept:
        out.write_text("\n".join(kept[:400]) + "\n")
    return len(kept)


def lua_script(operation: str, ids: list[str], into: Path, app: str = "") -> Path:
    ids_table = "IDS = {" + ",".join(f'"{i}"' for i in ids) + "}\n"
    text = ids_table + (LUA_DIR / OPERATIONS[operation]).read_text()
    script = into / f"{app}{OPERATIONS[operation]}"
    script.write_text(text + "\n" + (LUA_DIR / "common.lua").read_text())
    return script


def wrk(url: str, script: Path, seconds: float) -> dict[str, float]:
    """One wrk run pinned to core 1; the figures its Lua `done()` printed."""
    args = ["taskset", "-c", "1", "wrk", f"-t{WRK_THREADS}", f"-c{CONNECTIONS}"]
    args += [f"-d{seconds}s", "--timeout", "10s", "-s", str(script), url]
    output = run(args, script.parent, timeout=seconds + 60).stdout
    for line in output.splitlines():
        if line.startswith("BENCH_JSON "):
            figures: dict[str, float] = json.loads(line.removeprefix("BENCH_JSON "))
            return figures
    raise BenchError(f"wrk printed no summary:\n{output}")


def measure_database(
    cfg: Config,
    name: str,
    project: Path,
    env: dict[str, str],
    work: Path,
    results: LoadResults,
    baseline: tuple[Path, dict[str, str]] | None = None,
) -> None:
    """Serve the apps on one database; alternate them run by run, so drift hits all alike.

    `baseline`: BENCH_BASELINE's project and its environment (its own database), served too.
    """
    app_env = {**SERVED_ENV, **env}
    raw_args = [*UVICORN, "raw_app:app", "--app-dir", str(BENCH_DIR)]
    with ExitStack() as stack:
        servers = {
            "generated": stack.enter_context(
                serve([*UVICORN, "main:app"], project, env=app_env, log=work / f"gen-{name}.log")
            ),
            "raw": stack.enter_context(
                serve(raw_args, project, env=app_env, log=work / f"raw-{name}.log")
            ),
        }
        if baseline is not None:
            servers[BASELINE] = stack.enter_context(
                serve(
                    [*UVICORN, "main:app"],
                    baseline[0],
                    env={**SERVED_ENV, **baseline[1]},
                    log=work / f"baseline-{name}.log",
                )
            )
        say(f"{name}: seeding {cfg.seed_rows} rows")
        ids = seed(servers["generated"], cfg.seed_rows)
        # The raw app reads the generated app's rows; the baseline has rows of its own.
        ids_of = {"generated": ids, "raw": ids}
        if baseline is not None:
            ids_of[BASELINE] = seed(servers[BASELINE], cfg.seed_rows)
        results.seeded[name] = len(ids)
        per_op = results.cells.setdefault(name, {})
        for operation in OPERATIONS:
            scripts = {app: lua_script(operation, ids_of[app], work, app) for app in servers}
            cells = per_op.setdefault(operation, {app: Cell() for app in servers})
            for app in servers if cfg.warmup_seconds else ():  # fills pools and caches
                wrk(servers[app].url(), scripts[app], cfg.warmup_seconds)
            for _ in range(cfg.load_runs):
                for app in servers:
                    cpu_before = cpu_seconds(servers[app].pid)
                    figures = wrk(servers[app].url(), scripts[app], cfg.load_seconds)
                    cpu = cpu_seconds(servers[app].pid) - cpu_before
                    cell = cells[app]
                    cell.cpu_ms.add(1000 * cpu / max(figures["requests"], 1))
                    # A run that got nothing done still has a duration; never divide by zero.
                    seconds = max(figures["duration_us"], 1) / 1e6
                    cell.busy.add(cpu / seconds)
                    cell.rps.add(figures["requests"] / seconds)
                    cell.p50_ms.add(figures["p50_us"] / 1000)
                    cell.p99_ms.add(figures["p99_us"] / 1000)
                    cell.requests += int(figures["requests"])
                    cell.non2xx += int(figures["non2xx"])
                    cell.socket_errors += int(figures["socket_errors"])
                    say(
                        f"{name} {operation} {app}: {cell.rps.values[-1]:.0f} req/s, "
                        f"p99 {cell.p99_ms.values[-1]:.1f} ms, "
                        f"{cell.cpu_ms.values[-1]:.2f} CPU ms/req, non-2xx {int(figures['non2xx'])}"
                    )
        results.worker_rss_mib[name] = peak_rss_mib(servers["generated"].pid)
        results.error_lines[name] = keep_error_lines(
            servers, cfg.out_dir / f"errors-{name.lower()}.log"
        )
        get_script = lua_script("GET /items/{id}", ids, work)
        out = cfg.out_dir / f"profile-get-by-id-{name.lower()}.txt"
        say(f"{name}: profiling the generated app under GET by id for {cfg.profile_seconds} s")
        profile_under_load(
            servers["generated"].pid,
            lambda: wrk(servers["generated"].url(), get_script, cfg.profile_seconds + 1),
            cfg.profile_seconds,
            out,
            phases=LOAD_PHASES,
        )
        results.profiles[name] = out
    # After the servers stopped, so nothing else wants the core.
    say(f"{name}: GET by id layer by layer, in one process")
    results.layers[name] = measure_layers(cfg, project, app_env, ids[0])
    if baseline is not None:
        say(f"{name}: the baseline's GET by id layer by layer")
        baseline_env = {**SERVED_ENV, **baseline[1]}
        try:
            results.baseline_layers[name] = measure_layers(
                cfg, baseline[0], baseline_env, ids_of[BASELINE][0]
            )
        except BenchError as exc:  # a baseline older than layers.py's view of an app
            say(f"{name}: no layer figures for the baseline: {str(exc)[-500:]}")


def measure_layers(
    cfg: Config, project: Path, env: dict[str, str], item_id: str
) -> dict[str, Sample]:
    """CPU per GET by id of the driver, SQLAlchemy Core, the ORM session and the whole app."""
    probe = ["taskset", "-c", "0", "uv", "run", "python", str(BENCH_DIR / "layers.py")]
    probe += [item_id, str(cfg.layer_operations), str(cfg.layer_rounds)]
    output = run(probe, project, env={**env, "PYTHONPATH": str(project)}, timeout=600).stdout
    figures: dict[str, list[float]] = json.loads(output.strip().splitlines()[-1])
    layers = {}
    for layer, values in figures.items():
        layers[layer] = sample = Sample()
        for value in values:
            sample.add(value)
    return layers
