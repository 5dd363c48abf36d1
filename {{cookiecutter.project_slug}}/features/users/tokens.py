"""Refresh tokens: issue, rotate, revoke. The database knows each one by its jti's sha256.

Rotation: every refresh revokes the token it was given and issues a new one in the same family.
A revoked token presented again means two parties hold it (one of them stole it), so the whole
family is revoked and both must sign in again.
"""

import uuid
from datetime import UTC, datetime

from sqlalchemy import ColumnElement
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from core.security import create_token, decode_token, token_fingerprint
from features.users.exceptions import InactiveUserError, InvalidTokenError
from features.users.models import RefreshToken, User
from features.users.schemas import TokenPair
from settings import Settings


async def issue_pair(
    *, session: AsyncSession, user: User, settings: Settings, family_id: uuid.UUID | None = None
) -> TokenPair:
    access = create_token(str(user.id), "access", settings=settings)
    refresh = create_token(str(user.id), "refresh", settings=settings)
    session.add(
        RefreshToken(
            user_id=user.id,
            family_id=family_id or uuid.uuid4(),
            token_hash=token_fingerprint(refresh.jti),
            expires_at=refresh.expires_at,
        )
    )
    await session.flush()
    return TokenPair(
        access_token=access.token,
        refresh_token=refresh.token,
        expires_in=settings.access_token_expire_minutes * 60,
    )


async def rotate(*, session: AsyncSession, refresh_token: str, settings: Settings) -> TokenPair:
    stored = await _stored(session=session, refresh_token=refresh_token, settings=settings)
    user = await session.get(User, stored.user_id)
    if user is None or not user.is_active:
        raise InactiveUserError
    # Claim the token with one conditional UPDATE: of two requests racing with the same token,
    # exactly one rotates it and the other is treated as a reuse.
    claimed = await _revoke(session, col(RefreshToken.id) == stored.id)
    if not claimed:
        await _revoke(session, col(RefreshToken.family_id) == stored.family_id)
        # The 401 below rolls the request back; the family's revocation must survive it.
        await session.commit()
        raise InvalidTokenError
    return await issue_pair(
        session=session, user=user, settings=settings, family_id=stored.family_id
    )


async def revoke(*, session: AsyncSession, refresh_token: str, settings: Settings) -> None:
    stored = await _stored(session=session, refresh_token=refresh_token, settings=settings)
    await _revoke(session, col(RefreshToken.id) == stored.id)


async def revoke_all(*, session: AsyncSession, user: User) -> None:
    await _revoke(session, col(RefreshToken.user_id) == user.id)


async def _stored(*, session: AsyncSession, refresh_token: str, settings: Settings) -> RefreshToken:
    claims = decode_token(refresh_token, "refresh", settings=settings)
    statement = select(RefreshToken).where(
        col(RefreshToken.token_hash) == token_fingerprint(str(claims["jti"]))
    )
    stored = (await session.exec(statement)).first()
    if stored is None:
        raise InvalidTokenError
    return stored


async def _revoke(session: AsyncSession, condition: ColumnElement[bool]) -> int:
    """Revoke the matching tokens not yet revoked; how many that was."""
    statement = (
        update(RefreshToken)
        .where(condition, col(RefreshToken.revoked_at).is_(None))
        .values(revoked_at=datetime.now(UTC))
    )
    result = await session.exec(statement)
    return result.rowcount
