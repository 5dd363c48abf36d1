"""Tables of the users feature: accounts, and the refresh tokens issued to them."""

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import StringConstraints
from sqlmodel import Field, SQLModel

from core.database import TableBase
from core.schemas import REFUSE_UNSTORABLE, Email
from features.users.permissions import Role

EMAIL_MAX_LENGTH = 320  # 64 for the local part, @, 255 for the domain
NAME_MAX_LENGTH = 255

FullName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_MAX_LENGTH),
    REFUSE_UNSTORABLE,
]


class UserBase(SQLModel):
    """What a client may write about an account: the table, `UserCreate` and `UserRead` share it."""

    email: Email = Field(max_length=EMAIL_MAX_LENGTH, unique=True)
    full_name: FullName | None = Field(default=None, max_length=NAME_MAX_LENGTH)


class User(UserBase, TableBase, table=True):
    __tablename__ = "users"

    # Private or system columns: only on the table, so no API shape can leak or accept them.
    hashed_password: str = Field(max_length=255)
    role: str = Field(default=Role.USER.value, max_length=20)
    is_active: bool = Field(default=True)


class RefreshToken(TableBase, table=True):
    """One issued refresh token, known by the sha256 of its `jti`, never by the token itself.

    Tokens rotated from one login share a `family_id`: presenting an already rotated token
    means it was copied, and the whole family is revoked.
    """

    __tablename__ = "refresh_tokens"

    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    family_id: uuid.UUID = Field(index=True)
    token_hash: str = Field(max_length=64, unique=True)
    expires_at: datetime
    revoked_at: datetime | None = Field(default=None)
