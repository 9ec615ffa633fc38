"""devices an agent registers wait for a manager's approval

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 08:00:00

An agent could register any number of devices and re-enable one an admin had revoked as
stolen. Now an agent's registration is a request (`approved_at` empty) that sends nothing
until a manager or an admin approves it; devices they register themselves are approved at
once. Devices that exist are approved as of their creation.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Rows written by anything but an agent's request (imports, bulk loads) are approved.
    op.add_column(
        "devices",
        sa.Column(
            "approved_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=True
        ),
    )
    op.execute("UPDATE devices SET approved_at = created_at")


def downgrade() -> None:
    op.drop_column("devices", "approved_at")
