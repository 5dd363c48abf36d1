"""Create the PostgreSQL database a URL names, unless it exists: `make test-postgres` runs it.

uv run python scripts/create_database.py postgresql+asyncpg://postgres@127.0.0.1:5432/app_test

The root conftest.py also makes (and drops) one database per pytest-xdist worker with these.
"""

import asyncio
import sys

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import create_async_engine

# Every PostgreSQL server has it; CREATE DATABASE must run from some other database.
MAINTENANCE_DATABASE = "postgres"


async def create_database(url: str) -> bool:
    """True if the database was created, False if it was there already."""
    return await _on_server(url, create=True)


async def drop_database(url: str) -> bool:
    """True if the database was dropped (connections to it closed first), False if absent."""
    return await _on_server(url, create=False)


async def _on_server(url: str, *, create: bool) -> bool:
    target = make_url(url)
    if not target.drivername.startswith("postgresql") or not target.database:
        raise ValueError(f"not a PostgreSQL database URL: {target!r}")
    server = target.set(database=MAINTENANCE_DATABASE)
    engine = create_async_engine(server, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            exists = await connection.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"),
                {"name": target.database},
            )
            if bool(exists) is create:
                return False
            quoted = connection.dialect.identifier_preparer.quote(target.database)
            statement = f"CREATE DATABASE {quoted}" if create else f"DROP DATABASE {quoted} (FORCE)"
            await connection.execute(text(statement))
            return True
    finally:
        await engine.dispose()


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: create_database.py postgresql+asyncpg://user@host:5432/name", file=sys.stderr)
        return 2
    try:
        created = asyncio.run(create_database(argv[0]))
    except (ValueError, ArgumentError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot reach PostgreSQL for {make_url(argv[0])!r}: {exc}", file=sys.stderr)
        return 1
    name = make_url(argv[0]).database
    print(f"Created the database {name}." if created else f"The database {name} exists.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
