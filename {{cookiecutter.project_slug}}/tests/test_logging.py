"""One logging pipeline: the app's, the access log's, uvicorn's and SQLAlchemy's lines alike."""

import io
import json
import logging
import logging.config
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import structlog
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from pydantic import SecretStr
from uvicorn.config import LOGGING_CONFIG

from conftest import PROJECT_DIR
from core.dependencies import SessionDep
from core.logging import configure_logging
from core.routing import Router
from main import create_app
from settings import Environment, Settings

router = Router(prefix="/_test-logging")


@router.get("/work")
async def work(session: SessionDep) -> dict[str, str]:
    structlog.get_logger("features.example").info("working", answer=42)
    connection = await session.connection()
    await connection.exec_driver_sql("SELECT 1")
    return {"status": "done"}


@router.get("/crash")
async def crash() -> None:
    raise RuntimeError("boom")


def json_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    # Every line must be a JSON object: json.loads fails the test on anything else.
    return [json.loads(line) for line in stream.getvalue().splitlines()]


async def serve_one(
    settings: Settings, stream: io.StringIO, path: str, **headers: str
) -> tuple[int, dict[str, Any], str]:
    app: FastAPI = create_app(settings)
    app.include_router(router)
    configure_logging(settings, stream=stream)
    transport = ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        AsyncClient(transport=transport, base_url="http://test") as client,
    ):
        response = await client.get(path, headers=headers)
    return response.status_code, response.json(), response.headers["X-Request-ID"]


@pytest.fixture
def json_settings(test_settings: Settings) -> Settings:
    return test_settings.model_copy(update={"log_json": True, "database_echo": True})


async def test_every_line_of_a_request_is_json_with_its_request_id(
    json_settings: Settings, stream: io.StringIO
) -> None:
    status, _, request_id = await serve_one(json_settings, stream, "/_test-logging/work")

    assert status == 200
    lines = [line for line in json_lines(stream) if line.get("request_id") == request_id]
    by_logger: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        by_logger.setdefault(line["logger"].split(".")[0], []).append(line)
    assert by_logger["features"][0]["event"] == "working"
    assert by_logger["features"][0]["answer"] == 42
    assert any("SELECT 1" in line["event"] for line in by_logger["sqlalchemy"])
    [access] = by_logger["access"]
    assert access["method"] == "GET"
    assert access["path"] == "/_test-logging/work"
    assert access["status"] == 200
    assert access["duration_ms"] >= 0
    assert all({"timestamp", "level"} <= line.keys() for line in lines)


async def test_an_unhandled_error_is_logged_with_its_traceback_and_answered_500(
    json_settings: Settings, stream: io.StringIO
) -> None:
    status, body, request_id = await serve_one(json_settings, stream, "/_test-logging/crash")

    assert status == 500
    assert body["error"]["code"] == "internal_error"
    assert body["error"]["request_id"] == request_id
    lines = [line for line in json_lines(stream) if line.get("request_id") == request_id]
    [error] = [line for line in lines if line["event"] == "unhandled_exception"]
    assert error["level"] == "error"
    assert error["exception"].startswith("Traceback (most recent call last):")
    assert "RuntimeError: boom" in error["exception"]
    [access] = [line for line in lines if line["logger"] == "access"]
    assert access["status"] == 500


async def test_a_successful_probe_writes_no_access_line_and_a_failing_one_does(
    json_settings: Settings, stream: io.StringIO, tmp_path: Path
) -> None:
    await serve_one(json_settings, stream, "/health/live", **{"X-Request-ID": "probe-ok"})
    unreachable = json_settings.model_copy(
        update={"database_url": f"sqlite+aiosqlite:///{tmp_path}/no/such/dir/app.db"}
    )
    status, _, _ = await serve_one(
        unreachable, stream, "/health/ready", **{"X-Request-ID": "probe-down"}
    )

    assert status == 503
    access = [line for line in json_lines(stream) if line["logger"] == "access"]
    assert [(line["request_id"], line["status"]) for line in access] == [("probe-down", 503)]


