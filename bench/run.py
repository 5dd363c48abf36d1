"""`make bench`: run every measurement, print progress, write report.md, chart.png, results.json.

uv run python -m bench.run [--out DIR]      # BENCH_QUICK=1 for the quick mode
"""

import argparse
import dataclasses
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from bench import jobs, load, machine, pg, realtime, report, steps
from bench.chart import draw
from bench.config import Config
from bench.proc import BenchError, run, say


def _plain(value: Any) -> Any:
    """results.json: dataclasses and Samples as plain JSON."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return value.name
    return value


def bench(cfg: Config) -> Path:
    started, clock = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), time.perf_counter()
    cfg.out_dir.mkdir(parents=True, exist_ok=True)
    load.ensure_wrk()
    work = steps.scratch_dir()
    say(f"{'quick' if cfg.quick else 'full'} run; scratch in {work}, results to {cfg.out_dir}")
    try:
        say("preparing a synced project, one with the items feature, one with three features")
        synced, featured, suite = steps.prepare_projects(work)
        baseline = None
        if cfg.baseline:
            say(f"preparing the baseline: the template at {cfg.baseline}, with the items feature")
            baseline = steps.prepare_baseline(work, cfg.baseline)
        info = machine.describe(featured, baseline)
        dev = steps.DevLoop()
        steps.measure_bake(cfg, work, dev)
        steps.measure_feature(cfg, synced, work, dev)
        steps.measure_fresh_to_green(cfg, work, dev)
        steps.measure_suite(cfg, suite, dev)
        steps.measure_cold_start(cfg, featured, work, dev)

        results = load.LoadResults()
        on_sqlite: tuple[Path, dict[str, str]] | None = None
        if baseline is not None:
            on_sqlite = (baseline, {})
        load.measure_database(cfg, "SQLite", featured, {}, work, results, on_sqlite)
        with pg.throwaway_database() as url, pg.throwaway_database() as baseline_url:
            run(["make", "upgrade"], featured, env={"DATABASE_URL": url})
            on_postgres: tuple[Path, dict[str, str]] | None = None
            if baseline is not None:
                run(["make", "upgrade"], baseline, env={"DATABASE_URL": baseline_url})
                on_postgres = (baseline, {"DATABASE_URL": baseline_url})
            env = {"DATABASE_URL": url}
            load.measure_database(cfg, "PostgreSQL", featured, env, work, results, on_postgres)
        say("background jobs on Redis: enqueue latency, one worker's throughput")
        queue = jobs.measure_jobs(cfg, featured, work)
        say("cache and change feeds: hit and miss, fan-out, idle sockets")
        live = realtime.measure_realtime(cfg, featured, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    elapsed = f"{(time.perf_counter() - clock) / 60:.1f} min"
    meta = {"started": started, "elapsed": elapsed}
    draw(dev, results, cfg.out_dir / "chart.png")
    text = report.render(cfg, info, dev, results, meta, queue, live)
    (cfg.out_dir / "report.md").write_text(text)
    data = {"meta": meta, "machine": info, "dev": dev, "load": results, "jobs": queue}
    data["realtime"] = live
    data["targets"] = report.targets(dev, results)
    (cfg.out_dir / "results.json").write_text(json.dumps(_plain(data), indent=1) + "\n")
    say(f"done in {elapsed}: {cfg.out_dir / 'report.md'}")
    return cfg.out_dir / "report.md"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", help="output directory (default: bench/results, or BENCH_OUT)")
    args = parser.parse_args()
    try:
        bench(Config.from_env(args.out))
    except BenchError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
