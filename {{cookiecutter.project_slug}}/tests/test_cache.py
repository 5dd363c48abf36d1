"""The cache (core/cache): read-through, invalidation after commit and never on rollback, the
race between a slow reader and a write, stampedes, and a Redis that fails.

Each test runs on the in-process store, and on Redis too with TEST_REDIS_URL (tests/backends.py).
"""

import asyncio
import io
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import BaseModel
from redis.asyncio import Redis
from sqlalchemy import Column, ForeignKey, Integer, MetaData, Table
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.cache import Cache, cache
from core.cache.backends import MemoryBackend
from core.database import create_sessionmaker
from core.dependencies import committed
from core.logging import configure_logging
from core.persistence import cascaded_tables
from features.users.models import RefreshToken, User
from settings import Settings
from tests.backends import MODES, REDIS_URL, redis_settings, shared_backends
from tests.tcp_proxy import TcpProxy


class Row(BaseModel):
    id: str
    value: int


class Loads:
    """A loader that counts its calls and can be held until the test lets it finish."""

    def __init__(self, value: int = 1) -> None:
        self.value, self.calls = value, 0
        self.gate = asyncio.Event()
        self.gate.set()

    async def __call__(self) -> Row:
        self.calls += 1
        await self.gate.wait()
        return Row(id="a", value=self.value)


async def read(load: Any, *, on: Cache = cache, key: str = "a", ttl: float = 60) -> Row:
    return await on.get_or_load("things", key, load, schema=Row, ttl=ttl)


@pytest.fixture(params=MODES)
async def backend(request: pytest.FixtureRequest, test_settings: Settings) -> AsyncIterator[str]:
    async with shared_backends(test_settings, request.param):
        yield request.param


def warnings(stream: io.StringIO) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    return [line for line in lines if line["level"] == "warning"]


async def test_a_second_read_is_served_from_the_cache(backend: str) -> None:
    loads = Loads()

    first, second = await read(loads), await read(loads)

    assert (first, second) == (Row(id="a", value=1), Row(id="a", value=1))
    assert loads.calls == 1


async def test_invalidating_a_key_makes_its_next_read_load_again(backend: str) -> None:
    loads = Loads()
    await read(loads)
    await read(loads, key="b")

    await cache.invalidate("things", "a")
    loads.value = 2

    assert (await read(loads)).value == 2
    assert (await read(loads, key="b")).value == 1  # another key keeps its entry
    assert loads.calls == 3


async def test_invalidating_the_namespace_drops_every_entry_of_it(backend: str) -> None:
    loads = Loads()
    for key in "abc":
        await read(loads, key=key)

    await cache.invalidate_namespace("things")

    for key in "abc":
        await read(loads, key=key)
    assert loads.calls == 6


async def test_an_entry_expires_after_its_ttl(backend: str) -> None:
    loads = Loads()
    await read(loads, ttl=0.05)

    await asyncio.sleep(0.1)
    await read(loads, ttl=0.05)

    assert loads.calls == 2


async def test_a_commit_invalidates_and_a_rollback_does_not(
    backend: str, session: AsyncSession
) -> None:
    loads = Loads()
    await read(loads)

    with pytest.raises(RuntimeError):
        await write(session, fails=True)
    await read(loads)
    assert loads.calls == 1  # the write that did not happen evicted nothing

    await write(session, fails=False)
    await read(loads)
    assert loads.calls == 2


async def write(session: AsyncSession, *, fails: bool) -> None:
    """A service's write of row "a" inside a request's transaction, failing or not."""
    async with committed(session):
        cache.invalidate_on_commit(session, "things", "a")
        if fails:
            raise RuntimeError("the write failed: rolled back")


async def test_a_value_read_before_a_write_committed_is_not_stored_after_it(backend: str) -> None:
    async def load_racing_a_write() -> Row:
        row = Row(id="a", value=1)  # what the table held when the reader looked
        await cache.invalidate("things", "a")  # meanwhile a write commits and invalidates
        return row

    assert (await read(load_racing_a_write)).value == 1  # the reader answers what it read
    fresh = Loads(value=2)
    assert (await read(fresh)).value == 2  # but did not leave the old value behind
    assert fresh.calls == 1


class Email(BaseModel):
    email: str


