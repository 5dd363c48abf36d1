"""What every management command shares: its settings, and domain errors as one line."""

from typing import Any

import typer
from typer.core import TyperGroup

from core.exceptions import AppError
from settings import Settings, get_settings


class ManageGroup(TyperGroup):
    """Turns a domain error from any (sub)command into one line on stderr and exit status 1."""

    def invoke(self, ctx: Any) -> Any:  # Any: typer's own vendored click.Context
        try:
            return super().invoke(ctx)
        except AppError as exc:
            typer.echo(f"error: {exc.detail}", err=True)
            raise typer.Exit(code=1) from None


def settings_of(ctx: typer.Context) -> Settings:
    """The settings a command runs with: `get_settings()`, or what a test passed as `obj`."""
    return ctx.obj if isinstance(ctx.obj, Settings) else get_settings()
