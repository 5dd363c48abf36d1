"""Refuse requests with too many or too large headers (431), in the error envelope.

The server bounds what it buffers of an unfinished request head (core/server.py), but a head
that arrives in one read is parsed whole; this bounds what reaches the app exactly, whichever
server runs it.
"""

from starlette.types import ASGIApp, Receive, Scope, Send

from core.exceptions import error_response


class HeaderLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_headers: int, max_header_bytes: int) -> None:
        self.app = app
        self.max_headers = max_headers
        self.max_header_bytes = max_header_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = scope["headers"]
            size = sum(len(name) + len(value) + 4 for name, value in headers)  # ": ", CRLF
            if len(headers) > self.max_headers or size > self.max_header_bytes:
                response = error_response(
                    status_code=431,
                    code="request_header_fields_too_large",
                    message=(
                        f"At most {self.max_headers} headers of {self.max_header_bytes} bytes "
                        "in all are accepted."
                    ),
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
