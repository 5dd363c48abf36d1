"""Opt-in Prometheus metrics at `/metrics` (METRICS_ENABLED=true): requests by route template,
their latency, the database connection pool, the cache's hits and misses and the open feed
sockets. prometheus_client is imported only when on.

Counts are per process: run one uvicorn process per container (the default) and let Prometheus
add the replicas up.
"""

import time
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.cache import cache
from core.realtime.hub import hub

METRICS_PATH = "/metrics"
# Requests no route matched share one label, so scanners cannot grow the series without bound.
UNMATCHED = "<unmatched>"


class _Recorder:
    """Pure ASGI middleware: one count and one latency sample per request."""

    def __init__(self, app: ASGIApp, *, requests: Any, latency: Any) -> None:
        self.app = app
        self.requests = requests
        self.latency = latency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            # The router put the matched route in the scope: its template, not the raw path.
            route = getattr(scope.get("route"), "path", UNMATCHED)
            method = scope["method"]
            self.requests.labels(method=method, route=route, status=str(status)).inc()
            self.latency.labels(method=method, route=route).observe(time.perf_counter() - start)


def install_metrics(app: FastAPI) -> None:
    """Add the recording middleware and the `/metrics` route; call before the app serves."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
    from prometheus_client.exposition import generate_latest
    from prometheus_client.registry import Collector

    # The app's own registry: several apps in one process (tests) do not mix their series.
    registry = CollectorRegistry()
    requests = Counter(
        "http_requests", "HTTP requests answered", ["method", "route", "status"], registry=registry
    )
    latency = Histogram(
        "http_request_duration_seconds", "Time to answer", ["method", "route"], registry=registry
    )

    class PoolCollector(Collector):
        """Read at scrape time from the engine's pool (QueuePool on PostgreSQL)."""

        def collect(self) -> Iterator[GaugeMetricFamily]:
            pool = app.state.engine.pool
            for name, doc, method in (
                ("db_pool_size", "Connections the pool keeps", "size"),
                ("db_pool_checked_out", "Connections in use", "checkedout"),
                ("db_pool_overflow", "Connections beyond the pool size", "overflow"),
            ):
                if hasattr(pool, method):
                    yield GaugeMetricFamily(name, doc, value=getattr(pool, method)())

    class BackingCollector(Collector):
        """This process's cache and feeds (core/cache, core/realtime), read at scrape time."""

        def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
            yield CounterMetricFamily("cache_hits", "Cached reads served", value=cache.hits)
            yield CounterMetricFamily("cache_misses", "Cached reads loaded", value=cache.misses)
            yield GaugeMetricFamily("feed_sockets", "Open feed sockets", value=hub.sockets())

    registry.register(PoolCollector())
    registry.register(BackingCollector())
    app.add_middleware(_Recorder, requests=requests, latency=latency)

    async def metrics(_request: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    app.add_route(METRICS_PATH, metrics, include_in_schema=False)
