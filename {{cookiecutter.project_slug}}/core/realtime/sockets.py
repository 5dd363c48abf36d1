"""One feed socket, from its first message to its close: the protocol every feed speaks.

1. The client connects to the feed's route. On a protected feed its first message, within
   WEBSOCKET_AUTH_TIMEOUT seconds, is `{"type": "auth", "token": "<access token>"}`: the token
   travels in the message, never in the URL, where proxies and servers log it.
2. The server answers `{"type": "ready"}`, then sends `{"type": "created" | "updated" |
   "deleted", "id": ..., "data": ...}` for every committed change the client may see.
3. Before the token expires the client sends another auth message (same user), answered by
   `ready` again; otherwise the socket closes when the token expires.

Close codes: 1008 (policy violation) for a missing, invalid, expired or revoked token (the user
is checked again every WEBSOCKET_RECHECK_SECONDS; a narrower scope applies from then on), a
first message that is not a valid auth message, a token of another user, or auth messages less
than a second apart; 1003 for a later message that is not an auth message; 1013 when the client
fell WEBSOCKET_QUEUE_SIZE messages behind (dropped, not buffered without bound), or when the
database is away at the first auth message (a renewal then keeps the current token). Pings, a
peer that stopped answering them, and messages over the size limit are the server's
(core/server.py).
"""

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress

import structlog
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.websockets import WebSocket, WebSocketDisconnect

from core.database import SessionFactory
from core.exceptions import AppError
from core.realtime.feeds import Viewer
from core.realtime.hub import Message, hub
from settings import Settings

log = structlog.get_logger("websocket")

POLICY_VIOLATION, UNSUPPORTED_DATA, TRY_AGAIN_LATER = 1008, 1003, 1013
RENEWAL_INTERVAL = 1.0  # seconds at least between two auth messages (each is a database query)
READY = '{"type":"ready"}'

# Who a token names, and what they may see; raises an AppError to refuse.
type Authenticate = Callable[[str, AsyncSession, Settings], Awaitable[Viewer]]
type Close = tuple[int, str]


class Refused(Exception):
    def __init__(self, reason: str, code: int = POLICY_VIOLATION) -> None:
        super().__init__(reason)
        self.close: Close = (code, reason)


async def serve(
    socket: WebSocket,
    *,
    channel: str,
    sessions: SessionFactory,
    authenticate: Authenticate | None,
) -> None:
    """Run one socket of `channel`'s feed until it closes; `authenticate` None: a public feed."""
    settings: Settings = socket.app.state.settings
    started = time.monotonic()
    await socket.accept()
    feed = FeedSocket(socket, settings, sessions, authenticate)
    try:
        await feed.authenticate_first()
    except Refused as refusal:
        closing: Close | None = refusal.close
    else:
        try:
            await hub.subscribe(channel, feed)
            closing = await feed.run()
        finally:
            hub.unsubscribe(channel, feed)
    if closing is not None:
        with suppress(RuntimeError, OSError, WebSocketDisconnect, TimeoutError):
            async with asyncio.timeout(1):  # a peer that stopped reading cannot hold us
                await socket.close(*closing)
    log.info(
        "websocket",
        channel=channel,
        code=closing[0] if closing else "client",
        reason=closing[1] if closing else "",
        sent=feed.sent,
        duration_ms=round((time.monotonic() - started) * 1000, 2),
    )


