"""Feed sockets (core/realtime): the auth message, close codes, renewal, slow clients, fan-out.

A probe feed mounted on the test's app speaks the protocol every generated feed speaks; its
sockets authenticate with the users feature's access tokens. Fan-out runs in process, and
through Redis too with TEST_REDIS_URL (tests/backends.py).
"""

import asyncio
import io
import json
import math
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI, WebSocket
from jose import jwt
from redis.asyncio import Redis
from sqlmodel.ext.asyncio.session import AsyncSession

from core.dependencies import SessionsDep
from core.logging import configure_logging
from core.realtime import sockets
from core.realtime.feeds import RowChanged, Viewer, broadcast
from core.realtime.hub import Hub, Message, hub
from features.users.dependencies import authenticate_token
from features.users.permissions import Role
from settings import Settings
from tests.accounts import Account
from tests.backends import MODES, REDIS_URL, redis_settings, shared_backends
from tests.sockets import TestSocket, connect

OWNER = str(uuid.uuid4())


class ProbeChanged(RowChanged):
    channel = "probe"


async def probe_viewer(token: str, session: AsyncSession, settings: Settings) -> Viewer:
    """As an owned feature's: a user hears of their own rows, an admin of every row."""
    user, expires_at = await authenticate_token(token, session=session, settings=settings)
    owner_id = None if user.role == Role.ADMIN else str(user.id)
    return Viewer(user_id=str(user.id), owner_id=owner_id, expires_at=expires_at)


@pytest.fixture
def feed_app(app: FastAPI) -> FastAPI:
    @app.websocket("/_test/feed")
    async def probe_feed(socket: WebSocket, sessions: SessionsDep) -> None:
        await sockets.serve(socket, channel="probe", sessions=sessions, authenticate=probe_viewer)

    @app.websocket("/_test/public")
    async def public_feed(socket: WebSocket, sessions: SessionsDep) -> None:
        await sockets.serve(socket, channel="probe", sessions=sessions, authenticate=None)

    return app


@pytest.fixture(params=MODES)
async def fanout(request: pytest.FixtureRequest, test_settings: Settings) -> AsyncIterator[str]:
    async with shared_backends(test_settings, request.param):
        yield request.param


def token_for(account: Account, settings: Settings, *, expires_in: float) -> str:
    now = datetime.now(UTC)
    claims = {
        "sub": str(account.user.id),
        "type": "access",
        "jti": uuid.uuid4().hex,
        "iat": now,
        # JWT times are whole seconds, cut down: rounded up here, so that a token has at least
        # `expires_in` seconds left (and less than a second more), not as little as a millisecond.
        "exp": math.ceil((now + timedelta(seconds=expires_in)).timestamp()),
    }
    return jwt.encode(claims, settings.secret_key.get_secret_value(), algorithm="HS256")


async def signed_in(socket: TestSocket, account: Account) -> None:
    await socket.send_json({"type": "auth", "token": account.headers["Authorization"][7:]})
    assert await socket.receive_json() == {"type": "ready"}


async def changed(owner_id: str | None = None, action: str = "created") -> str:
    row_id = uuid.uuid4()
    event = {"action": action, "id": row_id, "owner_id": owner_id, "data": {"n": 1}}
    await broadcast(ProbeChanged.model_validate(event))
    return str(row_id)


async def test_an_authenticated_socket_hears_its_users_rows_and_no_others(
    feed_app: FastAPI, fanout: str, alice: Account
) -> None:
    async with connect(feed_app, "/_test/feed") as socket:
        await signed_in(socket, alice)

        await changed(OWNER)  # someone else's row
        mine = await changed(str(alice.user.id), "updated")

        assert await socket.receive_json() == {"type": "updated", "id": mine, "data": {"n": 1}}
        assert socket.pending() == 0


async def test_a_public_feed_needs_no_token(feed_app: FastAPI, fanout: str) -> None:
    async with connect(feed_app, "/_test/public") as socket:
        assert await socket.receive_json() == {"type": "ready"}
        row = await changed(OWNER, "deleted")

        assert await socket.receive_json() == {"type": "deleted", "id": row, "data": {"n": 1}}


async def test_a_socket_that_does_not_authenticate_in_time_is_closed(
    feed_app: FastAPI, test_settings: Settings
) -> None:
    feed_app.state.settings = test_settings.model_copy(update={"websocket_auth_timeout": 0.1})
    async with connect(feed_app, "/_test/feed") as socket:
        closed = await socket.closed()

    assert (closed.code, closed.reason) == (1008, "authentication required")


