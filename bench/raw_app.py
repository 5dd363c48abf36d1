"""The practical limit: the benchmarked operations with no framework work left to remove.

Starlette with the same drivers as the generated app (aiosqlite, or an asyncpg pool),
hand-written SQL on the table `make feature` made, no ORM, no validation, no middleware. It runs
in the baked project's venv: `uv run uvicorn raw_app:app --app-dir <this directory>`, with
DATABASE_URL as the generated app reads it.
"""

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import aiosqlite
import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

POOL_SIZE = 10
COLUMNS = "id, name, price, qty, created_at, updated_at"
LIST_SQL = f"SELECT {COLUMNS} FROM items ORDER BY created_at DESC, id LIMIT 20 OFFSET 0"
COUNT_SQL = "SELECT count(*) FROM items"


def _json(value: Any) -> Any:
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


class SQLite:
    """A fixed pool of aiosqlite connections in autocommit mode; writes in BEGIN…COMMIT."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.idle: asyncio.Queue[Any] = asyncio.Queue()

    async def open(self) -> None:
        for _ in range(POOL_SIZE):
            conn = await aiosqlite.connect(self.path, isolation_level=None)
            # The generated app's settings (core/database.py), so both write alike.
            await conn.execute("PRAGMA foreign_keys=ON")
            await conn.execute("PRAGMA journal_mode=WAL")
            await conn.execute("PRAGMA synchronous=NORMAL")
            self.idle.put_nowait(conn)

    async def close(self) -> None:
        while not self.idle.empty():
            await self.idle.get_nowait().close()

    @staticmethod
    def _row(row: Any) -> dict[str, Any]:
        # SQLAlchemy stores a UUID as 32 hex digits in SQLite; the API shows it dashed.
        id_, name, price, qty, created_at, updated_at = row
        return {
            "id": str(uuid.UUID(id_)),
            "name": name,
            "price": price,
            "qty": qty,
            "created_at": created_at,
            "updated_at": updated_at,
        }

    async def get(self, item_id: str) -> dict[str, Any] | None:
        conn = await self.idle.get()
        try:
            sql = f"SELECT {COLUMNS} FROM items WHERE id = ?"
            async with conn.execute(sql, (uuid.UUID(item_id).hex,)) as cursor:
                row = await cursor.fetchone()
        finally:
            self.idle.put_nowait(conn)
        return None if row is None else self._row(row)

    async def page(self) -> tuple[int, list[dict[str, Any]]]:
        conn = await self.idle.get()
        try:
            async with conn.execute(COUNT_SQL) as cursor:
                (total,) = await cursor.fetchone()
            async with conn.execute(LIST_SQL) as cursor:
                rows = await cursor.fetchall()
        finally:
            self.idle.put_nowait(conn)
        return total, [self._row(row) for row in rows]

    async def create(self, data: dict[str, Any]) -> dict[str, Any]:
        item_id, now = uuid.uuid4(), datetime.now(UTC)
        stamp = now.strftime("%Y-%m-%d %H:%M:%S.%f")
        conn = await self.idle.get()
        try:
            await conn.execute("BEGIN")
            await conn.execute(
                "INSERT INTO items (id, name, price, qty, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (item_id.hex, data["name"], data["price"], data["qty"], stamp, stamp),
            )
            await conn.execute("COMMIT")
        finally:
            self.idle.put_nowait(conn)
        return {"id": str(item_id), **data, "created_at": now, "updated_at": now}

    async def update(self, item_id: str, qty: int) -> dict[str, Any] | None:
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        conn = await self.idle.get()
        try:
            await conn.execute("BEGIN IMMEDIATE")
            sql = f"UPDATE items SET qty = ?, updated_at = ? WHERE id = ? RETURNING {COLUMNS}"
            async with conn.execute(sql, (qty, stamp, uuid.UUID(item_id).hex)) as cursor:
                row = await cursor.fetchone()
            await conn.execute("COMMIT")
        finally:
            self.idle.put_nowait(conn)
        return None if row is None else self._row(row)


class Postgres:
    """An asyncpg pool of the same size."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.pool: Any = None

    async def open(self) -> None:
        self.pool = await asyncpg.create_pool(self.dsn, min_size=POOL_SIZE, max_size=POOL_SIZE)

    async def close(self) -> None:
        await self.pool.close()

    async def get(self, item_id: str) -> dict[str, Any] | None:
        sql = f"SELECT {COLUMNS} FROM items WHERE id = $1"
        row = await self.pool.fetchrow(sql, uuid.UUID(item_id))
        return None if row is None else dict(row)

    async def page(self) -> tuple[int, list[dict[str, Any]]]:
        async with self.pool.acquire() as conn:
            total = await conn.fetchval(COUNT_SQL)
            rows = await conn.fetch(LIST_SQL)
        return total, [dict(row) for row in rows]

    async def create(self, data: dict[str, Any]) -> dict[str, Any]:
        item_id, now = uuid.uuid4(), datetime.now(UTC)
        await self.pool.execute(
            "INSERT INTO items (id, name, price, qty, created_at, updated_at) "
            "VALUES ($1, $2, $3, $4, $5, $6)",
            item_id,
            data["name"],
            Decimal(data["price"]),
            data["qty"],
            now,
            now,
        )
        return {"id": item_id, **data, "created_at": now, "updated_at": now}

    async def update(self, item_id: str, qty: int) -> dict[str, Any] | None:
        sql = f"UPDATE items SET qty = $1, updated_at = $2 WHERE id = $3 RETURNING {COLUMNS}"
        row = await self.pool.fetchrow(sql, qty, datetime.now(UTC), uuid.UUID(item_id))
        return None if row is None else dict(row)


def _database() -> SQLite | Postgres:
    url = os.environ.get("DATABASE_URL", "sqlite+aiosqlite:///./app.db")
    if url.startswith("sqlite"):
        return SQLite(url.split(":///", 1)[1])
    return Postgres(url.replace("postgresql+asyncpg://", "postgresql://", 1))


db = _database()


def _respond(body: Any, status_code: int = 200) -> Response:
    return Response(
        json.dumps(body, default=_json), status_code=status_code, media_type="application/json"
    )


async def live(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def get_item(request: Request) -> Response:
    item = await db.get(request.path_params["item_id"])
    if item is None:
        return JSONResponse({"error": "not found"}, status_code=404)
    return _respond(item)


async def list_items(request: Request) -> Response:
    total, items = await db.page()
    return _respond({"items": items, "total": total, "limit": 20, "offset": 0})


async def create_item(request: Request) -> Response:
    return _respond(await db.create(await request.json()), status_code=201)


async def update_item(request: Request) -> Response:
    data = await request.json()
    item = await db.update(request.path_params["item_id"], data["qty"])
    if item is None:
        return JSONResponse({"error": "not found"}, status_code=404)
    return _respond(item)


@asynccontextmanager
async def lifespan(_app: Any) -> AsyncIterator[None]:
    await db.open()
    yield
    await db.close()


app = Starlette(
    routes=[
        Route("/health/live", live),
        Route("/items/{item_id}", get_item, methods=["GET"]),
        Route("/items/{item_id}", update_item, methods=["PATCH"]),
        Route("/items", list_items, methods=["GET"]),
        Route("/items", create_item, methods=["POST"]),
    ],
    lifespan=lifespan,
)
