"""scans partitioned by day of scan time, as pings are: retention drops whole days

Revision ID: 0037
Revises: 0036
Create Date: 2026-12-08 00:00:00

`scans` becomes `PARTITION BY RANGE (scanned_at)`, one partition per UTC day
(`scans_pYYYYMMDD`) and a default one; its key already holds `scanned_at`. The function
`fieldsense_day_partitions(parent, column, from, to)` creates a day-partitioned table's missing
partitions (moving that day's rows out of the default partition); the retention job makes the
coming week's and drops the days past every tenant's point retention
(backend/tracking/retention.py). The app role reaches scans only through `scans`, where
row-level security applies.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0037"
down_revision: str | None = "0036"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLE = "fieldsense_app"

DAY_PARTITIONS_FN = f"""
CREATE FUNCTION fieldsense_day_partitions(parent text, col text, from_day date, to_day date)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    d date := from_day;
    name text;
    made integer := 0;
BEGIN
    WHILE d <= to_day LOOP
        name := format('%s_p%s', parent, to_char(d, 'YYYYMMDD'));
        IF to_regclass(name) IS NULL THEN
            EXECUTE format(
                'CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', name, parent);
            EXECUTE format(
                'WITH moved AS (DELETE FROM %I WHERE %I >= %L AND %I < %L RETURNING *) '
                'INSERT INTO %I SELECT * FROM moved',
                parent || '_default', col, d::timestamp AT TIME ZONE 'UTC',
                col, (d + 1)::timestamp AT TIME ZONE 'UTC', name);
            EXECUTE format(
                'ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                parent, name, d::timestamp AT TIME ZONE 'UTC', (d + 1)::timestamp AT TIME ZONE 'UTC');
            EXECUTE format('REVOKE ALL ON %I FROM {ROLE}', name);
            made := made + 1;
        END IF;
        d := d + 1;
    END LOOP;
    RETURN made;
END $$
"""


def _isolate() -> None:
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON scans TO {ROLE}")
    op.execute("ALTER TABLE scans ENABLE ROW LEVEL SECURITY")
    op.execute(
        f"""CREATE POLICY tenant_isolation ON scans TO {ROLE}
            USING (tenant_id = fieldsense_tenant())
            WITH CHECK (tenant_id = fieldsense_tenant())"""
    )


def _keys(table: str) -> None:
    op.execute(
        f"ALTER TABLE {table} ADD CONSTRAINT pk_scans "
        "PRIMARY KEY (tenant_id, device_id, kind, scanned_at)"
    )
    op.execute(
        f"ALTER TABLE {table} ADD CONSTRAINT fk_scans_tenant_id_device_id_devices "
        "FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id) ON DELETE CASCADE"
    )


def _set_aside(suffix: str) -> None:
    op.execute(f"ALTER TABLE scans RENAME TO scans_{suffix}")
    op.execute(f"ALTER TABLE scans_{suffix} RENAME CONSTRAINT pk_scans TO pk_scans_{suffix}")
    op.execute(
        f"ALTER TABLE scans_{suffix} RENAME CONSTRAINT "
        f"fk_scans_tenant_id_device_id_devices TO fk_scans_{suffix}_device"
    )
    op.execute(f"ALTER TABLE scans_{suffix} RENAME CONSTRAINT ck_scans_kind TO ck_scans_{suffix}")


def upgrade() -> None:
    _set_aside("unpartitioned")
    op.execute(
        "CREATE TABLE scans (LIKE scans_unpartitioned INCLUDING DEFAULTS) "
        "PARTITION BY RANGE (scanned_at)"
    )
    op.execute("ALTER TABLE scans ADD CONSTRAINT ck_scans_kind CHECK (kind IN ('beacon', 'wifi'))")
    _keys("scans")
    op.execute("CREATE TABLE scans_default PARTITION OF scans DEFAULT")
    op.execute(f"REVOKE ALL ON scans_default FROM {ROLE}")
    op.execute(DAY_PARTITIONS_FN)
    op.execute(
        """SELECT fieldsense_day_partitions('scans', 'scanned_at',
               least(coalesce((SELECT min(scanned_at) FROM scans_unpartitioned)::date,
                              current_date), current_date - 1),
               greatest(coalesce((SELECT max(scanned_at) FROM scans_unpartitioned)::date,
                                 current_date), current_date) + 7)"""
    )
    op.execute("INSERT INTO scans SELECT * FROM scans_unpartitioned")
    op.execute("DROP TABLE scans_unpartitioned")
    _isolate()


def downgrade() -> None:
    _set_aside("partitioned")
    op.execute("CREATE TABLE scans (LIKE scans_partitioned INCLUDING DEFAULTS)")
    op.execute("ALTER TABLE scans ADD CONSTRAINT ck_scans_kind CHECK (kind IN ('beacon', 'wifi'))")
    op.execute("INSERT INTO scans SELECT * FROM scans_partitioned")
    op.execute("DROP TABLE scans_partitioned")  # and its partitions
    op.execute("DROP FUNCTION fieldsense_day_partitions(text, text, date, date)")
    _keys("scans")
    _isolate()