async def test_a_request_that_read_before_a_write_committed_caches_what_it_committed(
    backend: str, engine: AsyncEngine
) -> None:
    # The guarded fill relies on it: each statement of a read-only request sees the latest
    # commit, even after the request's first one (on SQLite a transaction would have frozen
    # its snapshot there, and stored the row from before the write under the new version).
    reads, writes = create_sessionmaker(engine, writes=False), create_sessionmaker(engine)
    async with writes() as setup, committed(setup):  # committed for real: deleted below
        user = User(email=f"{uuid.uuid4().hex}@example.com", hashed_password="!")
        setup.add(user)
    key = str(user.id)
    try:
        async with reads() as get_request, committed(get_request):
            await get_request.exec(select(User.id))  # its first statement (CurrentUser's)
            async with writes() as patch_request, committed(patch_request):
                row = await patch_request.get(User, user.id)
                assert row is not None
                row.email = "new@example.com"
                cache.invalidate_on_commit(patch_request, "users", key)

            async def load() -> User | None:
                return await get_request.get(User, user.id)

            served = await cache.get_or_load("users", key, load, schema=Email, ttl=60)
        cached = await cache.get_or_load("users", key, Loads(), schema=Email, ttl=60)

        assert (served.email, cached.email) == ("new@example.com", "new@example.com")
    finally:
        async with writes() as cleanup, committed(cleanup):
            await cleanup.exec(delete(User).where(col(User.id) == user.id))


async def test_concurrent_misses_on_one_key_load_once(backend: str) -> None:
    loads = Loads()
    loads.gate.clear()

    readers = [asyncio.create_task(read(loads)) for _ in range(20)]
    await asyncio.sleep(0.05)
    loads.gate.set()
    rows = await asyncio.gather(*readers)

    assert loads.calls == 1
    assert rows == [Row(id="a", value=1)] * 20


async def test_a_reader_that_arrives_after_a_write_never_gets_the_value_from_before_it(
    backend: str,
) -> None:
    before = Loads(value=1)
    before.gate.clear()

    first = asyncio.create_task(read(before))  # it loads the row as it was
    await asyncio.sleep(0.01)
    await cache.invalidate("things", "a")  # a write commits; its client has its 200
    second = asyncio.create_task(read(Loads(value=2)))  # that client reads again
    await asyncio.sleep(0.01)
    before.gate.set()

    assert (await first).value == 1  # it answers what it read
    assert (await second).value == 2  # but that is not the second reader's answer


async def test_an_entry_an_older_schema_wrote_is_a_miss_not_an_error(backend: str) -> None:
    class RowV2(Row):
        colour: str  # a deploy added a required field to the read schema

    async def load_v2() -> RowV2:
        return RowV2(id="a", value=1, colour="red")

    await read(Loads())

    newer = await cache.get_or_load("things", "a", load_v2, schema=RowV2, ttl=60)

    assert newer.colour == "red"


async def test_the_in_process_store_keeps_few_versions_and_still_refuses_old_tokens() -> None:
    store = MemoryBackend(max_entries=2)
    _, token = await store.read("things", "k0")
    await store.invalidate("things", ["k0"])  # the value read with `token` is now stale

    for i in range(1, 20):  # many more writes than the store keeps versions for
        await store.invalidate("things", [f"k{i}"])

    assert len(store._versions) <= 8  # bounded (4 x max_entries)
    assert not await store.fill("things", "k0", b"{}", 60, token, unlock=False)


async def test_waiting_readers_load_for_themselves_when_the_first_one_fails(backend: str) -> None:
    class Broken(Exception):
        pass

    first = Loads()
    first.gate.clear()

    async def failing() -> Row:
        await first()
        raise Broken

    leader = asyncio.create_task(read(failing))
    await asyncio.sleep(0.01)
    follower = asyncio.create_task(read(Loads(value=7)))
    await asyncio.sleep(0.01)
    first.gate.set()

    with pytest.raises(Broken):
        await leader
    assert (await follower).value == 7


async def test_a_redis_that_does_not_answer_costs_reads_nothing_but_one_warning(
    test_settings: Settings, stream: io.StringIO
) -> None:
    settings = test_settings.model_copy(update={"log_json": True, "cache_retry_seconds": 60})
    configure_logging(settings, stream=stream)
    nowhere = Redis.from_url("redis://127.0.0.1:9", socket_connect_timeout=1, socket_timeout=1)
    away = Cache()
    away.use(settings, nowhere)
    loads = Loads()

    rows = [await read(loads, on=away) for _ in range(3)]
    await away.invalidate("things", "a")

    assert rows == [Row(id="a", value=1)] * 3
    assert loads.calls == 3
    assert [line["event"] for line in warnings(stream)] == [
        "cache unavailable; reading from the database"
    ]
    await nowhere.aclose()


def test_a_delete_drops_the_cached_reads_of_tables_it_cascades_into() -> None:
    metadata = MetaData()
    parents = Table("parents", metadata, Column("id", Integer, primary_key=True))
    children = Table(
        "children",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("parent_id", ForeignKey("parents.id", ondelete="CASCADE")),
        Column("previous_id", ForeignKey("children.id", ondelete="SET NULL")),
    )
    notes = Table("notes", metadata, Column("child_id", ForeignKey("children.id")))
    Table("others", metadata, Column("id", Integer, primary_key=True))

    assert cascaded_tables(parents) == [children]  # once, though it also references itself
    assert cascaded_tables(children) == [children]  # its own rows (SET NULL); notes restrict
    assert cascaded_tables(notes) == []  # nothing references notes
    assert RefreshToken.__table__ in cascaded_tables(User.__table__)  # type: ignore[attr-defined]


