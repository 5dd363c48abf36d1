"""Engine, sessions and the table base every feature's models build on."""

import re
import uuid
from collections.abc import Callable, Iterable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from enum import StrEnum
from types import ModuleType
from typing import Any

from sqlalchemy import JSON, Enum, MetaData, event, make_url
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from core.connections import ReadOnlySession, replace_closed_postgres_connections
from core.sqlite import connect_sqlite
from settings import Settings

# Named constraints give readable errors and let Alembic drop or alter them later.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata = MetaData(naming_convention=NAMING_CONVENTION)

# What hands out sessions to code that opens its own (a job, a WebSocket): a sessionmaker.
type SessionFactory = Callable[[], AbstractAsyncContextManager[AsyncSession]]

# Execution options `create_sessionmaker` sets. A transaction that will write starts with BEGIN
# IMMEDIATE on SQLite (see `_make_sqlite_transactional`); a read-only session has no transaction
# at all (core/connections.py's `ReadOnlySession`). Other connections get a plain BEGIN.
WRITE_TRANSACTION = "write_transaction"
READ_ONLY = "read_only"
# A pooled PostgreSQL connection older than this is replaced at its next checkout: one that a
# firewall or NAT dropped while idle, with no word to either end, is not kept forever.
POOL_RECYCLE_SECONDS = 1800


def utcnow() -> datetime:
    return datetime.now(UTC)


