"""Background work of the users feature: token clean-up, and the welcome mail.

Both are idempotent, as every job should be: a job may run twice (a worker killed after the
work but before the acknowledgement), so running it again must do no harm.
"""

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.jobs.declare import Schedule, job
from core.jobs.retry import DoNotRetry, RetryPolicy
from core.mail import Mail, get_mail_sender
from features.users.events import UserRegistered
from features.users.models import RefreshToken, User


@job(schedules=[Schedule(cron="17 * * * *")], overlap="skip")
async def purge_refresh_tokens(session: AsyncSession) -> int:
    """Delete refresh tokens that can no longer serve: expired, or revoked in a dead family.

    A revoked token whose family still has a live token is kept until it expires: presenting it
    again is how a copied token is detected (features/users/tokens.py). Deleting what is already
    gone deletes nothing, so a second run is harmless.
    """
    now = datetime.now(UTC)
    live_families = select(RefreshToken.family_id).where(
        col(RefreshToken.revoked_at).is_(None), col(RefreshToken.expires_at) > now
    )
    statement = delete(RefreshToken).where(
        or_(
            col(RefreshToken.expires_at) <= now,
            col(RefreshToken.revoked_at).is_not(None)
            & col(RefreshToken.family_id).not_in(live_families),
        )
    )
    result = await session.exec(statement)
    return int(result.rowcount)


@job(retry=RetryPolicy(max_attempts=5, delay=10, max_delay=timedelta(hours=1).total_seconds()))
async def send_welcome_mail(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Welcome a new account. Mail is not transactional: a rare second mail is the price of
    never losing one; a real sender can pass `user_id` as its idempotency key."""
    account = await session.get(User, user_id)
    if account is None:
        raise DoNotRetry(f"user {user_id} no longer exists")
    await get_mail_sender().send(
        Mail(to=account.email, subject="Welcome", body="Your account is ready.")
    )


async def on_user_registered(event: UserRegistered) -> None:
    await send_welcome_mail.enqueue(user_id=event.user_id)
