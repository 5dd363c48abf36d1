"""Application settings: one typed object, read from the environment and `.env`."""

from functools import lru_cache
from typing import Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Environment = Literal["development", "test", "production"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]

# Shipped in `.env.example`; the app refuses it anywhere but on a developer's machine.
PLACEHOLDER_SECRET = "change-me"  # noqa: S105
MIN_SECRET_LENGTH = 32
# Redis keys: what a prefix may hold, and the project's own name the cache and feeds start with.
KEY_PREFIX = r"^[A-Za-z0-9_.:-]+$"
PROJECT_KEY = "{{ cookiecutter.project_slug }}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        extra="ignore",
        # Never echo rejected values (a database password, say) into start-up errors.
        hide_input_in_errors=True,
    )

    project_name: str = "{{ cookiecutter.project_name }}"
    project_description: str = "{{ cookiecutter.description }}"
    # Mounts every feature's routes under it, e.g. "/api/v1"; /health stays at the root.
    api_prefix: str = Field(default="", pattern=r"^(/[A-Za-z0-9._~-]+)*$")
    # Production unless told otherwise: a deploy that lost its `.env` refuses the placeholder
    # secret instead of running as development. The `.env` written at bake says development.
    environment: Environment = "production"

    # SQLite file next to the project by default; set a postgresql+asyncpg:// URL for PostgreSQL.
    database_url: str = "sqlite+aiosqlite:///./app.db"
    database_echo: bool = False
    database_pool_size: int = Field(default=10, ge=1)
    # Every wait on the database is bounded (seconds); past one, the request answers 503 with
    # Retry-After instead of hanging. Connecting (PostgreSQL), waiting for a pooled connection,
    # and one statement (PostgreSQL's statement_timeout, and the driver's own bound).
    database_connect_timeout: float = Field(default=5, gt=0)
    database_pool_timeout: float = Field(default=10, gt=0)
    database_statement_timeout: float = Field(default=30, gt=0)
    # How long a SQLite write waits for another writer's lock before giving up (503).
    sqlite_busy_timeout: float = Field(default=30, gt=0)
    # /health/ready answers 503 after this long, under a probe's usual timeout.
    health_check_timeout: float = Field(default=3, gt=0)
    # What a 503 tells a client to wait before trying again (the Retry-After header).
    retry_after_seconds: int = Field(default=5, ge=1)

    secret_key: SecretStr = SecretStr(PLACEHOLDER_SECRET)

    # Tokens: short-lived access tokens, longer refresh tokens that rotate on every use.
    # HMAC only: the secret signs and verifies; an asymmetric algorithm would need key pairs.
    jwt_algorithm: Literal["HS256", "HS384", "HS512"] = "HS256"
    access_token_expire_minutes: int = Field(default=15, ge=1)
    refresh_token_expire_days: int = Field(default=14, ge=1)
    # "fast" makes argon2 cheap for tests; never use it for real passwords.
    password_hash_cost: Literal["default", "fast"] = "default"  # noqa: S105

    log_level: LogLevel = "INFO"
    # JSON lines when true, readable console lines when false; unset: JSON in production only.
    log_json: bool | None = None

    # Browser origins allowed to call the API, as JSON: CORS_ORIGINS='["https://app.example.com"]'.
    cors_origins: list[str] = []
    # Host headers answered in production (anything else is a 400), as JSON like CORS_ORIGINS.
    allowed_hosts: list[str] = ["localhost", "127.0.0.1"]
    # Larger request bodies are refused with a 413 before the app reads them. A body the app
    # waits for is answered 408 if it has not all arrived this many seconds after the first
    # read (a client that declares more than it sends, or trickles it, holds no request open).
    max_request_body_bytes: int = Field(default=1_048_576, ge=1)
    request_body_timeout: float = Field(default=30, gt=0)
    # The server (`python -m core.server`: make start, the container). A request head (the
    # request line and every header) larger than this is refused with a 431; one that is not
    # complete within the header timeout (seconds) is dropped (slowloris). Idle keep-alive
    # connections close after the keep-alive timeout; on SIGTERM, requests in flight get the
    # graceful-shutdown timeout to finish.
    server_max_header_bytes: int = Field(default=16_384, ge=1024)
    # More request headers than this are refused with a 431 (the size bound above applies too).
    max_request_headers: int = Field(default=100, ge=10)
    server_header_timeout: float = Field(default=10, gt=0)
    server_keep_alive_timeout: int = Field(default=5, ge=1)
    server_graceful_shutdown_timeout: int = Field(default=20, ge=1)

    # Redis, shared by everything that needs one through one client per process (core/redis.py):
    # jobs, the auth rate limits, the cache and the feeds. Unset, each has an in-process
    # default: jobs run inside the app's process (core/jobs, docs/adr/0001), each process counts
    # rate limits and caches in its own memory, and feeds reach the sockets of their own process.
    redis_url: str | None = None
    # Connecting to Redis and each command give up after this long (seconds).
    redis_timeout: float = Field(default=1, gt=0)
    # Prefix of every Redis key the jobs use: several projects or test runs can share one Redis.
    jobs_key_prefix: str = Field(default="jobs", pattern=KEY_PREFIX)
    # A job a worker took and has not finished after this long is given to another worker (the
    # worker is presumed dead): keep it above your slowest job, retry delays included.
    jobs_visibility_timeout_seconds: float = Field(default=600, gt=0)
    # How long a finished job's result and status stay readable (`manage.py jobs result ID`).
    jobs_result_ttl_seconds: int = Field(default=86_400, ge=1)
    # The cache (core/cache, docs/adr/0002): a prefix for its Redis keys (the project's name:
    # services sharing a Redis never share entries or feeds); the most entries the
    # in-process store keeps (least recently used go first); after a Redis failure, how long
    # reads go straight to the database before Redis is tried again (one warning each time).
    cache_key_prefix: str = Field(default=f"{PROJECT_KEY}:cache", pattern=KEY_PREFIX)
    cache_max_entries: int = Field(default=10_000, ge=1)
    cache_retry_seconds: float = Field(default=10, gt=0)

    # WebSockets (core/realtime, docs/adr/0003). Feeds publish on Redis channels named with this
    # prefix. A socket must authenticate within the auth timeout (seconds); its user is checked
    # again every recheck interval (disabled or deleted: closed), and its token's expiry closes
    # it unless the client sent a fresh one. A client that falls more than the queue size
    # behind is dropped. The server pings every ping interval and drops a peer that does not
    # answer within the ping timeout (`python -m core.server`); larger client messages close.
    feed_key_prefix: str = Field(default=f"{PROJECT_KEY}:feed", pattern=KEY_PREFIX)
    websocket_auth_timeout: float = Field(default=5, gt=0)
    websocket_recheck_seconds: float = Field(default=60, gt=0)
    websocket_queue_size: int = Field(default=64, ge=1)
    websocket_ping_interval: float = Field(default=20, gt=0)
    websocket_ping_timeout: float = Field(default=20, gt=0)
    websocket_max_message_bytes: int = Field(default=65_536, ge=1024)

    # Abuse limits on /auth/login, /auth/register and /auth/refresh: hits per window (seconds)
    # from one client address, and (login, register) for one account. Over either: 429.
    auth_rate_limit_window: int = Field(default=60, ge=1)
    auth_rate_limit_per_client: int = Field(default=20, ge=1)
    auth_rate_limit_per_account: int = Field(default=10, ge=1)

    # Observability, off by default. An OTLP/HTTP collector's URL (http://collector:4318) turns
    # on trace and metric export (core/telemetry.py); METRICS_ENABLED serves /metrics
    # (core/metrics.py).
    otel_exporter_otlp_endpoint: str | None = None
    metrics_enabled: bool = False
    # /docs, /redoc and /openapi.json; unset: served everywhere but in production.
    api_docs: bool | None = None

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_case_log_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _refuse_weak_secret_outside_development(self) -> Self:
        if self.environment == "development":
            return self
        secret = self.secret_key.get_secret_value()
        if secret == PLACEHOLDER_SECRET or len(secret) < MIN_SECRET_LENGTH:
            raise ValueError(
                f"SECRET_KEY must be set to a random value of at least {MIN_SECRET_LENGTH} "
                f"characters when ENVIRONMENT={self.environment}; generate one with "
                "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
            )
        return self

    @model_validator(mode="after")
    def _refuse_fast_password_hashing_in_production(self) -> Self:
        if self.environment == "production" and self.password_hash_cost == "fast":  # noqa: S105
            raise ValueError("PASSWORD_HASH_COST=fast is for tests; unset it in production")
        return self

    @property
    def json_logs(self) -> bool:
        return self.environment == "production" if self.log_json is None else self.log_json

    @property
    def docs_enabled(self) -> bool:
        return self.environment != "production" if self.api_docs is None else self.api_docs

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
