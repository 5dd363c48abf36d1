"""Where a GET by id spends its CPU, layer by layer, in one process and with no HTTP server.

Runs in a baked project's venv, from the project, with DATABASE_URL as the app reads it:

    PYTHONPATH=. uv run python <this file> <item id> <operations per round> <rounds>

and prints one JSON object: for each layer, the process CPU time (every thread: aiosqlite's
worker too) per operation, in microseconds, one figure per round. Each layer does what the one
before it does and more, so the differences say what each layer costs:

- driver: a pooled aiosqlite connection or an asyncpg pool, one SELECT by id, as bench/raw_app.py;
- SQLAlchemy Core: the app's own engine (its pool, pre-ping, BEGIN) and a Core SELECT;
- ORM session: a session from the app's read-only sessionmaker, `session.get` and commit, in
  `async with`, as a hand-written handler would;
- ORM + JSON: that, plus the item validated into its read schema and dumped to JSON, the work
  FastAPI's response model does;
- FastAPI app: the whole request through the ASGI app (middleware, dependencies, validation,
  serialisation, access log line), without a server or a socket. What it adds above "ORM +
  JSON" is the app layer's own cost: routing, dependency solving, the session dependency, the
  middleware and the access line.
"""

import asyncio
import json
import os
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aiosqlite
import asyncpg
from features.items.models import Item
from features.items.schemas import ItemRead
from main import create_app
from sqlalchemy import select

Operation = Callable[[], Awaitable[object]]


async def driver_get(
    url: str, item_id: uuid.UUID
) -> tuple[Operation, Callable[[], Awaitable[None]]]:
    """A SELECT by id on the bare driver, and how to close it."""
    if url.startswith("sqlite"):
        conn = await aiosqlite.connect(url.split(":///", 1)[1], isolation_level=None)
        await conn.execute("PRAGMA foreign_keys=ON")

        async def sqlite_get() -> object:
            async with conn.execute("SELECT * FROM items WHERE id = ?", (item_id.hex,)) as cur:
                return await cur.fetchone()

        return sqlite_get, conn.close
    pool = await asyncpg.create_pool(url.replace("+asyncpg", ""), min_size=1, max_size=10)

    async def postgres_get() -> object:
        return await pool.fetchrow("SELECT * FROM items WHERE id = $1", item_id)

    return postgres_get, pool.close


def asgi_get(app: Any, path: str) -> Operation:
    """GET `path` through the ASGI app; raises unless the answer is a 200."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), (b"accept", b"*/*")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def call() -> object:
        statuses: list[int] = []

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        await app({**scope, "state": {}}, receive, send)
        if statuses != [200]:
            raise RuntimeError(f"GET {path} answered {statuses}")
        return statuses

    return call


async def per_layer(
    layers: dict[str, Operation], count: int, rounds: int
) -> dict[str, list[float]]:
    """`count` operations of each layer per round, the layers taking turns round by round, so
    that a slower spell of the machine falls on every layer alike and the differences hold."""
    for operation in layers.values():
        for _ in range(min(count, 200)):  # pools, statement caches, first-call imports
            await operation()
    figures: dict[str, list[float]] = {name: [] for name in layers}
    for _ in range(rounds):
        for name, operation in layers.items():
            started = time.process_time()
            for _ in range(count):
                await operation()
            figures[name].append((time.process_time() - started) / count * 1e6)
    return figures


async def main(item_id: uuid.UUID, count: int, rounds: int) -> dict[str, list[float]]:
    app = create_app()
    url = app.state.settings.database_url
    engine, sessionmaker = app.state.engine, app.state.sessionmaker
    table = Item.__table__

    async def core_get() -> object:
        async with engine.connect() as conn:
            return (await conn.execute(select(table).where(table.c.id == item_id))).first()

    async def orm_get() -> object:
        async with sessionmaker() as session:
            item = await session.get(Item, item_id)
            await session.commit()
            return item

    async def orm_json_get() -> object:
        return ItemRead.model_validate(await orm_get()).model_dump_json()

    driver, close_driver = await driver_get(url, item_id)
    async with app.router.lifespan_context(app):
        figures = await per_layer(
            {
                "driver": driver,
                "SQLAlchemy Core": core_get,
                "ORM session": orm_get,
                "ORM + JSON": orm_json_get,
                "FastAPI app": asgi_get(app, f"/items/{item_id}"),
            },
            count,
            rounds,
        )
    await close_driver()
    return figures


if __name__ == "__main__":
    item, ops, rounds = uuid.UUID(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    # The access line of every request is part of the cost; where it goes is not. A failure's
    # traceback still goes to the real stderr.
    real_stderr, sys.stderr = sys.stderr, open(os.devnull, "w")  # noqa: SIM115
    try:
        figures = asyncio.run(main(item, ops, rounds))
    finally:
        sys.stderr = real_stderr
    print(json.dumps(figures))
