"""The app's one middleware: request IDs, the guards, the access line and the last-resort 500.

One pure ASGI layer (`BaseHTTPMiddleware` breaks contextvars and streaming), not a stack of
them: each layer costs a request a call on the way in, and another every time the request
resumes after waiting (a read on SQLite waits for aiosqlite's thread several times). For an HTTP
request it does, in this order:

1. request ID: the caller's `X-Request-ID` if short and plain, else a new one; on every log line
   of the request and in the response's `X-Request-ID`;
2. the access line once the app is done: method, path, status and duration (successful health
   probes write none; uvicorn's own access log is off); with METRICS_ENABLED the same duration
   goes to the request count and latency (core/metrics.py);
3. security headers on every response that does not set its own (HSTS in production);
4. header limits: more than `MAX_REQUEST_HEADERS` headers, or `SERVER_MAX_HEADER_BYTES` of
   them, is a 431 (the server bounds only what it buffers of an unfinished head);
5. trusted hosts, in production: a Host not in `ALLOWED_HOSTS` is a 400 (health probes are
   answered whatever the Host: orchestrators call them by IP address);
6. the body limits: a declared `Content-Length` over `MAX_REQUEST_BODY_BYTES` is a 413 before
   the app runs; a streamed body is counted as the app reads it, and going over raises a 413
   that the exception handlers answer; a body not all arrived `REQUEST_BODY_TIMEOUT` seconds
   after the app's first read raises a 408 the same way (and closes the connection);
7. CORS, when `CORS_ORIGINS` is set: Starlette's `CORSMiddleware`, the one layer inside this
   one (the 413 and the 500 go through it too, so a browser can read them);
8. the 500 envelope for an exception no handler caught, logged with its traceback, inside the
   headers and the access line (Starlette's own fallback would sit outside both).

A WebSocket handshake gets 1 and 5: its ID on its log lines, its Host checked. It writes no
access line (a connection is not a request; its frames are not either).
"""

import asyncio
import os
import re
import time
from collections.abc import Iterable
from typing import Any

from fastapi import Request
from opentelemetry import trace
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.exceptions import error_response, unexpected_error
from core.logging import bind_request_id, log_access
from core.metrics import Observer
from settings import Settings

