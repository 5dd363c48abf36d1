"""`make bench-smoke`: the quick bench into a scratch directory, so the benchmark cannot rot.

It checks that every section and figure is written (the jobs' figures above zero) and that no
request failed; never speed. Each problem names its cell; the servers' lines about failed
requests are printed with them. Not part of `make test`: it is load, not correctness, and a
loaded machine can fail it.
"""

import json
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

SECTIONS = (
    "## Machine",
    "## Targets",
    "## 1. Bake",
    "## 2. make feature",
    "## 3. Fresh to green",
    "## 4. Cold start",
    "## 5. Throughput and latency",
    "### SQLite",
    "### PostgreSQL",
    "### Where a GET by id spends its CPU",
    "## 6. Background jobs",
    "## 7. Cache and change feeds",
    "## Profiles",
)
STEPS = ("Bake wall time", "make feature wall time", "Fresh to green", "Spawn to first")
LAYERS = ("driver", "SQLAlchemy Core", "ORM session", "ORM + JSON", "FastAPI app")
JOB_FIGURES = ("enqueue_p50_ms", "enqueue_p99_ms", "jobs_per_s")
JOB_ROWS = ("Enqueue p50", "Enqueue p99", "One worker draining no-op jobs")
CELLS_PER_APP = 10  # 2 databases x 5 operations; 2 apps, 3 with a baseline
CACHE_SETUPS = 3  # SQLite in process, PostgreSQL in process and on Redis
NUMBER = r"\d+(?:\.\d+)?"
SPREAD = f"{NUMBER}\N{EN DASH}{NUMBER}"


def cell_problems(results: dict[str, Any]) -> list[str]:
    """What went wrong in the load cells, one line per cell and figure."""
    found = []
    cells = results["load"]["cells"]
    count = 0
    for database, per_op in cells.items():
        for operation, per_app in per_op.items():
            for app, cell in per_app.items():
                count += 1
                name = f"{database} {operation} {app}"
                if cell["requests"] <= 0:
                    found.append(f"{name}: no request completed (0 req/s)")
                for figure in ("non2xx", "socket_errors"):
                    if cell[figure]:
                        found.append(f"{name}: {cell[figure]} {figure.replace('_', ' ')}")
                if not cell["cpu_ms"]["values"] or min(cell["cpu_ms"]["values"]) <= 0:
                    found.append(f"{name}: no server CPU time was measured")
    apps = {app for per_op in cells.values() for per_app in per_op.values() for app in per_app}
    expected = CELLS_PER_APP * max(len(apps), 2)
    if count != expected:
        found.append(f"{count} load cells, expected {expected}")
    if set(results["load"]["layers"]) != {"SQLite", "PostgreSQL"}:
        found.append(f"layer figures for {sorted(results['load']['layers'])} only")
    return found


def jobs_problems(results: dict[str, Any]) -> list[str]:
    """Jobs figures that are missing or not above zero."""
    jobs = results.get("jobs") or {}
    found = []
    for figure in JOB_FIGURES:
        values = (jobs.get(figure) or {}).get("values") or []
        if not values or min(values) <= 0:
            found.append(f"jobs: no {figure.replace('_', ' ')} was measured")
    return found


def realtime_problems(results: dict[str, Any]) -> list[str]:
    """Cache, fan-out and idle-socket figures that are missing or not above zero."""
    live = results.get("realtime") or {}
    figures = {
        f"cache {where} {name}": values
        for where, per_name in (live.get("cache") or {}).items()
        for name, values in per_name.items()
    }
    figures |= {
        f"fan-out {where} to {count} sockets {name}": values
        for where, per_count in (live.get("fanout") or {}).items()
        for count, per_name in per_count.items()
        for name, values in per_name.items()
    }
    figures["idle KiB per socket"] = live.get("idle_kib_per_socket") or {}
    found = [f"realtime: no {name} was measured" for name, sample in figures.items()
             if not sample.get("values") or min(sample["values"]) <= 0]  # fmt: skip
    if len(live.get("cache") or {}) != CACHE_SETUPS:
        found.append(f"realtime: cache figures for {sorted(live.get('cache') or {})} only")
    if sorted(live.get("fanout") or {}) != ["Redis", "in process"]:
        found.append("realtime: fan-out figures missing with or without Redis")
    return found


def report_problems(report: str, out: Path) -> list[str]:
    """Sections and figures missing from report.md, and missing chart or profiles."""
    found = [f"report.md lacks the section {s!r}" for s in SECTIONS if s not in report]
    for label in STEPS:
        if not re.search(rf"\| {label}[^|]* \| {NUMBER} s \| {SPREAD} s \|", report):
            found.append(f"report.md lacks the figure {label!r}")
    for row in JOB_ROWS:
        if not re.search(rf"\| {row} \| {NUMBER} (?:ms|jobs/s) \| {SPREAD} ", report):
            found.append(f"report.md lacks the jobs figure {row!r}")
    for layer in LAYERS:
        if not re.search(rf"\| {re.escape(layer)} \| {NUMBER} \({SPREAD}, n=2\) \| ", report):
            found.append(f"report.md lacks the layer {layer!r}")
    chart = out / "chart.png"
    if not chart.exists() or chart.stat().st_size < 10_000:
        found.append("chart.png is missing or empty")
    profiles = sorted(out.glob("profile-*.txt"))
    if len(profiles) < 3:
        found.append(f"{len(profiles)} profiles written, expected at least 3")
    for profile in profiles:  # py-spy attached and sampled
        if not re.search(r"\(\d+ busy samples\)", profile.read_text()):
            found.append(f"{profile.name} has no samples")
    return found


def server_error_lines(out: Path, limit: int = 40) -> list[str]:
    lines = []
    for log in sorted(out.glob("errors-*.log")):
        lines += [f"{log.name}: {line}" for line in log.read_text().splitlines()[:limit]]
    return lines


def main() -> int:
    # Here, not at the top: the checks above are unit-tested without matplotlib and friends.
    from bench.config import Config
    from bench.proc import BenchError
    from bench.run import bench

    os.environ["BENCH_QUICK"] = "1"
    with tempfile.TemporaryDirectory(prefix="bench-smoke-") as scratch:
        out = Path(scratch)
        try:
            bench(Config.from_env(str(out)))
        except BenchError as exc:
            print(f"bench-smoke: the quick bench failed: {exc}", file=sys.stderr)
            return 1
        results = json.loads((out / "results.json").read_text())
        report = (out / "report.md").read_text()
        problems = cell_problems(results) + jobs_problems(results) + realtime_problems(results)
        problems += report_problems(report, out)
        if not problems:
            print("bench-smoke: the quick bench wrote a full report; no request failed")
            return 0
        print("bench-smoke: FAILED", *(f"  {p}" for p in problems), sep="\n", file=sys.stderr)
        if errors := server_error_lines(out):
            print("the servers' lines about failed requests:", *errors, sep="\n", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
