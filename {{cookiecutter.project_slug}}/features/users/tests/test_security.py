"""Password hashing: argon2 through passlib, no bcrypt, upgrades on login, off the event loop."""

import importlib.util
import threading

import pytest
from httpx import AsyncClient
from passlib.context import CryptContext
from pydantic import ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from core import security
from settings import Settings
from tests.accounts import PASSWORD, Account, login


async def test_passwords_are_argon2id_and_verify(test_settings: Settings) -> None:
    hashed = await security.hash_password(PASSWORD, settings=test_settings)

    assert hashed.startswith("$argon2id$")
    assert await security.verify_and_update_password(PASSWORD, hashed, settings=test_settings) == (
        True,
        None,
    )
    matches, _ = await security.verify_and_update_password("nope", hashed, settings=test_settings)
    assert not matches


def test_the_production_cost_is_argon2s_default_and_bcrypt_is_not_used() -> None:
    context = security.password_context("default")

    assert context.schemes() == ("argon2",)
    assert context.hash(PASSWORD).startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    # passlib's bcrypt handler raises on every hash with bcrypt 5: keep bcrypt out entirely.
    assert importlib.util.find_spec("bcrypt") is None


async def test_an_outdated_hash_is_upgraded_at_login(
    client: AsyncClient, session: AsyncSession, alice: Account
) -> None:
    older = CryptContext(
        schemes=["argon2"], argon2__time_cost=2, argon2__memory_cost=16, argon2__parallelism=1
    )
    alice.user.hashed_password = older.hash(PASSWORD)
    await session.commit()
    old_hash = alice.user.hashed_password

    await login(client, alice.email)

    await session.refresh(alice.user)
    assert alice.user.hashed_password != old_hash
    assert "m=8,t=1,p=1" in alice.user.hashed_password  # the configured (test) parameters
    await login(client, alice.email)  # and it still verifies


async def test_hashing_runs_in_a_worker_thread(
    test_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[threading.Thread] = []
    context = security.password_context(test_settings.password_hash_cost)
    real_hash = context.hash

    def recording_hash(secret: str) -> str:
        threads.append(threading.current_thread())
        return real_hash(secret)

    monkeypatch.setattr(context, "hash", recording_hash)
    await security.hash_password(PASSWORD, settings=test_settings)

    assert threads
    assert threads[0] is not threading.main_thread()


async def test_an_unknown_user_is_checked_against_a_dummy_hash(
    test_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    verified: list[str] = []
    context = security.password_context(test_settings.password_hash_cost)
    real_verify = context.verify

    def recording_verify(secret: str, hashed: str) -> bool:
        verified.append(hashed)
        return real_verify(secret, hashed)

    monkeypatch.setattr(context, "verify", recording_verify)
    result = await security.verify_and_update_password(PASSWORD, None, settings=test_settings)

    assert result == (False, None)
    assert verified[0].startswith("$argon2id$")


@pytest.mark.parametrize(
    "unsafe",
    [
        {"environment": "production", "password_hash_cost": "fast"},
        {"jwt_algorithm": "RS256"},  # the secret is an HMAC key, never a public key
        {"jwt_algorithm": "none"},
    ],
)
def test_settings_refuse_unsafe_token_and_hashing_options(unsafe: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        Settings(_env_file=None, secret_key="s" * 40, **unsafe)  # type: ignore[arg-type]
