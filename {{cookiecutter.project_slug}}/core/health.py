"""Liveness and readiness probes for load balancers and orchestrators."""

import asyncio

from fastapi import Request
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine

from core.database_errors import unavailable_reason
from core.exceptions import ServiceUnavailableError
from core.routing import Router

router = Router(prefix="/health", tags=["health"])
# The API docs' description of this router's tag (main.py lists it first).
TAG = {"name": "health", "description": "Probes for load balancers and orchestrators."}


class HealthStatus(BaseModel):
    status: str


@router.get("/live")
async def live() -> HealthStatus:
    """The process is up and serving requests."""
    return HealthStatus(status="ok")


@router.get("/ready", responses={503: {"description": "The database cannot be reached."}})
async def ready(request: Request) -> HealthStatus:
    """The app can reach its database, within HEALTH_CHECK_TIMEOUT seconds."""
    engine: AsyncEngine = request.app.state.engine
    try:
        # Bounded on its own: a frozen database must fail the probe before the probe times out.
        async with asyncio.timeout(request.app.state.settings.health_check_timeout):
            async with engine.connect() as connection:
                await connection.exec_driver_sql("SELECT 1")
    except Exception as exc:
        if unavailable_reason(exc) is None:
            raise
        raise ServiceUnavailableError("The database cannot be reached.") from exc
    return HealthStatus(status="ok")