if REDIS_URL:  # Only on Redis: without it no two processes share a cache, and none goes away.
    URL: str = REDIS_URL

    @pytest.fixture
    async def redis_test_settings(test_settings: Settings) -> AsyncIterator[Settings]:
        async with redis_settings(test_settings) as (settings, _):
            yield settings

    @pytest.fixture
    async def clients() -> AsyncIterator[list[Redis]]:
        """Two clients of TEST_REDIS_URL, as two processes would have (closed afterwards)."""
        opened = [Redis.from_url(URL) for _ in range(2)]
        yield opened
        for client in opened:
            await client.aclose()

    async def test_processes_sharing_redis_load_a_hot_key_once(
        redis_test_settings: Settings, clients: list[Redis]
    ) -> None:
        processes = [Cache(), Cache()]
        for process, client in zip(processes, clients, strict=True):
            process.use(redis_test_settings, client)
        loads = Loads()
        loads.gate.clear()

        readers = [asyncio.create_task(read(loads, on=p)) for p in processes for _ in range(5)]
        await asyncio.sleep(0.1)
        loads.gate.set()
        rows = await asyncio.gather(*readers)

        assert loads.calls == 1
        assert rows == [Row(id="a", value=1)] * 10

    async def test_a_load_another_process_finished_just_before_the_lock_is_used(
        redis_test_settings: Settings, clients: list[Redis], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """This process missed, then the other filled the key and let go of its lock before
        this one took it: the lock's winner reads the value instead of loading it again."""
        other, this = Cache(), Cache()
        other.use(redis_test_settings, clients[0])
        this.use(redis_test_settings, clients[1])
        take_lock = this._backend.lock

        async def lock_after_the_other_filled(namespace: str, key: str, seconds: float) -> bool:
            await read(Loads(value=7), on=other)
            return await take_lock(namespace, key, seconds)

        monkeypatch.setattr(this._backend, "lock", lock_after_the_other_filled)
        loads = Loads()

        assert await read(loads, on=this) == Row(id="a", value=7)
        assert loads.calls == 0

    async def test_a_redis_that_comes_back_drops_what_changed_while_it_was_away(
        redis_test_settings: Settings,
    ) -> None:
        settings = redis_test_settings.model_copy(update={"cache_retry_seconds": 0.2})
        async with TcpProxy(URL) as proxy:
            client = Redis.from_url(proxy.url, socket_timeout=1, socket_connect_timeout=1)
            process = Cache()
            process.use(settings, client)
            loads = Loads()
            try:
                await read(loads, on=process)
                await proxy.stop()
                await process.invalidate("things", "a")  # a write commits while Redis is away
                loads.value = 2
                assert (await read(loads, on=process)).value == 2  # from the database
                await proxy.start()
                await asyncio.sleep(0.3)

                assert (await read(loads, on=process)).value == 2  # not the entry from before
            finally:
                await client.aclose()

    async def test_a_process_waiting_for_a_load_that_failed_takes_the_key_over(
        redis_test_settings: Settings, clients: list[Redis]
    ) -> None:
        first, second = Cache(), Cache()
        first.use(redis_test_settings, clients[0])
        second.use(redis_test_settings, clients[1])
        lock = "{" + redis_test_settings.cache_key_prefix + ":things}:lock:a"
        failing = Loads()
        failing.gate.clear()

        async def load_missing_row() -> Row:
            await failing()
            raise LookupError("404: no such row")

        async def load_holding_the_lock() -> Row:
            assert await clients[0].exists(lock)  # it took the key over, not waited it out
            return Row(id="a", value=2)

        holder = asyncio.create_task(read(load_missing_row, on=first))
        await asyncio.sleep(0.05)
        waiter = asyncio.create_task(read(load_holding_the_lock, on=second))
        await asyncio.sleep(0.05)
        failing.gate.set()

        with pytest.raises(LookupError):
            await holder
        assert (await waiter).value == 2

    async def test_an_entry_in_redis_is_the_schemas_json(
        redis_test_settings: Settings, clients: list[Redis]
    ) -> None:
        process = Cache()
        process.use(redis_test_settings, clients[0])
        await read(Loads(), on=process)

        prefix = redis_test_settings.cache_key_prefix
        stored = await clients[1].get("{" + prefix + ":things}:entry:a")

        assert isinstance(stored, bytes)
        assert json.loads(stored.split(b":", 2)[2]) == {"id": "a", "value": 1}
        assert not await clients[1].exists("{" + prefix + ":things}:lock:a")  # released
