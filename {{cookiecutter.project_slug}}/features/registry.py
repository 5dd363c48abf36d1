"""The routers the app mounts, one per feature. `make feature` adds new ones here."""

from fastapi import APIRouter

from features.users.routes import auth_router as users_auth_router
from features.users.routes import router as users_router

ROUTERS: list[APIRouter] = [users_auth_router, users_router]
