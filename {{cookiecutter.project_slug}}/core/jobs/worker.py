"""What a worker process adds to the broker: logging, a heartbeat, and the scheduler.

`make worker` runs `taskiq worker worker:broker`, `make scheduler` `taskiq scheduler
worker:scheduler` (worker.py at the project root builds both from the settings and manifest).
"""

import asyncio
import os
import socket
import time
from contextlib import suppress

import structlog
from taskiq import AsyncBroker, TaskiqEvents, TaskiqScheduler, TaskiqState
from taskiq.api import run_scheduler_task
from taskiq.schedule_sources import LabelScheduleSource

from core.jobs.runtime import JobRuntime

log = structlog.get_logger(__name__)

HEARTBEAT_SECONDS = 5


def create_scheduler(broker: AsyncBroker) -> TaskiqScheduler:
    """The schedules declared on the jobs (`@job(schedules=...)`). Run exactly one of these."""
    return TaskiqScheduler(broker, sources=[LabelScheduleSource(broker)])


async def run_embedded_scheduler(broker: AsyncBroker) -> None:
    await run_scheduler_task(create_scheduler(broker))


def install_worker_hooks(runtime: JobRuntime) -> None:
    """Start and stop the heartbeat `manage.py jobs status` reads, with the worker."""
    beat: dict[str, asyncio.Task[None]] = {}

    async def on_startup(_state: TaskiqState) -> None:
        if runtime.redis is not None:
            beat["task"] = asyncio.create_task(_heartbeat(runtime))
        log.info("worker started", pid=os.getpid(), embedded=runtime.embedded)

    async def on_shutdown(_state: TaskiqState) -> None:
        if task := beat.pop("task", None):
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
        if runtime.redis is not None:
            await runtime.redis.delete(_worker_key(runtime))
        await runtime.close()
        log.info("worker stopped", pid=os.getpid())

    runtime.broker.add_event_handler(TaskiqEvents.WORKER_STARTUP, on_startup)
    runtime.broker.add_event_handler(TaskiqEvents.WORKER_SHUTDOWN, on_shutdown)


def _worker_key(runtime: JobRuntime) -> str:
    return runtime.key("worker", f"{socket.gethostname()}:{os.getpid()}")


async def _heartbeat(runtime: JobRuntime) -> None:
    assert runtime.redis is not None
    started = time.time()
    key = _worker_key(runtime)
    while True:
        fields: dict[str | bytes, str | float] = {"started": started, "beat": time.time()}
        fields["pid"] = os.getpid()
        await runtime.redis.hset(key, mapping=fields)  # type: ignore[arg-type]
        await runtime.redis.expire(key, HEARTBEAT_SECONDS * 3)
        await asyncio.sleep(HEARTBEAT_SECONDS)
