"""Fixed-window rate limits: an in-process store by default, Redis when REDIS_URL is set.

A limit is "at most `limit` hits per `window` seconds for a key" (a client address, an account).
The in-process store counts per process: enough for `make dev` and one worker. Several workers or
machines share one count only through Redis, where each hit is one INCR on a key that expires
with its window.
"""

import asyncio
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from core.exceptions import TooManyRequestsError

if TYPE_CHECKING:
    from redis.asyncio import Redis


@dataclass(frozen=True)
class Limit:
    limit: int
    window: int  # seconds


class Store(Protocol):
    async def hit(self, key: str, window: int) -> tuple[int, float]:
        """Count one hit on `key` in the current window: (hits so far, seconds left)."""
        ...

    async def close(self) -> None: ...


class MemoryStore:
    """Counts in this process's memory; windows that ended are dropped as keys are hit."""

    def __init__(self) -> None:
        self._counts: dict[str, tuple[float, int]] = {}
        self._lock = asyncio.Lock()

    async def hit(self, key: str, window: int) -> tuple[int, float]:
        async with self._lock:
            now = time.monotonic()
            ends, count = self._counts.get(key, (now + window, 0))
            if ends <= now:
                ends, count = now + window, 0
            self._counts[key] = (ends, count + 1)
            if len(self._counts) > 100_000:  # a flood of distinct keys cannot grow it unbounded
                self._counts = {k: v for k, v in self._counts.items() if v[0] > now}
            return count + 1, ends - now

    async def close(self) -> None:
        self._counts.clear()


class RedisStore:
    """Counts in Redis, shared by every worker and machine that uses the same REDIS_URL."""

    def __init__(self, client: "Redis") -> None:
        self._client = client  # the process's (core/redis.py), closed by its owner

    async def ping(self) -> None:
        await self._client.ping()

    async def hit(self, key: str, window: int) -> tuple[int, float]:
        async with self._client.pipeline(transaction=True) as pipeline:
            pipeline.incr(f"ratelimit:{key}")
            pipeline.expire(f"ratelimit:{key}", window, nx=True)
            pipeline.ttl(f"ratelimit:{key}")
            count, _, ttl = await pipeline.execute()
        return int(count), float(ttl if ttl > 0 else window)

    async def close(self) -> None:
        pass


def create_store(redis: "Redis | None") -> MemoryStore | RedisStore:
    """Counts shared through `redis` (the process's client), or in memory without one."""
    return RedisStore(redis) if redis is not None else MemoryStore()


async def check_store(store: Store) -> None:
    """Make sure a shared store answers, or raise: a missing Redis fails the start, loudly."""
    if isinstance(store, RedisStore):
        try:
            await store.ping()
        except Exception as exc:  # redis' ConnectionError and TimeoutError, OSError
            raise RuntimeError(f"REDIS_URL is set but Redis cannot be reached: {exc}") from exc


async def check(store: Store, key: str, limit: Limit) -> None:
    """Count a hit on `key`; TooManyRequestsError (429, Retry-After) once it is over `limit`."""
    count, left = await store.hit(key, limit.window)
    if count > limit.limit:
        raise TooManyRequestsError(max(1, math.ceil(left)))
