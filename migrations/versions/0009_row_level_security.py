"""row-level security: the app role sees only the tenant its connection carries

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24 08:00:00

The API's connections run as `fieldsense_app` (a role without login that the schema owner may
switch to) and carry `fieldsense.tenant_id`; on every tenant table a policy lets that role read
and write only that tenant's rows. The schema owner (migrations, jobs, the webhook worker,
login and API-key lookups) is not restricted. See backend/db/tenancy.py and docs/security.md.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLE = "fieldsense_app"
# Every table with a tenant_id column (tests/backend/db/test_tenancy.py checks none is missing).
TENANT_TABLES = (
    "agent_profiles",
    "audit_log",
    "beacons",
    "campaign_members",
    "campaigns",
    "coaching_notes",
    "customers",
    "device_checkpoints",
    "device_states",
    "devices",
    "events",
    "geofences",
    "org_units",
    "pings",
    "places",
    "plan_stops",
    "plans",
    "scans",
    "segment_outcomes",
    "store_apps",
    "territories",
    "users",
    "visits",
    "webhook_attempts",
    "webhook_deliveries",
    "webhook_subscriptions",
    "wifi_access_points",
)


def upgrade() -> None:
    op.execute(
        f"""DO $$ BEGIN
              IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{ROLE}') THEN
                CREATE ROLE {ROLE} NOLOGIN NOSUPERUSER NOBYPASSRLS;
              END IF;
            END $$"""
    )
    # The owner must be able to switch to the role (a superuser always can).
    op.execute(
        f"""DO $$ BEGIN
              IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
                EXECUTE format('GRANT {ROLE} TO %I', current_user);
              END IF;
            END $$"""
    )
    op.execute(f"GRANT USAGE ON SCHEMA public TO {ROLE}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {ROLE}")
    op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {ROLE}")
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {ROLE}"
    )
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {ROLE}"
    )
    # Unset or empty: NULL, which equals nothing, so no rows.
    op.execute(
        """CREATE FUNCTION fieldsense_tenant() RETURNS uuid
           LANGUAGE sql STABLE PARALLEL SAFE
           AS $$ SELECT nullif(current_setting('fieldsense.tenant_id', true), '')::uuid $$"""
    )
    for table in TENANT_TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(
            f"""CREATE POLICY tenant_isolation ON {table} TO {ROLE}
                USING (tenant_id = fieldsense_tenant())
                WITH CHECK (tenant_id = fieldsense_tenant())"""
        )
    op.execute("ALTER TABLE tenants ENABLE ROW LEVEL SECURITY")
    op.execute(
        f"""CREATE POLICY tenant_isolation ON tenants TO {ROLE}
            USING (id = fieldsense_tenant()) WITH CHECK (id = fieldsense_tenant())"""
    )


def downgrade() -> None:
    for table in (*TENANT_TABLES, "tenants"):
        op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    op.execute("DROP FUNCTION IF EXISTS fieldsense_tenant()")
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE USAGE, SELECT ON SEQUENCES FROM {ROLE}"
    )
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public "
        f"REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM {ROLE}"
    )
    op.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {ROLE}")
    op.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {ROLE}")
    op.execute(f"REVOKE USAGE ON SCHEMA public FROM {ROLE}")
    # The role is the cluster's, shared by every database on it: it stays.
