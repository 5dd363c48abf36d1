"""The taskiq broker: in this process by default, Redis streams when REDIS_URL is set."""

from taskiq import AsyncBroker, InMemoryBroker

from settings import Settings


def create_broker(settings: Settings, *, inline: bool = False) -> AsyncBroker:
    """The broker `settings` ask for. `inline`: an embedded job runs before `enqueue` returns.

    Embedded (no REDIS_URL), jobs run as asyncio tasks of the process that enqueued them and
    results live in its memory: nothing else to install, nothing survives a restart.
    """
    if settings.redis_url is None:
        return InMemoryBroker(max_stored_results=1000, await_inplace=inline)
    # Imported here, only with Redis: see core/jobs/redis_broker.py.
    from taskiq_redis import RedisAsyncResultBackend

    from core.jobs.redis_broker import ReclaimingStreamBroker

    prefix = settings.jobs_key_prefix
    broker = ReclaimingStreamBroker(
        settings.redis_url,
        queue_name=f"{prefix}:queue",
        consumer_group_name=f"{prefix}:workers",
        # "0": a worker's group also sees what was enqueued before any worker ever started.
        consumer_id="0",
        idle_timeout=int(settings.jobs_visibility_timeout_seconds * 1000),
        xread_block=1000,
    )
    backend: RedisAsyncResultBackend[object] = RedisAsyncResultBackend(
        settings.redis_url,
        result_ex_time=settings.jobs_result_ttl_seconds,
        prefix_str=f"{prefix}:result",
    )
    return broker.with_result_backend(backend)
