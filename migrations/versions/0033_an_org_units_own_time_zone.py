"""an org unit may have its own time zone (a region abroad): its figures count its days there

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-08 00:00:00

None (every unit before): its nearest ancestor's zone, else the tenant's
(backend/tenants/settings.py `local_zone`).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0033"
down_revision: str | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("org_units", sa.Column("timezone", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column("org_units", "timezone")
