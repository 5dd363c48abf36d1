"""Backing services in tests: embedded always, and on a real Redis when TEST_REDIS_URL names one.

`TEST_REDIS_URL=redis://127.0.0.1:6379/15 make test` runs the jobs', the cache's and the feeds'
tests on that Redis too, each under a key prefix of its own that is deleted afterwards. A URL
that does not answer fails those tests: asking for Redis and silently not using it would prove
nothing.
"""

import os
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from core.cache import cache
from core.realtime.hub import hub
from settings import Settings

REDIS_URL = os.environ.get("TEST_REDIS_URL")
MODES = ["embedded", "redis"] if REDIS_URL else ["embedded"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def require_redis(url: str) -> None:
    client = Redis.from_url(url)
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        pytest.fail(f"TEST_REDIS_URL={url} was asked for but does not answer: {exc}")
    finally:
        await client.aclose()


async def delete_prefixed(client: Redis, prefix: str) -> None:
    keys = [key async for key in client.scan_iter(match=f"*{prefix}*")]
    if keys:
        await client.delete(*keys)


@asynccontextmanager
async def redis_settings(settings: Settings) -> AsyncIterator[tuple[Settings, Redis]]:
    """`settings` on TEST_REDIS_URL with prefixes of their own, and a client; keys removed after."""
    assert REDIS_URL is not None
    await require_redis(REDIS_URL)
    prefix = f"test-{uuid.uuid4().hex}"
    settings = settings.model_copy(
        update={
            "redis_url": REDIS_URL,
            "cache_key_prefix": f"{prefix}:cache",
            "feed_key_prefix": f"{prefix}:feed",
        }
    )
    client = Redis.from_url(REDIS_URL, socket_timeout=settings.redis_timeout)
    try:
        yield settings, client
    finally:
        await delete_prefixed(client, prefix)
        await client.aclose()


@asynccontextmanager
async def shared_backends(settings: Settings, mode: str) -> AsyncIterator[Settings]:
    """The process's cache and feed hub on `mode` (as an app with REDIS_URL uses them), back to
    embedded afterwards. The settings returned name the Redis used, if any."""
    if mode == "embedded":
        cache.use(settings, None)
        hub.use(settings, None)
        yield settings
        return
    async with redis_settings(settings) as (settings, client):
        cache.use(settings, client)
        hub.use(settings, client)
        try:
            yield settings
        finally:
            await hub.close()
            cache.use(settings, None)
            hub.use(settings, None)
