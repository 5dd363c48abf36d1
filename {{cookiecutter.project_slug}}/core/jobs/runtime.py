"""What the jobs of this process run with: the broker, database sessions, Redis, the job list.

One runtime per process, made by `start` from the settings and the manifest's JOBS (the app in
main.py, the worker in worker.py, manage.py's `jobs` commands); tests make their own.
"""

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncEngine
from taskiq import AsyncBroker

from core.database import SessionFactory, create_engine, create_sessionmaker
from core.jobs.broker import create_broker
from core.redis import connect
from settings import Settings

if TYPE_CHECKING:
    from redis.asyncio import Redis  # imported for real only with REDIS_URL (core/redis.py)

    from core.jobs.declare import Job


@dataclass
class JobRuntime:
    settings: Settings
    broker: AsyncBroker
    session_factory: SessionFactory
    redis: "Redis | None"
    jobs: dict[str, "Job[..., Any]"]
    engine: AsyncEngine | None = None  # set when the runtime made its own engine
    owns_redis: bool = False  # made its own client (no `redis` given to `start`)
    _local_locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    @property
    def embedded(self) -> bool:
        return self.redis is None

    def key(self, *parts: str) -> str:
        return ":".join((self.settings.jobs_key_prefix, *parts))

    @asynccontextmanager
    async def overlap_guard(self, job: "Job[..., Any]") -> AsyncIterator[bool]:
        """Yield whether `job` may run now, given its overlap policy; hold the slot while it does.

        "skip" answers False while another run of the same job is going on, "queue" waits for
        it, "allow" never looks. Across workers the slot is a Redis lock that expires after the
        visibility timeout, so a killed worker's lock does not block the job for ever.
        """
        if job.overlap == "allow":
            yield True
            return
        blocking = job.overlap == "queue"
        if self.redis is None:
            lock = self._local_locks.setdefault(job.name, asyncio.Lock())
            if not blocking and lock.locked():
                yield False
                return
            async with lock:
                yield True
            return
        redis_lock = self.redis.lock(
            self.key("running", job.name),
            timeout=self.settings.jobs_visibility_timeout_seconds,
            blocking=blocking,
        )
        if not await redis_lock.acquire():
            yield False
            return
        from redis.exceptions import LockError

        try:
            yield True
        finally:
            # LockError: expired meanwhile, the job outlived the visibility timeout.
            with suppress(LockError):
                await redis_lock.release()

    async def close(self) -> None:
        if self.redis is not None and self.owns_redis:
            await self.redis.aclose()
        if self.engine is not None:
            await self.engine.dispose()


_current: JobRuntime | None = None


def current() -> JobRuntime:
    if _current is None:
        raise RuntimeError("No job runtime in this process: call core.jobs.runtime.start first")
    return _current


def start(
    settings: Settings,
    job_modules: Iterable[ModuleType],
    *,
    engine: AsyncEngine | None = None,
    session_factory: SessionFactory | None = None,
    redis: "Redis | None" = None,
    inline: bool = False,
) -> JobRuntime:
    """Make this process's runtime: a broker for `settings`, with every job of `job_modules`.

    Without `engine` the runtime makes (and closes) its own, and likewise its Redis client
    (core/redis.py) without `redis`; `session_factory` replaces the sessions jobs get (tests
    pass their rolled-back one).
    """
    from core.jobs.declare import Job  # declare.py imports this module

    global _current
    own_engine = (
        None if engine is not None or session_factory is not None else create_engine(settings)
    )
    if session_factory is None:
        session_factory = create_sessionmaker(engine or own_engine, writes=True)  # type: ignore[arg-type]
    broker = create_broker(settings, inline=inline)
    jobs: dict[str, Job[..., Any]] = {}
    for module in job_modules:
        for value in vars(module).values():
            if isinstance(value, Job) and value.name not in jobs:
                jobs[value.name] = value
                value.bind(broker)
    owns_redis = redis is None and settings.redis_url is not None
    if redis is None:
        redis = connect(settings)
    _current = JobRuntime(settings, broker, session_factory, redis, jobs, own_engine, owns_redis)
    return _current


def stop(runtime: JobRuntime) -> None:
    """Forget `runtime` if it is this process's: a later `enqueue` fails instead of using it."""
    global _current
    if _current is runtime:
        _current = None
