"""a visit records every source that saw it; manual check-ins carry the app's client id

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 11:00:00

A manual check-in at a customer whose stay was already detected made a second visit, and an
offline retry of a check-in made a third. Now the check-in joins the detected visit
(`also_seen_by` gains `manual`), and a check-in sent again with the same `client_id` returns
the visit it made.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("visits", sa.Column("client_id", sa.Uuid(), nullable=True))
    op.add_column(
        "visits",
        sa.Column("also_seen_by", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
    )
    op.create_index(
        "ux_visits_tenant_id_agent_id_client_id",
        "visits",
        ["tenant_id", "agent_id", "client_id"],
        unique=True,
        postgresql_where=sa.text("client_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ux_visits_tenant_id_agent_id_client_id", table_name="visits")
    op.drop_column("visits", "also_seen_by")
    op.drop_column("visits", "client_id")
