"""let PostGIS's bounding-box overlap serve indexes under row-level security

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-24 09:00:00

Under a row-level security policy PostgreSQL only lets a GiST index serve a condition whose
operator is leakproof, and PostGIS does not mark `&&` so: every `ST_DWithin` / `ST_Intersects`
filter a request makes (a stop's nearest customer, prospects along a route, planning
candidates, market areas) scanned all the tenant's rows. The queries now also state the
bounding-box overlap themselves (`&&`, with `fieldsense_box` for distances), which the index
serves once `&&` is leakproof. The overlap of two bounding boxes
returns a boolean computed from the boxes alone and raises no data-dependent error, which is
what LEAKPROOF promises. Only a superuser may mark a function so: when the migrating role is
not one, this does nothing but say so (ask the DBA to run the two statements; see
docs/security.md). An extension upgrade or a dump and restore resets it.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _set(leakproof: bool) -> None:
    word = "LEAKPROOF" if leakproof else "NOT LEAKPROOF"
    op.execute(
        f"""DO $$ BEGIN
              IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
                ALTER FUNCTION geometry_overlaps(geometry, geometry) {word};
                ALTER FUNCTION geography_overlaps(geography, geography) {word};
              ELSE
                RAISE NOTICE 'not a superuser: PostGIS && stays not leakproof (docs/security.md)';
              END IF;
            END $$"""
    )


# The box around a geography widened by r metres (PostGIS's own helper for ST_DWithin): queries
# write `location && fieldsense_box(point, r) AND ST_DWithin(location, point, r)`, so that the
# leakproof `&&` can use the index under the policy and ST_DWithin decides.
BOX_FN = """CREATE FUNCTION fieldsense_box(g geography, r float8) RETURNS geography
            LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT _ST_Expand(g, r) $$"""


def upgrade() -> None:
    _set(True)
    op.execute(BOX_FN)


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS fieldsense_box(geography, float8)")
    _set(False)
