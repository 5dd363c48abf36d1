"""Background jobs on the real Redis: enqueue latency, and one worker process's throughput.

A copy of the featured project gets a no-op job (`items.noop`, listed in the manifest's JOBS);
each round, under a throwaway key prefix, bench/jobs_probe.py enqueues N of them (timing each
`enqueue`), then a real `taskiq worker` process drains them. Only the prefix's keys are
deleted afterwards; the rest of that Redis is left alone.
"""

import contextlib
import json
import os
import signal
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from bench.config import JOBS_REDIS_URL, SERVED_ENV, Config
from bench.proc import BenchError, run, say, tool_env
from bench.stats import Sample
from bench.steps import copy_project

PROBE = Path(__file__).resolve().parent / "jobs_probe.py"
NOOP_JOB = '''"""The bench's no-op job: what a job costs when its work costs nothing."""

from sqlmodel.ext.asyncio.session import AsyncSession

from core.jobs.declare import job


@job()
async def noop(session: AsyncSession, n: int) -> int:
    return n
'''
# As the baked Makefile's `worker` target runs it (JOB_CONCURRENCY 20), pinned to core 0.
WORKER = ["taskset", "-c", "0", "uv", "run", "taskiq", "worker", "worker:broker"]
WORKER += ["--workers", "1", "--no-configure-logging", "--max-async-tasks", "20"]
WARMUP_ENQUEUES = 50
DRAIN_TIMEOUT_S = 180.0


@dataclass
class JobsResults:
    redis_url: str = JOBS_REDIS_URL
    jobs_per_round: int = 0
    enqueue_p50_ms: Sample = field(default_factory=Sample)
    enqueue_p99_ms: Sample = field(default_factory=Sample)
    jobs_per_s: Sample = field(default_factory=Sample)


def add_noop_job(project: Path) -> None:
    """`features/items/jobs.py` and its line in the manifest's JOBS, as a user would add them."""
    (project / "features" / "items" / "jobs.py").write_text(NOOP_JOB)
    registry = project / "features" / "registry.py"
    text = registry.read_text()
    anchor = "JOBS: list[ModuleType] = [\n"
    if anchor not in text:
        raise BenchError(f"no {anchor.strip()!r} in {registry}")
    text = text.replace(anchor, anchor + "    items_jobs,\n")
    line = "from features.items import jobs as items_jobs\n"
    text = text.replace("\nfrom features.", f"\n{line}from features.", 1)
    registry.write_text(text)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def probe_command(
    project: Path, env: dict[str, str], *args: str
) -> tuple[list[str], dict[str, str]]:
    command = ["taskset", "-c", "1", "uv", "run", "python", str(PROBE), *args]
    return command, {**env, "PYTHONPATH": str(project)}


def probe(project: Path, env: dict[str, str], *args: str) -> object:
    command, probe_env = probe_command(project, env, *args)
    output = run(command, project, env=probe_env, timeout=600).stdout
    return json.loads(output.strip().splitlines()[-1])


def stop_worker(worker: subprocess.Popen[bytes]) -> None:
    # To uv alone, which passes it to taskiq's supervisor, as a container's PID 1 gets it: the
    # supervisor stops its worker itself. SIGTERM to the whole group reaches the worker behind
    # the supervisor's back, and the worker then never exits.
    with contextlib.suppress(ProcessLookupError):
        os.kill(worker.pid, signal.SIGTERM)
    try:
        worker.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()


def drain_with_worker(project: Path, env: dict[str, str], jobs: int, log: Path) -> float:
    """Watch the queue, then start one worker; time its drain of the jobs, stop it with SIGTERM."""
    command, probe_env = probe_command(project, env, "drain", str(jobs), str(DRAIN_TIMEOUT_S))
    watcher = subprocess.Popen(
        command,
        cwd=project,
        env=tool_env(probe_env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    worker = None
    try:
        assert watcher.stdout is not None
        first = watcher.stdout.readline().decode().strip()
        if first == "watching":
            with log.open("wb") as log_file:
                worker = subprocess.Popen(
                    WORKER,
                    cwd=project,
                    env=tool_env(env),
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # so a stuck one is SIGKILLed with its children
                )
        out, err = watcher.communicate(timeout=DRAIN_TIMEOUT_S + 60)
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait()
        if worker is not None:
            stop_worker(worker)
    if watcher.returncode != 0 or first != "watching":
        worker_log = log.read_text()[-3000:] if log.exists() else "(not started)"
        raise BenchError(
            f"the drain probe failed ({watcher.returncode}): {first}{out.decode()}"
            f"{err.decode()[-2000:]}\n--- worker log ---\n{worker_log}"
        )
    seconds = json.loads(out.decode().strip().splitlines()[-1])
    if not isinstance(seconds, float) or seconds <= 0:
        raise BenchError(f"the drain probe measured {seconds!r} s for {jobs} jobs")
    return seconds


def measure_jobs(cfg: Config, featured: Path, work: Path) -> JobsResults:
    project = copy_project(featured, work / "jobs")
    add_noop_job(project)
    result = JobsResults(jobs_per_round=cfg.jobs_per_round)
    for i in range(cfg.jobs_rounds + 1):  # the first is the warm-up
        prefix = f"paxx-bench-{uuid.uuid4().hex[:12]}"
        env = {**SERVED_ENV, "REDIS_URL": JOBS_REDIS_URL, "JOBS_KEY_PREFIX": prefix}
        try:
            timings = probe(project, env, "enqueue", str(cfg.jobs_per_round), str(WARMUP_ENQUEUES))
            assert isinstance(timings, list)
            total = cfg.jobs_per_round + WARMUP_ENQUEUES
            seconds = drain_with_worker(project, env, total, work / "jobs-worker.log")
        finally:
            probe(project, env, "clean")
        p50, p99, rate = percentile(timings, 0.5), percentile(timings, 0.99), total / seconds
        if i:
            result.enqueue_p50_ms.add(p50)
            result.enqueue_p99_ms.add(p99)
            result.jobs_per_s.add(rate)
        say(f"jobs {i or 'warm-up'}: enqueue p50 {p50:.2f} ms, p99 {p99:.2f} ms; {rate:.0f} jobs/s")
    return result
