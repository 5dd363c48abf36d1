"""Tables of the users feature: accounts, and the refresh tokens issued to them."""

import uuid
from datetime import datetime

from sqlmodel import Field

from core.database import TableBase
from features.users.permissions import Role

EMAIL_MAX_LENGTH = 320  # 64 for the local part, @, 255 for the domain


class User(TableBase, table=True):
    __tablename__ = "users"

    # Stored lowercase (schemas normalise it), so the unique constraint is case-insensitive.
    email: str = Field(max_length=EMAIL_MAX_LENGTH, unique=True)
    hashed_password: str = Field(max_length=255)
    full_name: str | None = Field(default=None, max_length=255)
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
