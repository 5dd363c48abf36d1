"""Use cases of users. They flush, never commit: the request's session commits."""

import uuid

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.events import emit
from core.pagination import equal_to, paginate
from core.persistence import flush
from core.schemas import Page, normalise_email
from core.security import hash_password, verify_and_update_password
from features.users import tokens
from features.users.events import UserRegistered
from features.users.exceptions import (
    EmailTakenError,
    InvalidCredentialsError,
    SelfLockoutError,
    UserNotFoundError,
    WrongPasswordError,
)
from features.users.models import User
from features.users.permissions import Role
from features.users.schemas import (
    PASSWORD_MAX_LENGTH,
    PasswordChange,
    UserAdminUpdate,
    UserCreate,
    UserQuery,
    UserSelfUpdate,
)
from settings import Settings

# What the admin list filters on: `UserQuery` fields named like the columns.
FILTERS = ("role", "is_active")


async def register(
    *, session: AsyncSession, data: UserCreate, settings: Settings, role: Role = Role.USER
) -> User:
    user = User.model_validate(
        data,
        update={
            "hashed_password": await hash_password(data.password, settings=settings),
            "role": role,
        },
    )
    session.add(user)
    # Two sign-ups racing for one email: the unique index decides, the loser gets a 409.
    await flush(session, User, not_found=UserNotFoundError, conflict=EmailTakenError)
    emit(session, UserRegistered(user_id=user.id, email=user.email))
    return user


async def authenticate(
    *, session: AsyncSession, email: str, password: str, settings: Settings
) -> User:
    if len(password) > PASSWORD_MAX_LENGTH:  # no account has one: skip the costly hashing
        raise InvalidCredentialsError
    user = await get_by_email(session=session, email=email)
    matches, new_hash = await verify_and_update_password(
        password, user.hashed_password if user else None, settings=settings
    )
    if user is None or not matches or not user.is_active:
        raise InvalidCredentialsError
    if new_hash is not None:  # hashed with older parameters: store the upgraded hash
        user.hashed_password = new_hash
        await flush(session, User, not_found=UserNotFoundError)
    return user


async def get(*, session: AsyncSession, user_id: uuid.UUID) -> User:
    user = await session.get(User, user_id, populate_existing=True)
    if user is None:
        raise UserNotFoundError
    return user


async def get_by_email(*, session: AsyncSession, email: str) -> User | None:
    # The one normalisation registration applies (core/schemas.py `Email`); what is not an
    # address (a NUL, say, which PostgreSQL could not even compare) matches no account.
    normalised = normalise_email(email)
    if normalised is None:
        return None
    statement = select(User).where(col(User.email) == normalised)
    return (await session.exec(statement)).first()


async def search(*, session: AsyncSession, query: UserQuery) -> Page[User]:
    return await paginate(
        session, User, query, order_by=query.order_by, where=equal_to(User, query, FILTERS)
    )


async def update_self(*, session: AsyncSession, user: User, data: UserSelfUpdate) -> User:
    user.sqlmodel_update(data.model_dump(exclude_unset=True))
    await flush(session, User, not_found=UserNotFoundError)
    return user


async def update_by_admin(
    *, session: AsyncSession, user: User, data: UserAdminUpdate, admin: User
) -> User:
    changes = data.model_dump(exclude_unset=True)
    # An admin who demotes or disables themselves may leave nobody able to undo it.
    if user.id == admin.id and (
        changes.get("role", user.role) != user.role or changes.get("is_active") is False
    ):
        raise SelfLockoutError
    user.sqlmodel_update(changes)
    if changes.get("is_active") is False:
        await tokens.revoke_all(session=session, user=user)
    await flush(session, User, not_found=UserNotFoundError)
    return user


async def deactivate(*, session: AsyncSession, user: User, admin: User) -> User:
    return await update_by_admin(
        session=session, user=user, data=UserAdminUpdate(is_active=False), admin=admin
    )


async def change_password(
    *, session: AsyncSession, user: User, data: PasswordChange, settings: Settings
) -> None:
    # The row locked and read afresh (FOR UPDATE; SQLite's write lock serialises already): of
    # two changes sent with the same current password, the second checks the new one and fails.
    await session.refresh(user, with_for_update=True)
    matches, _ = await verify_and_update_password(
        data.current_password, user.hashed_password, settings=settings
    )
    if not matches:
        raise WrongPasswordError
    user.hashed_password = await hash_password(data.new_password, settings=settings)
    # Signed-in devices must sign in again with the new password.
    await tokens.revoke_all(session=session, user=user)
    await flush(session, User, not_found=UserNotFoundError)
