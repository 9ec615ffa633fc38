"""The places domain's answers to other domains' questions, for their hot paths (one
statement each, on the caller's driver connection)."""

from __future__ import annotations

import json
import uuid

import asyncpg
from geoalchemy2.shape import to_shape
from shapely.geometry import mapping
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.models import Place

_BEACONS = """
SELECT key, place_id FROM (
    SELECT 'ib:' || ibeacon_uuid || ':' || major || ':' || minor AS key, place_id
    FROM beacons WHERE tenant_id = $1 AND protocol = 'ibeacon'
    UNION ALL
    SELECT 'ed:' || eddystone_namespace || ':' || eddystone_instance, place_id
    FROM beacons WHERE tenant_id = $1 AND protocol = 'eddystone'
) b WHERE key = ANY($2::text[])
"""
_ACCESS_POINTS = """
SELECT bssid AS key, place_id FROM wifi_access_points
WHERE tenant_id = $1 AND bssid = ANY($2::text[])
"""


async def places_of_beacons(
    db: asyncpg.Connection, tenant_id: uuid.UUID, keys: list[str]
) -> dict[str, uuid.UUID]:
    """The place of each known beacon among `keys` (`ib:uuid:major:minor`, `ed:ns:instance`)."""
    return {r["key"]: r["place_id"] for r in await db.fetch(_BEACONS, tenant_id, keys)}


async def places_of_access_points(
    db: asyncpg.Connection, tenant_id: uuid.UUID, bssids: list[str]
) -> dict[str, uuid.UUID]:
    """The place of each known Wi-Fi access point among `bssids`."""
    return {r["key"]: r["place_id"] for r in await db.fetch(_ACCESS_POINTS, tenant_id, bssids)}


async def area_of(
    session: AsyncSession, tenant_id: uuid.UUID, place_id: uuid.UUID, radius_m: float
) -> str | None:
    """A place's area as GeoJSON: its footprint, or the circle of `radius_m` around it."""
    footprint = await session.scalar(
        select(Place.footprint).where(Place.tenant_id == tenant_id, Place.id == place_id)
    )
    if footprint is not None:
        return json.dumps(mapping(to_shape(footprint)))
    area: str | None = await session.scalar(
        text(
            "SELECT ST_AsGeoJSON(ST_Buffer(location, :r)::geometry) FROM places "
            "WHERE tenant_id = :t AND id = :id"
        ),
        {"r": radius_m, "t": tenant_id, "id": place_id},
    )
    return area


def tagged(tenant: str, place: str, tags: str) -> str:
    """Whether the place `place` (of tenant `tenant`) carries any of `tags` (a text[]): SQL
    expressions chosen in code."""
    return f"""EXISTS (
             SELECT 1 FROM places pl
             WHERE pl.tenant_id = {tenant} AND pl.id = {place} AND pl.tags && {tags})"""  # noqa: S608 - expressions chosen in code
