"""HTTP endpoints of users: sign-up and tokens under /auth, accounts under /users."""

from typing import Annotated

from fastapi import Depends, Form, Query, status
from fastapi.responses import JSONResponse

from core.dependencies import SessionDep, SettingsDep
from core.responses import (
    CONFLICT,
    FORBIDDEN,
    NOT_FOUND,
    TOO_MANY_REQUESTS,
    UNAUTHORIZED,
    Responses,
)
from core.routing import Router
from core.schemas import Page
from features.users import services, tokens
from features.users.dependencies import CurrentUser, UsersAdmin, ValidUser, can_read_users
from features.users.exceptions import InvalidCredentialsError
from features.users.limits import limit_login, limit_refresh, limit_register
from features.users.models import User
from features.users.schemas import (
    LoginForm,
    OAuthError,
    PasswordChange,
    RefreshRequest,
    TokenPair,
    UserAdminUpdate,
    UserCreate,
    UserQuery,
    UserRead,
    UserSelfUpdate,
)

auth_router = Router(prefix="/auth", tags=["auth"])
router = Router(prefix="/users", tags=["users"], responses=UNAUTHORIZED)
# The API docs' descriptions of the two tags; features/registry.py lists them.
AUTH_TAG = {"name": "auth", "description": "Sign up, sign in, and refresh or revoke tokens."}
INVALID_GRANT: Responses = {
    400: {"model": OAuthError, "description": "Wrong email or password (OAuth2's invalid_grant)."}
}
TAG = {"name": "users", "description": "Your own account; everyone's, with permission."}


@auth_router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    response_model=UserRead,
    responses={**CONFLICT, **TOO_MANY_REQUESTS},
    dependencies=[Depends(limit_register)],
)
async def register(data: UserCreate, session: SessionDep, settings: SettingsDep) -> User:
    """Create an account with the `user` role."""
    return await services.register(session=session, data=data, settings=settings)


@auth_router.post(
    "/login",
    response_model=TokenPair,
    responses={**INVALID_GRANT, **TOO_MANY_REQUESTS},
    dependencies=[Depends(limit_login)],
)
async def login(
    form: Annotated[LoginForm, Form()],
    session: SessionDep,
    settings: SettingsDep,
) -> TokenPair | JSONResponse:
    """Exchange email (as `username`) and password for an access and a refresh token."""
    try:
        user = await services.authenticate(
            session=session, email=form.username, password=form.password, settings=settings
        )
    except InvalidCredentialsError as exc:
        # OAuth2's own error (RFC 6749 §5.2), which OAuth2 clients such as Swagger's Authorize
        # dialog read; every other error keeps the envelope.
        return JSONResponse(
            OAuthError(error="invalid_grant", error_description=exc.detail).model_dump(),
            status_code=status.HTTP_400_BAD_REQUEST,
            headers={"Cache-Control": "no-store"},
        )
    return await tokens.issue_pair(session=session, user=user, settings=settings)


@auth_router.post(
    "/refresh",
    response_model=TokenPair,
    responses={**UNAUTHORIZED, **TOO_MANY_REQUESTS},
    dependencies=[Depends(limit_refresh)],
)
async def refresh(data: RefreshRequest, session: SessionDep, settings: SettingsDep) -> TokenPair:
    """Exchange a refresh token for a new pair; the one sent stops working."""
    return await tokens.rotate(session=session, refresh_token=data.refresh_token, settings=settings)


@auth_router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, responses=UNAUTHORIZED)
async def logout(data: RefreshRequest, session: SessionDep, settings: SettingsDep) -> None:
    """Revoke a refresh token. Access tokens expire on their own, within minutes."""
    await tokens.revoke(session=session, refresh_token=data.refresh_token, settings=settings)


@router.get("/me", response_model=UserRead)
async def read_me(user: CurrentUser) -> User:
    """The signed-in user."""
    return user


@router.patch("/me", response_model=UserRead)
async def update_me(user: CurrentUser, data: UserSelfUpdate, session: SessionDep) -> User:
    """Change your own profile."""
    return await services.update_self(session=session, user=user, data=data)


@router.post("/me/password", status_code=status.HTTP_204_NO_CONTENT)
async def change_password(
    user: CurrentUser, data: PasswordChange, session: SessionDep, settings: SettingsDep
) -> None:
    """Change your password; every refresh token you hold stops working."""
    await services.change_password(session=session, user=user, data=data, settings=settings)


@router.get(
    "",
    response_model=Page[UserRead],
    responses=FORBIDDEN,
    dependencies=[Depends(can_read_users)],
)
async def list_users(query: Annotated[UserQuery, Query()], session: SessionDep) -> Page[User]:
    """List users, filtered by role or active flag, sorted and paged."""
    return await services.search(session=session, query=query)


@router.get(
    "/{user_id}",
    response_model=UserRead,
    responses={**FORBIDDEN, **NOT_FOUND},
    dependencies=[Depends(can_read_users)],
)
async def get_user(user: ValidUser) -> User:
    """Read one user."""
    return user


@router.patch(
    "/{user_id}",
    response_model=UserRead,
    responses={**FORBIDDEN, **NOT_FOUND},
)
async def update_user(
    # The permission check comes first: no 404 tells a stranger whether an id exists.
    admin: UsersAdmin,
    user: ValidUser,
    data: UserAdminUpdate,
    session: SessionDep,
) -> User:
    """Change a user's name, role or active flag. Deactivating revokes their refresh tokens."""
    return await services.update_by_admin(session=session, user=user, data=data, admin=admin)


@router.post(
    "/{user_id}/deactivate",
    response_model=UserRead,
    responses={**FORBIDDEN, **NOT_FOUND},
)
async def deactivate_user(
    admin: UsersAdmin,
    user: ValidUser,
    session: SessionDep,
) -> User:
    """Disable a user's account: their tokens are refused from now on. The row is kept."""
    return await services.deactivate(session=session, user=user, admin=admin)
