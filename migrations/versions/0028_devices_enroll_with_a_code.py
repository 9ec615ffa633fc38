"""devices enroll with a one-time code and hold their own rotating credentials

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07 21:00:00

An admin or manager issues a one-time enrollment code for an agent's device
(`device_enrollments`: the code's SHA-256, never the code); the app exchanges it for a short
access token and a refresh token (`device_refresh_tokens`: SHA-256 again). Each refresh
rotates the token within its family; a token used twice revokes its family.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLE = "fieldsense_app"


def _tenant_keyed(name: str, *columns: sa.Column) -> None:
    op.create_table(
        name,
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("device_id", sa.Uuid(), nullable=False),
        *columns,
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "device_id"],
            ["devices.tenant_id", "devices.id"],
            name=op.f(f"fk_{name}_tenant_id_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f(f"fk_{name}_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f(f"pk_{name}")),
    )
    op.create_index(f"ix_{name}_tenant_id_device_id", name, ["tenant_id", "device_id"])
    op.execute(f"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY")
    op.execute(
        f"""CREATE POLICY tenant_isolation ON {name} TO {ROLE}
            USING (tenant_id = fieldsense_tenant()) WITH CHECK (tenant_id = fieldsense_tenant())"""
    )


def upgrade() -> None:
    _tenant_keyed(
        "device_enrollments",
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "ix_device_enrollments_code_hash", "device_enrollments", ["code_hash"], unique=True
    )
    _tenant_keyed(
        "device_refresh_tokens",
        sa.Column("family_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "ix_device_refresh_tokens_tenant_id_family_id",
        "device_refresh_tokens",
        ["tenant_id", "family_id"],
    )


def downgrade() -> None:
    for name in ("device_refresh_tokens", "device_enrollments"):
        op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {name}")
        op.drop_table(name)
