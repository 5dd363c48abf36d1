"""create dead_jobs: background jobs whose attempts ran out (core/jobs/models.py)

Revision ID: 3a528310e997
Revises: a1b2c3d4e5f6
Created: 2026-12-01 20:05:31.245639+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes  # autogenerate writes sqlmodel.sql.sqltypes.AutoString() etc.
from alembic import op

revision: str = "3a528310e997"
down_revision: str | None = "a1b2c3d4e5f6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dead_jobs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("job_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("task_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("args", sa.JSON(), nullable=False),
        sa.Column("kwargs", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("request_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("replayed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_jobs")),
    )
    with op.batch_alter_table("dead_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dead_jobs_job_name"), ["job_name"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("dead_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dead_jobs_job_name"))

    op.drop_table("dead_jobs")
