"""Cache and change feeds over real processes: two servers of one baked project (`make start`)
on one PostgreSQL and one Redis, and real WebSocket clients.

A socket held by one server hears a change another server committed; sockets without a valid
token are refused with 1008; an owner hears only their rows; 200 idle sockets all hear one
change; a peer that stops answering pings is dropped; and an update served by one process is
read back at once through the other's cache.
"""

import asyncio
import base64
import hashlib
import hmac
import json
import re
import socket
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bench import pg
from tests.baking import TEST_REDIS_URL, bake_with_features, http_json, run, serve

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("realtime")]

PASSWORD = "correct horse battery"
FEATURES = {
    "notes": ["OWNED=yes", "CACHE=yes", "FEED=yes", "FIELDS=title:str body:text?"],
    "tags": ["AUTH=public", "FEED=yes", "FIELDS=label:str:40"],
}
IDLE_SOCKETS = 200


@dataclass
class Servers:
    a: str
    b: str
    secret: str

    def ws(self, base: str, path: str) -> str:
        return base.replace("http://", "ws://") + path


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bake_with_features(tmp_path_factory.mktemp("realtime"), FEATURES, "add notes and tags")


@pytest.fixture(scope="module")
def servers(project: Path) -> Iterator[Servers]:
    prefix = f"test-{uuid.uuid4().hex}"
    with pg.throwaway_database("paxx") as database, ExitStack() as stack:
        env = {
            "DATABASE_URL": database,
            "REDIS_URL": TEST_REDIS_URL,
            "JOBS_KEY_PREFIX": f"{prefix}:jobs",
            "CACHE_KEY_PREFIX": f"{prefix}:cache",
            "FEED_KEY_PREFIX": f"{prefix}:feed",
            "AUTH_RATE_LIMIT_PER_CLIENT": "1000",
            "WEBSOCKET_AUTH_TIMEOUT": "1",
            "WEBSOCKET_PING_INTERVAL": "1",
            "WEBSOCKET_PING_TIMEOUT": "1",
        }
        run(["uv", "run", "alembic", "upgrade", "head"], project, env=env)
        # One after the other: each runs `make upgrade` first, a no-op by then.
        a = stack.enter_context(serve(project, env, ["make", "start", "WORKERS=1"]))
        b = stack.enter_context(serve(project, env, ["make", "start", "WORKERS=1"]))
        secret = re.search(r"^SECRET_KEY=(.+)$", (project / ".env").read_text(), re.M)
        assert secret is not None
        yield Servers(a, b, secret.group(1))
        cleanup = "import redis,sys; r=redis.Redis.from_url(sys.argv[1]); " \
                  "[r.delete(k) for k in r.scan_iter(match=sys.argv[2] + ':*')]"  # fmt: skip
        run(["uv", "run", "python", "-c", cleanup, TEST_REDIS_URL, prefix], project)


def token(servers: Servers, email: str) -> str:
    """A new user's access token, through the API."""
    status, body = http_json(
        "POST", f"{servers.b}/auth/register", {"email": email, "password": PASSWORD}
    )
    assert status == 201, body
    form = urllib.parse.urlencode({"username": email, "password": PASSWORD}).encode()
    with urllib.request.urlopen(f"{servers.a}/auth/login", data=form, timeout=10) as response:
        access: str = json.loads(response.read())["access_token"]
        return access


def claims_of(access: str) -> dict[str, Any]:
    payload = access.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


def user_id(access: str) -> str:
    return str(claims_of(access)["sub"])


async def subscribed(url: str, access: str | None) -> ClientConnection:
    socket = await connect(url, open_timeout=10)
    if access is not None:
        await socket.send(json.dumps({"type": "auth", "token": access}))
    assert json.loads(await asyncio.wait_for(socket.recv(), 5)) == {"type": "ready"}
    return socket


async def next_message(socket: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(socket.recv(), 5))
    return message


async def close_code(socket: ClientConnection) -> int | None:
    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(socket.recv(), 5)
    return closed.value.rcvd.code if closed.value.rcvd else None


def create_note(servers: Servers, base: str, access: str, title: str) -> dict[str, Any]:
    status, note = http_json("POST", f"{base}/notes", {"title": title}, token=access)
    assert status == 201, note
    assert isinstance(note, dict)
    return note


def test_a_socket_on_one_process_hears_a_change_served_by_the_other(servers: Servers) -> None:
    alice = token(servers, "alice@example.com")

    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        async with await subscribed(servers.ws(servers.a, "/notes/feed"), alice) as socket:
            note = create_note(servers, servers.b, alice, "from b")
            return note, await next_message(socket)

    note, heard = asyncio.run(scenario())

    assert heard == {"type": "created", "id": note["id"], "data": note}


