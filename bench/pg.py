"""Throwaway PostgreSQL databases on 127.0.0.1:5432 (user postgres, trust auth)."""

import contextlib
import os
import uuid
from collections.abc import Iterator

import psycopg

# The same server and maintenance database the template tests use.
ADMIN_URL = os.environ.get("PAXX_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


@contextlib.contextmanager
def throwaway_database(prefix: str = "paxx_bench") -> Iterator[str]:
    """Create an empty database; yield its asyncpg URL; drop it afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            info = admin.info
            yield f"postgresql+asyncpg://{info.user}@{info.host}:{info.port}/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def unborn_database(prefix: str = "paxx") -> Iterator[str]:
    """Yield the asyncpg URL of a database that does not exist yet; drop it afterwards if made.

    For testing code that creates its database itself.
    """
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5) as admin:
        info = admin.info
        try:
            yield f"postgresql+asyncpg://{info.user}@{info.host}:{info.port}/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def server_version() -> str:
    with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5) as admin:
        row = admin.execute("SHOW server_version").fetchone()
        return str(row[0]) if row else "unknown"
