"""What the app has: the one list, read by the app, Alembic, the shell and the CLI alike.

Nothing is discovered by scanning folders: a feature whose lines are not here does not exist
for any of them. `make feature` adds its lines to each list; edit them freely.
"""

from types import ModuleType

import typer
from fastapi import APIRouter

from core.events import Event, Handler
from core.jobs import models as jobs_models
from core.realtime import feeds
from features.users import jobs as users_jobs
from features.users import models as users_models
from features.users.commands import app as users_commands
from features.users.events import UserRegistered
from features.users.routes import AUTH_TAG as USERS_AUTH_TAG
from features.users.routes import TAG as USERS_TAG
from features.users.routes import auth_router as users_auth_router
from features.users.routes import router as users_router

# Mounted by main.py, in this order.
ROUTERS: list[APIRouter] = [
    users_auth_router,
    users_router,
]

# The API docs' sections, in this order, with their descriptions: one per router tag.
OPENAPI_TAGS: list[dict[str, str]] = [
    USERS_AUTH_TAG,
    USERS_TAG,
]

# Their tables are what Alembic migrates; their table classes are in `make shell`.
MODELS: list[ModuleType] = [
    jobs_models,  # core's dead-letter table
    users_models,
]

# `manage.py <name> ...` command groups.
COMMANDS: dict[str, typer.Typer] = {
    "users": users_commands,
}

# The modules whose `@job`s the app and the workers know (core/jobs).
JOBS: list[ModuleType] = [
    users_jobs,
]

# Who hears what, after the transaction that emitted it commits (core/events.py).
EVENT_HANDLERS: list[tuple[type[Event], Handler]] = [
    (feeds.RowChanged, feeds.broadcast),  # core's: features' changes, to their feeds' sockets
    (UserRegistered, users_jobs.on_user_registered),
]
