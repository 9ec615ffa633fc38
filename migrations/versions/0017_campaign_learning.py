"""campaigns learn from their members' outcomes; learning views respect row-level security

Each campaign keeps how many members it reached and converted (backend/campaigns/services.py
`track`); their rate, with the same prior as the segments', scales the campaign's boost.
`segment_learning` (0005) predates row-level security (0009) and ran as its owner: it now
runs as the caller, so the policy on `segment_outcomes` applies through it too.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-24 13:25:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "campaigns", sa.Column("reached", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column(
        "campaigns", sa.Column("converted", sa.Integer(), server_default="0", nullable=False)
    )
    op.execute(
        """UPDATE campaigns k
           SET reached = c.reached, converted = c.converted
           FROM (SELECT tenant_id, campaign_id,
                        count(*) FILTER (WHERE status IN ('contacted', 'converted')) AS reached,
                        count(*) FILTER (WHERE status = 'converted') AS converted
                 FROM campaign_members GROUP BY tenant_id, campaign_id) c
           WHERE k.tenant_id = c.tenant_id AND k.id = c.campaign_id"""
    )
    op.execute("ALTER VIEW segment_learning SET (security_invoker = true)")


def downgrade() -> None:
    op.execute("ALTER VIEW segment_learning RESET (security_invoker)")
    op.drop_column("campaigns", "converted")
    op.drop_column("campaigns", "reached")
