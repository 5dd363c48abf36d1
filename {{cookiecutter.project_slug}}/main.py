"""The app factory. `uvicorn main:app` serves the module-level `app`."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from core.database import create_engine, create_sessionmaker
from core.exceptions import register_exception_handlers
from core.health import router as health_router
from core.middleware import RequestIDMiddleware
from core.schemas import ErrorResponse
from features.registry import ROUTERS
from settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    engine = create_engine(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await engine.dispose()

    app = FastAPI(
        title=settings.project_name,
        debug=settings.debug,
        lifespan=lifespan,
        # Every error, whichever route raised it, has this shape; document it once for all.
        responses={422: {"model": ErrorResponse}, 500: {"model": ErrorResponse}},
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = create_sessionmaker(engine)

    app.add_middleware(RequestIDMiddleware)
    register_exception_handlers(app)

    app.include_router(health_router)
    for router in ROUTERS:
        app.include_router(router)
    return app


app = create_app()
