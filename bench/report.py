"""The markdown report: every figure with its spread, the targets, and the evidence."""

from pathlib import Path

from bench import comparisons
from bench.comparisons import GET_BY_ID, Target
from bench.config import CONNECTIONS, FEATURE_AUTH, FEATURE_FIELDS, WRK_THREADS, Config
from bench.jobs import WARMUP_ENQUEUES, WORKER, JobsResults
from bench.load import OPERATIONS, LoadResults
from bench.realtime import RealtimeResults
from bench.realtime import section as realtime_section
from bench.stats import Sample
from bench.steps import DevLoop

FINDINGS = Path(__file__).resolve().parent / "findings.md"
# The goals for a generated project's suite (three features) and for GET by id
# against the raw Starlette limit (half the limit was out of reach: bench/findings.md).
SUITE_GOAL = 50.0
RAW_GOAL = 0.2


def ratio(results: LoadResults, database: str, operation: str, app: str = "generated") -> float:
    """`app`'s req/s over raw's; NaN (shown as `nan`, a missed target) when raw did nothing."""
    cells = results.cells[database][operation]
    raw = cells["raw"].rps.median
    return cells[app].rps.median / raw if raw > 0 else float("nan")


def targets(dev: DevLoop, load: LoadResults) -> list[Target]:
    found = [
        Target("Bake", "≤ 0.5 s", dev.bake_s.show(3, " s"), dev.bake_s.median <= 0.5),
        Target("make feature", "≤ 1.0 s", dev.feature_s.show(3, " s"), dev.feature_s.median <= 1),
        Target("Fresh to green", "≤ 20 s", dev.green_s.show(1, " s"), dev.green_s.median <= 20),
        Target(
            "Suite on SQLite (three features)",
            f"≥ {SUITE_GOAL:.0f} tests/s",
            dev.suite_rate["SQLite"].show(1, " tests/s"),
            dev.suite_rate["SQLite"].median >= SUITE_GOAL,
        ),
        Target("Cold start", "≤ 1 s", dev.cold_start_s.show(3, " s"), dev.cold_start_s.median <= 1),
    ]
    for database in load.cells:
        r = ratio(load, database, GET_BY_ID)
        found.append(
            Target(
                f"GET by id, {database}",
                f"≥ {RAW_GOAL}\N{MULTIPLICATION SIGN} raw",
                f"{r:.2f}\N{MULTIPLICATION SIGN}",
                r >= RAW_GOAL,
            )
        )
    found += comparisons.targets(load)
    bad = sum(
        cell.non2xx + cell.socket_errors
        for per_op in load.cells.values()
        for cells in per_op.values()
        for cell in cells.values()
    )
    found.append(Target("Non-2xx or socket errors", "0", str(bad), bad == 0))
    return found


def _sample_row(label: str, sample: Sample, digits: int, unit: str) -> str:
    return f"| {label} | {sample.median:.{digits}f}{unit} | {sample.low:.{digits}f}\N{EN DASH}" \
        f"{sample.high:.{digits}f}{unit} | {len(sample.values)} |"  # fmt: skip


