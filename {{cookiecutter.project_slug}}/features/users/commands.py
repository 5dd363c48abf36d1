"""`manage.py users ...`: account chores that cannot go through the API, such as the first admin."""

import asyncio
from typing import Annotated, NoReturn

import typer
from pydantic import TypeAdapter, ValidationError

from core.cli import settings_of
from core.database import create_engine, create_sessionmaker
from core.dependencies import committed
from core.exceptions import AppError
from features.users import services
from features.users.models import UserBase
from features.users.permissions import Role
from features.users.schemas import Password, UserCreate
from settings import Settings

app = typer.Typer(no_args_is_help=True)


@app.callback()
def users() -> None:
    """Manage user accounts."""  # a callback keeps this a group while it has one command


@app.command("create-superuser")
def create_superuser(
    ctx: typer.Context,
    email: Annotated[str, typer.Option(prompt=True, help="The admin's email.")],
    password: Annotated[
        str | None,
        typer.Option(
            envvar="SUPERUSER_PASSWORD",
            help="Prompted for, hidden, when not given (or set SUPERUSER_PASSWORD).",
        ),
    ] = None,
) -> None:
    """Create an active user with the admin role."""
    settings = settings_of(ctx)
    try:
        UserBase.model_validate({"email": email})  # before any prompt: no typing for a refusal
    except ValidationError as exc:
        _fail(_problems(exc))
    if password is None:
        password = _prompt_password()
    try:
        data = UserCreate(email=email, password=password)
    except ValidationError as exc:
        _fail(_problems(exc))
    try:
        asyncio.run(_create_admin(data, settings))
    except AppError as exc:
        _fail(exc.detail)
    typer.echo(f"Created admin {data.email}.")


def _prompt_password() -> str:
    """Ask once, check it, and only then ask again to confirm: no typing twice for a refusal."""
    password: str = typer.prompt("Password", hide_input=True)
    try:
        TypeAdapter(Password).validate_python(password)
    except ValidationError as exc:
        _fail(f"password: {exc.errors()[0]['msg']}")
    if typer.prompt("Repeat for confirmation", hide_input=True) != password:
        _fail("the two passwords differ; nothing was created")
    return password


def _problems(exc: ValidationError) -> str:
    return "; ".join(f"{error['loc'][0]}: {error['msg']}" for error in exc.errors())


async def _create_admin(data: UserCreate, settings: Settings) -> None:
    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine, writes=True)() as session, committed(session):
            await services.register(session=session, data=data, settings=settings, role=Role.ADMIN)
    finally:
        await engine.dispose()


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=1)
