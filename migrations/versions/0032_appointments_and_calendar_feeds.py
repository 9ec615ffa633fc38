"""appointments as records, and calendar feeds for the agents' phones

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-07 23:40:00

An appointment is a visit agreed with a customer (a time window and a duration); plans,
nightly plans and re-plans read them (backend/appointments/). A calendar feed is a revocable
token in a URL that a calendar app subscribes to.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLE = "fieldsense_app"


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id", column],
        [f"{target}.tenant_id", f"{target}.id"],
        name=op.f(f"fk_{table}_tenant_id_{column}_{target}"),
        ondelete="CASCADE",
    )


def _tenant(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"],
        ["tenants.id"],
        name=op.f(f"fk_{table}_tenant_id_tenants"),
        ondelete="CASCADE",
    )


def _isolate(table: str) -> None:
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(
        f"""CREATE POLICY tenant_isolation ON {table} TO {ROLE}
            USING (tenant_id = fieldsense_tenant()) WITH CHECK (tenant_id = fieldsense_tenant())"""
    )


def upgrade() -> None:
    now = sa.func.now()
    op.create_table(
        "appointments",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("latest_start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_min", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("set_at_visit_id", sa.Uuid(), nullable=True),
        sa.Column("visit_id", sa.Uuid(), nullable=True),
        sa.Column("external_uid", sa.String(length=255), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.CheckConstraint(
            "status IN ('planned', 'confirmed', 'cancelled', 'done')",
            name=op.f("ck_appointments_appointment_status"),
        ),
        sa.CheckConstraint(
            "source IN ('api', 'outcome', 'ical')", name=op.f("ck_appointments_appointment_source")
        ),
        sa.CheckConstraint(
            "latest_start_at >= starts_at", name=op.f("ck_appointments_appointment_window")
        ),
        sa.CheckConstraint(
            "duration_min BETWEEN 1 AND 600", name=op.f("ck_appointments_appointment_duration")
        ),
        _fk("appointments", "agent_id", "users"),
        _fk("appointments", "customer_id", "customers"),
        _tenant("appointments"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_appointments")),
    )
    op.create_index(
        "ix_appointments_tenant_id_agent_id_starts_at",
        "appointments",
        ["tenant_id", "agent_id", "starts_at"],
    )
    op.create_index(
        "uq_appointments_tenant_id_agent_id_external_uid",
        "appointments",
        ["tenant_id", "agent_id", "external_uid"],
        unique=True,
        postgresql_where=sa.text("external_uid IS NOT NULL"),
    )
    _isolate("appointments")
    op.create_table(
        "calendar_feeds",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        _fk("calendar_feeds", "agent_id", "users"),
        _tenant("calendar_feeds"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_calendar_feeds")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_calendar_feeds_token_hash")),
    )
    _isolate("calendar_feeds")


def downgrade() -> None:
    for table in ("calendar_feeds", "appointments"):
        op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
    op.drop_table("calendar_feeds")
    op.drop_index("uq_appointments_tenant_id_agent_id_external_uid", table_name="appointments")
    op.drop_index("ix_appointments_tenant_id_agent_id_starts_at", table_name="appointments")
    op.drop_table("appointments")
