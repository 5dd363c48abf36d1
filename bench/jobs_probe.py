"""The jobs' side of the bench, run in a baked project's venv from the project (as layers.py):

    PYTHONPATH=. uv run python <this file> enqueue <jobs> <warm-up>   # JSON: ms per enqueue
    PYTHONPATH=. uv run python <this file> drain <jobs> <timeout s>   # JSON: drain seconds
    PYTHONPATH=. uv run python <this file> clean                      # JSON: keys deleted

REDIS_URL and JOBS_KEY_PREFIX come from the environment, as the app and the worker read them.
`enqueue` times each `Job.enqueue` of the bench's no-op job from a process with a started
runtime, as a request handler calls it; the jobs stay queued. `drain` watches the workers'
consumer group on Redis while a worker takes them: from its first read to the moment every job
was read and acknowledged. It prints `watching` once it has polled, and bench/jobs.py starts the
worker only then, so the first read cannot happen unseen (that measured a drain of 0 s).
`clean` deletes every key under the prefix, and only those.
"""

import asyncio
import json
import sys
import time
from typing import Any

from core.jobs import runtime as jobs_runtime
from features.items.jobs import noop
from features.registry import JOBS
from redis.asyncio import Redis
from settings import get_settings


async def enqueue(jobs: int, warmup: int) -> list[float]:
    runtime = jobs_runtime.start(get_settings(), JOBS)
    await runtime.broker.startup()
    timings = []
    try:
        for n in range(warmup + jobs):
            start = time.perf_counter()
            await noop.enqueue(n=n)
            if n >= warmup:
                timings.append((time.perf_counter() - start) * 1000)
    finally:
        await runtime.broker.shutdown()
        await runtime.close()
    return timings


async def group_progress(redis: Any, queue: str, group: str) -> tuple[int, int] | None:
    """(entries read by the group, entries still pending), or None before the group exists."""
    if not await redis.exists(queue):
        return None
    for info in await redis.xinfo_groups(queue):
        if info["name"].decode() == group:
            return int(info["entries-read"] or 0), int(info["pending"])
    return None


async def drain(jobs: int, timeout: float) -> float:
    settings = get_settings()
    prefix = settings.jobs_key_prefix
    redis: Any = Redis.from_url(str(settings.redis_url))
    deadline = time.perf_counter() + timeout
    started: float | None = None
    announced = False
    try:
        while time.perf_counter() < deadline:
            progress = await group_progress(redis, f"{prefix}:queue", f"{prefix}:workers")
            now = time.perf_counter()
            if not announced:
                if progress is not None and progress[0]:
                    raise SystemExit("the jobs were being read before the drain was watched")
                print("watching", flush=True)
                announced = True
            if progress is not None:
                read, pending = progress
                if read and started is None:
                    started = now
                if started is not None and read >= jobs and pending == 0:
                    return now - started
            await asyncio.sleep(0.002)
    finally:
        await redis.aclose()
    raise SystemExit(f"the worker did not drain {jobs} jobs within {timeout} s")


async def clean() -> int:
    settings = get_settings()
    redis: Any = Redis.from_url(str(settings.redis_url))
    try:
        keys = [key async for key in redis.scan_iter(match=f"{settings.jobs_key_prefix}:*")]
        return int(await redis.delete(*keys)) if keys else 0
    finally:
        await redis.aclose()


def main() -> None:
    command, *args = sys.argv[1:]
    if command == "enqueue":
        result: object = asyncio.run(enqueue(int(args[0]), int(args[1])))
    elif command == "drain":
        result = asyncio.run(drain(int(args[0]), float(args[1])))
    else:
        result = asyncio.run(clean())
    print(json.dumps(result))


if __name__ == "__main__":
    main()
