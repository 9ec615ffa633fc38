"""a visit cadence per customer (and per segment, in the tenant's settings); week plans

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-08 00:00:00

`customers.cadence`: how often the customer is to be seen (backend/customers/schemas.py
`Cadence`); NULL: their segment's, from the tenant's settings, else none. `week_plans`: an
agent's working week as planned whole (backend/plans/week.py): the day plans it stored,
the days off, and the due customers left out with their reasons.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0034"
down_revision: str | None = "0033"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLE = "fieldsense_app"


def upgrade() -> None:
    op.add_column("customers", sa.Column("cadence", postgresql.JSONB(), nullable=True))
    op.create_table(
        "week_plans",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=False),
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("days", postgresql.JSONB(), nullable=False),
        sa.Column("left_out", postgresql.JSONB(), nullable=False),
        sa.Column("due", sa.Integer(), nullable=False),
        sa.Column("due_planned", sa.Integer(), nullable=False),
        sa.Column("travel_s", sa.Integer(), nullable=False),
        sa.Column("solve_ms", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "status IN ('active', 'superseded')", name=op.f("ck_week_plans_week_plan_status")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "agent_id"],
            ["users.tenant_id", "users.id"],
            name=op.f("fk_week_plans_tenant_id_agent_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_week_plans_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_week_plans")),
    )
    op.create_index(
        "uq_week_plans_active_per_week",
        "week_plans",
        ["tenant_id", "agent_id", "week_start"],
        unique=True,
        postgresql_where=sa.text("status = 'active'"),
    )
    op.execute("ALTER TABLE week_plans ENABLE ROW LEVEL SECURITY")
    op.execute(
        f"""CREATE POLICY tenant_isolation ON week_plans TO {ROLE}
            USING (tenant_id = fieldsense_tenant()) WITH CHECK (tenant_id = fieldsense_tenant())"""
    )


def downgrade() -> None:
    op.execute("DROP POLICY IF EXISTS tenant_isolation ON week_plans")
    op.drop_index("uq_week_plans_active_per_week", table_name="week_plans")
    op.drop_table("week_plans")
    op.drop_column("customers", "cadence")
