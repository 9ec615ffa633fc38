"""a tenant's live feed, numbered in the order its rows become visible

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-07 23:00:00

What the live streams send (positions, visits, plan changes, coaching notes: backend/live/)
is written to `live_events` in the transaction that makes it, unnumbered. The API processes'
numberer (backend/live/numbering.py), one at a time, numbers the committed rows it finds
from each tenant's row in `live_heads` and notifies `fieldsense_live`: the tenant's rows
are numbered 1, 2, 3... with no gap, and a row numbered n is never visible before the rows
numbered below it. The writers take no lock and send no notification (a NOTIFY serializes
the commits of every transaction that sends one).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "live_events",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=True),
        sa.Column("device_id", sa.Uuid(), nullable=True),
        sa.Column(
            "data", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_live_events_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_live_events")),
    )
    # Each row is written twice (inserted unnumbered, then numbered): no index more than each
    # write needs. The order's only once numbered; the time's a BRIN (rows come in time
    # order), for the day's expiry.
    op.create_index(
        "ux_live_events_tenant_id_seq",
        "live_events",
        ["tenant_id", "seq"],
        unique=True,
        postgresql_where=sa.text("seq IS NOT NULL"),
    )
    op.create_index("ix_live_events_at", "live_events", ["at"], postgresql_using="brin")
    op.create_table(
        "live_heads",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_live_heads_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_live_heads")),
    )
    for table in ("live_events", "live_heads"):
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(
            f"""CREATE POLICY tenant_isolation ON {table} TO fieldsense_app
                USING (tenant_id = fieldsense_tenant())
                WITH CHECK (tenant_id = fieldsense_tenant())"""
        )
    op.create_index(
        "ix_live_events_unnumbered",
        "live_events",
        ["id"],
        postgresql_where=sa.text("seq IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_live_events_unnumbered", table_name="live_events")
    for table in ("live_heads", "live_events"):
        op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
    op.drop_table("live_heads")
    op.drop_index("ix_live_events_at", table_name="live_events")
    op.drop_index("ux_live_events_tenant_id_seq", table_name="live_events")
    op.drop_table("live_events")
