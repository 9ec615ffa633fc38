"""Places (stores, apartment complexes, workplaces) and the beacons and Wi-Fi APs in them."""

from __future__ import annotations

import uuid
from typing import Any

from geoalchemy2 import Geography, Geometry
from sqlalchemy import ARRAY, CheckConstraint, Index, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base, Timestamped
from backend.db.models._keys import TenantKeyed, tenant_fk

PLACE_KINDS = ("store", "apartment_complex", "workplace", "other")


class Place(TenantKeyed, Timestamped, Base):
    __tablename__ = "places"
    org_unit_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(Text)
    location: Mapped[Any] = mapped_column(
        Geography("POINT", srid=4326, spatial_index=False), nullable=False
    )
    footprint: Mapped[Any | None] = mapped_column(
        Geometry("MULTIPOLYGON", srid=4326, spatial_index=False)
    )
    household_count: Mapped[int | None] = mapped_column(Integer)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    tags: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list, server_default="{}")
    external_id: Mapped[str | None] = mapped_column(String(128))
    __table_args__ = (
        tenant_fk("org_unit_id", "org_units", ondelete="RESTRICT"),
        UniqueConstraint("tenant_id", "external_id"),
        CheckConstraint(f"kind IN {PLACE_KINDS}", name="kind"),
        CheckConstraint("household_count IS NULL OR household_count >= 0", name="households"),
        Index("ix_places_tenant_id_location", "tenant_id", "location", postgresql_using="gist"),
        Index("ix_places_tenant_id_org_unit_id", "tenant_id", "org_unit_id"),
    )


class Beacon(TenantKeyed, Timestamped, Base):
    __tablename__ = "beacons"
    place_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    protocol: Mapped[str] = mapped_column(String(16))
    name: Mapped[str | None] = mapped_column(Text)
    ibeacon_uuid: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    major: Mapped[int | None] = mapped_column(Integer)
    minor: Mapped[int | None] = mapped_column(Integer)
    eddystone_namespace: Mapped[str | None] = mapped_column(String(20))
    eddystone_instance: Mapped[str | None] = mapped_column(String(12))
    tx_power: Mapped[int | None] = mapped_column(Integer)
    __table_args__ = (
        tenant_fk("place_id", "places", ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "ibeacon_uuid", "major", "minor"),
        UniqueConstraint("tenant_id", "eddystone_namespace", "eddystone_instance"),
        CheckConstraint(
            "(protocol = 'ibeacon' AND ibeacon_uuid IS NOT NULL AND major IS NOT NULL "
            "AND minor IS NOT NULL) OR (protocol = 'eddystone' AND eddystone_namespace "
            "IS NOT NULL AND eddystone_instance IS NOT NULL)",
            name="identity",
        ),
        Index("ix_beacons_tenant_id_place_id", "tenant_id", "place_id"),
    )


class WifiAccessPoint(TenantKeyed, Timestamped, Base):
    __tablename__ = "wifi_access_points"
    place_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    bssid: Mapped[str] = mapped_column(String(17))
    ssid: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (
        tenant_fk("place_id", "places", ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "bssid"),
        Index("ix_wifi_access_points_tenant_id_place_id", "tenant_id", "place_id"),
    )
