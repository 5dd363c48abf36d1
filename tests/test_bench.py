"""The bench's own checks and arithmetic, without running it (`make bench-smoke` runs it)."""

import dataclasses
import math
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bench import comparisons, machine, profile, report, smoke
from bench.config import Config
from bench.load import APPS, OPERATIONS, Cell, LoadResults
from bench.stats import Sample


def cells_json(**broken: Any) -> dict[str, Any]:
    """results.json's load part: every cell healthy, but those named `<db>|<op>|<app>`."""
    cells: dict[str, Any] = {}
    for database in ("SQLite", "PostgreSQL"):
        for operation in OPERATIONS:
            for app in APPS:
                cell = {"requests": 100, "non2xx": 0, "socket_errors": 0, "cpu_ms": {"values": [1]}}
                cell.update(broken.get(f"{database}|{operation}|{app}", {}))
                cells.setdefault(database, {}).setdefault(operation, {})[app] = cell
    return {"load": {"cells": cells, "layers": {"SQLite": {}, "PostgreSQL": {}}}}


def test_healthy_cells_pass() -> None:
    assert smoke.cell_problems(cells_json()) == []


def test_a_failing_cell_is_named() -> None:
    results = cells_json(
        **{
            "PostgreSQL|POST /items|generated": {"requests": 0, "cpu_ms": {"values": [0]}},
            "SQLite|GET /items/{id}|raw": {"non2xx": 26},
        }
    )

    assert smoke.cell_problems(results) == [
        "SQLite GET /items/{id} raw: 26 non2xx",
        "PostgreSQL POST /items generated: no request completed (0 req/s)",
        "PostgreSQL POST /items generated: no server CPU time was measured",
    ]


def test_a_cell_at_zero_requests_per_second_does_not_break_the_report() -> None:
    load = LoadResults()
    load.cells["SQLite"] = {op: {app: Cell() for app in APPS} for op in OPERATIONS}
    for op in OPERATIONS:
        load.cells["SQLite"][op]["generated"].rps.add(100.0)
        load.cells["SQLite"][op]["raw"].rps.add(0.0)

    assert math.isnan(report.ratio(load, "SQLite", "GET /items/{id}"))


def test_an_incomplete_report_is_described(tmp_path: Path) -> None:
    problems = smoke.report_problems("## Machine\n", tmp_path)

    assert "report.md lacks the section '## Targets'" in problems
    assert "chart.png is missing or empty" in problems


def test_the_servers_error_lines_come_with_the_problems(tmp_path: Path) -> None:
    (tmp_path / "errors-sqlite.log").write_text('[generated] {"status": 500}\n')

    assert smoke.server_error_lines(tmp_path) == ['errors-sqlite.log: [generated] {"status": 500}']


def test_missing_or_zero_jobs_figures_are_named() -> None:
    measured = {"values": [1.5]}
    results = {"jobs": {"enqueue_p50_ms": measured, "enqueue_p99_ms": {"values": [0.0]}}}

    assert smoke.jobs_problems(results) == [
        "jobs: no enqueue p99 ms was measured",
        "jobs: no jobs per s was measured",
    ]
    assert smoke.jobs_problems({}) == [
        "jobs: no enqueue p50 ms was measured",
        "jobs: no enqueue p99 ms was measured",
        "jobs: no jobs per s was measured",
    ]
    figures = dict.fromkeys(smoke.JOB_FIGURES, measured)
    assert smoke.jobs_problems({"jobs": figures}) == []


def test_a_report_without_the_jobs_figures_is_described(tmp_path: Path) -> None:
    problems = smoke.report_problems("## 6. Background jobs\n", tmp_path)
    row = "| One worker draining no-op jobs | 512 jobs/s | 490\N{EN DASH}593 jobs/s | 2 |"

    assert "report.md lacks the jobs figure 'Enqueue p99'" in problems
    assert "report.md lacks the jobs figure 'One worker draining no-op jobs'" in problems
    assert "report.md lacks the jobs figure 'One worker draining no-op jobs'" not in (
        smoke.report_problems(row, tmp_path)
    )


def loaded(**cpu_ms: float) -> LoadResults:
    """One database's cells with these apps' CPU ms per request, every operation alike."""
    load = LoadResults()
    load.cells["SQLite"] = {op: {app: Cell() for app in cpu_ms} for op in OPERATIONS}
    for op in OPERATIONS:
        for app, value in cpu_ms.items():
            load.cells["SQLite"][op][app].cpu_ms.add(value)
    return load


def test_the_baseline_ratio_is_the_cpu_now_over_then() -> None:
    load = loaded(generated=0.7, raw=0.2, baseline=1.0)

    by_name = {target.name: target for target in comparisons.targets(load)}

    assert comparisons.cpu_ratio(load, "SQLite", "GET /items/{id}") == 0.7
    assert by_name["GET by id CPU vs baseline, SQLite"].met
    assert by_name["`POST /items` CPU vs baseline, SQLite"].met
    assert not comparisons.targets(loaded(generated=0.8, raw=0.2, baseline=1.0))[0].met


