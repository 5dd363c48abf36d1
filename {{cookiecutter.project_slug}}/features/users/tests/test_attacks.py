"""Forged, stale and misused tokens: every one is a 401 in the error envelope, never a 500."""

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from httpx import AsyncClient
from jose import jwt
from sqlmodel.ext.asyncio.session import AsyncSession

from core.security import create_token
from features.users.tests.test_auth import assert_error
from settings import Settings
from tests.accounts import Account


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def claims_for(account: Account, **overrides: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    claims = {
        "sub": str(account.user.id),
        "type": "access",
        "jti": uuid.uuid4().hex,
        "iat": now,
        "exp": now + timedelta(minutes=5),
    }
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


def sign(claims: dict[str, Any], settings: Settings, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, settings.secret_key.get_secret_value(), algorithm=algorithm)


async def assert_refused(client: AsyncClient, headers: dict[str, str]) -> None:
    response = await client.get("/users/me", headers=headers)

    error = assert_error(response, 401, "not_authenticated")
    assert error["request_id"]
    assert response.headers["WWW-Authenticate"] == "Bearer"


def as_bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_well_formed_token_is_accepted(
    client: AsyncClient, alice: Account, test_settings: Settings
) -> None:
    # The control: the forgeries below differ from this token in one way each.
    response = await client.get(
        "/users/me", headers=as_bearer(sign(claims_for(alice), test_settings))
    )

    assert response.status_code == 200


async def test_alg_none_is_refused(client: AsyncClient, alice: Account) -> None:
    unsigned = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims_for(alice, iat=1, exp=2**40))}."

    await assert_refused(client, as_bearer(unsigned))


async def test_a_token_signed_with_another_key_is_refused(
    client: AsyncClient, alice: Account
) -> None:
    forged = jwt.encode(claims_for(alice), "another-secret-key-of-the-same-length!!", "HS256")

    await assert_refused(client, as_bearer(forged))


@pytest.mark.parametrize("algorithm", ["HS384", "HS512"])
async def test_another_hmac_algorithm_than_configured_is_refused(
    client: AsyncClient, alice: Account, test_settings: Settings, algorithm: str
) -> None:
    assert test_settings.jwt_algorithm == "HS256"

    await assert_refused(client, as_bearer(sign(claims_for(alice), test_settings, algorithm)))


async def test_an_rs256_token_is_refused(client: AsyncClient, alice: Account) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
    )

    await assert_refused(client, as_bearer(jwt.encode(claims_for(alice), key, "RS256")))


async def test_an_rs256_header_on_an_hs256_signature_is_refused(
    client: AsyncClient, alice: Account, test_settings: Settings
) -> None:
    _, payload, signature = sign(claims_for(alice), test_settings).split(".")
    relabelled = f"{b64({'alg': 'RS256', 'typ': 'JWT'})}.{payload}.{signature}"

    await assert_refused(client, as_bearer(relabelled))


async def test_an_expired_token_is_refused(
    client: AsyncClient, alice: Account, test_settings: Settings
) -> None:
    past = datetime.now(UTC) - timedelta(hours=1)
    expired = sign(claims_for(alice, iat=past, exp=past + timedelta(minutes=5)), test_settings)

    await assert_refused(client, as_bearer(expired))


@pytest.mark.parametrize("claim", ["exp", "iat", "sub", "jti", "type"])
async def test_a_token_missing_a_required_claim_is_refused(
    client: AsyncClient, alice: Account, test_settings: Settings, claim: str
) -> None:
    claims = claims_for(alice)
    del claims[claim]

    await assert_refused(client, as_bearer(sign(claims, test_settings)))


async def test_a_sub_that_is_no_user_id_is_refused(
    client: AsyncClient, alice: Account, test_settings: Settings
) -> None:
    await assert_refused(client, as_bearer(sign(claims_for(alice, sub="admin"), test_settings)))


async def test_a_tampered_payload_with_the_original_signature_is_refused(
    client: AsyncClient, alice: Account, admin: Account, test_settings: Settings
) -> None:
    header, _, signature = sign(claims_for(alice), test_settings).split(".")
    as_admin = b64(claims_for(admin, iat=int(datetime.now(UTC).timestamp()), exp=2**40))

    await assert_refused(client, as_bearer(f"{header}.{as_admin}.{signature}"))


async def test_a_refresh_token_is_not_an_access_token(
    client: AsyncClient, alice: Account, test_settings: Settings
) -> None:
    refresh = create_token(str(alice.user.id), "refresh", settings=test_settings).token

    await assert_refused(client, as_bearer(refresh))


async def test_an_access_token_is_not_a_refresh_token(
    client: AsyncClient, alice: Account, test_settings: Settings
) -> None:
    access = create_token(str(alice.user.id), "access", settings=test_settings).token

    response = await client.post("/auth/refresh", json={"refresh_token": access})
    assert_error(response, 401, "not_authenticated")
    response = await client.post("/auth/logout", json={"refresh_token": access})
    assert_error(response, 401, "not_authenticated")


async def test_a_deleted_users_token_is_refused(
    client: AsyncClient, session: AsyncSession, alice: Account
) -> None:
    await session.delete(alice.user)
    await session.commit()

    await assert_refused(client, alice.headers)


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Bearer not-a-token",
        "Bearer a.b.c",
        "Bearer ....",
        "Bearer " + "A" * 2000,
        "Bearer eyJhbGciOiJIUzI1NiJ9.%%%.***",
        "Bearer eyJhbGciOiJIUzI1NiIsImtpZCI6eyJrIjoxfX0.e30.c2ln",  # kid is an object
        "Basic YWxpY2U6c2VjcmV0",
        "Token abc",
    ],
)
async def test_garbage_empty_and_wrong_scheme_are_refused(
    client: AsyncClient, authorization: str | None
) -> None:
    await assert_refused(client, {} if authorization is None else {"Authorization": authorization})