REQUEST_ID_HEADER = "X-Request-ID"
# Accept a caller's ID only if it is short and plain, so it cannot forge log lines.
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # The API answers JSON, which needs nothing loaded; the docs pages set their own policy.
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}
# Browsers only honour HSTS over HTTPS; sent in production, where TLS ends at the proxy.
HSTS_HEADER = ("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
# Orchestrators probe these every few seconds by IP address: no Host check, and no access line
# for a successful probe (a failing one, a 503 from /health/ready, is logged).
HEALTH_PREFIX = "/health/"

type Header = tuple[bytes, bytes]


def headers_too_large(max_headers: int, max_header_bytes: int) -> Response:
    """The 431 for a head over the limits: from here, or from the server (core/server.py)."""
    return error_response(
        status_code=431,
        code="request_header_fields_too_large",
        message=f"At most {max_headers} headers of {max_header_bytes} bytes in all are accepted.",
    )


def not_http() -> Response:
    """The 400 for bytes the server could not parse as an HTTP request (core/server.py)."""
    return error_response(
        status_code=400, code="bad_request", message="The request is not valid HTTP/1.1."
    )


class RequestMiddleware:
    def __init__(
        self, app: ASGIApp, *, settings: Settings, observe: Observer | None = None
    ) -> None:
        self.observe = observe
        self.cors: dict[str, Any] | None = None
        if settings.cors_origins:
            self.cors = {
                "allow_origins": settings.cors_origins,
                "allow_methods": ["*"],
                "allow_headers": ["*"],
                "expose_headers": [REQUEST_ID_HEADER],
            }
            app = CORSMiddleware(app, **self.cors)
        self.app = app
        production = settings.environment == "production"
        headers = dict(SECURITY_HEADERS)
        if production:
            headers[HSTS_HEADER[0]] = HSTS_HEADER[1]
        self.security_headers = _encoded(headers.items())
        # Exact names in a set, `*.example.com` patterns as suffixes; None: every host (or "*").
        self.allowed_hosts: frozenset[str] | None = None
        self.allowed_suffixes: tuple[str, ...] = ()
        hosts = [host.lower() for host in settings.allowed_hosts]
        if production and "*" not in hosts:
            self.allowed_hosts = frozenset(host for host in hosts if not host.startswith("*."))
            self.allowed_suffixes = tuple(host[1:] for host in hosts if host.startswith("*."))
        self.max_headers = settings.max_request_headers
        self.max_header_bytes = settings.server_max_header_bytes
        self.max_body_bytes = settings.max_request_body_bytes
        self.body_message = f"The request body is larger than {self.max_body_bytes} bytes."
        self.body_timeout = settings.request_body_timeout
        self.timeout_message = f"The request body did not arrive within {self.body_timeout:g} s."
        self.traced = bool(settings.otel_exporter_otlp_endpoint)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self.http(scope, receive, send)
        elif scope["type"] == "websocket":
            await self.websocket(scope, receive, send)
        else:  # lifespan
            await self.app(scope, receive, send)

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = time.perf_counter()
        head = _Head(scope["headers"])
        request_id = self.bind_request_id(head.request_id)
        extra_headers = [(b"x-request-id", request_id.encode()), *self.security_headers]
        status = 500  # if the app raises after its response started, the server answers 500
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started, status = True, message["status"]
                message["headers"] = _with_defaults(message.get("headers", ()), extra_headers)
            await send(message)

        try:
            refusal = self.refusal(scope["path"], head)
            if refusal is not None:
                await refusal(scope, receive, send_with_headers)
            else:
                await self.app(scope, self.counted(receive), send_with_headers)
        except Exception as exc:
            if started:
                raise  # too late for an error response; the server drops the connection
            response = await unexpected_error(Request(scope), exc)
            await self.through_cors(response)(scope, receive, send_with_headers)
        finally:
            seconds = time.perf_counter() - start
            if self.observe is not None:
                self.observe(scope, status, seconds)
            if status >= 400 or not scope["path"].startswith(HEALTH_PREFIX):
                log_access(
                    method=scope["method"],
                    path=scope["path"],
                    status=status,
                    duration_ms=round(seconds * 1000, 2),
                )

    async def websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        head = _Head(scope["headers"])
        self.bind_request_id(head.request_id)
        if self.host_allowed(scope["path"], head.host):
            await self.app(scope, receive, send)
        else:  # Starlette sends it as the handshake's denial response
            await _invalid_host()(scope, receive, send)

    def bind_request_id(self, incoming: str) -> str:
        # 32 random hex digits, as uuid4().hex without the UUID object (a fifth of the cost).
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else os.urandom(16).hex()
        bind_request_id(request_id)
        if self.traced:  # on the request's span (core/telemetry.py)
            trace.get_current_span().set_attribute("request_id", request_id)
        return request_id

    def refusal(self, path: str, head: "_Head") -> ASGIApp | None:
        """The error response for a request refused before the app runs, or None."""
        if head.count > self.max_headers or head.size > self.max_header_bytes:
            return headers_too_large(self.max_headers, self.max_header_bytes)
        if not self.host_allowed(path, head.host):
            return _invalid_host()
        length = head.content_length
        if length.isascii() and length.isdigit() and int(length) > self.max_body_bytes:
            return self.through_cors(
                error_response(status_code=413, code="payload_too_large", message=self.body_message)
            )
        return None

    def host_allowed(self, path: str, host: str) -> bool:
        if self.allowed_hosts is None or path.startswith(HEALTH_PREFIX):
            return True
        name = host.split(":")[0].lower()
        return name in self.allowed_hosts or name.endswith(self.allowed_suffixes)

    def counted(self, receive: Receive) -> Receive:
        """`receive`, raising a 413 once the body read so far is over the limit, and a 408 if
        the body is not complete in time (FastAPI lets both through its body parsing, to our
        exception handlers). Reads after the body (waiting for a disconnect) are not bounded."""
        received = 0
        deadline: float | None = None
        complete = False

        async def counting_receive() -> Message:
            nonlocal received, deadline, complete
            if complete:
                return await receive()
            if deadline is None:
                deadline = asyncio.get_running_loop().time() + self.body_timeout
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                closing = {"Connection": "close"}  # the rest of the body may still arrive
                raise HTTPException(408, self.timeout_message, headers=closing) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise HTTPException(413, self.body_message)
                complete = not message.get("more_body", False)
            return message

        return counting_receive

    def through_cors(self, response: Response) -> ASGIApp:
        return response if self.cors is None else CORSMiddleware(response, **self.cors)


class _Head:
    """What the middleware reads of a request's headers, in one pass over them."""

    __slots__ = ("content_length", "count", "host", "request_id", "size")

    def __init__(self, headers: list[Header]) -> None:
        self.count = len(headers)
        self.size = 0
        host = request_id = content_length = b""
        # ASGI servers lower-case header names; a repeated one counts once, the first.
        for name, value in headers:
            self.size += len(name) + len(value) + 4  # ": " and CRLF
            if name == b"host":
                host = host or value
            elif name == b"x-request-id":
                request_id = request_id or value
            elif name == b"content-length":
                content_length = content_length or value
        self.host = host.decode("latin-1")
        self.request_id = request_id.decode("latin-1")
        self.content_length = content_length.decode("latin-1")


def _invalid_host() -> Response:
    return error_response(
        status_code=400, code="invalid_host", message="The Host header is not allowed."
    )


def _encoded(headers: Iterable[tuple[str, str]]) -> list[Header]:
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]


def _with_defaults(headers: Iterable[Header], defaults: list[Header]) -> list[Header]:
    """`headers` plus each of `defaults` whose name they do not have (a response's own wins)."""
    headers = list(headers)
    present = {name.lower() for name, _ in headers}
    return headers + [header for header in defaults if header[0] not in present]