def test_a_user_hears_of_their_own_rows_only(servers: Servers) -> None:
    carol, dave = token(servers, "carol@example.com"), token(servers, "dave@example.com")

    async def scenario() -> tuple[str, dict[str, Any], bool]:
        async with await subscribed(servers.ws(servers.a, "/notes/feed"), dave) as socket:
            create_note(servers, servers.b, carol, "carol's")
            daves = create_note(servers, servers.b, dave, "dave's")
            first = await next_message(socket)
            try:
                await asyncio.wait_for(socket.recv(), 0.5)
            except TimeoutError:
                return daves["id"], first, True
            return daves["id"], first, False

    daves_id, first, nothing_else = asyncio.run(scenario())

    assert (first["id"], first["data"]["owner_id"]) == (daves_id, user_id(dave))
    assert nothing_else


def forged(servers: Servers, access: str, expires_in: float) -> str:
    """`access` re-signed (HS256) with the project's key, expiring `expires_in` s from now."""
    claims = claims_of(access)
    claims["exp"] = int((datetime.now(UTC) + timedelta(seconds=expires_in)).timestamp())

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head = part(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = part(json.dumps(claims).encode())
    signature = hmac.new(servers.secret.encode(), f"{head}.{body}".encode(), hashlib.sha256)
    return f"{head}.{body}.{part(signature.digest())}"


def test_sockets_without_a_valid_token_are_closed_as_policy_violations(servers: Servers) -> None:
    erin = token(servers, "erin@example.com")

    async def refused(first: str | None) -> int | None:
        async with connect(servers.ws(servers.a, "/notes/feed"), open_timeout=10) as socket:
            if first is not None:
                await socket.send(first)
            return await close_code(socket)

    async def scenario() -> list[int | None]:
        return [
            await refused(None),  # nothing within WEBSOCKET_AUTH_TIMEOUT (1 s)
            await refused(json.dumps({"type": "auth", "token": "not-a-token"})),
            await refused(json.dumps({"type": "auth", "token": forged(servers, erin, -60)})),
        ]

    assert asyncio.run(scenario()) == [1008, 1008, 1008]


def test_a_socket_closes_when_its_token_expires(servers: Servers) -> None:
    frank = token(servers, "frank@example.com")

    async def scenario() -> int | None:
        url = servers.ws(servers.a, "/notes/feed")
        async with await subscribed(url, forged(servers, frank, 2)) as socket:
            return await close_code(socket)

    assert asyncio.run(scenario()) == 1008


def test_an_update_served_by_one_process_is_read_back_through_the_others_cache(
    servers: Servers,
) -> None:
    grace = token(servers, "grace@example.com")
    note = create_note(servers, servers.a, grace, "first")
    url = f"/notes/{note['id']}"
    assert http_json("GET", servers.a + url, token=grace) == (200, note)  # now in the cache

    status, patched = http_json("PATCH", servers.b + url, {"title": "second"}, token=grace)

    assert status == 200
    assert http_json("GET", servers.a + url, token=grace) == (200, patched)


def test_idle_sockets_all_hear_a_change(servers: Servers) -> None:
    heidi = token(servers, "heidi@example.com")

    async def scenario() -> tuple[str, list[str]]:
        url = servers.ws(servers.a, "/notes/feed")
        sockets = [await subscribed(url, heidi) for _ in range(IDLE_SOCKETS)]
        try:
            await asyncio.sleep(1.5)  # idle: pinged by the server, answered by the clients
            note = await asyncio.to_thread(create_note, servers, servers.b, heidi, "for all")
            heard = await asyncio.gather(*(next_message(socket) for socket in sockets))
            return note["id"], [message["id"] for message in heard]
        finally:
            await asyncio.gather(*(socket.close() for socket in sockets))

    note_id, heard = asyncio.run(scenario())

    assert heard == [note_id] * IDLE_SOCKETS


def test_a_peer_that_stops_answering_pings_is_dropped(servers: Servers) -> None:
    host, port = urllib.parse.urlsplit(servers.a).netloc.split(":")
    with socket.create_connection((host, int(port)), timeout=10) as peer:
        peer.sendall(
            b"GET /tags/feed HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n"
        )
        received = b""
        while chunk := peer.recv(4096):  # never answering: the server must end it
            received += chunk

    head, _, frames = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101")
    opcodes = [frame[0] & 0x0F for frame in server_frames(frames)]
    assert 0x9 in opcodes  # pinged
    (closing,) = [frame for frame in server_frames(frames) if frame[0] & 0x0F == 0x8]
    assert int.from_bytes(closing[2:4]) == 1011  # the server's "keepalive ping timeout"


def server_frames(data: bytes) -> Iterator[bytes]:
    """The frames a server sent (unmasked, short payloads), each with its two-byte header."""
    while len(data) >= 2:
        length = data[1] & 0x7F
        assert length < 126, "a feed's control frames and short messages only"
        yield data[: 2 + length]
        data = data[2 + length :]
