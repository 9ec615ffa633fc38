"""plans say how their travel was measured (roads or the straight-line estimate)

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 10:00:00

Travel times come from a road network when one is configured (docs/routing.md) and from the
straight-line estimate otherwise, or for places the map does not cover. A plan records which
(`roads`, `mixed`, `straight_line`) and why it fell back. Existing plans were all planned on
the straight line.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "plans",
        sa.Column("travel", sa.String(16), server_default="straight_line", nullable=False),
    )
    op.add_column("plans", sa.Column("travel_note", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("plans", "travel_note")
    op.drop_column("plans", "travel")