class TableBase(SQLModel):
    """Columns every table has. Subclass with `table=True` in a feature's `models.py`."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow, nullable=False)
    updated_at: datetime = Field(
        default_factory=utcnow, nullable=False, sa_column_kwargs={"onupdate": utcnow}
    )


def enum_column(enum: type[StrEnum]) -> Any:
    """A `StrEnum` stored portably: a VARCHAR of its values with a named CHECK constraint
    (`ck_<table>_<enum>`), not a native PostgreSQL type that Alembic cannot drop cleanly.

    Typed as Any because SQLModel's `sa_type` is typed for type classes, not instances.
    """
    return Enum(
        enum,
        name=re.sub(r"(?<!^)(?=[A-Z])", "_", enum.__name__).lower(),
        native_enum=False,
        create_constraint=True,
        length=max(len(member.value) for member in enum),
        values_callable=lambda members: [member.value for member in members],
    )


# A JSON object: JSONB on PostgreSQL (indexable, compact), JSON elsewhere. Any: as above.
JSON_OBJECT: Any = JSON().with_variant(JSONB(), "postgresql")


def create_engine(settings: Settings) -> AsyncEngine:
    # No `echo=`: it adds a second handler and prints each statement twice. DATABASE_ECHO sets the
    # `sqlalchemy.engine` log level instead (core/logging.py). Outside development, a failed
    # statement's parameters (an email, a password hash) never reach an exception's text or a log.
    hide_parameters = settings.environment != "development"
    if settings.is_sqlite:
        path = str(make_url(settings.database_url).database)
        engine = create_async_engine(
            settings.database_url,
            hide_parameters=hide_parameters,
            # The busy timeout: how long a write waits for another writer's lock.
            async_creator=lambda: connect_sqlite(path, busy_timeout=settings.sqlite_busy_timeout),
        )
        _make_sqlite_transactional(engine)
        return engine
    # Every wait is bounded: connecting, a pooled connection, and each statement, on the server
    # (statement_timeout, in ms) and in the driver (command_timeout, for a server that stopped
    # answering altogether). No `pool_pre_ping`: its BEGIN, ping and ROLLBACK were three round
    # trips before every request's first statement; a closed connection is found without one
    # (core/connections.py).
    engine = create_async_engine(
        settings.database_url,
        hide_parameters=hide_parameters,
        pool_size=settings.database_pool_size,
        # No connections beyond the pool: past DATABASE_POOL_SIZE a request waits for one (up to
        # DATABASE_POOL_TIMEOUT). SQLAlchemy's default overflow of as many again opened and
        # closed a connection for nearly every request once more than the pool's were busy,
        # each one a new login, codec setup and statement preparation.
        max_overflow=0,
        pool_timeout=settings.database_pool_timeout,
        pool_recycle=POOL_RECYCLE_SECONDS,
        connect_args={
            "timeout": settings.database_connect_timeout,
            "command_timeout": settings.database_statement_timeout + 1,
            "server_settings": {
                "statement_timeout": str(int(settings.database_statement_timeout * 1000))
            },
            # Each statement is prepared once per connection, then only bound and run: a read
            # by id is one round trip (SQLAlchemy's cache of asyncpg statements; 100 is its
            # default, too few for an app with a few dozen routes and their variants).
            "prepared_statement_cache_size": 500,
        },
    )
    replace_closed_postgres_connections(engine.sync_engine)
    return engine


def create_sessionmaker(
    engine: AsyncEngine, *, writes: bool = True
) -> async_sessionmaker[AsyncSession]:
    """Sessions on `engine` whose transactions are `WRITE_TRANSACTION`s unless `writes=False`.

    Writing is the default: outside a request (a command, the shell, a job) nothing says in
    advance whether a transaction will write, and on SQLite a read-then-write transaction that
    did not say so fails with "database is locked" when another one writes. Only the requests of
    HTTP's safe methods, which never write, ask for `writes=False`: their sessions have no
    transaction (core/connections.py's `ReadOnlySession`), so each statement reads the latest
    committed data, on SQLite and PostgreSQL alike.
    """
    # expire_on_commit=False: objects stay readable after commit without a lazy load,
    # which async sessions cannot do.
    if writes:
        bind = engine.execution_options(**{WRITE_TRANSACTION: True})
        return async_sessionmaker(bind, class_=AsyncSession, expire_on_commit=False)
    options: dict[str, Any] = {READ_ONLY: True}
    if engine.dialect.name != "sqlite":  # on SQLite, READ_ONLY alone skips the BEGIN (below)
        options["isolation_level"] = "AUTOCOMMIT"
    return async_sessionmaker(
        engine.execution_options(**options),
        class_=AsyncSession,
        sync_session_class=ReadOnlySession,
        expire_on_commit=False,
    )


def _make_sqlite_transactional(engine: AsyncEngine) -> None:
    """Let SQLAlchemy, not the sqlite3 module, decide when transactions begin, and how.

    The sqlite3 module delays BEGIN on its own, which breaks SAVEPOINTs (tests roll each test
    back inside one) and lets reads see a half-done transaction; its connections are opened with
    isolation_level=None (core/sqlite.py), which leaves BEGIN to the listener below. A
    transaction that will write (`WRITE_TRANSACTION`) starts with BEGIN IMMEDIATE: it takes the
    write lock first and waits its turn (SQLITE_BUSY_TIMEOUT), where a plain BEGIN that read
    first fails with "database is locked" when another request writes at the same time. A
    read-only session (`READ_ONLY`) gets no BEGIN: each statement is its own transaction and
    reads the latest commit, as each does on PostgreSQL. WAL lets reads go on while a write
    commits; synchronous=NORMAL is WAL's usual pairing, safe against an app crash (a power cut
    can lose the last commits: use PostgreSQL where that matters). Foreign keys are off in
    SQLite unless asked for.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        options = connection.get_execution_options()
        if options.get(WRITE_TRANSACTION, False):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        elif not options.get(READ_ONLY, False):
            connection.exec_driver_sql("BEGIN")


def table_models(modules: Iterable[ModuleType]) -> dict[str, type[SQLModel]]:
    """The table classes defined in `modules` (the manifest's MODELS), by class name.

    Two with one name is an error, not one silently dropped: Alembic would then drop its table.
    """
    models: dict[str, type[SQLModel]] = {}
    for module in modules:
        for name, value in vars(module).items():
            if not (
                isinstance(value, type)
                and issubclass(value, SQLModel)
                and hasattr(value, "__table__")
                and value.__module__ == module.__name__
            ):
                continue
            if models.get(name, value) is not value:
                raise ValueError(
                    f"two table classes are named {name}, in {models[name].__module__} and "
                    f"{module.__name__}; rename one (the shell and migrations key them by name)"
                )
            models[name] = value
    return models
