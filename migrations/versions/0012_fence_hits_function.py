"""fence containment for the ingest hot path, as the owner, limited to the caller's tenant

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-24 08:40:00

Under row-level security PostgreSQL evaluates the policy before any qual that is not
leakproof, and PostGIS's `&&` is not marked leakproof: the GiST index on (tenant_id, geom)
cannot serve `ST_Intersects`, and every batch scanned every fence of every tenant (ingest
fell from 12,000 to 450 points/s). This function runs as the schema owner (not subject to the
policies) and applies the same rule itself: only fences of the transaction's tenant
(`fieldsense_tenant()`), so the wall holds and the index serves.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """CREATE FUNCTION fieldsense_fence_hits(lats float8[], lons float8[])
           RETURNS TABLE (i int, id uuid)
           LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
           AS $$
             SELECT p.i::int, f.id
             FROM unnest(lats, lons) WITH ORDINALITY AS p(lat, lon, i)
             JOIN geofences f
               ON f.tenant_id = fieldsense_tenant()
              AND ST_Intersects(f.geom, ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4326))
           $$"""
    )
    op.execute("REVOKE ALL ON FUNCTION fieldsense_fence_hits(float8[], float8[]) FROM PUBLIC")
    op.execute(
        "GRANT EXECUTE ON FUNCTION fieldsense_fence_hits(float8[], float8[]) TO fieldsense_app"
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION fieldsense_fence_hits(float8[], float8[])")
