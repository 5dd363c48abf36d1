"""Opt-in Prometheus metrics at `/metrics` (METRICS_ENABLED=true): requests by route template,
their latency, the database connection pool, the cache's hits and misses and the open feed
sockets. prometheus_client is imported only when on.

Counts are per process: run one uvicorn process per container (the default) and let Prometheus
add the replicas up.
"""

from collections.abc import Callable, Iterator

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from core.cache import cache
from core.realtime.hub import hub

METRICS_PATH = "/metrics"
# Requests no route matched share one label, so scanners cannot grow the series without bound.
UNMATCHED = "<unmatched>"

# An HTTP request's scope once answered, its status and how long it took (seconds).
type Observer = Callable[[Scope, int, float], None]


def install_metrics(app: FastAPI) -> Observer:
    """Add the `/metrics` route; the observer returned counts and times each request.

    core.middleware.RequestMiddleware calls the observer once per request, with the time its
    access line has, so a request is timed and its status noted once whatever is on.
    """
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

    def observe(scope: Scope, status: int, seconds: float) -> None:
        # The router put the matched route in the scope: its template, not the raw path.
        route = getattr(scope.get("route"), "path", UNMATCHED)
        method = scope["method"]
        requests.labels(method=method, route=route, status=str(status)).inc()
        latency.labels(method=method, route=route).observe(seconds)

    async def metrics(_request: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    app.add_route(METRICS_PATH, metrics, include_in_schema=False)
    return observe
