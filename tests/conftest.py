"""Fixtures only; the helpers tests share are in tests/baking.py."""

from collections.abc import Iterator

import psycopg
import pytest

from bench import pg


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards.

    PostgreSQL is part of this project's test environment: if it is not running, this fails.
    """
    try:
        with pg.throwaway_database("paxx") as url:
            yield url
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is required at {pg.ADMIN_URL}: {exc}", pytrace=False)
