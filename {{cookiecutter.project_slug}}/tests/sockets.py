"""A WebSocket client for tests: drives the app's ASGI interface in this process, as a server
would for a real client, so a socket shares the test's transaction like `client` does.

    async with connect(app, "/notes/feed") as socket:
        await socket.send_json({"type": "auth", "token": token})
        assert await socket.receive_json() == {"type": "ready"}
"""

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

from fastapi import FastAPI
from starlette.types import Message

TIMEOUT = 5.0  # seconds a test waits for the app's next message


class Closed(Exception):
    """The app closed the socket (`code`, `reason`)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"closed {code}: {reason}")
        self.code, self.reason = code, reason


class TestSocket:
    __test__ = False  # not a test class

    def __init__(self) -> None:
        self.to_app: asyncio.Queue[Message] = asyncio.Queue()
        self.from_app: asyncio.Queue[Message] = asyncio.Queue()
        # Cleared: the client stops reading, and the app's sends wait, as on a full socket.
        self.reading = asyncio.Event()
        self.reading.set()
        self.lag = 0.0  # seconds each of the app's sends takes: a client reading slowly

    async def receive(self) -> Message:
        return await self.to_app.get()

    async def send(self, message: Message) -> None:
        await self.reading.wait()
        await asyncio.sleep(self.lag)
        await self.from_app.put(message)

    async def send_json(self, data: object) -> None:
        await self.send_text(json.dumps(data))

    async def send_text(self, text: str) -> None:
        await self.to_app.put({"type": "websocket.receive", "text": text})

    async def receive_json(self, within: float = TIMEOUT) -> Any:
        """The next JSON message; `Closed` if the app closed the socket instead."""
        async with asyncio.timeout(within):
            message = await self.from_app.get()
        if message["type"] == "websocket.close":
            raise Closed(message.get("code", 1000), message.get("reason") or "")
        assert message["type"] == "websocket.send", message
        return json.loads(message["text"])

    async def closed(self, within: float = TIMEOUT) -> Closed:
        """The close the app sends next, skipping the messages before it."""
        async with asyncio.timeout(within):
            while True:
                try:
                    await self.receive_json(within)
                except Closed as closed:
                    return closed

    def pending(self) -> int:
        """How many messages the app has sent that the test has not read."""
        return self.from_app.qsize()


@asynccontextmanager
async def connect(app: FastAPI, path: str) -> AsyncIterator[TestSocket]:
    """A socket on `path`, accepted by the app; disconnected (and the app's end awaited) after."""
    socket = TestSocket()
    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "scheme": "ws",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"test")],
        "client": ("127.0.0.1", 50000),
        "server": ("test", 80),
        "subprotocols": [],
        "state": {},
    }
    task = asyncio.create_task(app(scope, socket.receive, socket.send))
    await socket.to_app.put({"type": "websocket.connect"})
    async with asyncio.timeout(TIMEOUT):
        accepted = await socket.from_app.get()
    if accepted["type"] != "websocket.accept":
        task.cancel()
        raise Closed(accepted.get("code", 1000), accepted.get("reason") or "refused")
    try:
        yield socket
    finally:
        socket.reading.set()
        await socket.to_app.put({"type": "websocket.disconnect", "code": 1000})
        with suppress(asyncio.CancelledError, TimeoutError):
            async with asyncio.timeout(TIMEOUT):
                await task
        if not task.done():
            task.cancel()
