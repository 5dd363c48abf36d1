"""Serve the app with uvicorn, bounded: `python -m core.server` (`make start`, the container).

Before any worker starts, the settings are read once: bad ones print one line per problem and
exit 2, where uvicorn's workers would each crash with a traceback and be started again forever.

Then uvicorn runs with its pure-Python HTTP parser, h11, because it bounds what it buffers of a
request's head (the default C parser accepts a 64 MB header and spends seconds on it), and with a
protocol that answers a head still arriving past SERVER_MAX_HEADER_BYTES with the same 431 the
app gives a larger head that arrived whole (core/middleware.py), so the answer does not depend on
how the bytes were split in transit, that answers anything else h11 cannot parse (a bad request
line, header or chunk size) with a 400 in the same envelope rather than uvicorn's plain text, and
that closes a connection whose request head is not complete within SERVER_HEADER_TIMEOUT seconds
(slowloris: uvicorn itself waits forever for a first request). A body that stops arriving is the
app's to bound (REQUEST_BODY_TIMEOUT, core/middleware.py): it answers 408 and closes.
"""

import argparse
import asyncio
import os
import sys
from typing import Any

import h11
import uvicorn
from pydantic import ValidationError
from uvicorn.protocols.http.h11_impl import H11Protocol

from core.middleware import headers_too_large, not_http
from settings import Settings, get_settings


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, with a deadline for each request's head."""

    _head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # the head is complete
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm()  # the next request on this connection gets the same deadline

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a request h11 refused, in the app's error envelope (uvicorn's
        own is plain text): a 431 when h11 refused the head for its size, else a 400."""
        # Called while uvicorn handles h11's error, which says why it refused (431: the size).
        refused = sys.exception()
        if isinstance(refused, h11.RemoteProtocolError) and refused.error_status_hint == 431:
            settings = get_settings()
            limits = (settings.max_request_headers, settings.server_max_header_bytes)
            refusal, reason = headers_too_large(*limits), b"Request Header Fields Too Large"
        else:
            refusal, reason = not_http(), b"Bad Request"
        headers = [*refusal.raw_headers, (b"connection", b"close")]
        if self.conn.our_state not in {h11.IDLE, h11.SEND_RESPONSE}:
            self.transport.close()  # refused mid-body after the app's answer began: too late
            return
        for event in (
            h11.Response(status_code=refusal.status_code, headers=headers, reason=reason),
            h11.Data(data=bytes(refusal.body)),
            h11.EndOfMessage(),
        ):
            self.transport.write(self.conn.send(event) or b"")
        self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        timeout = get_settings().server_header_timeout
        self._head_deadline = self.loop.call_later(timeout, self._expire)

    def _disarm(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _expire(self) -> None:
        if not self.transport.is_closing():
            self.transport.close()


def checked_settings() -> Settings:
    """The settings, or one line per problem on stderr and exit status 2."""
    try:
        return get_settings()
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"]).upper() or "settings"
            print(f"error: {where}: {error['msg']}", file=sys.stderr)
        raise SystemExit(2) from None


def per_process_warning(settings: Settings, workers: int) -> str | None:
    """What several workers without Redis do not share, said once at start; None if shared."""
    if workers <= 1 or settings.redis_url is not None:
        return None
    return (
        f"warning: {workers} workers without REDIS_URL: each keeps its own cache and rate-limit "
        "counts (another worker may answer a cached row a write changed, until its TTL), and a "
        "feed reaches only the sockets of the worker that committed the change"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m core.server", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--workers", type=int, default=None, help="default: WEB_CONCURRENCY or 1")
    args = parser.parse_args(argv)
    settings = checked_settings()
    workers = args.workers or int(os.environ.get("WEB_CONCURRENCY", "1"))
    if warning := per_process_warning(settings, workers):
        print(warning, file=sys.stderr)
    options: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "workers": args.workers,
        "http": "core.server:BoundedH11Protocol",
        "h11_max_incomplete_event_size": settings.server_max_header_bytes,
        "timeout_keep_alive": settings.server_keep_alive_timeout,
        "timeout_graceful_shutdown": settings.server_graceful_shutdown_timeout,
        # WebSockets (core/realtime): a peer that does not answer a ping within the timeout is
        # dropped; a larger message closes its socket (1009). No per-message compression: feeds
        # send small JSON messages, and each compressed socket holds zlib state for its life.
        "ws_ping_interval": settings.websocket_ping_interval,
        "ws_ping_timeout": settings.websocket_ping_timeout,
        "ws_max_size": settings.websocket_max_message_bytes,
        "ws_per_message_deflate": False,
        "proxy_headers": True,  # trusted from FORWARDED_ALLOW_IPS only (127.0.0.1 by default)
        "access_log": False,  # the app writes its own (core/middleware.py)
    }
    uvicorn.run("main:app", **options)


if __name__ == "__main__":
    main()
