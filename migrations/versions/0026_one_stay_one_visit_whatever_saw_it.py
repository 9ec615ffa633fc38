"""one stay, one visit: the sightings of each source and the visit they belong to

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07 12:00:00

A store's fence, each of its beacons and its Wi-Fi made a visit each for one shopper's stay,
and the store's foot traffic counted it three or four times. Each source's sighting is now a
row of `visit_sightings` under the id the engine gave it; the first source's sighting makes
the visit, later ones at the same place or customer (while it is open, or within 10 minutes of
its end) join it, and the visit ends with its last sighting. Visits recorded before have no
sightings and end as before.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "visit_sightings",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("visit_id", sa.Uuid(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "visit_id"],
            ["visits.tenant_id", "visits.id"],
            name=op.f("fk_visit_sightings_tenant_id_visit_id_visits"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_visit_sightings_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_visit_sightings")),
    )
    op.create_index(
        "ix_visit_sightings_tenant_id_visit_id",
        "visit_sightings",
        ["tenant_id", "visit_id"],
        unique=False,
    )
    op.execute("ALTER TABLE visit_sightings ENABLE ROW LEVEL SECURITY")
    op.execute(
        """CREATE POLICY tenant_isolation ON visit_sightings TO fieldsense_app
            USING (tenant_id = fieldsense_tenant()) WITH CHECK (tenant_id = fieldsense_tenant())"""
    )


def downgrade() -> None:
    op.execute("DROP POLICY IF EXISTS tenant_isolation ON visit_sightings")
    op.drop_index("ix_visit_sightings_tenant_id_visit_id", table_name="visit_sightings")
    op.drop_table("visit_sightings")
