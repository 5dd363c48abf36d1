"""The process's one Redis client, made from REDIS_URL: jobs, rate limits, the cache and the
feeds share it and its connection pool.

redis-py is imported only here, and only when a URL is set: importing it also imports
OpenTelemetry's SDK when that is installed, which an app without REDIS_URL (or without tracing)
should not pay for.
"""

from typing import TYPE_CHECKING

from settings import Settings

if TYPE_CHECKING:
    from redis.asyncio import Redis


def connect(settings: Settings) -> "Redis | None":
    """A client for REDIS_URL, or None without one. Connecting happens at the first command.

    Every command is bounded by REDIS_TIMEOUT (connecting and each read): a Redis that stopped
    answering costs a caller that long, once, rather than hanging it. A pooled connection idle
    for half a minute is checked before use, so one a restart closed is replaced, not failed on.
    """
    if settings.redis_url is None:
        return None
    from redis.asyncio import Redis

    return Redis.from_url(
        settings.redis_url,
        socket_timeout=settings.redis_timeout,
        socket_connect_timeout=settings.redis_timeout,
        health_check_interval=30,
    )


def unavailable_errors() -> tuple[type[BaseException], ...]:
    """What a Redis that is down, unreachable or too slow raises (redis-py's errors, sockets')."""
    from redis.exceptions import RedisError

    return (RedisError, OSError, TimeoutError)
