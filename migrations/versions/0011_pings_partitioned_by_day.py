"""pings partitioned by day of fix time, so that retention drops whole partitions

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-24 08:30:00

`pings` becomes `PARTITION BY RANGE (fix_time)` with one partition per UTC day
(`pings_pYYYYMMDD`) and a default partition for anything outside them. The key gains
`fix_time` (a partitioned table's unique keys must hold the partition key). The function
`fieldsense_ping_partitions(from, to)` creates missing daily partitions; the retention job
(backend/tracking/retention.py) calls it and drops partitions past every tenant's retention.
The app role gets no privileges on the partitions themselves: it reaches points only through
`pings`, where row-level security applies.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLE = "fieldsense_app"

PARTITIONS_FN = f"""
CREATE FUNCTION fieldsense_ping_partitions(from_day date, to_day date) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    d date := from_day;
    name text;
    made integer := 0;
BEGIN
    WHILE d <= to_day LOOP
        name := format('pings_p%s', to_char(d, 'YYYYMMDD'));
        IF to_regclass(name) IS NULL THEN
            -- Rows of that day that fell into the default partition move into the new one.
            EXECUTE format(
                'CREATE TABLE %I (LIKE pings INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', name);
            EXECUTE format(
                'WITH moved AS (DELETE FROM pings_default WHERE fix_time >= %L AND fix_time < %L'
                ' RETURNING *) INSERT INTO %I SELECT * FROM moved',
                d::timestamp AT TIME ZONE 'UTC', (d + 1)::timestamp AT TIME ZONE 'UTC', name);
            EXECUTE format(
                'ALTER TABLE pings ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                name, d::timestamp AT TIME ZONE 'UTC', (d + 1)::timestamp AT TIME ZONE 'UTC');
            EXECUTE format('REVOKE ALL ON %I FROM {ROLE}', name);
            made := made + 1;
        END IF;
        d := d + 1;
    END LOOP;
    RETURN made;
END $$
"""


def upgrade() -> None:
    op.execute("ALTER TABLE pings RENAME TO pings_unpartitioned")
    op.execute("ALTER TABLE pings_unpartitioned RENAME CONSTRAINT pk_pings TO pk_pings_old")
    op.execute(
        "ALTER TABLE pings_unpartitioned RENAME CONSTRAINT "
        "fk_pings_tenant_id_device_id_devices TO fk_pings_old_device"
    )
    op.execute("ALTER INDEX ix_pings_tenant_id_device_id_fix_time RENAME TO ix_pings_old")
    op.execute(
        "CREATE TABLE pings (LIKE pings_unpartitioned INCLUDING DEFAULTS) "
        "PARTITION BY RANGE (fix_time)"
    )
    op.execute(
        "ALTER TABLE pings ADD CONSTRAINT pk_pings "
        "PRIMARY KEY (tenant_id, device_id, client_id, fix_time)"
    )
    op.execute(
        "ALTER TABLE pings ADD CONSTRAINT fk_pings_tenant_id_device_id_devices "
        "FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id) ON DELETE CASCADE"
    )
    op.execute(
        "CREATE INDEX ix_pings_tenant_id_device_id_fix_time "
        "ON pings (tenant_id, device_id, fix_time)"
    )
    op.execute("CREATE TABLE pings_default PARTITION OF pings DEFAULT")
    op.execute(f"REVOKE ALL ON pings_default FROM {ROLE}")
    op.execute(PARTITIONS_FN)
    # Every day that has points, and the coming week.
    op.execute(
        """SELECT fieldsense_ping_partitions(
               least(coalesce((SELECT min(fix_time) FROM pings_unpartitioned)::date,
                              current_date), current_date - 1),
               greatest(coalesce((SELECT max(fix_time) FROM pings_unpartitioned)::date,
                                 current_date), current_date) + 7)"""
    )
    op.execute("INSERT INTO pings SELECT * FROM pings_unpartitioned")
    op.execute("DROP TABLE pings_unpartitioned")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON pings TO {ROLE}")
    op.execute("ALTER TABLE pings ENABLE ROW LEVEL SECURITY")
    op.execute(
        f"""CREATE POLICY tenant_isolation ON pings TO {ROLE}
            USING (tenant_id = fieldsense_tenant())
            WITH CHECK (tenant_id = fieldsense_tenant())"""
    )


def downgrade() -> None:
    op.execute("ALTER TABLE pings RENAME TO pings_partitioned")
    op.execute("ALTER TABLE pings_partitioned RENAME CONSTRAINT pk_pings TO pk_pings_part")
    op.execute(
        "ALTER TABLE pings_partitioned RENAME CONSTRAINT "
        "fk_pings_tenant_id_device_id_devices TO fk_pings_part_device"
    )
    op.execute("ALTER INDEX ix_pings_tenant_id_device_id_fix_time RENAME TO ix_pings_part")
    op.execute("CREATE TABLE pings (LIKE pings_partitioned INCLUDING DEFAULTS)")
    # The old key cannot hold two fixes with one client id: keep the first.
    op.execute(
        "INSERT INTO pings SELECT DISTINCT ON (tenant_id, device_id, client_id) * "
        "FROM pings_partitioned ORDER BY tenant_id, device_id, client_id, fix_time"
    )
    op.execute("DROP TABLE pings_partitioned")  # and its partitions
    op.execute("DROP FUNCTION fieldsense_ping_partitions(date, date)")
    op.execute(
        "ALTER TABLE pings ADD CONSTRAINT pk_pings PRIMARY KEY (tenant_id, device_id, client_id)"
    )
    op.execute(
        "ALTER TABLE pings ADD CONSTRAINT fk_pings_tenant_id_device_id_devices "
        "FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id) ON DELETE CASCADE"
    )
    op.execute(
        "CREATE INDEX ix_pings_tenant_id_device_id_fix_time "
        "ON pings (tenant_id, device_id, fix_time)"
    )
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON pings TO {ROLE}")
    op.execute("ALTER TABLE pings ENABLE ROW LEVEL SECURITY")
    op.execute(
        f"""CREATE POLICY tenant_isolation ON pings TO {ROLE}
            USING (tenant_id = fieldsense_tenant())
            WITH CHECK (tenant_id = fieldsense_tenant())"""
    )
