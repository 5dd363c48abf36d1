"""The dead-letter table: jobs whose attempts ran out, kept in the database to survive Redis."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Text
from sqlmodel import Field

from core.database import TableBase


class DeadJob(TableBase, table=True):
    __tablename__ = "dead_jobs"

    job_name: str = Field(max_length=200, index=True)
    task_id: str = Field(max_length=64)
    # As JSON (UUIDs and datetimes as strings): the job parses them back when replayed.
    args: list[Any] = Field(default_factory=list, sa_type=JSON)
    kwargs: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    error: str = Field(sa_type=Text)
    attempts: int
    request_id: str | None = Field(default=None, max_length=64)
    replayed_at: datetime | None = Field(default=None)
