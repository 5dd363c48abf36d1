"""`manage.py jobs ...` on the embedded broker (tests/test_jobs.py covers what jobs do)."""

import json
import uuid

from typer.testing import CliRunner

from manage import app
from settings import Settings

runner = CliRunner()


def test_jobs_list_shows_each_job_with_its_schedule_and_policies(test_settings: Settings) -> None:
    result = runner.invoke(app, ["jobs", "list"], obj=test_settings)
    assert result.exit_code == 0, result.output
    purge = next(line for line in result.output.splitlines() if "purge_refresh_tokens" in line)
    assert "cron 17 * * * *" in purge
    assert "overlap=skip" in purge


def test_jobs_run_runs_a_job_here_and_now(test_settings: Settings, migrated_database: str) -> None:
    result = runner.invoke(app, ["jobs", "run", "users.purge_refresh_tokens"], obj=test_settings)
    assert result.exit_code == 0, result.output
    assert "done: 0" in result.output


def test_unknown_names_and_bad_arguments_are_one_line_and_exit_1(
    test_settings: Settings, migrated_database: str
) -> None:
    unknown = runner.invoke(app, ["jobs", "run", "nope"], obj=test_settings)
    assert (unknown.exit_code, unknown.output.count("\n")) == (1, 1)
    assert "No job named 'nope'" in unknown.output
    missing = runner.invoke(app, ["jobs", "dead", "replay", str(uuid.uuid4())], obj=test_settings)
    assert missing.exit_code == 1
    assert "No dead job" in missing.output
    bad = runner.invoke(
        app, ["jobs", "run", "users.purge_refresh_tokens", "--kwargs", "[1]"], obj=test_settings
    )
    assert bad.exit_code == 2
    assert "JSON object" in bad.output


def test_jobs_status_says_the_broker_is_embedded(
    test_settings: Settings, migrated_database: str
) -> None:
    result = runner.invoke(app, ["jobs", "status"], obj=test_settings)
    assert result.exit_code == 0, result.output
    assert "broker: embedded" in result.output
    assert "dead letter: 0 job(s)" in result.output


def test_arguments_are_checked_against_the_job_before_any_attempt(
    test_settings: Settings, migrated_database: str
) -> None:
    welcome = ["jobs", "run", "users.send_welcome_mail", "--kwargs"]
    for kwargs, problem in [
        ('{"user_id": "not-a-uuid"}', "user_id: Input should be a valid UUID"),
        ("{}", "user_id: Field required"),
        (json.dumps({"user_id": str(uuid.uuid4()), "x": 1}), "x: Extra inputs are not permitted"),
    ]:
        for extra in ([], ["--enqueue"]):
            result = runner.invoke(app, [*welcome, kwargs, *extra], obj=test_settings)

            assert result.exit_code == 2, result.output
            assert problem in result.output

    # A well-formed id is parsed to a UUID, as a worker would: the job looks it up, finds no
    # such user and gives up at once, instead of failing on a string five times.
    gone = runner.invoke(
        app, [*welcome, json.dumps({"user_id": str(uuid.uuid4())})], obj=test_settings
    )
    assert "no longer exists" in str(gone.exception), gone.output
