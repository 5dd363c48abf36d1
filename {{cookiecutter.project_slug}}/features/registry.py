"""What the app has: the one list, read by the app, Alembic, the shell and the CLI alike.

Nothing is discovered by scanning folders: a feature whose lines are not here does not exist
for any of them. `make feature` adds its lines to each list; edit them freely.
"""

from types import ModuleType

import typer
from fastapi import APIRouter

from features.users import models as users_models
from features.users.commands import app as users_commands
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
    users_models,
]

# `manage.py <name> ...` command groups.
COMMANDS: dict[str, typer.Typer] = {
    "users": users_commands,
}
