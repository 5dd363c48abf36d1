"""Fixtures only; the helpers tests share are in tests/baking.py."""

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from bench import pg
from tests.baking import FEATURES, bake_with_features


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


@pytest.fixture(scope="session")
def feature_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A baked project with `FEATURES` added and migrated (tests in xdist group "feature")."""
    return bake_with_features(tmp_path_factory.mktemp("feature"), FEATURES, "add shop")
