"""Read-through caching of service reads, invalidated after the writes' commits.

The cache is never the source of truth: an entry is the read schema's JSON of a row (never a
pickled ORM object), kept for a TTL, and a Redis that fails makes reads go to the database for
CACHE_RETRY_SECONDS (one warning) instead of failing them.

Ordering, the rule every writer follows: **invalidate after the commit, never before.**
`invalidate_on_commit` runs once the session's transaction committed (core/events.py) and
not at all after a rollback, so a write that did not happen evicts nothing. A reader that
loaded the old row before the commit cannot store it after the invalidation either: its fill
presents the version it read before loading, which the invalidation moved (core/cache/
backends.py). Reads that fill the cache run in read-only requests, whose every statement sees
the latest commit on both databases.

Stampedes: concurrent misses on one key in one process wait for a single load, and take its
value only if it was stored (a value the guarded fill refused may predate a write they must
see); on Redis a short lock makes the other processes wait for that load too (and load
themselves if it takes longer than LOCK_WAIT_SECONDS).
"""

import asyncio
import functools
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import structlog
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from core.cache.backends import Backend, MemoryBackend, RedisBackend, Token
from core.events import on_commit
from core.redis import unavailable_errors
from settings import Settings

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = structlog.get_logger(__name__)

LOCK_SECONDS = 5.0  # a loader that died frees its key after this long
LOCK_WAIT_SECONDS = 2.0  # how long other processes wait for one load before doing their own
POLL_SECONDS = 0.01

type Load = Callable[[], Awaitable[Any]]


class Cache:
    """This process's cache: in memory by default, on Redis after `use(settings, redis)`."""

    def __init__(self) -> None:
        self._backend: Backend = MemoryBackend(max_entries=10_000)
        self._shared = False
        self._errors: tuple[type[BaseException], ...] = ()
        self._retry_seconds = 10.0
        self._down_until = 0.0
        self._lost: set[str] = set()  # namespaces whose invalidations Redis did not take
        self._flights: dict[tuple[str, str], asyncio.Future[bytes | None]] = {}
        self.namespaces: set[str] = set()  # those `cached` reads fill
        self.hits = self.misses = 0

    def use(self, settings: Settings, redis: "Redis | None") -> None:
        """Keep entries in Redis through `redis` (the process's client), or in memory."""
        if redis is None:
            self._backend = MemoryBackend(settings.cache_max_entries)
        else:
            self._backend = RedisBackend(redis, settings.cache_key_prefix)
        self._shared = redis is not None
        self._errors = unavailable_errors() if redis is not None else ()
        self._retry_seconds = settings.cache_retry_seconds
        self._down_until = 0.0
        self._lost.clear()
        self._flights.clear()
        self.hits = self.misses = 0

    async def get_or_load[S: BaseModel](
        self, namespace: str, key: str, load: Load, *, schema: type[S], ttl: float
    ) -> S:
        """The entry for `key`, or `load()`'s result through `schema`, stored for `ttl` s."""
        if self._is_down():
            return schema.model_validate(await load(), from_attributes=True)
        flight = self._flights.get((namespace, key))
        if flight is not None:
            shared = await asyncio.shield(flight)
            found = None if shared is None else _parsed(schema, shared)
            # None: the first reader's value was not stored, so it may be older than a write
            # that committed meanwhile; a later reader may not see it (read your writes).
            return (
                found
                if found is not None
                else schema.model_validate(await load(), from_attributes=True)
            )
        flight = asyncio.get_running_loop().create_future()
        self._flights[(namespace, key)] = flight
        try:
            model, shared = await self._lead(namespace, key, load, schema, ttl)
        except BaseException:
            flight.set_result(None)  # the others load for themselves
            raise
        finally:
            if self._flights.get((namespace, key)) is flight:
                del self._flights[(namespace, key)]
        flight.set_result(shared)
        return model

    async def _lead[S: BaseModel](
        self, namespace: str, key: str, load: Load, schema: type[S], ttl: float
    ) -> tuple[S, bytes | None]:
        """The entry, or `load()`'s result stored: with the value others may share (None if
        it was not stored)."""
        try:
            await self._replay_lost()
            value, token = await self._backend.read(namespace, key)
            found = None if value is None else _parsed(schema, value)
            locked = False
            if found is None:  # a miss, or an entry another version of the schema wrote
                value, token, locked = await self._lock_or_wait(namespace, key, token)
                found = None if value is None else _parsed(schema, value)
        except self._errors as exc:
            self._trip(exc)
            return schema.model_validate(await load(), from_attributes=True), None
        if found is not None:
            self.hits += 1
            return found, value
        self.misses += 1
        try:
            model = schema.model_validate(
                await load(), from_attributes=True
            )  # its errors are the caller's
        except BaseException:
            if locked:
                await self._quietly(functools.partial(self._backend.unlock, namespace, key))
            raise
        value = model.model_dump_json().encode()
        fill = functools.partial(self._backend.fill, namespace, key, value, ttl, token)
        stored = await self._quietly(functools.partial(fill, unlock=locked))  # one round trip
        return model, value if stored else None

    async def _lock_or_wait(
        self, namespace: str, key: str, token: Token
    ) -> tuple[bytes | None, Token, bool]:
        """The right to load `key` (True), or the entry another process loaded meanwhile.

        Tried again every POLL_SECONDS, so a loader that failed or whose fill a write refused
        hands the key on at once; after LOCK_WAIT_SECONDS, load without it (the fill is still
        guarded by the token).
        """
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while True:
            if await self._backend.lock(namespace, key, LOCK_SECONDS):
                # The process that held the lock may have filled the key and let go of it since
                # our last read: read again, or its load would run a second time here.
                value, token = await self._backend.read(namespace, key)
                if value is None:
                    return None, token, True
                await self._backend.unlock(namespace, key)
                return value, token, False
            if time.monotonic() >= deadline:
                return None, token, False
            await asyncio.sleep(POLL_SECONDS)
            value, token = await self._backend.read(namespace, key)
            if value is not None:
                return value, token, False

    async def invalidate(self, namespace: str, *keys: str) -> None:
        """Drop the entries of `keys` now. Writers call `invalidate_on_commit` instead."""
        await self._invalidate(namespace, keys)

    async def invalidate_namespace(self, namespace: str) -> None:
        """Drop every entry of `namespace` now (one counter bumped, however many there are)."""
        await self._invalidate(namespace, None)

    def invalidate_on_commit(self, session: AsyncSession, namespace: str, *keys: str) -> None:
        """Drop the entries of `keys` once `session` commits; keep them if it rolls back."""
        on_commit(session, functools.partial(self._invalidate, namespace, keys))

    def invalidate_namespace_on_commit(self, session: AsyncSession, namespace: str) -> None:
        on_commit(session, functools.partial(self._invalidate, namespace, None))

    async def _invalidate(self, namespace: str, keys: tuple[str, ...] | None) -> None:
        if self._is_down():
            self._lost.add(namespace)
            return
        try:
            await self._replay_lost()
            if keys is None:
                await self._backend.invalidate_namespace(namespace)
            else:
                await self._backend.invalidate(namespace, keys)
        except self._errors as exc:
            # Not taken: the whole namespace goes once Redis answers again (`_replay_lost`).
            self._lost.add(namespace)
            self._trip(exc)

    async def _replay_lost(self) -> None:
        while self._lost:
            namespace = next(iter(self._lost))
            await self._backend.invalidate_namespace(namespace)
            self._lost.discard(namespace)

    def _is_down(self) -> bool:
        return time.monotonic() < self._down_until

    def _trip(self, exc: BaseException) -> None:
        if not self._is_down():
            log.warning(
                "cache unavailable; reading from the database",
                error=f"{type(exc).__name__}: {exc}"[:200],
                retry_in_seconds=self._retry_seconds,
            )
        self._down_until = time.monotonic() + self._retry_seconds

    async def _quietly(self, operation: Callable[[], Awaitable[object]]) -> object:
        """Run a best-effort Redis operation, skipped while Redis is down (a lock expires);
        its result, or None."""
        if self._is_down():
            return None
        try:
            return await operation()
        except self._errors as exc:
            self._trip(exc)
            return None


