"""Management commands: `uv run python manage.py --help`.

A feature's command group is a `typer.Typer()` listed in `COMMANDS` of `features/registry.py`;
it is mounted as `manage.py <name> ...`. A domain error (`AppError`) raised by any command
prints one line to stderr and exits 1.
"""

import asyncio
from typing import Annotated, Any

import typer
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import select

from core.cache import cache
from core.cli import ManageGroup, settings_of
from core.database import create_engine, create_sessionmaker, table_models
from core.exceptions import ServiceUnavailableError
from core.jobs.commands import jobs_cli
from core.logging import configure_logging
from core.redis import connect as connect_redis
from core.shell import start
from features.registry import COMMANDS, JOBS, MODELS

app = typer.Typer(
    cls=ManageGroup, no_args_is_help=True, help="Management commands for this service."
)
for name, group in COMMANDS.items():
    app.add_typer(group, name=name)
app.add_typer(jobs_cli(JOBS), name="jobs")  # core's: every feature's jobs


@app.command("check-db")
def check_db(ctx: typer.Context) -> None:
    """Connect to the database and run `SELECT 1`."""
    settings = settings_of(ctx)

    async def ping() -> None:
        engine = create_engine(settings)
        try:
            async with engine.connect() as connection:
                await connection.exec_driver_sql("SELECT 1")
        except (SQLAlchemyError, OSError) as exc:
            raise ServiceUnavailableError(f"The database cannot be reached: {exc}") from exc
        finally:
            await engine.dispose()

    asyncio.run(ping())
    typer.echo(f"Database reachable ({'SQLite' if settings.is_sqlite else 'server'}).")


@app.command()
def routes(ctx: typer.Context) -> None:
    """List the API's operations: method, path and summary (from the OpenAPI schema)."""
    from main import create_app  # only this command needs the app

    schema = create_app(settings_of(ctx)).openapi()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            typer.echo(f"{method.upper():7} {path:40} {operation.get('summary', '')}")


@app.command()
def shell(
    ctx: typer.Context,
    command: Annotated[
        str | None, typer.Option("--command", "-c", help="Run this code and exit.")
    ] = None,
    plain: Annotated[
        bool, typer.Option(help="The standard console even if IPython is there.")
    ] = False,
) -> None:
    """Python with settings, engine, `session`, `select`, `cache` and the features' models;
    `await` works."""
    settings = settings_of(ctx)
    configure_logging(settings)
    engine = create_engine(settings)
    session = create_sessionmaker(engine)()
    # The app's cache (on Redis with REDIS_URL): writes made here do not invalidate it, so
    # `await cache.invalidate_namespace("orders")` after changing orders by hand.
    redis = connect_redis(settings)
    cache.use(settings, redis)
    namespace: dict[str, Any] = {
        "settings": settings,
        "engine": engine,
        "session": session,
        "select": select,
        "cache": cache,
        **table_models(MODELS),
    }
    banner = "Shell: " + ", ".join(sorted(namespace)) + "\nTop-level `await` works."
    loop = asyncio.new_event_loop()
    try:
        status = start(namespace, loop=loop, banner=banner, command=command, plain=plain)
    finally:
        loop.run_until_complete(session.close())
        loop.run_until_complete(engine.dispose())
        if redis is not None:
            loop.run_until_complete(redis.aclose())
        loop.close()
    raise typer.Exit(code=status)


if __name__ == "__main__":
    app()