@pytest.mark.parametrize(
    "first",
    [
        '{"type": "auth", "token": "not-a-jwt"}',
        '{"type": "subscribe"}',
        "not json",
        '{"type": "auth"}',
        "[" * 60_000,  # nested past Python's recursion limit
    ],
    ids=["bad token", "not auth", "not json", "no token", "deep"],
)
async def test_a_bad_first_message_is_a_policy_violation(feed_app: FastAPI, first: str) -> None:
    async with connect(feed_app, "/_test/feed") as socket:
        await socket.send_text(first)
        closed = await socket.closed()

    assert closed.code == 1008


async def test_an_expired_token_is_refused(
    feed_app: FastAPI, alice: Account, test_settings: Settings
) -> None:
    # Two seconds back: JWT times are whole seconds, so one back can still be this second.
    token = token_for(alice, test_settings, expires_in=-2)
    async with connect(feed_app, "/_test/feed") as socket:
        await socket.send_json({"type": "auth", "token": token})
        closed = await socket.closed()

    assert (closed.code, closed.reason) == (1008, "The token is invalid or has expired.")


async def test_the_socket_closes_when_its_token_expires_unless_renewed(
    feed_app: FastAPI, alice: Account, test_settings: Settings
) -> None:
    async with (
        connect(feed_app, "/_test/feed") as renewed,
        connect(feed_app, "/_test/feed") as kept,
    ):
        for socket in (renewed, kept):
            await socket.send_json(
                {"type": "auth", "token": token_for(alice, test_settings, expires_in=0.5)}
            )
            assert await socket.receive_json() == {"type": "ready"}
        await signed_in(renewed, alice)  # a fresh token, before the first one expires

        closed = await kept.closed(within=3)
        mine = await changed(str(alice.user.id))

        assert (closed.code, closed.reason) == (1008, "token expired")
        assert (await renewed.receive_json())["id"] == mine


async def test_a_renewal_with_another_users_token_closes_the_socket(
    feed_app: FastAPI, alice: Account, admin: Account
) -> None:
    async with connect(feed_app, "/_test/feed") as socket:
        await signed_in(socket, alice)
        await socket.send_json({"type": "auth", "token": admin.headers["Authorization"][7:]})
        closed = await socket.closed()

    assert (closed.code, closed.reason) == (1008, "the token names another user")


async def test_a_user_disabled_meanwhile_is_dropped_at_the_next_check(
    feed_app: FastAPI, alice: Account, session: AsyncSession, test_settings: Settings
) -> None:
    feed_app.state.settings = test_settings.model_copy(update={"websocket_recheck_seconds": 0.1})
    async with connect(feed_app, "/_test/feed") as socket:
        await signed_in(socket, alice)
        alice.user.is_active = False
        session.add(alice.user)
        await session.commit()
        closed = await socket.closed()

    assert (closed.code, closed.reason) == (1008, "access revoked")


async def test_a_narrower_scope_applies_from_the_next_check(
    feed_app: FastAPI, admin: Account, session: AsyncSession, test_settings: Settings
) -> None:
    feed_app.state.settings = test_settings.model_copy(update={"websocket_recheck_seconds": 0.1})
    async with connect(feed_app, "/_test/feed") as socket:
        await signed_in(socket, admin)
        others = await changed(OWNER)
        assert (await socket.receive_json())["id"] == others  # an admin hears of every row
        admin.user.role = Role.USER  # no longer an admin: their own rows only
        session.add(admin.user)
        await session.commit()
        await asyncio.sleep(0.3)

        await changed(OWNER)
        theirs = await changed(str(admin.user.id))

        assert (await socket.receive_json())["id"] == theirs


async def test_a_busy_feed_closes_when_the_token_expires(
    feed_app: FastAPI, alice: Account, test_settings: Settings
) -> None:
    async def keep_changing() -> None:
        while True:
            await changed(str(alice.user.id))
            await asyncio.sleep(0.02)

    async with connect(feed_app, "/_test/feed") as socket:
        token = token_for(alice, test_settings, expires_in=0.5)
        await socket.send_json({"type": "auth", "token": token})
        assert await socket.receive_json() == {"type": "ready"}
        socket.lag = 0.03  # the client reads a little slower than changes come: never idle
        changes = asyncio.create_task(keep_changing())
        try:
            closed = await socket.closed(within=3)
        finally:
            changes.cancel()

    assert (closed.code, closed.reason) == (1008, "token expired")


