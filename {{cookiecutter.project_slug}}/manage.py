"""Management commands: `uv run python manage.py --help`.

A feature adds its own group by defining `app = typer.Typer()` in `features/<name>/commands.py`;
it is mounted as `manage.py <name> ...`. A domain error (`AppError`) raised by any command
prints one line to stderr and exits 1.
"""

import asyncio
import importlib
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import SQLModel, select
from typer.core import TyperGroup

from core.database import create_engine, create_sessionmaker
from core.exceptions import AppError, ServiceUnavailableError
from core.jobs.commands import jobs_cli
from core.logging import configure_logging
from core.shell import start
from features.registry import JOBS
from settings import Settings, get_settings

FEATURES_DIR = Path(__file__).resolve().parent / "features"


class ManageGroup(TyperGroup):
    """Turns a domain error from any (sub)command into one line on stderr and exit status 1."""

    def invoke(self, ctx: Any) -> Any:  # Any: typer's own vendored click.Context
        try:
            return super().invoke(ctx)
        except AppError as exc:
            typer.echo(f"error: {exc.detail}", err=True)
            raise typer.Exit(code=1) from None


app = typer.Typer(
    cls=ManageGroup, no_args_is_help=True, help="Management commands for this service."
)


def settings_of(ctx: typer.Context) -> Settings:
    """The settings a command runs with: `get_settings()`, or what a test passed as `obj`."""
    return ctx.obj if isinstance(ctx.obj, Settings) else get_settings()


def mount_feature_commands(
    cli: typer.Typer, features_dir: Path = FEATURES_DIR, package: str = "features"
) -> list[str]:
    """Mount the `app` of every `features/<name>/commands.py` that has one as `<name>`."""
    mounted = []
    for commands_file in sorted(features_dir.glob("*/commands.py")):
        name = commands_file.parent.name
        group = getattr(importlib.import_module(f"{package}.{name}.commands"), "app", None)
        if isinstance(group, typer.Typer):
            cli.add_typer(group, name=name)
            mounted.append(name)
    return mounted


def feature_models() -> dict[str, type[SQLModel]]:
    """Every table class in `features/*/models.py`, by class name."""
    tables: dict[str, type[SQLModel]] = {}
    for models_file in sorted(FEATURES_DIR.glob("*/models.py")):
        module = importlib.import_module(f"features.{models_file.parent.name}.models")
        for name, value in vars(module).items():
            if (
                isinstance(value, type)
                and issubclass(value, SQLModel)
                and hasattr(value, "__table__")
            ):
                tables[name] = value
    return tables


mount_feature_commands(app)
app.add_typer(jobs_cli(JOBS), name="jobs")


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
    """Python with settings, engine, `session`, `select` and the features' models; `await` works."""
    settings = settings_of(ctx)
    configure_logging(settings)
    engine = create_engine(settings)
    session = create_sessionmaker(engine)()
    namespace: dict[str, Any] = {
        "settings": settings,
        "engine": engine,
        "session": session,
        "select": select,
        **feature_models(),
    }
    banner = "Shell: " + ", ".join(sorted(namespace)) + "\nTop-level `await` works."
    loop = asyncio.new_event_loop()
    try:
        status = start(namespace, loop=loop, banner=banner, command=command, plain=plain)
    finally:
        loop.run_until_complete(session.close())
        loop.run_until_complete(engine.dispose())
        loop.close()
    raise typer.Exit(code=status)


if __name__ == "__main__":
    app()
