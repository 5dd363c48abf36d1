"""`manage.py users create-superuser`, run through Typer's test runner on the feature's own app.

The command commits through its own engine, as it would in production, so each test deletes
the users it created.
"""

import asyncio
from collections.abc import Iterator

import pytest
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from typer.testing import CliRunner

from core.database import create_engine
from features.users.commands import app
from features.users.models import User
from settings import Settings
from tests.accounts import PASSWORD

runner = CliRunner()
EMAIL = "root@example.com"


async def _stored_admin(settings: Settings, *, delete_it: bool = False) -> User | None:
    # Its own engine on its own loop: the command has already closed its loop by now.
    engine = create_engine(settings)
    try:
        async with AsyncSession(engine) as session:
            user = (await session.exec(select(User).where(col(User.email) == EMAIL))).first()
            if user is not None and delete_it:
                await session.delete(user)
                await session.commit()
            return user
    finally:
        await engine.dispose()


@pytest.fixture
def cleanup(test_settings: Settings, migrated_database: str) -> Iterator[None]:
    yield
    asyncio.run(_stored_admin(test_settings, delete_it=True))


def test_create_superuser_makes_an_active_admin(test_settings: Settings, cleanup: None) -> None:
    result = runner.invoke(
        app,
        ["create-superuser", "--email", "Root@Example.com"],
        input=f"{PASSWORD}\n" * 2,
        obj=test_settings,
    )

    assert result.exit_code == 0, result.output
    assert "Created admin root@example.com." in result.stdout
    user = asyncio.run(_stored_admin(test_settings))
    assert user is not None
    assert (user.role, user.is_active) == ("admin", True)
    assert PASSWORD not in result.output  # the prompt hides it


def test_a_taken_email_is_one_line_on_stderr_and_exit_status_1(
    test_settings: Settings, cleanup: None
) -> None:
    args = ["create-superuser", "--email", EMAIL, "--password", PASSWORD]
    assert runner.invoke(app, args, obj=test_settings).exit_code == 0

    result = runner.invoke(app, args, obj=test_settings)

    assert result.exit_code == 1
    assert result.stderr == "error: email is already taken.\n"


@pytest.mark.parametrize(
    ("email", "password", "problem"),
    [("not-an-email", PASSWORD, "error: email: "), (EMAIL, "short", "error: password: ")],
)
def test_invalid_input_is_refused_before_touching_the_database(
    test_settings: Settings, email: str, password: str, problem: str
) -> None:
    result = runner.invoke(
        app, ["create-superuser", "--email", email, "--password", password], obj=test_settings
    )

    assert result.exit_code == 1
    assert result.stderr.startswith(problem)
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_prompted_password_is_checked_before_it_is_asked_again(test_settings: Settings) -> None:
    result = runner.invoke(
        app, ["create-superuser", "--email", EMAIL], input="short\n", obj=test_settings
    )

    assert result.exit_code == 1
    assert result.output.count("Password") == 1  # not asked to repeat a refused password
    assert "Repeat" not in result.output
    assert result.stderr.startswith("error: password: ")


def test_a_bad_email_is_refused_before_the_password_is_asked(test_settings: Settings) -> None:
    result = runner.invoke(
        app, ["create-superuser", "--email", "not-an-email"], input="", obj=test_settings
    )

    assert result.exit_code == 1
    assert "Password" not in result.output
    assert result.stderr.startswith("error: email: ")


def test_two_different_prompted_passwords_create_nothing(
    test_settings: Settings, cleanup: None
) -> None:
    result = runner.invoke(
        app,
        ["create-superuser", "--email", EMAIL],
        input=f"{PASSWORD}\n{PASSWORD}x\n",
        obj=test_settings,
    )

    assert result.exit_code == 1
    assert result.stderr == "error: the two passwords differ; nothing was created\n"
    assert asyncio.run(_stored_admin(test_settings)) is None
