"""fences matched by reach, one index probe per stretch of a batch

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-24 10:30:00

The engine needs, for each point, the signed distance to every fence that can change its
state: one it is inside, one whose exit buffer it is in, one within its accuracy. Farther
than max(accuracy, exit buffer) outside a fence, every distance means the same to it
("outside by more than the threshold"), so those pairs need not be computed at all.

`geofences.reach` is the fence's bounding box grown by its exit buffer (in degrees, wide
enough on the sphere PostGIS measures on: `fieldsense_reach`), with a GiST index on (tenant,
reach). `fieldsense_fence_near` takes a batch whose points are grouped into stretches (the
caller cuts the track where it leaves a few hundred metres' box), probes the index once per
stretch with the stretch's box grown by the points' accuracy, and measures only the pairs whose
boxes overlap. It replaces `fieldsense_fence_hits` (migration 0012), which probed the index
once per point and then measured every point against every fence any point was in: four
times the work for the same answer. Like it, it runs as the owner and applies the tenant rule
itself (`fieldsense_tenant()`), so the policy cannot keep the index from serving it.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLE = "fieldsense_app"

# Metres to degrees, on the safe side of PostGIS's sphere (1 degree = 111,195 m there): latitude
# by 111,000 m a degree; longitude by the same shrunk with the cosine of the highest latitude the
# box reaches (past 89 degrees, all longitudes).
REACH_FN = """
CREATE FUNCTION fieldsense_reach(g geometry, m float8) RETURNS geometry
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT ST_Expand(
      g,
      CASE WHEN greatest(abs(ST_YMin(g)), abs(ST_YMax(g))) + m / 111000.0 >= 89 THEN 360
           ELSE m / (111000.0 * cos(radians(greatest(abs(ST_YMin(g)), abs(ST_YMax(g)))
                                            + m / 111000.0))) END,
      m / 111000.0)
$$"""

NEAR_FN = """
CREATE FUNCTION fieldsense_fence_near(lats float8[], lons float8[], accs float8[], segs int[])
RETURNS TABLE (i int, id uuid, dwell_s int, exit_buffer_m float8, d float8)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  WITH p AS MATERIALIZED (
    -- Each point with its box grown by its accuracy (as fieldsense_reach, from the numbers).
    SELECT (n - 1)::int AS i, s, acc, g, g::geography AS gg,
           ST_MakeEnvelope(lon - dx, lat - dy, lon + dx, lat + dy, 4326) AS pb
    FROM (SELECT n, s, acc, lat, lon, dy, ST_SetSRID(ST_MakePoint(lon, lat), 4326) AS g,
                 CASE WHEN abs(lat) + dy >= 89 THEN 360
                      ELSE dy / cos(radians(abs(lat) + dy)) END AS dx
          FROM unnest(lats, lons, accs, segs) WITH ORDINALITY AS u(lat, lon, acc, s, n),
               LATERAL (SELECT acc / 111000.0 AS dy) y) u
  ), stretch AS (
    SELECT s, ST_Extent(pb)::geometry AS box FROM p GROUP BY s
  ), f AS MATERIALIZED (
    SELECT st.s, f.id, f.dwell_s, f.exit_buffer_m, f.shape = 'circle' AS circle, f.center,
           f.radius_m, f.geom, f.reach,
           CASE WHEN f.shape <> 'circle' THEN ST_Boundary(f.geom)::geography END AS edge
    FROM stretch st
    JOIN geofences f ON f.tenant_id = fieldsense_tenant() AND f.reach && st.box
  ), pair AS MATERIALIZED (
    SELECT p.i, p.acc, f.id, f.dwell_s, f.exit_buffer_m,
           CASE WHEN f.circle THEN ST_Distance(f.center, p.gg, false) - f.radius_m
                WHEN ST_Intersects(f.geom, p.g) THEN -ST_Distance(f.edge, p.gg, false)
                ELSE ST_Distance(f.edge, p.gg, false) END AS d
    FROM p JOIN f ON f.s = p.s AND f.reach && p.pb
  )
  SELECT i, id, dwell_s, exit_buffer_m, d FROM pair WHERE d <= greatest(acc, exit_buffer_m)
$$"""

HITS_FN = """CREATE FUNCTION fieldsense_fence_hits(lats float8[], lons float8[])
           RETURNS TABLE (i int, id uuid)
           LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
           AS $$
             SELECT p.i::int, f.id
             FROM unnest(lats, lons) WITH ORDINALITY AS p(lat, lon, i)
             JOIN geofences f
               ON f.tenant_id = fieldsense_tenant()
              AND ST_Intersects(f.geom, ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4326))
           $$"""

NEAR_SIG = "fieldsense_fence_near(float8[], float8[], float8[], int[])"
HITS_SIG = "fieldsense_fence_hits(float8[], float8[])"


def upgrade() -> None:
    op.execute(REACH_FN)
    op.execute(
        "ALTER TABLE geofences ADD COLUMN reach geometry(Geometry, 4326) "
        "GENERATED ALWAYS AS (fieldsense_reach(geom, exit_buffer_m)) STORED NOT NULL"
    )
    op.execute(
        "CREATE INDEX ix_geofences_tenant_id_reach ON geofences USING gist (tenant_id, reach)"
    )
    op.execute(NEAR_FN)
    op.execute(f"REVOKE ALL ON FUNCTION {NEAR_SIG} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {NEAR_SIG} TO {ROLE}")
    op.execute(f"DROP FUNCTION {HITS_SIG}")


def downgrade() -> None:
    op.execute(HITS_FN)
    op.execute(f"REVOKE ALL ON FUNCTION {HITS_SIG} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {HITS_SIG} TO {ROLE}")
    op.execute(f"DROP FUNCTION {NEAR_SIG}")
    op.execute("DROP INDEX ix_geofences_tenant_id_reach")
    op.execute("ALTER TABLE geofences DROP COLUMN reach")
    op.execute("DROP FUNCTION fieldsense_reach(geometry, float8)")
