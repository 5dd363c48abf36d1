"""Accounts for tests in any feature: users with a role, their bearer headers, a real login.

The fixtures built on these (`alice`, `admin`, `user_client`, `admin_client`) are in the
project's root `conftest.py`; import from here what a test calls directly.
"""

import uuid
from dataclasses import dataclass

from httpx import AsyncClient
from sqlmodel.ext.asyncio.session import AsyncSession

from core.security import create_token
from features.users import services
from features.users.models import User
from features.users.permissions import Role
from features.users.schemas import UserCreate
from settings import Settings

PASSWORD = "correct horse battery"


@dataclass
class Account:
    """`email` is kept apart: after a failed request rolls back, `user` needs a reload."""

    user: User
    email: str
    password: str
    headers: dict[str, str]


async def make_account(
    session: AsyncSession, settings: Settings, email: str, role: Role = Role.USER
) -> Account:
    user = await services.register(
        session=session,
        data=UserCreate(email=email, password=PASSWORD),
        settings=settings,
        role=role,
    )
    # Committed (to a savepoint of the test's transaction): a request that fails rolls back
    # only its own work, not the test's setup.
    await session.commit()
    return Account(user=user, email=user.email, password=PASSWORD, headers=bearer(user, settings))


async def make_user(session: AsyncSession) -> User:
    """A user who never signs in (no real password hash): an owner for factory-made rows."""
    user = User(email=f"{uuid.uuid4().hex}@example.com", hashed_password="!")
    session.add(user)
    await session.flush()
    return user


def bearer(user: User, settings: Settings) -> dict[str, str]:
    """The `Authorization` header of a fresh access token for `user`."""
    token = create_token(str(user.id), "access", settings=settings).token
    return {"Authorization": f"Bearer {token}"}


async def login(client: AsyncClient, email: str, password: str = PASSWORD) -> dict[str, str]:
    response = await client.post("/auth/login", data={"username": email, "password": password})
    assert response.status_code == 200, response.text
    tokens: dict[str, str] = response.json()
    return tokens
