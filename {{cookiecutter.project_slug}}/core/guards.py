"""Pure ASGI middleware that protects the app: security headers, trusted hosts, body size.

Refusals use the same JSON error envelope as every other error.
"""

from collections.abc import Sequence

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.exceptions import error_response

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
HEALTH_PREFIX = "/health/"


class SecurityHeadersMiddleware:
    """Adds `SECURITY_HEADERS` (and HSTS if asked) to every response that does not set its own."""

    def __init__(self, app: ASGIApp, *, hsts: bool = False) -> None:
        self.app = app
        self.headers = dict(SECURITY_HEADERS)
        if hsts:
            self.headers[HSTS_HEADER[0]] = HSTS_HEADER[1]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class TrustedHostMiddleware:
    """Answers 400 to a request whose Host header is not allowed (`*.example.com` works too).

    Starlette has one, but it answers in plain text; this one uses the error envelope. Health
    probes are answered whatever the Host: container health checks and orchestrators call them
    by IP address.
    """

    def __init__(self, app: ASGIApp, *, allowed_hosts: Sequence[str]) -> None:
        self.app = app
        self.allowed_hosts = [host.lower() for host in allowed_hosts]

    def is_allowed(self, host: str) -> bool:
        return any(
            pattern == "*"
            or host == pattern
            or (pattern.startswith("*.") and host.endswith(pattern[1:]))
            for pattern in self.allowed_hosts
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = Headers(scope=scope).get("host", "").split(":")[0].lower()
        if self.is_allowed(host) or scope["path"].startswith(HEALTH_PREFIX):
            await self.app(scope, receive, send)
            return
        response = error_response(
            status_code=400, code="invalid_host", message="The Host header is not allowed."
        )
        await response(scope, receive, send)


class BodySizeLimitMiddleware:
    """Refuses request bodies over `max_body_bytes` with a 413, declared or streamed.

    A declared `Content-Length` is refused before the app runs. A chunked body is counted as the
    app reads it; going over raises an `HTTPException(413)`, which FastAPI lets through its body
    parsing and the exception handlers turn into the envelope.
    """

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.message = f"The request body is larger than {max_body_bytes} bytes."

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > self.max_body_bytes:
            response = error_response(
                status_code=413, code="payload_too_large", message=self.message
            )
            await response(scope, receive, send)
            return

        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            incoming = await receive()
            if incoming["type"] == "http.request":
                received += len(incoming.get("body", b""))
                if received > self.max_body_bytes:
                    raise HTTPException(413, self.message)
            return incoming

        await self.app(scope, counting_receive, send)
