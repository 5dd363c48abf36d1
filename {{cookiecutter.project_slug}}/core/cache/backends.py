"""Where cache entries live: this process's memory, or Redis. Both keep the same three things.

- An entry: a value (JSON bytes) stored with the generation of its namespace and the version of
  its key at the moment they were read, before the value was loaded.
- A namespace's generation: bumping it invalidates every entry of the namespace at once.
- A key's version: bumped, with the entry deleted, when the key is invalidated.

A reader that misses gets a `Token` (the generation and version it saw) and presents it when it
fills; the fill is refused if either moved meanwhile. So a value loaded from the database before
a write committed can never land after the write's invalidation, whatever the timing.
"""

import time
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from redis.asyncio import Redis

# A fill must come within this many seconds of the read that gave its token (a load slower than
# that is not stored). Versions are kept at least this long, so no token outlives its version.
TOKEN_LIFETIME = 600.0


@dataclass(frozen=True)
class Token:
    generation: bytes
    version: bytes
    read_at: float  # time.monotonic()


class Backend(Protocol):
    async def read(self, namespace: str, key: str) -> tuple[bytes | None, Token]:
        """The entry's value if it is still valid, and the token a fill must present."""
        ...

    async def fill(
        self, namespace: str, key: str, value: bytes, ttl: float, token: Token, *, unlock: bool
    ) -> bool:
        """Store `value` for `ttl` seconds unless the key or namespace moved since `token`;
        with `unlock`, release this process's `lock` on the key in the same step."""
        ...

    async def invalidate(self, namespace: str, keys: Sequence[str]) -> None: ...

    async def invalidate_namespace(self, namespace: str) -> None: ...

    async def lock(self, namespace: str, key: str, seconds: float) -> bool:
        """Take the right to load `key` for at most `seconds` (False: another process has it)."""
        ...

    async def unlock(self, namespace: str, key: str) -> None: ...


def _fresh(token: Token) -> bool:
    return time.monotonic() - token.read_at < TOKEN_LIFETIME


class MemoryBackend:
    """This process's memory: at most `max_entries` entries, the least recently used go first.

    Every method runs without awaiting anything, so each is atomic under asyncio. Only one
    process sees it: several workers each keep their own, and a write invalidates only the
    entries of the process that served it (the others keep theirs until their TTL).
    """

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[str, str], tuple[float, bytes, bytes, bytes]] = (
            OrderedDict()
        )
        self._generations: dict[str, int] = {}
        # (version, bumped at), oldest bump first: pruned from the front, a step per write.
        self._versions: OrderedDict[tuple[str, str], tuple[int, float]] = OrderedDict()

    def _token(self, namespace: str, key: str) -> Token:
        generation = self._generations.get(namespace, 0)
        version, _ = self._versions.get((namespace, key), (0, 0.0))
        return Token(str(generation).encode(), str(version).encode(), time.monotonic())

    async def read(self, namespace: str, key: str) -> tuple[bytes | None, Token]:
        token = self._token(namespace, key)
        found = self._entries.get((namespace, key))
        if found is None:
            return None, token
        expires, generation, version, value = found
        if expires <= time.monotonic() or (generation, version) != (
            token.generation,
            token.version,
        ):
            del self._entries[(namespace, key)]
            return None, token
        self._entries.move_to_end((namespace, key))
        return value, token

    async def fill(
        self, namespace: str, key: str, value: bytes, ttl: float, token: Token, *, unlock: bool
    ) -> bool:
        current = self._token(namespace, key)
        if not _fresh(token) or (current.generation, current.version) != (
            token.generation,
            token.version,
        ):
            return False
        self._entries[(namespace, key)] = (
            time.monotonic() + ttl,
            token.generation,
            token.version,
            value,
        )
        self._entries.move_to_end((namespace, key))
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return True

    async def invalidate(self, namespace: str, keys: Sequence[str]) -> None:
        now = time.monotonic()
        for key in keys:
            version, _ = self._versions.pop((namespace, key), (0, 0.0))
            self._versions[(namespace, key)] = (version + 1, now)
            self._entries.pop((namespace, key), None)
        # Versions no live token can hold any more go. Past the bound, younger ones go too, and
        # their namespace moves on, so that a token that held one is refused all the same.
        while self._versions:
            (oldest_namespace, _), (_, bumped) = next(iter(self._versions.items()))
            young = now - bumped < TOKEN_LIFETIME
            if young and len(self._versions) <= 4 * self.max_entries:
                break
            self._versions.popitem(last=False)
            if young:
                await self.invalidate_namespace(oldest_namespace)

    async def invalidate_namespace(self, namespace: str) -> None:
        self._generations[namespace] = self._generations.get(namespace, 0) + 1

    async def lock(self, namespace: str, key: str, seconds: float) -> bool:
        return True  # one process: the cache's in-process single flight is the lock

    async def unlock(self, namespace: str, key: str) -> None:
        pass


