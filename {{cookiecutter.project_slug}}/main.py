"""The app factory. `uvicorn main:app` serves the module-level `app`."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from fastapi import FastAPI

from core.cache import cache
from core.database import create_engine, create_sessionmaker
from core.database_errors import register_database_error_handlers
from core.docs import install_docs
from core.events import bus
from core.exceptions import register_exception_handlers
from core.health import TAG as HEALTH_TAG
from core.health import router as health_router
from core.jobs import runtime as jobs_runtime
from core.jobs.worker import run_embedded_scheduler
from core.logging import configure_logging
from core.metrics import install_metrics
from core.middleware import RequestMiddleware
from core.openapi import install as install_openapi
from core.openapi import operation_id
from core.rate_limit import check_store, create_store
from core.realtime.hub import hub
from core.redis import connect as connect_redis
from core.routing import Route
from core.schemas import ErrorResponse
from core.telemetry import OFF, create_telemetry
from features.registry import EVENT_HANDLERS, JOBS, OPENAPI_TAGS, ROUTERS
from settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings)
    engine = create_engine(settings)
    telemetry = create_telemetry(settings)  # None unless OTEL_EXPORTER_OTLP_ENDPOINT is set
    bus.use(EVENT_HANDLERS)
    # One Redis client (None without REDIS_URL) for the jobs, rate limits, cache and feeds.
    redis = connect_redis(settings)
    # In tests an embedded job runs before `enqueue` returns, so the test sees what it did.
    inline = settings.environment == "test"
    jobs = jobs_runtime.start(settings, JOBS, engine=engine, redis=redis, inline=inline)
    rate_limits = create_store(redis)
    cache.use(settings, redis)
    hub.use(settings, redis)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await check_store(rate_limits)  # REDIS_URL set but unreachable: refuse to start
        await jobs.broker.startup()
        # Embedded jobs have no scheduler process: on a developer's machine the app fires them.
        scheduler = None
        if jobs.embedded and settings.environment == "development":
            scheduler = asyncio.create_task(run_embedded_scheduler(jobs.broker))
        yield
        if scheduler is not None:
            scheduler.cancel()
            with suppress(asyncio.CancelledError):
                await scheduler
        await jobs.broker.shutdown()
        await jobs.close()
        jobs_runtime.stop(jobs)
        await rate_limits.close()
        await hub.close()
        if redis is not None:
            await redis.aclose()
        await engine.dispose()
        if telemetry:
            telemetry.shutdown()  # sends the spans and metrics still buffered

    app = FastAPI(
        title=settings.project_name,
        description=settings.project_description,
        openapi_tags=[HEALTH_TAG, *OPENAPI_TAGS],
        generate_unique_id_function=operation_id,
        lifespan=lifespan,
        # Served by core/docs.py from the app's own copies of the assets (no CDN); with the
        # document itself, off in production unless API_DOCS=true.
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json" if settings.docs_enabled else None,
        telemetry=telemetry.config() if telemetry else OFF,
        # Every error, whichever route raised it, has this shape; document it once for all.
        # (422, only where an operation takes input, gets the same shape in core/openapi.py.)
        responses={500: {"model": ErrorResponse}},
    )
    # Routes declared on the app itself end their sessions too, as a core.routing.Router's do.
    app.router.route_class = Route
    install_openapi(app, api_prefix=settings.api_prefix)
    app.state.settings = settings
    app.state.engine = engine
    app.state.rate_limits = rate_limits
    app.state.sessionmaker = create_sessionmaker(engine, writes=False)
    app.state.write_sessionmaker = create_sessionmaker(engine)
    app.state.jobs = jobs

    # One layer does what every request needs before and after the routes, in the order its
    # docstring lists: request ID, access line, security headers, header limits, trusted hosts
    # (production), body limit, CORS (if origins are set) and the 500 envelope.
    # With METRICS_ENABLED, it also counts and times each request for /metrics.
    observe = install_metrics(app) if settings.metrics_enabled else None
    app.add_middleware(RequestMiddleware, settings=settings, observe=observe)
    register_exception_handlers(app)
    register_database_error_handlers(app)

    if settings.docs_enabled:
        install_docs(app)
    app.include_router(health_router)
    for router in ROUTERS:
        app.include_router(router, prefix=settings.api_prefix)
    return app


app = create_app()
