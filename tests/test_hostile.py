"""A short, bounded hostile sweep over a served baked project, on SQLite and PostgreSQL.

Every operation the served OpenAPI document declares gets, one at a time in each string, number
and query parameter (and path parameter), the values that used to reach the database and come
back as 500s: NUL bytes, lone surrogates, integers past INTEGER and BIGINT, decimals past their
precision, not-a-numbers, offsets past 2^63; and requests with oversized or too many headers.
Whatever the answer, it must not be a 5xx.
"""

import json
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench import pg
from tests.baking import bake, run, serve

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("hostile")]

PASSWORD = "correct horse battery"
FIELDS = "code:str:12:unique total:decimal:10,2 qty:int note:text?"
HOSTILE_STRINGS: list[Any] = ["\x00", "a\x00b", "\ud800", "x" * 5000, "", " "]
HOSTILE_NUMBERS: list[Any] = [
    2**31, -(2**31) - 1, 2**63, -(2**63) - 1, 10**40, 1e308, -1, 0.001,
    "1e999", "NaN", "Infinity", "123456789012.5", "9" * 40,
]  # fmt: skip
HOSTILE_QUERY = ["\x00", "a\x00b", "9" * 40, "-" + "9" * 40, "1e999", "NaN", str(2**63), ""]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = bake(tmp_path_factory.mktemp("hostile"))
    run(["uv", "sync", "--locked", "--compile-bytecode"], project)
    run(["make", "feature", "NAME=orders", f"FIELDS={FIELDS}"], project)
    run(["make", "migrate", "MSG=add orders"], project)
    return project


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, project: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{project}/hostile-{uuid.uuid4().hex[:8]}.db"
        return
    with pg.throwaway_database("paxx") as url:
        yield url


class Client:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.token = ""
        self.answers: list[tuple[int, str, str]] = []

    def send(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        all_headers = {"Content-Type": content_type, **(headers or {})}
        if self.token:
            all_headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(
            self.base_url + path, data=body, method=method, headers=all_headers
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, text = response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            status, text = exc.code, exc.read().decode()
        self.answers.append((status, f"{method} {path}", (body or b"")[:200].decode("latin-1")))
        try:
            return status, json.loads(text) if text else None
        except ValueError:
            return status, text

    def json(self, method: str, path: str, value: Any) -> tuple[int, Any]:
        return self.send(method, path, body=json.dumps(value).encode())


def quoted(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def example(document: dict[str, Any], schema: dict[str, Any]) -> Any:
    """A valid value for `schema`, enough to reach the server's code with one field hostile."""
    schema = resolve(document, schema)
    if "anyOf" in schema:
        return example(document, next(s for s in schema["anyOf"] if s.get("type") != "null"))
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        return {
            name: example(document, field)
            for name, field in schema.get("properties", {}).items()
            if name in schema.get("required", [])
        }
    formats = {
        "email": f"{uuid.uuid4().hex[:10]}@example.com",
        "date-time": "2026-01-01T00:00:00Z",
        "date": "2026-01-01",
        "uuid": str(uuid.uuid4()),
        "password": PASSWORD,
    }
    if kind == "string":
        return formats.get(schema.get("format", ""), uuid.uuid4().hex[: schema.get("maxLength", 8)])
    return {"integer": 1, "number": 1, "boolean": True, "array": []}.get(str(kind))


def hostile_for(document: dict[str, Any], schema: dict[str, Any]) -> list[Any]:
    schema = resolve(document, schema)
    kinds = {s.get("type") for s in schema.get("anyOf", [schema])}
    values = HOSTILE_STRINGS if "string" in kinds else []
    return values + (HOSTILE_NUMBERS if kinds & {"integer", "number"} else [])


def sweep_operation(
    client: Client, document: dict[str, Any], path: str, method: str, ids: dict[str, str]
) -> None:
    operation = document["paths"][path][method]
    params = operation.get("parameters", [])
    concrete = path
    for param in (p for p in params if p["in"] == "path"):
        concrete = concrete.replace("{" + param["name"] + "}", ids.get(param["name"], ids["_any"]))
        for value in HOSTILE_QUERY:
            client.send(method.upper(), path.replace("{" + param["name"] + "}", quoted(value)))
    for param in (p for p in params if p["in"] == "query"):
        for value in HOSTILE_QUERY:
            client.send(method.upper(), f"{concrete}?{param['name']}={quoted(value)}")
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        schema = resolve(document, content["application/json"]["schema"])
        valid = example(document, schema) or {}
        for name, field in schema.get("properties", {}).items():
            for value in hostile_for(document, field):
                client.json(method.upper(), concrete, {**example(document, schema), name: value})
        client.json(method.upper(), concrete, valid)
    if "application/x-www-form-urlencoded" in content:
        for field in ("username", "password"):
            for value in HOSTILE_STRINGS:
                form = {"username": "root@x.io", "password": PASSWORD, field: value}
                client.send(
                    method.upper(),
                    concrete,
                    # A lone surrogate goes as the invalid UTF-8 it would be.
                    body=urllib.parse.urlencode(form, errors="surrogatepass").encode(),
                    content_type="application/x-www-form-urlencoded",
                )


def test_a_hostile_sweep_finds_no_5xx(project: Path, database_url: str) -> None:
    env = {
        "DATABASE_URL": database_url,
        "ENVIRONMENT": "development",
        # The sweep is one client sending many logins; the limits are tested in the project.
        "AUTH_RATE_LIMIT_PER_CLIENT": "100000",
        "AUTH_RATE_LIMIT_PER_ACCOUNT": "100000",
    }
    run(["uv", "run", "alembic", "upgrade", "head"], project, env=env)
    run(
        ["uv", "run", "python", "manage.py", "users", "create-superuser", "--email", "root@x.io"],
        project,
        env={**env, "SUPERUSER_PASSWORD": PASSWORD},
    )
    with serve(project, env) as base_url:
        client = Client(base_url)
        form = urllib.parse.urlencode({"username": "root@x.io", "password": PASSWORD})
        status, tokens = client.send(
            "POST", "/auth/login", body=form.encode(),
            content_type="application/x-www-form-urlencoded",
        )  # fmt: skip
        assert status == 200, tokens
        client.token = tokens["access_token"]
        status, victim = client.json(
            "POST", "/auth/register", {"email": "victim@example.com", "password": PASSWORD}
        )
        assert status == 201, victim
        status, order = client.json(
            "POST", "/orders", {"code": "A-1", "total": "1.50", "qty": 2, "note": None}
        )
        assert status == 201, order
        ids = {"user_id": victim["id"], "order_id": order["id"], "_any": order["id"]}
        status, document = client.send("GET", "/openapi.json")
        assert status == 200

        for path, operations in document["paths"].items():
            for method in operations:
                if path.endswith("/deactivate") or method == "delete":
                    continue  # would only remove the rows the sweep aims at
                sweep_operation(client, document, path, method, ids)
        for headers in ({"X-Big": "a" * 20_000}, {f"X-H{i}": "v" for i in range(300)}):
            status, _ = client.send("GET", "/orders", headers=headers)
            assert status == 431
        client.token = ""
        client.send("POST", "/auth/refresh", body=b'{"refresh_token": "\\u0000"}')

    failures = [answer for answer in client.answers if answer[0] >= 500]
    assert not failures, failures[:20]
    assert len(client.answers) > 250, len(client.answers)  # the sweep really ran
