"""visits say how their customer was chosen, and keep the runners-up

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 11:30:00

A stop near several customers went to the planned one, else the nearest, and nothing
recorded the alternatives. Now the choice weighs the evidence (where the stay was, the plan,
who the customer is assigned to), the visit records how it was made (`attributed_by`) and the
other candidates with their shares (`runners_up`), and a person can reassign it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("visits", sa.Column("attributed_by", sa.String(16), nullable=True))
    op.add_column(
        "visits", sa.Column("runners_up", postgresql.JSONB(astext_type=sa.Text()), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("visits", "runners_up")
    op.drop_column("visits", "attributed_by")
