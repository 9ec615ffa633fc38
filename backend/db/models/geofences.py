"""Geofences (circles or polygons) and territories."""

from __future__ import annotations

import uuid
from typing import Any

from geoalchemy2 import Geography, Geometry
from sqlalchemy import (
    CheckConstraint,
    Computed,
    Float,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base, Timestamped
from backend.db.models._keys import TenantKeyed, tenant_fk

MAX_RADIUS_M = 50_000.0


class Territory(TenantKeyed, Timestamped, Base):
    __tablename__ = "territories"
    org_unit_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    agent_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    name: Mapped[str] = mapped_column(Text)
    geom: Mapped[Any] = mapped_column(
        Geometry("MULTIPOLYGON", srid=4326, spatial_index=False), nullable=False
    )
    __table_args__ = (
        tenant_fk("org_unit_id", "org_units", ondelete="RESTRICT"),
        tenant_fk("agent_id", "users", nullable_set_null=True),
        Index("ix_territories_tenant_id_geom", "tenant_id", "geom", postgresql_using="gist"),
    )


class Geofence(TenantKeyed, Timestamped, Base):
    __tablename__ = "geofences"
    org_unit_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    name: Mapped[str] = mapped_column(Text)
    tag: Mapped[str] = mapped_column(String(64), default="default", server_default="default")
    external_id: Mapped[str | None] = mapped_column(String(128))
    shape: Mapped[str] = mapped_column(String(8))
    center: Mapped[Any | None] = mapped_column(Geography("POINT", srid=4326, spatial_index=False))
    radius_m: Mapped[float | None] = mapped_column(Float)
    # Polygons as given; circles as their geodesic buffer, so one GiST index serves both.
    geom: Mapped[Any] = mapped_column(
        Geometry("GEOMETRY", srid=4326, spatial_index=False), nullable=False
    )
    dwell_s: Mapped[int] = mapped_column(Integer, default=300, server_default="300")
    exit_buffer_m: Mapped[float] = mapped_column(Float, default=20.0, server_default="20")
    # The bounding box grown by the exit buffer: a point outside it is too far for the fence to
    # matter to presence (ingest matches by it; migration 0014).
    reach: Mapped[Any] = mapped_column(
        Geometry("GEOMETRY", srid=4326, spatial_index=False),
        Computed("fieldsense_reach(geom, exit_buffer_m)", persisted=True),
        nullable=False,
    )
    customer_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    place_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    territory_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    metadata_: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONB, default=dict, server_default="{}"
    )
    __table_args__ = (
        tenant_fk("org_unit_id", "org_units", ondelete="RESTRICT"),
        tenant_fk("customer_id", "customers", nullable_set_null=True),
        tenant_fk("place_id", "places", nullable_set_null=True),
        tenant_fk("territory_id", "territories", nullable_set_null=True),
        UniqueConstraint("tenant_id", "tag", "external_id"),
        CheckConstraint(
            "(shape = 'circle' AND center IS NOT NULL AND radius_m > 0 AND radius_m <= "
            f"{MAX_RADIUS_M}) OR (shape = 'polygon' AND center IS NULL AND radius_m IS NULL)",
            name="shape",
        ),
        CheckConstraint("dwell_s >= 0 AND exit_buffer_m >= 0", name="settings"),
        Index("ix_geofences_tenant_id_geom", "tenant_id", "geom", postgresql_using="gist"),
        Index("ix_geofences_tenant_id_reach", "tenant_id", "reach", postgresql_using="gist"),
    )
