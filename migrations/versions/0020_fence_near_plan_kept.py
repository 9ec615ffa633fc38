"""fence matching keeps its plan for the session (PL/pgSQL instead of SQL)

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-24 20:50:00

`fieldsense_fence_near` (0014, 0018) was a SQL function. One that is `SECURITY DEFINER` with
its own `search_path` is never inlined, and PostgreSQL parses and plans its body again on every
call: 0.4 ms a batch, a third of the time of a one-point match. As PL/pgSQL the same query is
planned once per connection and the plan kept (generic under the ingest transaction's
`plan_cache_mode`). Same arguments, same columns, same answers.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLE = "fieldsense_app"
SIG = "fieldsense_fence_near(float8[], float8[], float8[], int[])"

HEAD = """
CREATE FUNCTION fieldsense_fence_near(lats float8[], lons float8[], accs float8[], segs int[])
RETURNS TABLE (i int, id uuid, dwell_s int, exit_buffer_m float8, d float8, hold boolean)
"""

# The points, each with its box grown by its accuracy (as fieldsense_reach, from the numbers);
# one index probe per stretch of the track; then only the pairs whose boxes overlap measured.
QUERY = """
  WITH p AS MATERIALIZED (
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
    SELECT st.s, f.id, f.dwell_s, f.exit_buffer_m, f.customer_id IS NOT NULL AS hold,
           f.shape = 'circle' AS circle, f.center, f.radius_m, f.geom, f.reach,
           CASE WHEN f.shape <> 'circle' THEN ST_Boundary(f.geom)::geography END AS edge
    FROM stretch st
    JOIN geofences f ON f.tenant_id = fieldsense_tenant() AND f.reach && st.box
  ), pair AS MATERIALIZED (
    SELECT p.i, p.acc, f.id, f.dwell_s, f.exit_buffer_m, f.hold,
           CASE WHEN f.circle THEN ST_Distance(f.center, p.gg, false) - f.radius_m
                WHEN ST_Intersects(f.geom, p.g) THEN -ST_Distance(f.edge, p.gg, false)
                ELSE ST_Distance(f.edge, p.gg, false) END AS d
    FROM p JOIN f ON f.s = p.s AND f.reach && p.pb
  )
  SELECT i, id, dwell_s, exit_buffer_m, d, hold FROM pair WHERE d <= greatest(acc, exit_buffer_m)
"""

# The output columns share their names with the query's: the query's are meant.
PLPGSQL = (
    HEAD
    + "LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$\n"
    + "#variable_conflict use_column\nBEGIN\n  RETURN QUERY"
    + QUERY
    + ";\nEND $$"
)
SQL = (
    HEAD
    + "LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$"
    + QUERY
    + "$$"
)


def _replace(fn: str) -> None:
    op.execute(f"DROP FUNCTION {SIG}")
    op.execute(fn)
    op.execute(f"REVOKE ALL ON FUNCTION {SIG} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {SIG} TO {ROLE}")


def upgrade() -> None:
    _replace(PLPGSQL)


def downgrade() -> None:
    _replace(SQL)
