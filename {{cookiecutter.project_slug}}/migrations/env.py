"""Alembic environment: async engine, every feature's models, the URL from settings."""

import asyncio
import importlib
from logging.config import fileConfig
from pathlib import Path

from alembic import context
from alembic.operations.ops import MigrationScript
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from core.database import create_engine
from settings import Settings, get_settings

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

FEATURES_DIR = Path(__file__).resolve().parent.parent / "features"


def import_feature_models() -> None:
    """Import every `features/*/models.py` so its tables join `SQLModel.metadata`.

    An import error stops the migration: a half-seen model would autogenerate a DROP TABLE.
    """
    for models_file in sorted(FEATURES_DIR.glob("*/models.py")):
        module = f"features.{models_file.parent.name}.models"
        try:
            importlib.import_module(module)
        except Exception as exc:
            raise SystemExit(f"Cannot import {module}: {exc!r}. Fix it before migrating.") from exc


import_feature_models()
import core.jobs.models  # noqa: E402, F401  (the dead-letter table is core's, not a feature's)

target_metadata = SQLModel.metadata


def _settings() -> Settings:
    # Tests pass their own database URL; everyone else uses DATABASE_URL from settings.
    url = config.attributes.get("database_url")
    settings = get_settings()
    return settings.model_copy(update={"database_url": url}) if url else settings


def _skip_empty_autogenerate(
    _context: MigrationContext,
    _revision: object,
    directives: list[MigrationScript],
) -> None:
    """`make migrate` with no model changes writes nothing instead of an empty revision."""
    cmd_opts = config.cmd_opts
    if cmd_opts is None or not getattr(cmd_opts, "autogenerate", False):
        return
    upgrade_ops = directives[0].upgrade_ops
    if upgrade_ops is not None and upgrade_ops.is_empty():
        directives[:] = []
        print("No changes in the models; no migration written.")


def _configure(connection: Connection | None = None, url: str | None = None) -> None:
    context.configure(
        connection=connection,
        url=url,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite can only ALTER a table by copying it
        compare_type=True,
        compare_server_default=True,
        literal_binds=connection is None,
        process_revision_directives=_skip_empty_autogenerate,
    )


def run_migrations_offline() -> None:
    _configure(url=_settings().database_url)
    with context.begin_transaction():
        context.run_migrations()


def _run_sync(connection: Connection) -> None:
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


async def run_migrations_online() -> None:
    engine = create_engine(_settings())
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_sync)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_migrations_online())
