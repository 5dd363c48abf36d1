"""Opt-in observability: OTLP traces and metrics to a collector, and Prometheus at /metrics."""

import functools
import io
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import structlog
from fastapi import APIRouter, FastAPI
from httpx import ASGITransport, AsyncClient
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from pydantic import BaseModel

from conftest import PROJECT_DIR
from core.cache import cache
from core.logging import configure_logging
from main import create_app
from settings import Settings

router = APIRouter(prefix="/_test-telemetry")
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


@router.get("/items/{item_id}")
async def item(item_id: int) -> dict[str, int]:
    structlog.get_logger("features.example").info("reading item", item_id=item_id)
    return {"id": item_id}


class Collector:
    """An OTLP/HTTP collector in the test: keeps every request body by path."""

    def __init__(self) -> None:
        self.received: dict[str, list[bytes]] = {}
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.setdefault(self.path, []).append(body)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def spans(self) -> list[Any]:
        requests = [ExportTraceServiceRequest.FromString(b) for b in self.received["/v1/traces"]]
        return [
            span
            for request in requests
            for resource in request.resource_spans
            for scope in resource.scope_spans
            for span in scope.spans
        ]

    def metric_names(self) -> set[str]:
        requests = [ExportMetricsServiceRequest.FromString(b) for b in self.received["/v1/metrics"]]
        return {
            metric.name
            for request in requests
            for resource in request.resource_metrics
            for scope in resource.scope_metrics
            for metric in scope.metrics
        }


@pytest.fixture
def collector() -> Iterator[Collector]:
    collector = Collector()
    # A short poll, or shutdown() waits out the default half second.
    serve = functools.partial(collector.server.serve_forever, poll_interval=0.05)
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield collector
    collector.server.shutdown()
    collector.server.server_close()


async def serve(app: FastAPI, *paths: str, **headers: str) -> list[Any]:
    """Answer the requests inside the app's lifespan, whose end flushes the exporters."""
    app.include_router(router)
    transport = ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        AsyncClient(transport=transport, base_url="http://test") as client,
    ):
        return [await client.get(path, headers=headers) for path in paths]


async def test_a_request_is_exported_as_a_span_and_its_log_line_has_the_trace_id(
    test_settings: Settings, collector: Collector
) -> None:
    settings = test_settings.model_copy(
        update={"otel_exporter_otlp_endpoint": collector.url, "log_json": True}
    )
    stream = io.StringIO()
    app = create_app(settings)
    configure_logging(settings, stream=stream)
    try:
        [response] = await serve(
            app, "/_test-telemetry/items/7", traceparent=f"00-{TRACE_ID}-{PARENT_ID}-01"
        )
    finally:
        configure_logging(test_settings)

    assert response.status_code == 200
    [span] = [s for s in collector.spans() if s.parent_span_id.hex() == PARENT_ID]
    # Named by the route template, in the caller's trace (W3C traceparent honoured).
    assert span.name == "GET /_test-telemetry/items/{item_id}"
    assert span.trace_id.hex() == TRACE_ID
    attributes = {a.key: a.value for a in span.attributes}
    assert attributes["http.route"].string_value == "/_test-telemetry/items/{item_id}"
    assert attributes["http.response.status_code"].int_value == 200
    assert attributes["request_id"].string_value == response.headers["X-Request-ID"]
    [line] = [json.loads(x) for x in stream.getvalue().splitlines() if "reading item" in x]
    assert line["trace_id"] == TRACE_ID
    assert line["request_id"] == response.headers["X-Request-ID"]
    assert len(line["span_id"]) == 16
    assert "http.server.request.duration" in collector.metric_names()


def test_unconfigured_nothing_is_imported_or_exported() -> None:
    script = (
        "import asyncio, sys, httpx\n"
        "from main import app\n"
        "async def main():\n"
        "    t = httpx.ASGITransport(app=app)\n"
        "    async with httpx.AsyncClient(transport=t, base_url='http://test') as c:\n"
        "        assert (await c.get('/health/live')).status_code == 200\n"
        "        assert (await c.get('/metrics')).status_code == 404\n"
        "asyncio.run(main())\n"
        "print(sorted(m for m in sys.modules if m.startswith(\n"
        "    ('opentelemetry.sdk', 'opentelemetry.exporter', 'prometheus_client'))))\n"
    )
    env = {"PATH": "/usr/bin:/bin", "ENVIRONMENT": "development"}
    result = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", script], cwd=PROJECT_DIR, env=env, capture_output=True, text=True
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def sample(name: str, **labels: str) -> str:
    """A line of Prometheus' text format, without its value."""
    pairs = ",".join(f'{key}="{value}"' for key, value in {"method": "GET", **labels}.items())
    return name + "{" + pairs + "}"


async def test_prometheus_counts_requests_by_route_template(test_settings: Settings) -> None:
    app = create_app(test_settings.model_copy(update={"metrics_enabled": True}))
    for _ in range(3):  # one miss, two hits
        await cache.get_or_load("probe", "a", read_probe, schema=Probe, ttl=60)

    *_, metrics = await serve(
        app,
        "/_test-telemetry/items/1",
        "/_test-telemetry/items/2",
        "/no/such/page",
        "/metrics",
    )

    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    template = "/_test-telemetry/items/{item_id}"
    assert sample("http_requests_total", route=template, status="200") + " 2.0" in text
    assert sample("http_requests_total", route="<unmatched>", status="404") + " 1.0" in text
    assert "/_test-telemetry/items/1" not in text
    assert sample("http_request_duration_seconds_count", route=template) + " 2.0" in text
    assert "db_pool_size " in text
    assert "db_pool_checked_out " in text
    for line in ("cache_hits_total 2.0", "cache_misses_total 1.0", "feed_sockets 0.0"):
        assert line in text.splitlines()


class Probe(BaseModel):
    n: int


async def read_probe() -> Probe:
    return Probe(n=1)
