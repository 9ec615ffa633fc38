"""the audit log's and webhook attempts' primary keys hold tenant_id: every tenant table is
distributable by tenant_id (docs/operations.md, "Ready for Citus")

Revision ID: 0036
Revises: 0035
Create Date: 2026-12-08 00:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0036"
down_revision: str | None = "0035"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("audit_log", "webhook_attempts")


def upgrade() -> None:
    for table in TABLES:
        op.drop_constraint(op.f(f"pk_{table}"), table, type_="primary")
        op.create_primary_key(op.f(f"pk_{table}"), table, ["tenant_id", "id"])


def downgrade() -> None:
    for table in TABLES:
        op.drop_constraint(op.f(f"pk_{table}"), table, type_="primary")
        op.create_primary_key(op.f(f"pk_{table}"), table, ["id"])
