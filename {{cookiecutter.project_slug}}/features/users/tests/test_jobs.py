"""The users feature's background work: the refresh-token purge and the welcome mail."""

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from httpx import AsyncClient
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.mail import RecordingMailSender, use_mail_sender
from features.users.jobs import purge_refresh_tokens
from features.users.models import RefreshToken
from tests.accounts import PASSWORD, Account


@pytest.fixture
def outbox() -> Iterator[RecordingMailSender]:
    sender = RecordingMailSender()
    previous = use_mail_sender(sender)
    yield sender
    use_mail_sender(previous)


def token(
    user: Account, family: uuid.UUID, *, expires_in: timedelta, revoked: bool
) -> RefreshToken:
    now = datetime.now(UTC)
    return RefreshToken(
        user_id=user.user.id,
        family_id=family,
        token_hash=uuid.uuid4().hex,
        expires_at=now + expires_in,
        revoked_at=now if revoked else None,
    )


async def test_the_purge_deletes_dead_tokens_and_keeps_what_detects_reuse(
    session: AsyncSession, alice: Account
) -> None:
    live_family, dead_family = uuid.uuid4(), uuid.uuid4()
    day = timedelta(days=1)
    keep = [
        token(alice, live_family, expires_in=day, revoked=False),  # in use
        token(alice, live_family, expires_in=day, revoked=True),  # rotated: reuse detection
    ]
    drop = [
        token(alice, uuid.uuid4(), expires_in=-day, revoked=False),  # expired
        token(alice, dead_family, expires_in=day, revoked=True),  # logged out: family revoked
        token(alice, live_family, expires_in=-day, revoked=True),  # rotated and expired
    ]
    session.add_all(keep + drop)
    await session.flush()

    assert await purge_refresh_tokens.fn(session) == 3
    assert await purge_refresh_tokens.fn(session) == 0  # idempotent: a second run is harmless
    remaining = (await session.exec(select(RefreshToken.token_hash))).all()
    assert sorted(remaining) == sorted(t.token_hash for t in keep)


async def test_registering_sends_a_welcome_mail_through_a_job(
    client: AsyncClient, outbox: RecordingMailSender
) -> None:
    response = await client.post(
        "/auth/register", json={"email": "new@example.com", "password": PASSWORD}
    )
    assert response.status_code == 201
    assert [(mail.to, mail.subject) for mail in outbox.sent] == [("new@example.com", "Welcome")]


async def test_a_registration_that_fails_sends_nothing(
    client: AsyncClient, outbox: RecordingMailSender
) -> None:
    body = {"email": "twice@example.com", "password": PASSWORD}
    assert (await client.post("/auth/register", json=body)).status_code == 201
    assert (await client.post("/auth/register", json=body)).status_code == 409
    assert len(outbox.sent) == 1
