"""manage.py: core commands, feature command groups, domain errors, and the async shell."""

import typer
from typer.testing import CliRunner, Result

from core.cli import ManageGroup
from core.exceptions import NotFoundError
from features.registry import COMMANDS
from manage import app
from settings import Settings

runner = CliRunner()


def test_help_lists_the_core_commands() -> None:
    result = runner.invoke(app, ["--help"])

    assert result.exit_code == 0
    for command in ("check-db", "routes", "shell"):
        assert command in result.output


def test_check_db_reaches_the_test_database(
    test_settings: Settings, migrated_database: str
) -> None:
    result = runner.invoke(app, ["check-db"], obj=test_settings)

    assert result.exit_code == 0, result.output
    assert "Database reachable" in result.stdout


def test_a_domain_error_is_one_line_on_stderr_and_exit_status_1(test_settings: Settings) -> None:
    unreachable = test_settings.model_copy(
        update={"database_url": "postgresql+asyncpg://nobody@127.0.0.1:1/none"}
    )

    result = runner.invoke(app, ["check-db"], obj=unreachable)

    assert result.exit_code == 1
    assert result.stderr.startswith("error: The database cannot be reached")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_routes_lists_the_api(test_settings: Settings) -> None:
    result = runner.invoke(app, ["routes"], obj=test_settings)

    assert result.exit_code == 0, result.output
    assert "GET     /health/live" in result.stdout


def test_every_command_group_of_the_manifest_is_mounted() -> None:
    result = runner.invoke(app, ["--help"])

    assert set(COMMANDS) >= {"users"}
    for name in COMMANDS:
        assert name in result.output


def test_a_groups_domain_error_is_one_line_and_exit_status_1() -> None:
    orders = typer.Typer()

    @orders.command()
    def close() -> None:
        typer.echo("closed")

    @orders.command()
    def reopen() -> None:
        raise NotFoundError("No such order.")

    cli = typer.Typer(cls=ManageGroup)
    cli.add_typer(orders, name="orders")
    closed = runner.invoke(cli, ["orders", "close"])
    failed = runner.invoke(cli, ["orders", "reopen"])

    assert closed.exit_code == 0, closed.output
    assert closed.stdout == "closed\n"
    assert failed.exit_code == 1
    assert failed.stderr == "error: No such order.\n"


def run_shell(test_settings: Settings, *args: str, stdin: str = "") -> Result:
    # In this process: the root suite's test_feature runs `manage.py shell` as a process.
    return runner.invoke(app, ["shell", "--plain", *args], input=stdin, obj=test_settings)


def test_the_shell_awaits_a_query_read_from_stdin(
    test_settings: Settings, migrated_database: str
) -> None:
    script = "result = await session.exec(select(1))\nprint('answer', result.one())\n"
    script += "await cache.invalidate_namespace('orders')\nprint('cache', cache.hits)\n"

    result = run_shell(test_settings, stdin=script)

    assert result.exit_code == 0, result.output
    assert "answer 1" in result.stdout
    assert "cache 0" in result.stdout  # the app's cache is there to invalidate by hand
    assert "settings" in result.stderr  # the banner names what is in scope


def test_the_shell_runs_a_command_and_reports_its_failure(
    test_settings: Settings, migrated_database: str
) -> None:
    command = "print((await session.exec(select(2))).one())\nawait session.exec(select(1 / 0))"

    result = run_shell(test_settings, "-c", command)

    assert result.stdout == "2\n"  # the first line ran
    assert result.exit_code == 1
    assert "ZeroDivisionError" in result.stderr
