"""Helpers for tests of jobs: a runtime on the test's session, embedded or on a real Redis.

`TEST_REDIS_URL=redis://127.0.0.1:6379/15 make test` runs the jobs tests on Redis too, with a
key prefix of their own that is deleted afterwards (tests/backends.py).
"""

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager, suppress
from types import ModuleType
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession
from taskiq.api import run_receiver_task

from core.jobs import runtime as jobs_runtime
from core.jobs.runtime import JobRuntime
from settings import Settings
from tests.backends import REDIS_URL, require_redis


@asynccontextmanager
async def borrowed(session: AsyncSession) -> AsyncIterator[AsyncSession]:
    yield session


@asynccontextmanager
async def started_runtime(
    settings: Settings, modules: Iterable[ModuleType], session: AsyncSession, mode: str
) -> AsyncIterator[JobRuntime]:
    """A started runtime for `modules`; on Redis with a worker (receiver) in this process."""
    prefix = f"test-{uuid.uuid4().hex}"
    if mode == "redis":
        assert REDIS_URL is not None
        await require_redis(REDIS_URL)
        settings = settings.model_copy(update={"redis_url": REDIS_URL, "jobs_key_prefix": prefix})
    runtime = jobs_runtime.start(
        settings, modules, session_factory=lambda: borrowed(session), inline=True
    )
    await runtime.broker.startup()
    receiver = None
    if mode == "redis":
        receiver = asyncio.create_task(run_receiver_task(runtime.broker))
    try:
        yield runtime
    finally:
        if receiver is not None:
            receiver.cancel()
            with suppress(asyncio.CancelledError):
                await receiver
        await runtime.broker.shutdown()
        if runtime.redis is not None:
            keys = [key async for key in runtime.redis.scan_iter(match=f"{prefix}:*")]
            if keys:
                await runtime.redis.delete(*keys)
        await runtime.close()
        jobs_runtime.stop(runtime)


async def wait_for_outcome(runtime: JobRuntime, job_id: str) -> Any:
    """The job's TaskiqResult once it has finished (the job and the test share one session,
    so a test waits here, not by querying while the job may be using it)."""
    backend = runtime.broker.result_backend
    async with asyncio.timeout(10):
        # Polling: the result may be written by another task or in Redis; no event to wait on.
        while not await backend.is_result_ready(job_id):  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    return await backend.get_result(job_id)


async def wait_for_result(runtime: JobRuntime, job_id: str) -> object:
    """The job's return value once it finished; fails the test if the job failed."""
    result = await wait_for_outcome(runtime, job_id)
    assert not result.is_err, result.error
    return result.return_value
