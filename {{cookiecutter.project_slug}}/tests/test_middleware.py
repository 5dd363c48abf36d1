"""core/middleware.py's one layer: its order, what CORS covers, and WebSocket handshakes.

The guards themselves (headers, hosts, body limit, CORS) are in test_guards.py, the request ID
in test_errors.py and the access line in test_logging.py.
"""

import io
import json
from typing import Any

import pytest
import structlog
from fastapi import APIRouter, WebSocket
from httpx import ASGITransport, AsyncClient
from starlette.types import Message

from core.logging import configure_logging
from main import create_app
from settings import Settings

router = APIRouter(prefix="/_test-middleware")


@router.websocket("/echo")
async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    text = await websocket.receive_text()
    structlog.get_logger("features.example").info("echoing", text=text)
    await websocket.send_text(text)
    await websocket.receive()  # the client's close


@router.post("/crash")
async def crash() -> None:
    raise RuntimeError("boom")


def production(settings: Settings, **changes: Any) -> Settings:
    changes = {"environment": "production", "allowed_hosts": ["api.example.com"], **changes}
    return settings.model_copy(update=changes)


async def open_websocket(settings: Settings, stream: io.StringIO, host: str) -> list[Message]:
    """Connect to the echo route as a server would, say "hi", close; what the app sent back."""
    app = create_app(settings.model_copy(update={"log_json": True}))
    app.include_router(router)
    configure_logging(app.state.settings, stream=stream)
    inbox: list[Message] = [
        {"type": "websocket.connect"},
        {"type": "websocket.receive", "text": "hi"},
        {"type": "websocket.disconnect", "code": 1000},
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return inbox.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "scheme": "ws",
        "http_version": "1.1",
        "path": "/_test-middleware/echo",
        "raw_path": b"/_test-middleware/echo",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", host.encode()), (b"x-request-id", b"socket-1")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "subprotocols": [],
        "state": {},
        "extensions": {"websocket.http.response": {}},
    }
    await app(scope, receive, send)
    return sent


async def test_a_websocket_passes_through_with_its_request_id_on_its_lines(
    test_settings: Settings, stream: io.StringIO
) -> None:
    sent = await open_websocket(production(test_settings), stream, "api.example.com")

    assert [message["type"] for message in sent] == ["websocket.accept", "websocket.send"]
    assert sent[1]["text"] == "hi"
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    [echoing] = [line for line in lines if line["event"] == "echoing"]
    assert echoing["request_id"] == "socket-1"
    assert not [line for line in lines if line["logger"] == "access"]  # not a request


async def test_a_websocket_from_a_host_not_allowed_is_refused_in_the_envelope(
    test_settings: Settings, stream: io.StringIO
) -> None:
    sent = await open_websocket(production(test_settings), stream, "evil.test")

    start, body = sent
    assert start["type"] == "websocket.http.response.start"
    assert start["status"] == 400
    assert json.loads(body["body"])["error"]["code"] == "invalid_host"


async def call(settings: Settings, method: str, path: str, **kwargs: Any) -> Any:
    app = create_app(settings)
    app.include_router(router)
    transport = ASGITransport(app=app, raise_app_exceptions=False)
    async with AsyncClient(transport=transport, base_url="http://api.example.com") as client:
        return await client.request(method, path, **kwargs)


async def test_header_limits_come_before_the_host_check(test_settings: Settings) -> None:
    settings = production(test_settings, max_request_headers=10)
    headers = {"Host": "evil.test", **{f"X-Extra-{n}": "x" for n in range(12)}}

    response = await call(settings, "GET", "/health/live", headers=headers)

    assert response.status_code == 431


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [("/_test-middleware/crash", b"", 500), ("/_test-middleware/crash", b"x" * 32, 413)],
)
async def test_the_middlewares_own_answers_carry_cors_headers(
    test_settings: Settings, path: str, body: bytes, status: int
) -> None:
    origin = "https://app.example.com"
    settings = test_settings.model_copy(
        update={"cors_origins": [origin], "max_request_body_bytes": 16}
    )

    response = await call(settings, "POST", path, content=body, headers={"Origin": origin})

    assert response.status_code == status
    assert response.headers["Access-Control-Allow-Origin"] == origin
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.json()["error"]["request_id"] == response.headers["X-Request-ID"]