def test_a_line_is_stamped_in_utc_to_the_microsecond_and_any_value_is_written(
    json_settings: Settings, stream: io.StringIO
) -> None:
    configure_logging(json_settings, stream=stream)
    before = datetime.now(UTC)

    structlog.get_logger("features.example").info("priced", price=Decimal("1.50"))
    logging.getLogger("features.example").warning("stdlib line")

    after = datetime.now(UTC)
    lines = json_lines(stream)
    assert [line["event"] for line in lines] == ["priced", "stdlib line"]
    for line in lines:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", line["timestamp"])
        stamp = datetime.fromisoformat(line["timestamp"])
        assert before - timedelta(milliseconds=1) <= stamp <= after
    # A value JSON has no type for is written as its repr, not dropped or failing the line.
    assert lines[0]["price"] == "Decimal('1.50')"


async def test_console_mode_prints_a_readable_traceback(
    test_settings: Settings, stream: io.StringIO
) -> None:
    settings = test_settings.model_copy(update={"log_json": False})

    await serve_one(settings, stream, "/_test-logging/crash", **{"X-Request-ID": "req-7"})

    output = stream.getvalue()
    assert "Traceback (most recent call last):" in output
    assert "RuntimeError: boom" in output
    assert "request_id=req-7" in output
    assert not output.lstrip().startswith("{")


def test_uvicorn_lines_go_through_the_pipeline_once_without_color(
    json_settings: Settings, stream: io.StringIO
) -> None:
    # What uvicorn does before it imports the app: its own handlers, not propagating.
    logging.config.dictConfig(LOGGING_CONFIG)
    configure_logging(json_settings, stream=stream)
    configure_logging(json_settings, stream=stream)  # a second call must not double lines

    logging.getLogger("uvicorn.error").info(
        "Started server process [%d]", 7, extra={"color_message": "\x1b[36m%d\x1b[0m"}
    )
    logging.getLogger("uvicorn.access").info("uvicorn's access line is superseded by ours")

    [line] = json_lines(stream)
    assert line["event"] == "Started server process [7]"
    assert line["logger"] == "uvicorn.error"
    assert "color_message" not in line


@pytest.mark.parametrize(
    ("environment", "log_json", "expected"),
    [
        ("production", None, True),
        ("development", None, False),
        ("production", False, False),
        ("development", True, True),
    ],
)
def test_json_logs_default_to_production_only(
    environment: Environment, log_json: bool | None, expected: bool
) -> None:
    settings = Settings(
        _env_file=None, environment=environment, log_json=log_json, secret_key=SecretStr("s" * 48)
    )

    assert settings.json_logs is expected


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def get(url: str, **headers: str) -> int:
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - a local http URL
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
        status: int = response.status
        return status


def test_served_by_uvicorn_every_line_is_json_and_each_request_is_logged_once(
    test_settings: Settings, migrated_database: str
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "ENVIRONMENT": "production",
        "SECRET_KEY": "s" * 48,
        "DATABASE_URL": test_settings.database_url,
        "ALLOWED_HOSTS": '["127.0.0.1"]',
        "API_DOCS": "true",  # the request below reads the OpenAPI document
    }
    # Deliberately without --no-access-log: the app's configuration alone must avoid doubles.
    command = [sys.executable, "-m", "uvicorn", "main:app", "--port", str(port)]
    with tempfile.TemporaryFile() as output:
        server = subprocess.Popen(  # noqa: S603 - our own interpreter
            command, cwd=PROJECT_DIR, env=env, stdout=output, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    get(f"http://127.0.0.1:{port}/health/live")
                    break
                except OSError:
                    assert server.poll() is None, "uvicorn exited"
                    assert time.monotonic() < deadline, "uvicorn did not start"
                    time.sleep(0.1)
            assert (
                get(f"http://127.0.0.1:{port}/health/ready", **{"X-Request-ID": "probe-1"}) == 200
            )
            served = get(f"http://127.0.0.1:{port}/openapi.json", **{"X-Request-ID": "served-1"})
            assert served == 200
        finally:
            server.terminate()
            server.wait(timeout=10)
        output.seek(0)
        lines = output.read().decode().splitlines()

    records = [json.loads(line) for line in lines]
    assert any(r["event"].startswith("Started server process") for r in records)
    assert not any("color_message" in r for r in records)
    [access] = [r for r in records if r.get("request_id") == "served-1"]
    assert access["logger"] == "access"
    assert access["path"] == "/openapi.json"
    assert not [r for r in records if r.get("request_id") == "probe-1"]


def test_the_log_level_is_read_in_any_case() -> None:
    settings = Settings(_env_file=None, environment="development", log_level="debug")  # type: ignore[arg-type]

    assert settings.log_level == "DEBUG"