def _load_tables(load: LoadResults) -> list[str]:
    lines: list[str] = []
    for database, per_op in load.cells.items():
        lines += [
            f"### {database} ({load.seeded[database]} seeded rows)",
            "",
            "| Operation | App | req/s median (min\N{EN DASH}max) | p50 ms | p99 ms | "
            "CPU ms/request | CPU busy | requests | non-2xx | socket errors | vs raw |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for operation in OPERATIONS:
            for app, cell in per_op[operation].items():
                vs = (
                    f"{ratio(load, database, operation, app):.2f}\N{MULTIPLICATION SIGN}"
                    if app != "raw"
                    else "1\N{MULTIPLICATION SIGN}"
                )
                lines.append(
                    f"| `{operation}` | {app} | {cell.rps.show(0)} | {cell.p50_ms.show(1)} | "
                    f"{cell.p99_ms.show(1)} | {cell.cpu_ms.show(2)} | {cell.busy.median:.2f} | "
                    f"{cell.requests} | {cell.non2xx} | "
                    f"{cell.socket_errors} | {vs} |"
                )
        lines.append("")
    return lines


def _jobs_section(queue: JobsResults) -> list[str]:
    worker = " ".join(WORKER[3:])
    return [
        "## 6. Background jobs",
        "",
        f"On the real Redis ({queue.redis_url}), each run under its own throwaway key prefix "
        "(its keys deleted afterwards), with production settings (JSON logs). A no-op job "
        "(`items.noop`, listed in the manifest's `JOBS`) goes through the whole path: its own "
        "session, retry policy, log lines, the result written to Redis. *Enqueue*: "
        f"{queue.jobs_per_round} sequential `noop.enqueue(n=...)` from one process with a "
        f"started runtime, as a request handler calls it, pinned to core 1, after "
        f"{WARMUP_ENQUEUES} untimed ones; p50 and p99 per run. *Drain*: then one real worker "
        f"process (`taskset -c 0 {worker}`, as `make worker`) takes all of them; jobs per "
        "second from its first read of the queue to the last job acknowledged (start-up "
        "excluded). A benchmark, not a target.",
        "",
        "| Figure | Median | Min\N{EN DASH}max | Runs |",
        "|---|---|---|---|",
        _sample_row("Enqueue p50", queue.enqueue_p50_ms, 3, " ms"),
        _sample_row("Enqueue p99", queue.enqueue_p99_ms, 3, " ms"),
        _sample_row("One worker draining no-op jobs", queue.jobs_per_s, 0, " jobs/s"),
        "",
    ]


def render(
    cfg: Config,
    machine: dict[str, str],
    dev: DevLoop,
    load: LoadResults,
    meta: dict[str, str],
    queue: JobsResults,
    realtime: RealtimeResults,
) -> str:
    checks = targets(dev, load)
    lines = [
        "# paxx benchmark",
        "",
        f"{'Quick' if cfg.quick else 'Full'} run, {meta['started']}, {meta['elapsed']}. "
        f"Written by `make bench` ({'BENCH_QUICK=1' if cfg.quick else 'full mode'}). Every "
        "figure is the median over the measured runs after a warm-up, with "
        "min\N{EN DASH}max and the number of runs.",
        "",
        "![chart](chart.png)",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *[f"| {key} | {value} |" for key, value in machine.items()],
        "",
        "## Targets",
        "",
        "| Target | Goal | Measured | Met |",
        "|---|---|---|---|",
        *[
            f"| {t.name} | {t.goal} | {t.measured} | {'yes' if t.met else '**no**'} |"
            for t in checks
        ],
        "",
        "## 1. Bake",
        "",
        "`cookiecutter --no-input` (the venv's, absolute template path, defaults, so `git init` "
        "too) into a new temporary directory.",
        "",
        "| Figure | Median | Min\N{EN DASH}max | Runs |",
        "|---|---|---|---|",
        _sample_row("Bake wall time", dev.bake_s, 3, " s"),
        "",
        "## 2. make feature",
        "",
        f'`make feature NAME=items FIELDS="{FEATURE_FIELDS}" AUTH={FEATURE_AUTH}` (public, as the '
        "raw app it is compared with below) in a fresh copy of a baked, "
        "synced project each run.",
        "",
        "| Figure | Median | Min\N{EN DASH}max | Runs |",
        "|---|---|---|---|",
        _sample_row("make feature wall time", dev.feature_s, 3, " s"),
        "",
        "## 3. Fresh to green",
        "",
        "Bake → `uv sync --locked` (warm uv cache) → `make test` "
        f"({dev.green_tests} tests, SQLite), one wall clock.",
        "",
        "| Figure | Median | Min\N{EN DASH}max | Runs |",
        "|---|---|---|---|",
        _sample_row("Fresh to green", dev.green_s, 2, " s"),
        *[_sample_row(f"… {name}", s, 2, " s") for name, s in dev.green_phases.items()],
        "",
        "The generated suite with three features (`items`, `orders`, `notes` owned), run as "
        "`make test` runs it (pytest-xdist, a process per core, a database per process), tests "
        "per second as pytest reports them (`N passed in X s`); PostgreSQL on a throwaway "
        "database per run.",
        "",
        "| Figure | Median | Min\N{EN DASH}max | Runs |",
        "|---|---|---|---|",
        *[
            _sample_row(f"{db} ({dev.suite_tests[db]} tests)", s, 1, " tests/s")
            for db, s in dev.suite_rate.items()
        ],
        "",
        "## 4. Cold start",
        "",
        "`uv run uvicorn main:app --workers 1` (production settings, SQLite, after "
        "`make upgrade`): spawn to the first 200 from `/health/live`. Peak RSS is the worker's "
        "VmHWM after 100 requests each to `/health/live` and `/items`.",
        "",
        "| Figure | Median | Min\N{EN DASH}max | Runs |",
        "|---|---|---|---|",
        _sample_row("Spawn to first 200", dev.cold_start_s, 3, " s"),
        _sample_row("… the same without `uv run`", dev.cold_start_direct_s, 3, " s"),
        _sample_row("Worker peak RSS", dev.cold_rss_mib, 0, " MiB"),
        "",
        "What `main` imports directly, slowest first (`python -X importtime -c 'import main'`, "
        "cumulative, one run):",
        "",
        "| Module | ms |",
        "|---|---|",
        *[f"| `{name}` | {ms:.1f} |" for name, ms in dev.import_top],
        "",
        "## 5. Throughput and latency",
        "",
        "One uvicorn worker pinned to core 0 (`taskset -c 0 uv run uvicorn main:app --workers 1 "
        "--no-access-log --log-level warning`), **ENVIRONMENT=production** with a 48-character "
        "SECRET_KEY, so JSON access logging (to a file), request IDs, security headers and "
        f"trusted hosts are all on. wrk on core 1: {WRK_THREADS} threads, {CONNECTIONS} "
        f"connections, {cfg.load_seconds:g} s per run after a {cfg.warmup_seconds:g} s "
        "warm-up (0: the seeding requests were the warm-up), 127.0.0.1 only. "
        "*raw* is `bench/raw_app.py`: Starlette, the same driver "
        "(aiosqlite, 10 pooled connections / asyncpg pool of 10), hand-written SQL, no ORM, "
        "no validation, no middleware, on the same table and rows, measured in the same run, "
        "alternating with the generated app run by run. *vs raw* is the ratio of medians. "
        "*CPU ms/request* is the server process's CPU time (all threads, /proc/<pid>/stat) over "
        "the run divided by its requests; *CPU busy* is CPU seconds per wall second (1.00 = the "
        "whole core): below 1, the worker waits rather than computes. "
        "Non-2xx responses are counted by wrk's Lua `response()` hook. POST bodies are "
        "distinct per request; PATCH sets a new `qty` on a random seeded row, so concurrent "
        "writers contend for the same rows.",
        "",
        *_load_tables(load),
        *comparisons.baseline_section(load, cfg.baseline),
        "Server log lines about failed requests (4xx/5xx, errors, tracebacks): "
        + ", ".join(
            f"{db} {n}" + (f" ([errors-{db.lower()}.log](errors-{db.lower()}.log))" if n else "")
            for db, n in load.error_lines.items()
        ),
        "",
        "Generated worker's peak RSS after the load: "
        + ", ".join(f"{db} {mib:.0f} MiB" for db, mib in load.worker_rss_mib.items()),
        "",
        *comparisons.layer_table(cfg, load),
        *_jobs_section(queue),
        *realtime_section(realtime, cfg),
        "## Profiles",
        "",
        "py-spy sampling (on-CPU samples; the raw stacks are written beside each summary but not "
        "committed). Load: 200 Hz, attached to the generated app's worker while wrk drives "
        f"`GET /items/{{id}}` for {cfg.profile_seconds:g} s. Steps: 250 Hz over the whole command "
        "and its child processes; *Phases* counts the samples under a marker frame "
        "(`_find_and_load`, `generate_files`, `pytest_collection`, ...). Top of each; the whole "
        "summary is in the linked file.",
        "",
    ]
    profiles = {f"{db}, GET by id under load": p for db, p in load.profiles.items()}
    profiles.update(dev.profiles)
    for title, path in profiles.items():
        head = "\n\n".join(path.read_text().split("\n\n")[:2])
        lines += [f"### {title} ([{path.name}]({path.name}))", "", "```", head, "```", ""]
    if FINDINGS.exists() and not cfg.quick:
        lines += [FINDINGS.read_text().strip(), ""]
    return "\n".join(lines)
