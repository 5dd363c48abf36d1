"""Use cases of users. They flush, never commit: the request's session commits."""

import uuid

from sqlalchemy import ColumnElement, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.database import unique_violation_column
from core.events import emit
from core.pagination import ordering
from core.schemas import ErrorDetail, Page
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


async def register(
    *, session: AsyncSession, data: UserCreate, settings: Settings, role: Role = Role.USER
) -> User:
    user = User(
        email=data.email,
        full_name=data.full_name,
        hashed_password=await hash_password(data.password, settings=settings),
        role=role,
    )
    session.add(user)
    try:
        await session.flush()
    except IntegrityError as exc:
        # Two sign-ups racing for one email: the database decides, the loser gets a 409.
        if unique_violation_column(exc, User.__tablename__) == "email":
            raise EmailTakenError(
                details=[
                    ErrorDetail(loc=["body", "email"], message="Already taken.", type="unique")
                ]
            ) from exc
        raise
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
        await session.flush()
    return user


async def get(*, session: AsyncSession, user_id: uuid.UUID) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise UserNotFoundError
    return user


async def get_by_email(*, session: AsyncSession, email: str) -> User | None:
    statement = select(User).where(col(User.email) == email.strip().lower())
    return (await session.exec(statement)).first()


async def search(*, session: AsyncSession, query: UserQuery) -> Page[User]:
    conditions: list[ColumnElement[bool]] = []
    if query.role is not None:
        conditions.append(col(User.role) == query.role)
    if query.is_active is not None:
        conditions.append(col(User.is_active) == query.is_active)
    total = (await session.exec(select(func.count()).select_from(User).where(*conditions))).one()
    statement = (
        select(User)
        .where(*conditions)
        .order_by(ordering(User, query.order_by), col(User.id))
        .limit(query.limit)
        .offset(query.offset)
    )
    items = (await session.exec(statement)).all()
    return Page(items=items, total=total, limit=query.limit, offset=query.offset)


async def update_self(*, session: AsyncSession, user: User, data: UserSelfUpdate) -> User:
    for name, value in data.model_dump(exclude_unset=True).items():
        setattr(user, name, value)
    await session.flush()
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
    for name, value in changes.items():
        setattr(user, name, value)
    if changes.get("is_active") is False:
        await tokens.revoke_all(session=session, user=user)
    await session.flush()
    return user


async def deactivate(*, session: AsyncSession, user: User, admin: User) -> User:
    return await update_by_admin(
        session=session, user=user, data=UserAdminUpdate(is_active=False), admin=admin
    )


async def change_password(
    *, session: AsyncSession, user: User, data: PasswordChange, settings: Settings
) -> None:
    matches, _ = await verify_and_update_password(
        data.current_password, user.hashed_password, settings=settings
    )
    if not matches:
        raise WrongPasswordError
    user.hashed_password = await hash_password(data.new_password, settings=settings)
    # Signed-in devices must sign in again with the new password.
    await tokens.revoke_all(session=session, user=user)
    await session.flush()