# Releases the lock if it is still ours (ARGV[5], "" for none), then sets the entry only if the
# generation and version are still those the reader saw.
_FILL = """
if ARGV[5] ~= '' and redis.call('GET', KEYS[4]) == ARGV[5] then redis.call('DEL', KEYS[4]) end
if (redis.call('GET', KEYS[1]) or '') ~= ARGV[1] then return 0 end
if (redis.call('GET', KEYS[2]) or '') ~= ARGV[2] then return 0 end
redis.call('SET', KEYS[3], ARGV[3], 'PX', ARGV[4])
return 1
"""
# Deletes the lock only if it is still ours (it may have expired and been taken by another).
_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisBackend:
    """Entries in Redis, shared by every process on the same REDIS_URL.

    A namespace's keys share one hash slot (`{prefix:namespace}`), so a read is one MGET and a
    fill one script on Redis Cluster too. An entry is stored as `generation:version:value`.
    """

    def __init__(self, client: "Redis", prefix: str) -> None:
        self._client = client  # the process's (core/redis.py), closed by its owner
        self._prefix = prefix
        self._fill = client.register_script(_FILL)
        self._unlock = client.register_script(_UNLOCK)
        self._lock_ids: dict[tuple[str, str], str] = {}

    def _keys(self, namespace: str, key: str) -> tuple[str, str, str]:
        slot = "{" + f"{self._prefix}:{namespace}" + "}"  # a hash tag: one slot per namespace
        return f"{slot}:generation", f"{slot}:version:{key}", f"{slot}:entry:{key}"

    async def read(self, namespace: str, key: str) -> tuple[bytes | None, Token]:
        generation_key, version_key, entry_key = self._keys(namespace, key)
        # Bytes or None each: the client does not decode (typed loosely by redis-py).
        replies: list[Any] = await self._client.mget(generation_key, version_key, entry_key)
        generation, version, entry = replies
        token = Token(generation or b"", version or b"", time.monotonic())
        if entry is None:
            return None, token
        entry_generation, entry_version, value = entry.split(b":", 2)
        if (entry_generation, entry_version) != (token.generation, token.version):
            return None, token
        return value, token

    async def fill(
        self, namespace: str, key: str, value: bytes, ttl: float, token: Token, *, unlock: bool
    ) -> bool:
        lock_id = self._lock_ids.pop((namespace, key), "") if unlock else ""
        if not _fresh(token):
            token = Token(b"-", b"-", token.read_at)  # matches nothing: only the lock goes
        entry = b":".join((token.generation, token.version, value))
        keys = [*self._keys(namespace, key), self._lock_key(namespace, key)]
        args: list[bytes | str | int] = [token.generation, token.version, entry]
        args += [max(1, int(ttl * 1000)), lock_id]
        return bool(await self._fill(keys=keys, args=args))

    async def invalidate(self, namespace: str, keys: Sequence[str]) -> None:
        async with self._client.pipeline(transaction=True) as pipeline:
            for key in keys:
                _, version_key, entry_key = self._keys(namespace, key)
                pipeline.incr(version_key)
                pipeline.expire(version_key, int(TOKEN_LIFETIME * 2))
                pipeline.delete(entry_key)
            await pipeline.execute()

    async def invalidate_namespace(self, namespace: str) -> None:
        generation_key, _, _ = self._keys(namespace, "")
        await self._client.incr(generation_key)

    def _lock_key(self, namespace: str, key: str) -> str:
        return "{" + f"{self._prefix}:{namespace}" + "}:lock:" + key

    async def lock(self, namespace: str, key: str, seconds: float) -> bool:
        lock_key = self._lock_key(namespace, key)
        lock_id = uuid.uuid4().hex
        taken = await self._client.set(lock_key, lock_id, nx=True, px=max(1, int(seconds * 1000)))
        if taken:
            self._lock_ids[(namespace, key)] = lock_id
        return bool(taken)

    async def unlock(self, namespace: str, key: str) -> None:
        lock_id = self._lock_ids.pop((namespace, key), None)
        if lock_id is not None:
            await self._unlock(keys=[self._lock_key(namespace, key)], args=[lock_id])
