"""The routers the app mounts, one per feature. `make feature` adds new ones here."""

from fastapi import APIRouter

from features.users.routes import AUTH_TAG as USERS_AUTH_TAG
from features.users.routes import TAG as USERS_TAG
from features.users.routes import auth_router as users_auth_router
from features.users.routes import router as users_router

ROUTERS: list[APIRouter] = [users_auth_router, users_router]
# The API docs' sections, in this order, with their descriptions: one per router tag.
OPENAPI_TAGS: list[dict[str, str]] = [USERS_AUTH_TAG, USERS_TAG]
