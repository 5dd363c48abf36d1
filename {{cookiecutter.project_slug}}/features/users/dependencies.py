"""Who is calling, and may they: `CurrentUser` in a signature, or
`dependencies=[Depends(require_permissions(Permission.USERS_WRITE))]` on a route.

A token whose user was deleted or disabled is refused with 401, like an invalid token: the
client's way out is the same (sign in again), and a 401 says nothing about the account.
"""

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends
from fastapi.security import OAuth2PasswordBearer
from sqlmodel.ext.asyncio.session import AsyncSession

from core.dependencies import SessionDep, SettingsDep
from core.exceptions import AuthenticationError, PermissionDeniedError
from core.security import decode_token
from features.users import services
from features.users.exceptions import InactiveUserError, UserNotFoundError
from features.users.models import User
from features.users.permissions import Permission, missing_permissions
from settings import Settings

# tokenUrl is what Swagger's "Authorize" dialog posts the login form to. auto_error=False: a
# missing header gets our own 401 envelope and message, like every other bad token.
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/auth/login", auto_error=False)


async def get_current_user(
    token: Annotated[str | None, Depends(oauth2_scheme)],
    session: SessionDep,
    settings: SettingsDep,
) -> User:
    """The active user the bearer access token names; 401 for anyone else."""
    if not token:
        raise AuthenticationError
    user, _ = await authenticate_token(token, session=session, settings=settings)
    return user


async def authenticate_token(
    token: str, *, session: AsyncSession, settings: Settings
) -> tuple[User, float]:
    """The active user an access token names, and when the token expires (a Unix time).

    AuthenticationError for anyone else. Requests reach it through `CurrentUser`; a feed's
    WebSocket calls it with the token of its first message, and again now and then.
    """
    claims = decode_token(token, "access", settings=settings)
    try:
        user = await services.get(session=session, user_id=uuid.UUID(str(claims["sub"])))
    except (ValueError, UserNotFoundError) as exc:
        raise InactiveUserError from exc
    if not user.is_active:
        raise InactiveUserError
    return user, float(claims["exp"])


# The one way to name the caller: an active user, by construction.
CurrentUser = Annotated[User, Depends(get_current_user)]


def require_permissions(*permissions: Permission) -> Callable[[User], Awaitable[User]]:
    """A dependency that lets the request through only if the user's role grants every one.

    Create it once per permission set at module level (`can_write = require_permissions(...)`):
    FastAPI then resolves it once per request however many parameters use it.
    """

    required = set(permissions)

    async def check(user: CurrentUser) -> User:
        missing = missing_permissions(user.role, required)
        if missing:
            raise PermissionDeniedError(f"Missing permission: {', '.join(sorted(missing))}.")
        return user

    return check


can_read_users = require_permissions(Permission.USERS_READ)
can_write_users = require_permissions(Permission.USERS_WRITE)
UsersAdmin = Annotated[User, Depends(can_write_users)]


async def valid_user_id(user_id: uuid.UUID, session: SessionDep) -> User:
    return await services.get(session=session, user_id=user_id)


ValidUser = Annotated[User, Depends(valid_user_id)]