def _parsed[S: BaseModel](schema: type[S], value: bytes) -> S | None:
    """The entry through `schema`, or None if it does not fit: an entry written by another
    version of the code (a deploy that changed the schema) is a miss, not an error."""
    try:
        return schema.model_validate_json(value)
    except ValidationError:
        return None


cache = Cache()


def cached[**P, S: BaseModel](
    namespace: str, *, key: str, schema: type[S], ttl: float
) -> Callable[[Callable[P, Awaitable[Any]]], Callable[P, Awaitable[S]]]:
    """Read-through caching of a service function, as `schema` shows its result.

    `key` names the function's keyword-only parameter whose value identifies the entry (an id):
    `@cached("orders", key="order_id", schema=OrderRead, ttl=60)`. Call it only where the
    request has not changed the row itself (a read-only request): the entry is what was
    committed. Writers call `cache.invalidate_on_commit(session, "orders", str(order.id))`.
    """
    cache.namespaces.add(namespace)

    def decorate(function: Callable[P, Awaitable[Any]]) -> Callable[P, Awaitable[S]]:
        parameter = inspect.signature(function).parameters.get(key)
        if parameter is None or parameter.kind is not inspect.Parameter.KEYWORD_ONLY:
            raise TypeError(f"{function.__qualname__} has no keyword-only parameter {key!r}")

        @functools.wraps(function)
        async def read(*args: P.args, **kwargs: P.kwargs) -> S:
            return await cache.get_or_load(
                namespace,
                str(kwargs[key]),
                lambda: function(*args, **kwargs),
                schema=schema,
                ttl=ttl,
            )

        return read

    return decorate
