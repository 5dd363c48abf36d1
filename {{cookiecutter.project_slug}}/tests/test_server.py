"""`python -m core.server` (make start, the container): settings checked once, heads bounded."""

import http.client
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest

from conftest import PROJECT_DIR
from core.server import per_process_warning
from settings import Settings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def server_env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "TEST_DATABASE_URL"}
    return {**env, "SECRET_KEY": "s" * 48, "ENVIRONMENT": "test", **extra}


@pytest.fixture(scope="module")
def server(test_settings: Settings) -> Iterator[int]:
    """One real server for the module's tests (each checks it still answers afterwards)."""
    port = free_port()
    env = server_env(
        DATABASE_URL=test_settings.database_url,
        SERVER_HEADER_TIMEOUT="0.5",
        REQUEST_BODY_TIMEOUT="0.5",
    )
    process = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
        [sys.executable, "-m", "core.server", "--port", str(port)],
        cwd=PROJECT_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert process.poll() is None, "the server exited"
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


# A request's start; `Connection: close` so that the server closes once it has answered.
GET_LIVE = b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"


def live_status(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/live", timeout=5) as response:
        status: int = response.status
        return status


def exchange(port: int, request: bytes, *, wait: float = 5) -> bytes:
    """Send `request`; what the server answered before it closed (or `wait` ran out)."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as connection:
        try:
            connection.sendall(request)
        except (BrokenPipeError, ConnectionResetError):
            return b"<reset>"
        received = b""
        try:
            while chunk := connection.recv(65536):
                received += chunk
        except TimeoutError:
            received += b"<still open>"
        except ConnectionResetError:
            received += b"<reset>"  # refused and closed while the rest was still arriving
        return received


def test_bad_settings_fail_once_with_one_line_even_with_workers() -> None:
    env = server_env(ENVIRONMENT="production", SECRET_KEY="change-me")

    result = subprocess.run(  # noqa: S603 (our own interpreter and module)
        [sys.executable, "-m", "core.server", "--workers", "2", "--port", str(free_port())],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("error: ")
    assert "SECRET_KEY must be set" in result.stderr


def test_several_workers_without_redis_are_warned_that_they_share_nothing(
    test_settings: Settings,
) -> None:
    with_redis = test_settings.model_copy(update={"redis_url": "redis://127.0.0.1:6379/0"})

    assert "4 workers without REDIS_URL" in (per_process_warning(test_settings, 4) or "")
    assert per_process_warning(test_settings, 1) is None
    assert per_process_warning(with_redis, 4) is None


def test_an_oversized_header_is_refused_and_the_server_keeps_answering(server: int) -> None:
    huge = b"X-Big: " + b"a" * 1_000_000 + b"\r\n"

    answer = exchange(server, GET_LIVE + huge + b"\r\n")

    # Refused before the app saw it: a 431, or the connection cut while the rest was being sent.
    assert answer.startswith(b"HTTP/1.1 431") or answer.endswith(b"<reset>"), answer[:100]
    assert live_status(server) == 200


def test_too_many_headers_are_refused(server: int) -> None:
    many = b"".join(b"X-H%d: v\r\n" % index for index in range(200))  # 2.6 kB: parsed whole

    answer = exchange(server, GET_LIVE + many + b"\r\n")

    assert answer.startswith(b"HTTP/1.1 431"), answer[:100]
    assert b'"code":"request_header_fields_too_large"' in answer


@pytest.mark.parametrize("complete", [True, False], ids=["whole", "still-arriving"])
def test_a_head_over_the_byte_limit_gets_the_same_431_however_it_arrives(
    server: int, complete: bool
) -> None:
    # 20 kB of head, over the 16 kB default: parsed whole it reaches the app's check; cut short
    # it is still in the server's buffer, which refuses it without waiting for the rest.
    head = GET_LIVE + b"X-Big: " + b"a" * 20_000 + b"\r\n"

    answer = exchange(server, head + b"\r\n" if complete else head)

    assert answer.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"), answer[:100]
    assert b"content-type: application/json" in answer.lower()
    assert b'"code":"request_header_fields_too_large"' in answer
    assert live_status(server) == 200


def test_a_malformed_head_followed_by_a_large_body_is_a_400_not_a_431(server: int) -> None:
    head = b"POST /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nNo colon here\r\n"
    head += b"Content-Length: 20000\r\n\r\n"

    answer = exchange(server, head + b"a" * 20_000)

    assert answer.startswith(b"HTTP/1.1 400"), answer[:100]
    assert live_status(server) == 200


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GARBAGE\r\n\r\n",
        b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nNo colon here\r\n\r\n",
        b"GET /h\xc3\xa9alth HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        b"POST /auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -1\r\n\r\n",
        b"POST /auth/login HTTP/1.1\r\nHost: a\r\nHost: b\r\nContent-Length: 0\r\n\r\n",
        b"POST /auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ],
    ids=["request-line", "header-line", "non-ascii-path", "content-length", "hosts", "chunk"],
)
def test_what_is_not_http_gets_a_400_in_the_envelope(server: int, request_bytes: bytes) -> None:
    answer = exchange(server, request_bytes)

    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n"), answer[:100]
    assert b"content-type: application/json" in answer.lower()
    assert b'"code":"bad_request"' in answer
    assert not answer.endswith(b"<still open>")
    assert live_status(server) == 200


def test_a_body_that_never_completes_is_a_408_and_the_connection_closes(server: int) -> None:
    head = b"POST /auth/register HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
    started = time.monotonic()

    answer = exchange(server, head + b"\r\nContent-Length: 100\r\n\r\n{}", wait=10)

    assert answer.startswith(b"HTTP/1.1 408"), answer[:100]
    assert b'"code":"request_timeout"' in answer
    assert not answer.endswith(b"<still open>")  # closed by the server once it answered
    assert time.monotonic() - started < 5
    assert live_status(server) == 200


def test_a_request_head_that_never_ends_is_dropped(server: int) -> None:
    started = time.monotonic()

    answer = exchange(server, b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n", wait=10)

    assert answer == b""  # closed by the server, not by our wait running out
    assert time.monotonic() - started < 5
    assert live_status(server) == 200


def test_a_complete_request_is_not_cut_by_the_head_deadline(server: int) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server, timeout=5)
    try:
        for pause in (0, 0.3, 0.3):  # the third request comes 0.6 s after the first...
            time.sleep(pause)  # ...and the deadline (0.5 s) restarts for each request
            connection.request("GET", "/health/live")
            response = connection.getresponse()
            assert (response.status, response.read()) == (200, b'{"status":"ok"}')
    finally:
        connection.close()
