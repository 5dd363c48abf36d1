"""Your own account, the admin endpoints and their permissions, and the OpenAPI security."""

import asyncio
import uuid

import pytest
from httpx import AsyncClient
from sqlalchemy import delete
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from core.database import create_engine, create_sessionmaker
from core.dependencies import committed
from features.users import services
from features.users.exceptions import WrongPasswordError
from features.users.models import User
from features.users.schemas import PasswordChange, UserCreate
from features.users.tests.test_auth import assert_error
from settings import Settings
from tests.accounts import PASSWORD, Account, login


async def test_me_reads_and_updates_your_own_profile(client: AsyncClient, alice: Account) -> None:
    response = await client.patch(
        "/users/me", json={"full_name": "  Alice Liddell "}, headers=alice.headers
    )

    assert response.status_code == 200, response.text
    assert response.json()["full_name"] == "Alice Liddell"
    me = await client.get("/users/me", headers=alice.headers)
    assert me.json()["full_name"] == "Alice Liddell"


async def test_a_user_cannot_promote_themselves(client: AsyncClient, alice: Account) -> None:
    response = await client.patch("/users/me", json={"role": "admin"}, headers=alice.headers)

    assert response.status_code == 200  # the unknown field is ignored, not applied
    me = await client.get("/users/me", headers=alice.headers)
    assert me.json()["role"] == "user"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/users", None),
        ("GET", "/users/{id}", None),
        ("PATCH", "/users/{id}", {"role": "admin"}),
        ("POST", "/users/{id}/deactivate", None),
    ],
)
async def test_admin_routes_refuse_a_plain_user(
    client: AsyncClient, alice: Account, method: str, path: str, body: object
) -> None:
    response = await client.request(
        method, path.format(id=alice.user.id), json=body, headers=alice.headers
    )

    error = assert_error(response, 403, "permission_denied")
    assert "users:" in error["message"]


async def test_admin_routes_refuse_anonymous_callers_before_looking_anything_up(
    client: AsyncClient,
) -> None:
    response = await client.get("/users/00000000-0000-0000-0000-000000000000")

    assert_error(response, 401, "not_authenticated")


async def test_an_admin_lists_and_filters_users(
    client: AsyncClient, alice: Account, admin: Account
) -> None:
    everyone = await client.get("/users", params={"order_by": "email"}, headers=admin.headers)
    admins = await client.get("/users", params={"role": "admin"}, headers=admin.headers)

    assert everyone.status_code == 200, everyone.text
    assert [u["email"] for u in everyone.json()["items"]] == [
        "admin@example.com",
        "alice@example.com",
    ]
    assert everyone.json()["total"] == 2
    assert [u["email"] for u in admins.json()["items"]] == ["admin@example.com"]


async def test_an_admin_reads_promotes_and_deactivates_a_user(
    client: AsyncClient, alice: Account, admin: Account
) -> None:
    url = f"/users/{alice.user.id}"
    tokens = await login(client, alice.email)

    assert (await client.get(url, headers=admin.headers)).json()["email"] == alice.email
    promoted = await client.patch(url, json={"role": "admin"}, headers=admin.headers)
    assert promoted.json()["role"] == "admin"
    deactivated = await client.post(f"{url}/deactivate", headers=admin.headers)
    assert deactivated.status_code == 200
    assert deactivated.json()["is_active"] is False

    # Her still unexpired access token and her refresh token are refused from now on.
    assert_error(await client.get("/users/me", headers=alice.headers), 401, "not_authenticated")
    refresh = await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert_error(refresh, 401, "not_authenticated")


async def test_a_missing_user_is_a_404_for_an_admin(client: AsyncClient, admin: Account) -> None:
    response = await client.get(
        "/users/00000000-0000-0000-0000-000000000000", headers=admin.headers
    )

    assert_error(response, 404, "not_found")


async def test_an_admin_cannot_lock_themselves_out(client: AsyncClient, admin: Account) -> None:
    url = f"/users/{admin.user.id}"

    demote = await client.patch(url, json={"role": "user"}, headers=admin.headers)
    deactivate = await client.post(f"{url}/deactivate", headers=admin.headers)

    assert_error(demote, 422, "self_lockout")
    assert_error(deactivate, 422, "self_lockout")


async def test_a_disabled_users_valid_token_is_refused(
    client: AsyncClient, session: AsyncSession, alice: Account
) -> None:
    alice.user.is_active = False
    await session.commit()

    response = await client.get("/users/me", headers=alice.headers)

    assert_error(response, 401, "not_authenticated")


async def test_openapi_declares_the_oauth2_password_flow_on_me(client: AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()

    schemes = schema["components"]["securitySchemes"]
    assert schemes["OAuth2PasswordBearer"]["flows"]["password"]["tokenUrl"] == "/auth/login"
    assert {"OAuth2PasswordBearer": []} in schema["paths"]["/users/me"]["get"]["security"]
    assert "requestBody" in schema["paths"]["/auth/login"]["post"]


async def test_role_and_active_flag_cannot_be_set_to_null(
    client: AsyncClient, alice: Account, admin: Account
) -> None:
    response = await client.patch(
        f"/users/{alice.user.id}", json={"role": None}, headers=admin.headers
    )

    error = assert_error(response, 422, "validation_error")
    assert "role cannot be null" in error["details"][0]["message"]


async def test_of_two_concurrent_password_changes_only_one_knew_the_password(
    test_settings: Settings, migrated_database: str
) -> None:
    # Real, separate transactions: on PostgreSQL both would read the old hash and both succeed
    # (the last one winning) unless the row is locked before the check.
    engine = create_engine(test_settings)
    sessions = create_sessionmaker(engine, writes=True)
    email = f"{uuid.uuid4().hex}@example.com"

    async def change(user_id: uuid.UUID, new: str) -> None:
        async with sessions() as session, committed(session):
            user = await session.get(User, user_id)
            assert user is not None
            data = PasswordChange(current_password=PASSWORD, new_password=new)
            await services.change_password(
                session=session, user=user, data=data, settings=test_settings
            )

    try:
        async with sessions() as session, committed(session):
            data = UserCreate(email=email, password=PASSWORD)
            user = await services.register(session=session, data=data, settings=test_settings)
        outcomes = await asyncio.gather(
            change(user.id, "first new passphrase"),
            change(user.id, "second new passphrase"),
            return_exceptions=True,
        )
    finally:
        async with sessions() as session, committed(session):
            await session.exec(delete(User).where(col(User.email) == email))
        await engine.dispose()

    assert sorted(type(outcome).__name__ for outcome in outcomes) == [
        "NoneType",
        WrongPasswordError.__name__,
    ]
