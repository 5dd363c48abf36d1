"""Password hashing and signed tokens. Knows nothing of users: features build on it.

Passwords: argon2id through passlib (argon2-cffi). passlib's bcrypt handler breaks on bcrypt 5,
so bcrypt is neither a scheme here nor a dependency. Hashing takes ~100 ms of CPU, so it runs in
a worker thread: on the event loop it would stall every other request.

Tokens: python-jose JWTs signed with `settings.secret_key`. Decoding always names the one allowed
algorithm (an omitted `algorithms=` lets a forged HS256-with-RSA-key token through) and requires
`exp`, `iat`, `sub`, `jti` and our own `type` claim, so an access token is never a refresh token.
"""

import hashlib
import os
import uuid
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, Literal

import anyio.to_thread
from anyio import CapacityLimiter
from jose import JOSEError, jwt

from core.exceptions import AuthenticationError
from settings import Settings

with warnings.catch_warnings():
    # passlib 1.7.4 (unmaintained) imports the deprecated `crypt` module on Python 3.12 and reads
    # `argon2.__version__` when it loads argon2-cffi. Both are harmless; silence exactly these
    # two, once, at import, so even `pytest -W error` runs clean.
    warnings.filterwarnings("ignore", "'crypt' is deprecated", DeprecationWarning)
    warnings.filterwarnings("ignore", "Accessing argon2.__version__", DeprecationWarning)
    from passlib.context import CryptContext
    from passlib.hash import argon2

    argon2.get_backend()  # type: ignore[no-untyped-call]  # loads argon2-cffi now

TokenType = Literal["access", "refresh"]
PasswordHashCost = Literal["default", "fast"]

REQUIRED_CLAIMS = {
    "require_exp": True,
    "require_iat": True,
    "require_sub": True,
    "require_jti": True,
}


@lru_cache
def password_context(cost: PasswordHashCost = "default") -> CryptContext:
    if cost == "fast":
        # The smallest argon2 parameters: for tests only (settings refuse it in production).
        return CryptContext(
            schemes=["argon2"],
            argon2__time_cost=1,
            argon2__memory_cost=8,
            argon2__parallelism=1,
        )
    # passlib's argon2 defaults (argon2id); a hash made with older parameters is upgraded at
    # the next login by `verify_and_update_password`.
    return CryptContext(schemes=["argon2"], deprecated="auto")


@lru_cache
def _dummy_hash(cost: PasswordHashCost) -> str:
    return password_context(cost).hash(uuid.uuid4().hex)


def _verify_dummy(password: str, cost: PasswordHashCost) -> None:
    # In the worker thread too: the first call also computes the dummy hash.
    password_context(cost).verify(password, _dummy_hash(cost))


# One argon2 hash at the default cost holds 64 MiB and a core for ~0.1 s. No more at once than
# there are cores: a flood of logins queues here instead of exhausting memory and the thread
# pool every other blocking call shares.
_HASHING = CapacityLimiter(os.cpu_count() or 1)


async def _hashing_thread(function: Any, *args: Any) -> Any:
    return await anyio.to_thread.run_sync(function, *args, limiter=_HASHING)


async def hash_password(password: str, *, settings: Settings) -> str:
    context = password_context(settings.password_hash_cost)
    hashed: str = await _hashing_thread(context.hash, password)
    return hashed


async def verify_and_update_password(
    password: str, password_hash: str | None, *, settings: Settings
) -> tuple[bool, str | None]:
    """(matches, new hash or None). With no hash (unknown user) it checks a dummy hash anyway,
    so a login for an unknown email takes as long as one with a wrong password."""
    context = password_context(settings.password_hash_cost)
    if password_hash is None:
        await _hashing_thread(_verify_dummy, password, settings.password_hash_cost)
        return False, None
    result: tuple[bool, str | None] = await _hashing_thread(
        context.verify_and_update, password, password_hash
    )
    return result


@dataclass(frozen=True)
class IssuedToken:
    token: str
    jti: str
    expires_at: datetime


def create_token(subject: str, token_type: TokenType, *, settings: Settings) -> IssuedToken:
    now = datetime.now(UTC)
    lifetime = (
        timedelta(minutes=settings.access_token_expire_minutes)
        if token_type == "access"  # noqa: S105
        else timedelta(days=settings.refresh_token_expire_days)
    )
    jti = uuid.uuid4().hex
    expires_at = now + lifetime
    claims = {"sub": subject, "type": token_type, "jti": jti, "iat": now, "exp": expires_at}
    token = jwt.encode(
        claims, settings.secret_key.get_secret_value(), algorithm=settings.jwt_algorithm
    )
    return IssuedToken(token=token, jti=jti, expires_at=expires_at)


def decode_token(token: str, token_type: TokenType, *, settings: Settings) -> dict[str, Any]:
    """The token's claims, or AuthenticationError: bad signature or algorithm, expired, a
    missing claim, or a token of the other type. The reason is not told to the client."""
    try:
        claims = jwt.decode(
            token,
            settings.secret_key.get_secret_value(),
            algorithms=[settings.jwt_algorithm],
            options=REQUIRED_CLAIMS,
        )
    except JOSEError as exc:  # JWTError, ExpiredSignatureError, and JWKError for odd headers
        raise AuthenticationError("The token is invalid or has expired.") from exc
    if claims.get("type") != token_type:
        raise AuthenticationError("The token is invalid or has expired.")
    return claims


def token_fingerprint(jti: str) -> str:
    """What the database keeps of a refresh token: a leaked table cannot be replayed."""
    return hashlib.sha256(jti.encode()).hexdigest()
