"""Liveness and readiness probes for load balancers and orchestrators."""

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError

from core.dependencies import SessionDep
from core.exceptions import ServiceUnavailableError

router = APIRouter(prefix="/health", tags=["health"])
# The API docs' description of this router's tag (main.py lists it first).
TAG = {"name": "health", "description": "Probes for load balancers and orchestrators."}


class HealthStatus(BaseModel):
    status: str


@router.get("/live")
async def live() -> HealthStatus:
    """The process is up and serving requests."""
    return HealthStatus(status="ok")


@router.get("/ready", responses={503: {"description": "The database cannot be reached."}})
async def ready(session: SessionDep) -> HealthStatus:
    """The app can reach its database."""
    try:
        connection = await session.connection()
        await connection.exec_driver_sql("SELECT 1")
    except (SQLAlchemyError, OSError) as exc:
        raise ServiceUnavailableError("The database cannot be reached.") from exc
    return HealthStatus(status="ok")
