"""The routers the app mounts, one per feature. `make feature` adds new ones here.

JOBS: the modules whose `@job`s the app and the workers know. EVENT_HANDLERS: who hears what.
"""

from types import ModuleType

from fastapi import APIRouter

from core.events import Event, Handler
from features.users import jobs as users_jobs
from features.users.events import UserRegistered
from features.users.routes import auth_router as users_auth_router
from features.users.routes import router as users_router

ROUTERS: list[APIRouter] = [users_auth_router, users_router]

JOBS: list[ModuleType] = [
    users_jobs,
]
EVENT_HANDLERS: list[tuple[type[Event], Handler]] = [
    (UserRegistered, users_jobs.on_user_registered),
]
