"""Pure ASGI middleware (no `BaseHTTPMiddleware`: it breaks contextvars and streaming)."""

import re
import time
import uuid
from contextvars import ContextVar

import structlog
from opentelemetry import trace
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "X-Request-ID"
# Accept a caller's ID only if it is short and plain, so it cannot forge log lines.
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
access_logger = structlog.get_logger("access")
# Orchestrators probe these every few seconds; a line per successful probe would drown the log.
# A failing probe (a 503 from /health/ready) is still logged.
_QUIET_PREFIX = "/health/"


def get_request_id() -> str | None:
    return _request_id.get()


class RequestIDMiddleware:
    """Gives every request an ID: bound to its log lines and returned in `X-Request-ID`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        incoming = (
            dict(scope["headers"]).get(REQUEST_ID_HEADER.lower().encode(), b"").decode("latin-1")
        )
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        # Not reset afterwards: each request runs in its own task, so the value never leaks into
        # another request, and lines logged after the response (uvicorn's) still carry it.
        _request_id.set(request_id)
        structlog.contextvars.bind_contextvars(request_id=request_id)
        # On the request's span when tracing is on (core/telemetry.py); a no-op otherwise.
        trace.get_current_span().set_attribute("request_id", request_id)

        async def send_with_request_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if REQUEST_ID_HEADER not in headers:
                    headers[REQUEST_ID_HEADER] = request_id
            await send(message)

        await self.app(scope, receive, send_with_request_id)


class AccessLogMiddleware:
    """One log line per request: method, path, status and duration (uvicorn's own is off).

    Add it inside `RequestIDMiddleware`, so the line carries the request's ID. Successful
    health probes are not logged.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        start = time.perf_counter()
        # Stays 500 if the app raises before answering: the server then sends a 500.
        status = 500

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            if status >= 400 or not scope["path"].startswith(_QUIET_PREFIX):
                access_logger.info(
                    "request",
                    method=scope["method"],
                    path=scope["path"],
                    status=status,
                    duration_ms=round((time.perf_counter() - start) * 1000, 2),
                )