def test_without_a_baseline_there_is_no_comparison() -> None:
    load = loaded(generated=0.7, raw=0.2)

    assert math.isnan(comparisons.cpu_ratio(load, "SQLite", "GET /items/{id}"))
    assert comparisons.targets(load) == []
    assert comparisons.baseline_section(load, None) == []


def test_the_app_layer_is_the_whole_app_over_orm_and_json() -> None:
    layers = {"ORM + JSON": Sample([600.0]), "FastAPI app": Sample([900.0, 800.0, 850.0])}

    assert comparisons.app_layer_us(layers) == 250.0


def test_a_baseline_makes_ten_more_cells_to_expect() -> None:
    results = cells_json()
    for per_op in results["load"]["cells"].values():
        for per_app in per_op.values():
            per_app["baseline"] = dict(per_app["generated"])

    assert smoke.cell_problems(results) == []
    del results["load"]["cells"]["SQLite"]["POST /items"]["baseline"]
    assert smoke.cell_problems(results) == ["29 load cells, expected 30"]


def test_missing_or_zero_cache_and_feed_figures_are_named() -> None:
    one = {"values": [1.0]}
    healthy = {
        "cache": {where: {"hit": one, "miss": one} for where in ("a", "b", "c")},
        "fanout": {where: {"1": {"last_ms": one}} for where in ("Redis", "in process")},
        "idle_kib_per_socket": one,
    }
    broken = {
        "cache": {"a": {"hit": one, "miss": {"values": [0.0]}}},
        "fanout": {"Redis": {"100": {"last_ms": {"values": []}}}},
    }

    assert smoke.realtime_problems({"realtime": healthy}) == []
    assert smoke.realtime_problems({"realtime": broken}) == [
        "realtime: no cache a miss was measured",
        "realtime: no fan-out Redis to 100 sockets last_ms was measured",
        "realtime: no idle KiB per socket was measured",
        "realtime: cache figures for ['a'] only",
        "realtime: fan-out figures missing with or without Redis",
    ]


def test_the_layer_table_as_written_is_found_by_the_smoke_check(tmp_path: Path) -> None:
    load = loaded(generated=1.0, raw=0.2)
    load.layers["SQLite"] = {layer: Sample([100.0, 120.0]) for layer in smoke.LAYERS}
    table = "\n".join(comparisons.layer_table(Config.from_env(str(tmp_path)), load))

    problems = smoke.report_problems(table, tmp_path)

    assert not [p for p in problems if "layer" in p]
    assert "report.md lacks the layer 'ORM + JSON'" in smoke.report_problems("", tmp_path)


def test_the_baseline_layer_table_says_what_each_layer_gained(tmp_path: Path) -> None:
    load = loaded(generated=1.0, raw=0.2)
    now = {"driver": 100.0, "SQLAlchemy Core": 150.0, "ORM + JSON": 400.0, "FastAPI app": 600.0}
    then = {"driver": 100.0, "SQLAlchemy Core": 300.0, "ORM + JSON": 600.0, "FastAPI app": 1100.0}
    load.layers["SQLite"] = {layer: Sample([us]) for layer, us in now.items()}
    load.baseline_layers["SQLite"] = {layer: Sample([us]) for layer, us in then.items()}
    cfg = dataclasses.replace(Config.from_env(str(tmp_path)), baseline="054f1d5")

    rows = comparisons.baseline_layer_table(cfg, load)

    assert "| SQLAlchemy Core | 50 | 200 | +150 |" in rows
    assert "| FastAPI app (the app layer) | 200 | 500 | +300 |" in rows
    assert len([row for row in rows if "| 200 | 500 |" in row]) == 1
    assert "| **whole app** | 600 | 1100 | +500 |" in rows
    load.baseline_layers.clear()
    assert comparisons.baseline_layer_table(cfg, load) == []


def test_a_python_c_scripts_lines_in_a_profile_are_not_read_as_stacks() -> None:
    # py-spy --subprocesses starts each stack with the process's command line, newlines and all.
    raw = (
        'process 7:"python -m pytest";main (pytest/__main__.py:9);run (a/b.py:3) 5\n'
        'process 8:"python -c import x\n'
        "assert f() == 404\n"
        'print(1)";<module> (<string>:2);load (sqlalchemy/orm.py:1) 3\n'
    )

    summary = profile.summarize(raw)

    assert "(8 busy samples)" in summary
    assert "62.5%  a" in summary
    assert "37.5%  sqlalchemy" in summary


def test_the_report_names_the_commit_measured_and_whether_the_checkout_differed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    (tmp_path / "bench" / "results").mkdir(parents=True)
    (tmp_path / "bench" / "results" / "report.md").write_text("old\n")
    (tmp_path / "main.py").write_text("x = 1\n")
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "one"], check=True)
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], check=True,
                          capture_output=True, text=True).stdout.strip()  # fmt: skip
    monkeypatch.setattr(machine, "TEMPLATE", tmp_path)

    (tmp_path / "bench" / "results" / "report.md").write_text("a new run\n")
    assert machine.template_version() == head  # the bench's own output is not a change

    (tmp_path / "main.py").write_text("x = 2\n")
    assert machine.template_version() == f"{head} with uncommitted changes"