async def test_auth_messages_less_than_a_second_apart_close_the_socket(
    feed_app: FastAPI, alice: Account
) -> None:
    async with connect(feed_app, "/_test/feed") as socket:
        await signed_in(socket, alice)
        await signed_in(socket, alice)  # a renewal
        await socket.send_json({"type": "auth", "token": alice.headers["Authorization"][7:]})
        closed = await socket.closed()

    assert (closed.code, closed.reason) == (1008, "auth messages too frequent")


@pytest.mark.parametrize("later", ['{"type": "subscribe"}', "[" * 60_000], ids=["json", "deep"])
async def test_anything_but_an_auth_message_later_is_unsupported(
    feed_app: FastAPI, alice: Account, later: str
) -> None:
    async with connect(feed_app, "/_test/feed") as socket:
        await signed_in(socket, alice)
        await socket.send_text(later)
        closed = await socket.closed()

    assert closed.code == 1003


async def test_a_client_that_stops_reading_is_dropped_not_buffered(
    feed_app: FastAPI, test_settings: Settings
) -> None:
    feed_app.state.settings = test_settings.model_copy(update={"websocket_queue_size": 4})
    async with connect(feed_app, "/_test/public") as socket:
        assert await socket.receive_json() == {"type": "ready"}
        socket.reading.clear()  # the client stops reading: the app's sends wait

        for _ in range(10):
            await changed()
        async with asyncio.timeout(3):
            # Polling: the hub has no event for a subscriber leaving.
            while hub.subscribers("probe"):  # noqa: ASYNC110
                await asyncio.sleep(0.02)

        assert hub.subscribers("probe") == 0
        assert socket.pending() <= 1  # what it had sent before it stopped waiting


async def test_a_closed_socket_leaves_the_hub(feed_app: FastAPI, alice: Account) -> None:
    async with connect(feed_app, "/_test/feed") as socket:
        await signed_in(socket, alice)
        assert hub.subscribers("probe") == 1

    assert hub.subscribers("probe") == 0


async def test_a_redis_that_does_not_answer_loses_messages_with_one_warning(
    test_settings: Settings, stream: io.StringIO
) -> None:
    configure_logging(test_settings.model_copy(update={"log_json": True}), stream=stream)
    nowhere = Redis.from_url("redis://127.0.0.1:9", socket_connect_timeout=1, socket_timeout=1)
    away = Hub()
    away.use(test_settings, nowhere)
    try:
        for _ in range(3):
            await away.publish(Message("probe", None, "{}"))  # a write's commit is not failed
    finally:
        await nowhere.aclose()

    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["event"] for line in lines] == ["feed messages lost: Redis is unavailable"]


def test_a_viewer_sees_its_owners_rows_or_every_row() -> None:
    assert Viewer(owner_id="a").sees("a")
    assert not Viewer(owner_id="a").sees("b")
    assert not Viewer(owner_id="a").sees(None)
    assert Viewer().sees("b")
    assert Viewer().sees(None)


if REDIS_URL:  # Only on Redis: without it, one process's hub reaches only its own sockets.
    URL: str = REDIS_URL

    class Heard:
        def __init__(self) -> None:
            self.messages: asyncio.Queue[Message] = asyncio.Queue()

        def offer(self, message: Message) -> None:
            self.messages.put_nowait(message)

    async def test_the_listener_skips_a_message_it_cannot_read_and_goes_on(
        test_settings: Settings,
    ) -> None:
        async with redis_settings(test_settings) as (settings, client):
            listener = Hub()
            listener.use(settings, client)
            heard = Heard()
            await listener.subscribe("probe", heard)

            await client.publish(f"{settings.feed_key_prefix}:probe", b"\xff\xfe not utf-8")
            await client.publish(f"{settings.feed_key_prefix}:probe", b"\n{}")

            try:
                async with asyncio.timeout(3):
                    assert await heard.messages.get() == Message("probe", None, "{}")
            finally:
                await listener.close()

    async def test_a_message_published_in_one_process_reaches_another(
        test_settings: Settings,
    ) -> None:
        async with redis_settings(test_settings) as (settings, _):
            clients = [Redis.from_url(URL), Redis.from_url(URL)]
            publisher, listener = Hub(), Hub()
            publisher.use(settings, clients[0])
            listener.use(settings, clients[1])
            heard = Heard()
            await listener.subscribe("probe", heard)

            await publisher.publish(Message("probe", OWNER, '{"n":1}'))
            await publisher.publish(Message("other", None, '{"n":2}'))

            async with asyncio.timeout(3):
                message = await heard.messages.get()
            assert message == Message("probe", OWNER, '{"n":1}')
            await asyncio.sleep(0.1)
            assert heard.messages.empty()
            await listener.close()
            for client in clients:
                await client.aclose()
