"""a visit's outcome is told like its times and customer: an agent's manual action is an event

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-07 22:00:00

An outcome recorded (or corrected) on a visit already told is a `visit_updated` with
`changed: ["outcome"]`, like a reassignment (backend/tracking/announce.py). Visits recorded
before are taken as told with the outcome they have: no storm of events for old outcomes.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("visits", sa.Column("told_outcome", sa.String(length=24), nullable=True))
    op.execute("UPDATE visits SET told_outcome = outcome WHERE told IS NOT NULL")


def downgrade() -> None:
    op.drop_column("visits", "told_outcome")
