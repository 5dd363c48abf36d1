"""Generated features over a real server on PostgreSQL, called as clients call them.

Protected by default (anonymous 401, a missing permission 403), owned rows invisible to other
users, public features open, and concurrent duplicates decided by the database.
"""

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bench import pg
from tests.baking import http_json, run, serve

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("feature")]

PASSWORD = "correct horse battery"
ORDER = {
    "code": "A-1", "title": "abc", "quantity": 7, "total": "1.5", "paid": True,
    "placed_at": "2026-01-15T10:30:00Z", "ship_on": "2026-03-01",
}  # fmt: skip


@dataclass
class Api:
    base_url: str
    tokens: dict[str, str]

    def call(
        self, method: str, path: str, body: object = None, *, who: str | None = None
    ) -> tuple[int, Any]:
        token = None if who is None else self.tokens[who]
        return http_json(method, self.base_url + path, body, token=token)


def login(base_url: str, email: str) -> str:
    form = urllib.parse.urlencode({"username": email, "password": PASSWORD}).encode()
    with urllib.request.urlopen(f"{base_url}/auth/login", data=form, timeout=30) as response:
        token: str = json.loads(response.read())["access_token"]
        return token


@pytest.fixture(scope="module")
def api(feature_project: Path, postgres_url: str) -> Iterator[Api]:
    env = {"DATABASE_URL": postgres_url, "ENVIRONMENT": "development"}
    run(["uv", "run", "alembic", "upgrade", "head"], feature_project, env=env)
    run(
        ["uv", "run", "python", "manage.py", "users", "create-superuser", "--email", "root@x.io"],
        feature_project,
        env={**env, "SUPERUSER_PASSWORD": PASSWORD},
    )
    with serve(feature_project, env) as base_url:
        api = Api(base_url, {})
        for name in ("alice", "bob"):
            status, _ = api.call("POST", "/auth/register", {"email": f"{name}@x.io",
                                                            "password": PASSWORD})  # fmt: skip
            assert status == 201
        api.tokens = {name: login(base_url, f"{name}@x.io") for name in ("alice", "bob", "root")}
        yield api


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """One database for the module's server (conftest's fixture makes one per test)."""
    with pg.throwaway_database("paxx") as url:
        yield url


def test_an_anonymous_caller_gets_a_401_envelope_for_every_operation(api: Api) -> None:
    for method, path in (("POST", "/orders"), ("GET", "/orders"),
                         ("PATCH", "/orders/00000000-0000-4000-8000-000000000000"),
                         ("DELETE", "/orders/00000000-0000-4000-8000-000000000000")):  # fmt: skip
        status, body = api.call(method, path, ORDER)
        assert (status, body["error"]["code"]) == (401, "not_authenticated"), (method, path)


def test_a_user_without_the_write_permission_gets_403_and_an_admin_writes(api: Api) -> None:
    status, body = api.call("POST", "/orders", {**ORDER, "code": "A-2"}, who="alice")
    assert (status, body["error"]["code"]) == (403, "permission_denied")

    status, created = api.call("POST", "/orders", {**ORDER, "code": "A-2"}, who="root")
    assert status == 201
    item = f"/orders/{created['id']}"
    assert api.call("GET", item, who="alice") == (200, created)  # reading is granted
    assert api.call("PATCH", item, {"title": "xyz"}, who="alice")[0] == 403
    assert api.call("PATCH", item, {"title": "xyz"}, who="root")[0] == 200
    assert api.call("DELETE", item, who="alice")[0] == 403
    assert api.call("DELETE", item, who="root") == (204, None)
    assert api.call("GET", item, who="root")[0] == 404


def test_owned_rows_are_invisible_to_other_users_and_visible_to_an_admin(api: Api) -> None:
    status, note = api.call("POST", "/notes", {"title": "alice's"}, who="alice")
    assert status == 201
    item = f"/notes/{note['id']}"

    for method, body in (("GET", None), ("PATCH", {"title": "mine now"}), ("DELETE", None)):
        status, error = api.call(method, item, body, who="bob")
        assert (status, error["error"]["code"]) == (404, "not_found"), method
    status, page = api.call("GET", "/notes", who="bob")
    assert (status, page["total"], page["items"]) == (200, 0, [])

    status, page = api.call("GET", "/notes", who="root")
    assert note["id"] in [row["id"] for row in page["items"]]
    assert api.call("GET", item, who="alice") == (200, note)


def test_a_public_feature_answers_anonymous_calls(api: Api) -> None:
    status, tag = api.call("POST", "/tags", {"label": "open"})
    assert status == 201
    assert api.call("GET", f"/tags/{tag['id']}") == (200, tag)


def test_racing_duplicates_are_one_201_and_409s_and_the_201_reads_back(api: Api) -> None:
    body = {**ORDER, "code": "RACE-1"}
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: api.call("POST", "/orders", body, who="root"), range(8)))

    assert sorted(status for status, _ in results) == [201] + [409] * 7, results
    created = next(body for status, body in results if status == 201)
    assert api.call("GET", f"/orders/{created['id']}", who="root")[0] == 200
