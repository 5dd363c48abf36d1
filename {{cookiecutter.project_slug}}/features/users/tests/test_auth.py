"""Sign-up, sign-in and the refresh token's life: rotation, reuse, logout, password change."""

from typing import Any

import pytest
from httpx import AsyncClient, Response
from sqlmodel.ext.asyncio.session import AsyncSession

from core import security
from features.users import services
from features.users.exceptions import InvalidCredentialsError
from settings import Settings
from tests.accounts import PASSWORD, Account, login


def assert_error(response: Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code
    assert set(error) == {"code", "message", "details", "request_id"}
    return error


async def test_register_login_me_refresh_logout(client: AsyncClient) -> None:
    created = await client.post(
        "/auth/register", json={"email": "Bob@Example.COM", "password": PASSWORD}
    )
    assert created.status_code == 201, created.text
    assert created.json()["email"] == "bob@example.com"  # stored lowercase
    assert created.json()["role"] == "user"
    assert "password" not in created.text

    tokens = await login(client, "BOB@example.com")
    assert tokens["token_type"] == "bearer"
    me = await client.get(
        "/users/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert me.status_code == 200
    assert me.json()["email"] == "bob@example.com"

    refreshed = await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text
    new = refreshed.json()
    assert new["refresh_token"] != tokens["refresh_token"]

    # Rotated: the old refresh token is spent.
    old = await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert_error(old, 401, "not_authenticated")

    out = await client.post("/auth/logout", json={"refresh_token": new["refresh_token"]})
    assert out.status_code == 204
    after = await client.post("/auth/refresh", json={"refresh_token": new["refresh_token"]})
    assert_error(after, 401, "not_authenticated")


async def test_reusing_a_rotated_refresh_token_revokes_the_whole_family(
    client: AsyncClient, alice: Account
) -> None:
    first = await login(client, alice.email)
    second = await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    latest = second.json()["refresh_token"]
    other_login = await login(client, alice.email)  # another device: another family

    # An attacker replays the stolen, already rotated token ...
    replay = await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert_error(replay, 401, "not_authenticated")

    # ... so the legitimate holder of the newest token must sign in again too.
    stolen_family = await client.post("/auth/refresh", json={"refresh_token": latest})
    assert_error(stolen_family, 401, "not_authenticated")
    untouched = await client.post(
        "/auth/refresh", json={"refresh_token": other_login["refresh_token"]}
    )
    assert untouched.status_code == 200


async def test_an_email_is_taken_once_whatever_its_case(
    client: AsyncClient, alice: Account
) -> None:
    response = await client.post(
        "/auth/register", json={"email": "ALICE@example.com", "password": PASSWORD}
    )

    error = assert_error(response, 409, "conflict")
    assert error["details"][0]["loc"] == ["body", "email"]


@pytest.mark.parametrize(
    ("password", "problem"),
    [("short", "string_too_short"), ("x" * 129, "string_too_long")],
)
async def test_password_policy_is_a_clear_422(
    client: AsyncClient, password: str, problem: str
) -> None:
    response = await client.post(
        "/auth/register", json={"email": "carol@example.com", "password": password}
    )

    error = assert_error(response, 422, "validation_error")
    assert error["details"][0]["loc"] == ["body", "password"]
    assert error["details"][0]["type"] == problem


@pytest.mark.parametrize(
    ("email", "password"),
    [("alice@example.com", "wrong password"), ("nobody@example.com", PASSWORD)],
)
async def test_login_refuses_wrong_password_and_unknown_email_alike(
    client: AsyncClient, alice: Account, email: str, password: str
) -> None:
    response = await client.post("/auth/login", data={"username": email, "password": password})

    # OAuth2's own error shape (RFC 6749 §5.2), which Swagger's Authorize dialog shows.
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "Incorrect email or password.",
    }
    assert response.headers["Cache-Control"] == "no-store"


def multipart_login(username: str, password: str, charset: str) -> dict[str, Any]:
    # Built by hand: clients send a charset parameter that httpx's own encoder never writes.
    fields = {"username": username, "password": password}
    parts = "".join(
        f'--edge\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields.items()
    )
    return {
        "content": f"{parts}--edge--\r\n".encode(),
        "headers": {"Content-Type": f"multipart/form-data; boundary=edge; charset={charset}"},
    }


@pytest.mark.parametrize(
    ("username", "password"),
    [("+2AA-@example.com", PASSWORD), ("alice@example.com", "+3AA-" + PASSWORD)],
    ids=["username", "password"],
)
async def test_login_refuses_a_lone_surrogate_decoded_from_the_forms_charset(
    client: AsyncClient, alice: Account, username: str, password: str
) -> None:
    # In utf-7, "+2AA-" is the lone surrogate U+D800: it cannot be hashed or stored.
    response = await client.post("/auth/login", **multipart_login(username, password, "utf-7"))

    assert_error(response, 422, "validation_error")
    control = await client.post("/auth/login", **multipart_login(alice.email, PASSWORD, "utf-7"))
    assert control.status_code == 200, control.text


async def test_login_refuses_another_grant_type(client: AsyncClient, alice: Account) -> None:
    data = {"username": alice.email, "password": PASSWORD, "grant_type": "client_credentials"}
    response = await client.post("/auth/login", data=data)

    assert_error(response, 422, "validation_error")


@pytest.mark.parametrize(
    ("registered", "typed"),
    [
        ("Ada@Example.com", "ada@example.COM"),
        ("ad\u0061\u0301@b\u00fccher.example", "ADA\u0301@B\u00dcCHER.example"),  # NFD, upper
        ("ada@b\u00fccher.example", "ada@xn--bcher-kva.example"),  # the domain's IDNA form
        (" ada@example.com", "ada@example.com "),
    ],
)
async def test_login_accepts_the_address_however_it_was_typed_at_registration(
    client: AsyncClient, registered: str, typed: str
) -> None:
    created = await client.post("/auth/register", json={"email": registered, "password": PASSWORD})
    assert created.status_code == 201, created.json()

    response = await client.post("/auth/login", data={"username": typed, "password": PASSWORD})

    assert response.status_code == 200, response.json()


async def test_a_disabled_user_cannot_log_in(
    client: AsyncClient, session: AsyncSession, alice: Account
) -> None:
    alice.user.is_active = False
    await session.commit()

    response = await client.post(
        "/auth/login", data={"username": alice.email, "password": PASSWORD}
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


async def test_changing_the_password_revokes_refresh_tokens(
    client: AsyncClient, alice: Account
) -> None:
    tokens = await login(client, alice.email)

    wrong = await client.post(
        "/users/me/password",
        json={"current_password": "not it at all", "new_password": "a new passphrase"},
        headers=alice.headers,
    )
    assert_error(wrong, 422, "wrong_password")
    changed = await client.post(
        "/users/me/password",
        json={"current_password": PASSWORD, "new_password": "a new passphrase"},
        headers=alice.headers,
    )
    assert changed.status_code == 204, changed.text

    refresh = await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert_error(refresh, 401, "not_authenticated")
    old_password = await client.post(
        "/auth/login", data={"username": alice.email, "password": PASSWORD}
    )
    assert old_password.json()["error"] == "invalid_grant"
    await login(client, alice.email, "a new passphrase")


async def test_an_unknown_email_costs_one_hash_verification_like_a_wrong_password(
    session: AsyncSession, test_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[str | None] = []
    real = security.verify_and_update_password

    async def spy(password: str, password_hash: str | None, **kwargs: Any) -> Any:
        checked.append(password_hash)
        return await real(password, password_hash, **kwargs)

    monkeypatch.setattr(services, "verify_and_update_password", spy)
    with pytest.raises(InvalidCredentialsError):
        await services.authenticate(
            session=session, email="ghost@example.com", password=PASSWORD, settings=test_settings
        )

    assert checked == [None]  # None: core.security verifies against its dummy hash