class FeedSocket:
    """A subscriber of the hub: a bounded queue in front of the socket, drained by a writer."""

    def __init__(
        self,
        socket: WebSocket,
        settings: Settings,
        sessions: SessionFactory,
        authenticate: Authenticate | None,
    ) -> None:
        self.socket, self.settings = socket, settings
        self.sessions, self.authenticator = sessions, authenticate
        self.viewer, self.token = Viewer(), ""
        self.queue: asyncio.Queue[str] = asyncio.Queue(maxsize=settings.websocket_queue_size)
        self.overflowed = False
        self.sent = 0
        self._renewed_at = 0.0
        self._writer: asyncio.Task[Close] | None = None

    def offer(self, message: Message) -> None:
        if not self.viewer.sees(message.owner_id):
            return
        self._enqueue(message.text)

    def _enqueue(self, text: str) -> None:
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            self.overflowed = True
            if self._writer is not None:
                self._writer.cancel()  # it may be stuck sending to a peer that does not read

    async def authenticate_first(self) -> None:
        if self.authenticator is None:
            self._enqueue(READY)
            return
        try:
            async with asyncio.timeout(self.settings.websocket_auth_timeout):
                token = _auth_token(await self.socket.receive_text())
        except (TimeoutError, WebSocketDisconnect, KeyError, RuntimeError) as exc:
            raise Refused("authentication required") from exc
        await self._accept_token(token)

    async def run(self) -> Close | None:
        """Read and write until one side ends: the close to send, or None if the peer left."""
        self._writer = asyncio.create_task(self._write())
        reader = asyncio.create_task(self._read())
        done, _ = await asyncio.wait({self._writer, reader}, return_when=asyncio.FIRST_COMPLETED)
        for task in (self._writer, reader):
            task.cancel()
            with suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError, OSError):
                await task
        if self.overflowed:
            return TRY_AGAIN_LATER, "too slow: fell too far behind"
        finished = done.pop()
        return None if finished.cancelled() or finished.exception() else finished.result()

    async def _read(self) -> Close | None:
        while True:
            message = await self.socket.receive()
            if message["type"] == "websocket.disconnect":
                return None
            try:
                token = _auth_token(message.get("text") or "")
            except KeyError:
                return UNSUPPORTED_DATA, 'only {"type": "auth", "token": ...} is accepted'
            if self.authenticator is None:
                continue
            if time.monotonic() - self._renewed_at < RENEWAL_INTERVAL:
                return POLICY_VIOLATION, "auth messages too frequent"
            self._renewed_at = time.monotonic()
            try:
                await self._accept_token(token)
            except Refused as refusal:
                if refusal.close[0] != TRY_AGAIN_LATER:
                    return refusal.close
                # The database is away: the current token holds until it expires; retry later.
                log.warning("websocket renewal failed", cause=str(refusal.__cause__)[:200])

    async def _write(self) -> Close:
        interval = self.settings.websocket_recheck_seconds
        next_check = time.monotonic() + interval
        while True:
            # Before every message, not only when the queue is empty: a busy feed must not
            # outlive its token, nor a user's revoked access.
            now = time.monotonic()
            if self._expiry_monotonic() <= now:
                return POLICY_VIOLATION, "token expired"
            if self.authenticator is not None and next_check <= now:
                if (refusal := await self._recheck()) is not None:
                    return refusal
                next_check = time.monotonic() + interval
                continue
            try:
                async with asyncio.timeout(min(next_check, self._expiry_monotonic()) - now):
                    text = await self.queue.get()
            except TimeoutError:
                continue
            await self.socket.send_text(text)
            self.sent += 1

    def _expiry_monotonic(self) -> float:
        if self.viewer.expires_at is None:
            return float("inf")
        return time.monotonic() + (self.viewer.expires_at - time.time())

    async def _accept_token(self, token: str) -> None:
        viewer = await self._check(token)
        if self.token and viewer.user_id != self.viewer.user_id:
            raise Refused("the token names another user")
        self.viewer, self.token = viewer, token
        self._enqueue(READY)

    async def _check(self, token: str) -> Viewer:
        assert self.authenticator is not None
        try:
            async with self.sessions() as session:
                return await self.authenticator(token, session, self.settings)
        except AppError as exc:
            raise Refused(exc.detail[:100]) from exc
        except (SQLAlchemyError, OSError) as exc:  # the database is away (logged by the caller)
            raise Refused("service unavailable; try again shortly", TRY_AGAIN_LATER) from exc

    async def _recheck(self) -> Close | None:
        """The same token again: a user disabled or deleted since, or a permission withdrawn
        (a narrower scope, such as an admin made an ordinary user, applies from now on)."""
        try:
            viewer = await self._check(self.token)
        except Refused as refusal:
            if refusal.close[0] == TRY_AGAIN_LATER:  # the database is away: check again later
                log.warning("websocket recheck failed", cause=str(refusal.__cause__)[:200])
                return None
            return POLICY_VIOLATION, "access revoked"
        self.viewer = viewer
        return None


def _auth_token(text: str) -> str:
    """The token of an auth message; KeyError for anything else."""
    try:
        message = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: "[[[[..." nested past the limit
        raise KeyError("not JSON") from None
    if not isinstance(message, dict) or message.get("type") != "auth":
        raise KeyError("not an auth message")
    token = message.get("token")
    if not isinstance(token, str) or not token:
        raise KeyError("no token")
    return token
