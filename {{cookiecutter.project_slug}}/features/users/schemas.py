"""API shapes of users and tokens. The password hash never leaves through any of them."""

import uuid
from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from core.pagination import PageQuery
from core.schemas import REFUSE_UNSTORABLE, reject_nulls
from features.users.models import FullName, User, UserBase
from features.users.permissions import Role

PASSWORD_MIN_LENGTH = 8
# argon2 has no length limit, but an unbounded password is a cheap way to burn server CPU.
PASSWORD_MAX_LENGTH = 128

Password = Annotated[
    str,
    StringConstraints(min_length=PASSWORD_MIN_LENGTH, max_length=PASSWORD_MAX_LENGTH),
    REFUSE_UNSTORABLE,
]


class UserCreate(UserBase):
    # Examples fill the API docs' "Try it out" forms and generated clients' docs.
    model_config = {  # noqa: RUF012 (SQLModel reads it; not a shared mutable default)
        "json_schema_extra": {
            "examples": [
                {"email": "ada@example.com", "password": "correct-horse-9", "full_name": "Ada"}
            ]
        }
    }

    password: Password


class UserSelfUpdate(BaseModel):
    """What a user may change about themselves. Email and password have their own rules."""

    full_name: FullName | None = None


class UserAdminUpdate(BaseModel):
    full_name: FullName | None = None
    role: Role | None = None
    is_active: bool | None = None

    @model_validator(mode="after")
    def _refuse_null_for_required_columns(self) -> Self:
        # Omit a field to leave it alone; only the name may be cleared with null.
        return reject_nulls(self, User)


class PasswordChange(BaseModel):
    current_password: Annotated[
        str, StringConstraints(max_length=PASSWORD_MAX_LENGTH), REFUSE_UNSTORABLE
    ]
    new_password: Password


class UserRead(UserBase):
    model_config = {  # noqa: RUF012 (SQLModel reads it; not a shared mutable default)
        "json_schema_extra": {
            "examples": [
                {
                    "id": "0b6f8f3e-3d5a-4c1e-9b7a-2f4d6c8e1a3b",
                    "email": "ada@example.com",
                    "full_name": "Ada",
                    "role": "user",
                    "is_active": True,
                    "created_at": "2026-01-01T12:00:00Z",
                    "updated_at": "2026-01-01T12:00:00Z",
                }
            ]
        }
    }

    id: uuid.UUID
    role: Role
    is_active: bool
    created_at: datetime
    updated_at: datetime


class UserQuery(PageQuery):
    role: Role | None = None
    is_active: bool | None = None
    order_by: Literal["email", "-email", "created_at", "-created_at"] = "created_at"


class TokenPair(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "access_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9...",
                    "refresh_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9...",
                    "token_type": "bearer",
                    "expires_in": 900,
                }
            ]
        }
    )

    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105
    expires_in: int = Field(description="Seconds until the access token expires.")


class LoginForm(BaseModel):
    """OAuth2's password grant (RFC 6749 §4.3), sent as a form; the email goes in `username`.

    Not FastAPI's OAuth2PasswordRequestForm: its plain `str` fields let a multipart part declared
    in a charset such as utf-7 carry lone surrogates into hashing, a 500 instead of a 422."""

    username: Annotated[str, StringConstraints(max_length=320), REFUSE_UNSTORABLE]
    password: Annotated[
        str,
        StringConstraints(max_length=PASSWORD_MAX_LENGTH),
        REFUSE_UNSTORABLE,
        Field(json_schema_extra={"format": "password"}),
    ]
    grant_type: Literal["password"] | None = None


class RefreshRequest(BaseModel):
    refresh_token: Annotated[
        str, StringConstraints(min_length=1, max_length=4096), REFUSE_UNSTORABLE
    ]


class OAuthError(BaseModel):
    """OAuth2's error response (RFC 6749 §5.2), which `POST /auth/login` answers instead of the
    envelope, because OAuth2 clients expect it."""

    error: Literal["invalid_request", "invalid_grant"]
    error_description: str
