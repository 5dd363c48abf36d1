"""How much to measure: the full run (`make bench`) or the quick one (`BENCH_QUICK=1`)."""

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from bench.proc import TEMPLATE_DIR

COOKIECUTTER = Path(sys.executable).parent / "cookiecutter"
# The template to bake: this checkout, or another one (a clean export of a commit, say).
TEMPLATE = Path(os.environ.get("BENCH_TEMPLATE") or TEMPLATE_DIR).resolve()
FEATURE_NAME = "items"
FEATURE_FIELDS = "name:str:80 price:decimal qty:int"
# The suite's speed is measured with these two more features than the load's (three in all).
SUITE_FEATURES = {
    "orders": ["FIELDS=code:str:12:unique total:decimal paid:bool"],
    "notes": ["OWNED=yes", "FIELDS=title:str:unique body:text?"],
}
# Public, as the raw app it is compared with: no token to decode, no account to load.
FEATURE_AUTH = "public"
# Production settings, so the JSON logging and production middleware paths are measured.
SERVED_ENV = {"ENVIRONMENT": "production", "SECRET_KEY": "b" * 48}
UVICORN = ["uv", "run", "uvicorn", "--workers", "1", "--no-access-log", "--log-level", "warning"]
CONNECTIONS = 32
# The jobs' section runs on this Redis, each round under its own throwaway key prefix.
JOBS_REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
WRK_THREADS = 2


@dataclass(frozen=True)
class Config:
    quick: bool
    out_dir: Path
    # BENCH_BASELINE=<commit>: that commit's template is served too, alternated with this one.
    baseline: str | None
    bake_runs: int
    feature_runs: int
    green_runs: int
    suite_runs: int
    cold_runs: int
    load_runs: int
    load_seconds: int  # wrk takes whole seconds
    warmup_seconds: int  # per operation and app; 0 (quick mode): seeding is the warm-up
    profile_seconds: int
    seed_rows: int
    layer_operations: int  # GETs by id per round of layers.py
    layer_rounds: int
    jobs_per_round: int  # no-op jobs enqueued, then drained by one worker
    jobs_rounds: int
    # bench/realtime.py: GETs by id per round of the cache, and rounds; rounds of a change fanned
    # out to each number of sockets; the idle sockets one server holds to weigh one.
    cache_operations: int = 2000
    cache_rounds: int = 5
    fanout_rounds: int = 5
    fanout_sockets: tuple[int, ...] = (1, 100, 1000)
    idle_sockets: int = 200

    @classmethod
    def from_env(cls, out_dir: str | None = None) -> "Config":
        quick = os.environ.get("BENCH_QUICK", "") not in {"", "0"}
        out = Path(out_dir or os.environ.get("BENCH_OUT") or TEMPLATE_DIR / "bench" / "results")
        baseline = os.environ.get("BENCH_BASELINE") or None
        if quick:
            return cls(
                True, out.resolve(), baseline, 2, 1, 1, 1, 1, 1, 2, 0, 1, 200, 300, 2, 1000, 1,
                cache_operations=200, cache_rounds=1, fanout_rounds=1, fanout_sockets=(1, 50),
            )  # fmt: skip
        # 10,000 rows: enough that a list whose order has no index shows it (it sorts them all).
        return cls(
            False, out.resolve(), baseline, 7, 5, 3, 3, 7, 3, 10, 2, 10, 10_000, 3000, 5, 5000, 3
        )
