import pytest
from pydantic import SecretStr, ValidationError

from settings import PLACEHOLDER_SECRET, Environment, Settings


def test_development_runs_with_the_placeholder_secret() -> None:
    settings = Settings(_env_file=None, environment="development")

    assert settings.secret_key.get_secret_value() == PLACEHOLDER_SECRET


@pytest.mark.parametrize("environment", ["production", "test"])
@pytest.mark.parametrize("secret", [PLACEHOLDER_SECRET, "", "too-short"])
def test_a_weak_secret_is_refused_outside_development(
    environment: Environment, secret: str
) -> None:
    with pytest.raises(ValidationError, match="SECRET_KEY must be set"):
        Settings(_env_file=None, environment=environment, secret_key=SecretStr(secret))


def test_a_strong_secret_is_accepted_in_production() -> None:
    secret = "s" * 48

    settings = Settings(_env_file=None, environment="production", secret_key=SecretStr(secret))

    assert settings.secret_key.get_secret_value() == secret


def test_rejected_values_are_not_echoed_in_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_POOL_SIZE", "not-a-number-p4ssw0rd")

    with pytest.raises(ValidationError) as excinfo:
        Settings(_env_file=None)

    assert "p4ssw0rd" not in str(excinfo.value)


def test_environment_variables_override_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://app@db:5432/app")

    settings = Settings(_env_file=None, environment="development")

    assert settings.database_url == "postgresql+asyncpg://app@db:5432/app"
    assert not settings.is_sqlite


def test_without_an_environment_the_app_runs_as_production_and_refuses_the_placeholder() -> None:
    with pytest.raises(ValidationError, match="SECRET_KEY must be set"):
        Settings(_env_file=None)

    assert Settings(_env_file=None, secret_key=SecretStr("s" * 48)).environment == "production"
