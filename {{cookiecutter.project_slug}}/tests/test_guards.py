"""Security headers, CORS, trusted hosts and the request body's limits (size and time)."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import APIRouter, Request
from httpx import ASGITransport, AsyncClient
from pydantic import BaseModel

from main import create_app
from settings import Settings

router = APIRouter(prefix="/_test-guards")


class Note(BaseModel):
    text: str


@router.post("/raw")
async def raw(request: Request) -> int:
    return len(await request.body())


@router.post("/note")
async def note(body: Note) -> int:
    return len(body.text)


async def make_client(settings: Settings, base_url: str = "http://test") -> AsyncClient:
    app = create_app(settings)
    app.include_router(router)
    return AsyncClient(transport=ASGITransport(app=app), base_url=base_url)


@pytest.fixture
async def limited(test_settings: Settings) -> AsyncIterator[AsyncClient]:
    async with await make_client(
        test_settings.model_copy(update={"max_request_body_bytes": 16})
    ) as client:
        yield client


def production(settings: Settings, **changes: Any) -> Settings:
    return settings.model_copy(update={"environment": "production", **changes})


async def test_every_response_has_the_security_headers(client: AsyncClient) -> None:
    for response in (await client.get("/health/live"), await client.get("/no-such-route")):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
        assert "Strict-Transport-Security" not in response.headers


async def test_api_responses_let_a_browser_load_nothing(client: AsyncClient) -> None:
    # /docs sets its own policy (tests/test_docs.py).
    response = await client.get("/health/live")

    policy = response.headers["Content-Security-Policy"]
    assert policy == "default-src 'none'; frame-ancestors 'none'"


async def test_hsts_is_sent_in_production(test_settings: Settings) -> None:
    async with await make_client(production(test_settings), "http://localhost") as client:
        response = await client.get("/health/live")

    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


async def test_production_refuses_an_unknown_host_in_the_envelope(
    test_settings: Settings,
) -> None:
    settings = production(test_settings, allowed_hosts=["api.example.com", "*.example.org"])
    async with await make_client(settings, "http://evil.test") as client:
        response = await client.get("/openapi.json")
        probe = await client.get("/health/live")

    assert probe.status_code == 200  # health checks call by IP address
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_host"
    assert error["request_id"] == response.headers["X-Request-ID"]
    assert response.headers["X-Frame-Options"] == "DENY"
    for allowed in ("http://api.example.com:8000", "http://eu.example.org"):
        async with await make_client(settings, allowed) as client:
            assert (await client.get("/health/live")).status_code == 200


async def test_hosts_are_not_checked_outside_production(client: AsyncClient) -> None:
    response = await client.get("http://anything.test/health/live")

    assert response.status_code == 200


async def test_cors_answers_only_the_configured_origins(test_settings: Settings) -> None:
    settings = test_settings.model_copy(update={"cors_origins": ["https://app.example.com"]})
    async with await make_client(settings) as client:
        allowed = await client.get("/health/live", headers={"Origin": "https://app.example.com"})
        denied = await client.get("/health/live", headers={"Origin": "https://evil.example"})
        preflight = await client.options(
            "/_test-guards/note",
            headers={
                "Origin": "https://evil.example",
                "Access-Control-Request-Method": "POST",
            },
        )

    assert allowed.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "X-Request-ID" in allowed.headers["Access-Control-Expose-Headers"]
    assert "Access-Control-Allow-Origin" not in denied.headers
    assert preflight.status_code == 400


async def test_no_origin_is_allowed_by_default(client: AsyncClient) -> None:
    response = await client.get("/health/live", headers={"Origin": "https://app.example.com"})

    assert "Access-Control-Allow-Origin" not in response.headers


def assert_too_large(response: Any) -> None:
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "payload_too_large"
    assert error["message"] == "The request body is larger than 16 bytes."
    assert error["request_id"] == response.headers["X-Request-ID"]


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


@pytest.mark.parametrize("path", ["/_test-guards/raw", "/_test-guards/note"])
async def test_a_body_over_the_limit_is_a_413_envelope(limited: AsyncClient, path: str) -> None:
    body = b'{"text": "' + b"x" * 20 + b'"}'

    declared = await limited.post(path, content=body)
    streamed = await limited.post(path, content=chunks(body[:10], body[10:]))

    assert "content-length" in declared.request.headers
    assert_too_large(declared)
    assert "content-length" not in streamed.request.headers
    assert_too_large(streamed)


async def test_a_body_within_the_limit_is_served(limited: AsyncClient) -> None:
    response = await limited.post(
        "/_test-guards/note",
        content=chunks(b'{"text":', b' "hi"}'),
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 200
    assert response.json() == 2


async def stalled(*parts: bytes) -> AsyncIterator[bytes]:
    """A client that sends `parts` and then nothing more, without closing."""
    for part in parts:
        yield part
    await asyncio.Event().wait()


@pytest.mark.parametrize("path", ["/_test-guards/raw", "/_test-guards/note"])
async def test_a_body_that_stops_arriving_is_a_408_that_closes_the_connection(
    test_settings: Settings, path: str
) -> None:
    settings = test_settings.model_copy(update={"request_body_timeout": 0.2})
    async with await make_client(settings) as client:
        json = {"Content-Type": "application/json"}
        async with asyncio.timeout(5):  # a failure, not a hung suite, if nothing answers
            response = await client.post(path, content=stalled(b'{"text":'), headers=json)
        served = await client.post(path, content=chunks(b'{"text":', b' "hi"}'), headers=json)

    assert response.status_code == 408
    error = response.json()["error"]
    assert error["code"] == "request_timeout"
    assert error["message"] == "The request body did not arrive within 0.2 s."
    assert error["request_id"] == response.headers["X-Request-ID"]
    assert response.headers["Connection"] == "close"
    assert served.status_code == 200  # a body that does arrive is read as before
