"""The geofences domain's answers to other domains' questions: relations to join in one
statement (the tracking domain's hot paths) and lookups on the caller's driver connection."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg


def geofences() -> str:
    """Every geofence (every column), as a subquery to alias."""
    return "(SELECT * FROM geofences)"


def territories() -> str:
    """Every territory (every column), as a subquery to alias."""
    return "(SELECT * FROM territories)"


def geometry_of(tenant: str, fence: str) -> str:
    """A scalar subquery: the fence's area (geometry, 4326). SQL expressions chosen in code."""
    return f"(SELECT geom FROM geofences WHERE tenant_id = {tenant} AND id = {fence})"  # noqa: S608 - expressions chosen in code


async def owners_of(
    db: asyncpg.Connection, tenant_id: uuid.UUID, fence_ids: list[uuid.UUID]
) -> dict[uuid.UUID, tuple[Any, Any]]:
    """The place and the customer (either may be None) of each of the fences that exist."""
    rows = await db.fetch(
        "SELECT id, place_id, customer_id FROM geofences "
        "WHERE tenant_id = $1 AND id = ANY($2::uuid[])",
        tenant_id,
        fence_ids,
    )
    return {r["id"]: (r["place_id"], r["customer_id"]) for r in rows}


async def rule_of(
    db: asyncpg.Connection, tenant_id: uuid.UUID, fence_id: uuid.UUID
) -> tuple[float, float, bool] | None:
    """The fence's rule: its dwell (s), its exit buffer (m) and whether it holds a visit (a
    customer's fence); None when there is no such fence."""
    row = await db.fetchrow(
        "SELECT dwell_s, exit_buffer_m, customer_id IS NOT NULL AS hold FROM geofences "
        "WHERE tenant_id = $1 AND id = $2",
        tenant_id,
        fence_id,
    )
    return None if row is None else (float(row[0]), float(row[1]), bool(row[2]))
