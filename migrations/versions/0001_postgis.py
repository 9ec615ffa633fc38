"""Enable PostGIS (and btree_gist, so GiST indexes can lead with tenant_id).

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")


def downgrade() -> None:
    # Only what this role installed: where a superuser provided them (the embedded cluster puts
    # both in template1), they were there before the first migration and stay after the last.
    for name in ("btree_gist", "postgis"):
        op.execute(
            f"""DO $$ BEGIN
                  IF EXISTS (SELECT FROM pg_extension e JOIN pg_roles r ON r.oid = e.extowner
                             WHERE e.extname = '{name}' AND r.rolname = current_user) THEN
                    DROP EXTENSION {name};
                  END IF;
                END $$"""
        )
