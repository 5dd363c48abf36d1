"""Abuse limits on sign-in: per client and per account, in memory or shared through Redis."""

import asyncio
import secrets
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient, Response

from conftest import BASE_URL
from main import create_app
from settings import Settings
from tests.accounts import PASSWORD, Account

REDIS_URL = "redis://127.0.0.1:6379/15"  # the tests' Redis (a missing one fails them)


def limited(app: FastAPI, **limits: Any) -> None:
    app.state.settings = app.state.settings.model_copy(update=limits)


def client_at(app: FastAPI, address: str) -> AsyncClient:
    transport = ASGITransport(app=app, raise_app_exceptions=False, client=(address, 40000))
    return AsyncClient(transport=transport, base_url=BASE_URL)


def assert_limited(response: Response) -> None:
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "too_many_requests"
    assert 1 <= int(response.headers["Retry-After"]) <= 60


async def login(client: AsyncClient, email: str, password: str = "wrong password") -> Response:  # noqa: S107
    return await client.post("/auth/login", data={"username": email, "password": password})


async def test_one_client_is_limited_on_login_register_and_refresh(
    app: FastAPI, client: AsyncClient
) -> None:
    limited(app, auth_rate_limit_per_client=3)

    for attempt in range(3):
        assert (await login(client, f"user{attempt}@example.com")).status_code == 400
    assert_limited(await login(client, "user9@example.com"))
    for attempt in range(3):
        body = {"email": f"new{attempt}@example.com", "password": PASSWORD}
        assert (await client.post("/auth/register", json=body)).status_code == 201
    body = {"email": "x@example.com", "password": PASSWORD}
    assert_limited(await client.post("/auth/register", json=body))
    for _ in range(3):
        refused = await client.post("/auth/refresh", json={"refresh_token": "not-a-token"})
        assert refused.status_code == 401
    assert_limited(await client.post("/auth/refresh", json={"refresh_token": "not-a-token"}))


async def test_one_account_is_limited_from_any_number_of_clients(
    app: FastAPI, client: AsyncClient, alice: Account
) -> None:
    limited(app, auth_rate_limit_per_account=3)

    for index in range(3):
        async with client_at(app, f"10.0.0.{index}") as other:
            assert (await login(other, alice.email)).status_code == 400
    async with client_at(app, "10.0.0.99") as other:
        # However it is spelled, and even with the right password: the account is resting.
        assert_limited(await login(other, alice.email.upper(), PASSWORD))
        assert (await login(other, "someone-else@example.com")).status_code == 400


async def test_a_login_flood_is_bounded_and_the_rest_of_the_api_answers(
    test_settings: Settings,
) -> None:
    # Real argon2 cost for unknown accounts (the dummy hash), as an attacker would cause; the
    # app's own sessions, since the requests run concurrently.
    settings = test_settings.model_copy(
        update={"password_hash_cost": "default", "auth_rate_limit_per_client": 4}
    )
    app = create_app(settings)

    async def flood(client: AsyncClient) -> list[int]:
        logins = [login(client, f"{secrets.token_hex(4)}@example.com") for _ in range(40)]
        return [response.status_code for response in await asyncio.gather(*logins)]

    async def unrelated(client: AsyncClient) -> list[int]:
        statuses = []
        for _ in range(10):
            statuses.append((await client.get("/health/ready")).status_code)
            await asyncio.sleep(0.02)
        return statuses

    async with (
        app.router.lifespan_context(app),
        client_at(app, "10.1.1.1") as attacker,
        client_at(app, "10.2.2.2") as someone,
    ):
        flooded, others = await asyncio.gather(flood(attacker), unrelated(someone))

    assert sorted(set(flooded)) == [400, 429]
    assert flooded.count(400) == 4  # no more argon2 work than the limit allows
    assert others == [200] * 10


async def test_workers_share_the_count_through_redis(test_settings: Settings) -> None:
    settings = test_settings.model_copy(
        update={"redis_url": REDIS_URL, "auth_rate_limit_per_client": 2}
    )
    first, second = create_app(settings), create_app(settings)  # two workers, one Redis
    address = f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250)}"

    async with (
        first.router.lifespan_context(first),
        second.router.lifespan_context(second),
        client_at(first, address) as one,
        client_at(second, address) as two,
    ):
        body = {"refresh_token": "not-a-token"}
        assert (await one.post("/auth/refresh", json=body)).status_code == 401
        assert (await two.post("/auth/refresh", json=body)).status_code == 401
        assert_limited(await one.post("/auth/refresh", json=body))
        assert_limited(await two.post("/auth/refresh", json=body))


async def test_an_unreachable_redis_stops_the_start(test_settings: Settings) -> None:
    app = create_app(test_settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"}))

    with pytest.raises(RuntimeError, match="Redis cannot be reached"):
        async with app.router.lifespan_context(app):
            pass
