"""transactions, RFM and churn risk

Customers' purchases, imported from the tenant's systems, and what they say per customer:
recency, frequency and monetary value with their quintiles in the tenant (1-5), and churn
risk (backend/customers/rfm.py). The new table gets the same row-level security as every
tenant table (0009).

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-24 13:04:22.948009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "transactions",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("product", sa.String(length=64), nullable=True),
        sa.Column("external_id", sa.String(length=128), nullable=True),
        sa.Column(
            "imported_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "customer_id"],
            ["customers.tenant_id", "customers.id"],
            name=op.f("fk_transactions_tenant_id_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_transactions_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_transactions")),
        sa.UniqueConstraint(
            "tenant_id", "external_id", name=op.f("uq_transactions_tenant_id_external_id")
        ),
    )
    op.create_index(
        "ix_transactions_tenant_id_customer_id_occurred_at",
        "transactions",
        ["tenant_id", "customer_id", "occurred_at"],
        unique=False,
    )
    op.add_column("customers", sa.Column("rfm_recency_days", sa.Integer(), nullable=True))
    op.add_column("customers", sa.Column("rfm_frequency", sa.Integer(), nullable=True))
    op.add_column(
        "customers", sa.Column("rfm_monetary", sa.Numeric(precision=14, scale=2), nullable=True)
    )
    op.add_column("customers", sa.Column("rfm_r", sa.SmallInteger(), nullable=True))
    op.add_column("customers", sa.Column("rfm_f", sa.SmallInteger(), nullable=True))
    op.add_column("customers", sa.Column("rfm_m", sa.SmallInteger(), nullable=True))
    op.add_column("customers", sa.Column("churn_risk", sa.Float(), nullable=True))
    op.execute("ALTER TABLE transactions ENABLE ROW LEVEL SECURITY")
    op.execute(
        """CREATE POLICY tenant_isolation ON transactions TO fieldsense_app
            USING (tenant_id = fieldsense_tenant()) WITH CHECK (tenant_id = fieldsense_tenant())"""
    )


def downgrade() -> None:
    op.drop_column("customers", "churn_risk")
    op.drop_column("customers", "rfm_m")
    op.drop_column("customers", "rfm_f")
    op.drop_column("customers", "rfm_r")
    op.drop_column("customers", "rfm_monetary")
    op.drop_column("customers", "rfm_frequency")
    op.drop_column("customers", "rfm_recency_days")
    op.execute("DROP POLICY IF EXISTS tenant_isolation ON transactions")
    op.drop_index("ix_transactions_tenant_id_customer_id_occurred_at", table_name="transactions")
    op.drop_table("transactions")
