"""Abuse limits on the sign-in routes: per client address, and per account where one is named.

Each is a route dependency, checked before any password is hashed, so a flood is refused cheaply
(429 with Retry-After) and argon2's work stays bounded. Counts live in `app.state.rate_limits`
(core/rate_limit.py: in-process, or Redis when REDIS_URL is set).
"""

import hashlib
from typing import Annotated

from fastapi import Form, Request

from core.dependencies import SettingsDep
from core.rate_limit import Limit, check
from core.schemas import normalise_email
from features.users.schemas import LoginForm, UserCreate
from settings import Settings


async def _limit(request: Request, settings: Settings, route: str, account: str | None) -> None:
    store = request.app.state.rate_limits
    window = settings.auth_rate_limit_window
    client = request.client.host if request.client else "unknown"
    per_client = Limit(settings.auth_rate_limit_per_client, window)
    await check(store, f"{route}:client:{client}", per_client)
    if account is not None:
        # Hashed: the store never holds an address, and any input makes a short key.
        normalised = normalise_email(account) or account[:320].lower()
        digest = hashlib.sha256(normalised.encode()).hexdigest()
        limit = Limit(settings.auth_rate_limit_per_account, window)
        await check(store, f"{route}:account:{digest}", limit)


async def limit_login(
    request: Request, form: Annotated[LoginForm, Form()], settings: SettingsDep
) -> None:
    await _limit(request, settings, "login", form.username)


async def limit_register(request: Request, data: UserCreate, settings: SettingsDep) -> None:
    await _limit(request, settings, "register", data.email)


async def limit_refresh(request: Request, settings: SettingsDep) -> None:
    await _limit(request, settings, "refresh", None)
