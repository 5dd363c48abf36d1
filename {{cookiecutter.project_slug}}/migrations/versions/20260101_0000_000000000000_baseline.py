"""baseline: the empty schema every later revision builds on

Revision ID: 000000000000
Revises:
Created: 2026-01-01 00:00:00+00:00
"""

from collections.abc import Sequence

revision: str = "000000000000"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
