"""`make bench` must keep running: its quick mode, end to end, into a temporary directory.

It checks that every section and figure is written and that no request failed; it never checks
speed (targets are for the report, not for tests).
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.baking import TEMPLATE_DIR

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("bench")]

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
    "## Profiles",
)
NUMBER = r"\d+(?:\.\d+)?"
SPREAD = f"{NUMBER}\N{EN DASH}{NUMBER}"


def test_quick_bench_writes_a_full_report(tmp_path: Path) -> None:
    env = {**os.environ, "BENCH_QUICK": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "bench.run", "--out", str(tmp_path)],
        cwd=TEMPLATE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]

    report = (tmp_path / "report.md").read_text()
    for section in SECTIONS:
        assert section in report, section
    for label in ("Bake wall time", "make feature wall time", "Fresh to green", "Spawn to first"):
        assert re.search(rf"\| {label}[^|]* \| {NUMBER} s \| {SPREAD} s \|", report), label
    operations = (
        "GET /health/live",
        "GET /items/{id}",
        "GET /items?limit=20",
        "POST /items",
        "PATCH /items/{id}",
    )
    for operation in operations:
        for app in ("generated", "raw"):
            assert re.search(rf"\| `{re.escape(operation)}` \| {app} \| {NUMBER} \(", report)
    for layer in ("driver", "SQLAlchemy Core", "ORM session", "FastAPI app"):
        assert re.search(rf"\| {layer} \| {NUMBER} \({SPREAD}, n=2\) \| ", report), layer
    assert (tmp_path / "chart.png").stat().st_size > 10_000

    results = json.loads((tmp_path / "results.json").read_text())
    cells = [
        cell
        for per_op in results["load"]["cells"].values()
        for per_app in per_op.values()
        for cell in per_app.values()
    ]
    assert len(cells) == 20
    assert all(cell["requests"] > 0 for cell in cells)
    assert [cell["non2xx"] for cell in cells] == [0] * 20
    assert [cell["socket_errors"] for cell in cells] == [0] * 20
    assert set(results["load"]["layers"]) == {"SQLite", "PostgreSQL"}
    assert all(min(cell["cpu_ms"]["values"]) > 0 for cell in cells)
    for profile in tmp_path.glob("profile-*.txt"):  # py-spy attached and sampled
        assert re.search(r"\(\d+ busy samples\)", profile.read_text()), profile.name
    assert len(list(tmp_path.glob("profile-*.txt"))) >= 3
